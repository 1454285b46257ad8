/**
 * The gateway runtime: starts everything in order, reloads, drains.
 *
 * Start: config → first snapshot (signatures compiled, scanners created) →
 * stores in the data folder (SQLite: events + quarantine index; quarantine
 * files) → listeners bound → admin UI → privilege drop → "start" log line.
 * Anything that fails undoes what was started and rejects; nothing is left
 * half-running.
 *
 * Reload (SIGHUP, admin API): re-read the config file, build a complete new
 * snapshot beside the running one, swap it in. Sessions in flight keep the
 * snapshot they started on; new sessions get the new one. A failed reload
 * changes nothing and says why (log line "reload-failed", rejected promise).
 * Reloads run one at a time. Keys that only take effect at start (listening
 * addresses, data, user, retention …) are reported as needing a restart.
 *
 * Drain (SIGTERM/SIGINT): stop accepting everywhere, let sessions finish
 * until drainTimeout, close what is left, close the stores, resolve.
 *
 * Listeners: src/smtp/index.ts and src/ftp/index.ts, when they export
 * `createListener(config)`, provide the real proxies (issues 4 and 5); until
 * then the placeholders in placeholder.ts hold the ports.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { START_ONLY_KEYS, type AdminConfig, type Config, type FtpConfig, type SmtpConfig } from '../config/table.js';
import { isPortcullisError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { createInspect, type Inspect } from './inspect.js';
import { keepYoungGenerationSmall } from './memory.js';
import type { BoundAddress, DrainResult, ListenerContext, ProtocolListener } from './listeners.js';
import { PlaceholderListener } from './placeholder.js';
import { dropPrivileges, type DropResult } from './privileges.js';
import { buildSnapshot, SnapshotHolder, type Snapshot, type SnapshotSource } from './snapshot.js';

export type ListenerFactory = {
  smtp: (config: SmtpConfig) => ProtocolListener;
  ftp: (config: FtpConfig) => ProtocolListener;
};

/** Loads the proxies of issues 4/5 when present, else the placeholders. */
async function defaultListenerFactory(protocol: 'smtp' | 'ftp'): Promise<{ create: (c: SmtpConfig | FtpConfig) => ProtocolListener; placeholder: boolean }> {
  // A variable specifier: the module may not exist yet, and that is not an error.
  const specifier = `../${protocol}/index.js`;
  try {
    const mod = (await import(specifier)) as { createListener?: (c: SmtpConfig | FtpConfig) => ProtocolListener };
    if (typeof mod.createListener === 'function') return { create: mod.createListener, placeholder: false };
  } catch (err) {
    // Only the entry file itself may be missing; a proxy that fails to load for any other reason must not be replaced silently.
    const missingEntry = err instanceof Error && 'code' in err && err.code === 'ERR_MODULE_NOT_FOUND' && err.message.includes(`${protocol}/index.js'`);
    if (!missingEntry) throw err;
  }
  return { create: (c) => new PlaceholderListener(protocol, c.listen), placeholder: true };
}

export interface GatewayOptions {
  /** Config file read at start and at every reload; undefined: built-in defaults. */
  readonly configFile?: string;
  /** Reads the config (tests); default `loadConfig(configFile)`. */
  readonly readConfig?: () => Promise<Config>;
  /** Logger; default pino on stdout at the config's level. */
  readonly log?: Logger;
  /** Listener factories (tests); default the proxies or placeholders. */
  readonly listeners?: Partial<ListenerFactory>;
  /** Start the admin UI when the config enables it. Default true. */
  readonly admin?: boolean;
  /** Skip the privilege drop (tests that are not root). Default false. */
  readonly noPrivilegeDrop?: boolean;
}

export interface ReloadResult {
  readonly generation: number;
  /** Keys whose value changed. */
  readonly changed: readonly string[];
  /** Changed keys that take effect only after a restart. */
  readonly needsRestart: readonly string[];
  readonly signatures: number;
  readonly loadDurationMs: number;
  readonly message: string;
}

export interface StopResult extends DrainResult {
  readonly durationMs: number;
}


function flatten(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else out.set(prefix, JSON.stringify(value));
  return out;
}

/** Keys that differ between two configs; a section switched on or off is its own key. */
export function changedKeys(a: Config, b: Config): string[] {
  const fa = flatten(a, '', new Map());
  const fb = flatten(b, '', new Map());
  const keys = new Set([...fa.keys(), ...fb.keys()]);
  const out: string[] = [];
  for (const k of keys) if (fa.get(k) !== fb.get(k)) out.push(k);
  for (const s of ['smtp', 'ftp', 'admin'] as const) if ((a[s] === false) !== (b[s] === false)) out.push(s);
  return [...new Set(out.map((k) => (fa.has(k) && fb.has(k) ? k : k.split('.')[0] ?? k)))].sort();
}

/** A section switched on or off (key "smtp", "ftp") also needs a restart: its listener is bound or not at start. */
const needsRestart = (key: string): boolean => key === 'smtp' || key === 'ftp' || START_ONLY_KEYS.some((p) => key === p || key.startsWith(`${p}.`));

interface Stores {
  readonly db: import('../events/db.js').Db;
  readonly events: import('../events/store.js').EventStore;
  readonly quarantine: import('../quarantine/store.js').Quarantine;
  readonly metrics: import('../events/metrics.js').Metrics;
  readonly retention: import('../events/retention.js').RetentionTimer;
}

async function openStores(config: Config, log: Logger): Promise<Stores> {
  const { openDatabase, openEventStore, createMetrics, startRetention } = await import('../events/index.js');
  const { openQuarantine } = await import('../quarantine/index.js');
  mkdirSync(config.data, { recursive: true, mode: 0o700 });
  const db = openDatabase({ dir: config.data });
  try {
    const events = openEventStore({ db, retention: { maxAgeMs: config.events.maxAge, maxRows: config.events.maxRows } });
    const quarantine = openQuarantine({
      dir: join(config.data, 'quarantine'),
      db,
      retention: { maxAgeMs: config.quarantine.maxAge, maxTotalBytes: config.quarantine.maxSize },
    });
    const metrics = createMetrics();
    const retention = startRetention({
      tasks: { events: () => events.prune(), quarantine: () => quarantine.prune() },
      logger: log,
    });
    return { db, events, quarantine, metrics, retention };
  } catch (err) {
    db.close();
    throw err;
  }
}

function metricsSignatures(s: Snapshot): import('../events/metrics.js').SignatureInfo {
  const { loaded, loadedAt, newestBuildTime } = s.signatures;
  return { loaded, loadedAt, ...(newestBuildTime !== undefined ? { newestBuildTime } : {}) };
}

/** Starts the admin UI on the gateway's stores, inspect() and reload(); "scan a file" is an inspection with protocol "upload". */
async function startAdminServer(a: AdminConfig, data: string, deps: {
  stores: Stores; inspect: Inspect; holder: SnapshotHolder; logger: Logger; reload: () => Promise<ReloadResult>;
}): Promise<AdminHandle> {
  const { startAdmin } = await import('../admin/index.js');
  const { stores, inspect, holder } = deps;
  return startAdmin({
    listen: a.listen,
    ...(a.passwordHash !== undefined ? { passwordHash: a.passwordHash } : {}),
    sessionIdleMs: a.sessionIdle,
    sessionTtlMs: a.sessionTimeout,
    ...(a.metricsToken !== undefined ? { metricsToken: a.metricsToken } : {}),
    maxUploadBytes: a.maxUploadSize,
    spoolDir: join(data, 'spool'),
    stores: { quarantine: stores.quarantine, events: stores.events },
    metrics: stores.metrics,
    inspect: async (u) => {
      const r = await inspect({ protocol: 'upload', direction: 'inbound', name: u.name, target: { name: u.name, path: u.path, size: u.size }, peers: { client: u.client } });
      return {
        verdict: r.report.verdict, action: r.decision.action, findings: r.report.findings, durationMs: r.durationMs,
        ...(r.quarantineId !== undefined ? { quarantineId: r.quarantineId } : {}),
        ...(r.eventId !== undefined ? { eventId: r.eventId } : {}),
        ...(r.report.errors.length > 0 ? { errors: r.report.errors } : {}),
      };
    },
    reload: async () => ({ message: (await deps.reload()).message }),
    configRedacted: () => redactConfig(holder.current().config),
    dbStats: () => holder.current().signatures,
    logger: deps.logger,
  });
}

function redactConfig(config: Config): unknown {
  if (config.admin === false) return config;
  return {
    ...config,
    admin: {
      ...config.admin,
      ...(config.admin.passwordHash !== undefined ? { passwordHash: '[redacted]' } : {}),
      ...(config.admin.metricsToken !== undefined ? { metricsToken: '[redacted]' } : {}),
    },
  };
}

/** How long past the drain deadline a listener may take to close what is left. */
const DRAIN_GRACE_MS = 5000;

interface AdminHandle {
  readonly url: string;
  close(): Promise<void>;
}

export class Gateway {
  readonly log: Logger;
  readonly inspect: Inspect;
  readonly privileges: DropResult | undefined;
  readonly #options: GatewayOptions;
  readonly #holder: SnapshotHolder;
  readonly #loggers: readonly Logger[];
  readonly #stores: Stores;
  readonly #listeners: readonly ProtocolListener[];
  readonly #admin: AdminHandle | undefined;
  #reloading: Promise<unknown> = Promise.resolve();
  #stopping: Promise<StopResult> | undefined;

  private constructor(parts: {
    options: GatewayOptions; log: Logger; loggers: readonly Logger[]; holder: SnapshotHolder; stores: Stores; inspect: Inspect;
    listeners: readonly ProtocolListener[]; admin: AdminHandle | undefined; privileges: DropResult | undefined;
  }) {
    this.#options = parts.options;
    this.log = parts.log;
    this.#loggers = parts.loggers;
    this.#holder = parts.holder;
    this.#stores = parts.stores;
    this.inspect = parts.inspect;
    this.#listeners = parts.listeners;
    this.#admin = parts.admin;
    this.privileges = parts.privileges;
  }

  static async start(options: GatewayOptions = {}): Promise<Gateway> {
    const readConfig = options.readConfig ?? (async () => (await loadConfig(options.configFile)).config);
    const config = await readConfig();
    const log = options.log ?? createLogger({ level: config.log.level });
    keepYoungGenerationSmall();
    const first = await buildSnapshot(config, 1);
    const holder = new SnapshotHolder(first, (s, err) => {
      if (err !== undefined) log.warn({ err, generation: s.generation }, 'closing a retired scanner failed');
      else log.debug({ generation: s.generation }, 'retired snapshot closed');
    });
    // pino children keep the level they were made with; reload sets each one's level.
    const loggers: Logger[] = [log];
    const child = (bindings: Record<string, string>): Logger => {
      const c = log.child(bindings);
      loggers.push(c);
      return c;
    };
    let stores: Stores | undefined;
    const started: ProtocolListener[] = [];
    let admin: AdminHandle | undefined;
    try {
      stores = await openStores(config, child({ component: 'retention' }));
      const s = stores;
      s.metrics.setSignatures(metricsSignatures(first));
      const inspect = createInspect({ snapshots: holder, log, quarantine: s.quarantine, events: s.events, metrics: s.metrics });
      const ctx: ListenerContext = { snapshots: holder, inspect, log, metrics: s.metrics, quarantine: s.quarantine };

      for (const protocol of ['smtp', 'ftp'] as const) {
        const pc = config[protocol];
        if (pc === false) continue;
        const given = options.listeners?.[protocol] as ((c: typeof pc) => ProtocolListener) | undefined;
        const found = given === undefined ? await defaultListenerFactory(protocol) : undefined;
        if (found?.placeholder === true) log.warn({ protocol }, `${protocol}: placeholder listener (the proxy of issue ${protocol === 'smtp' ? 4 : 5} is not in this build); it answers 421`);
        const listener = (given ?? (found as NonNullable<typeof found>).create)(pc);
        await listener.start({ ...ctx, log: child({ protocol }) });
        started.push(listener);
      }

      mkdirSync(join(config.data, 'spool'), { recursive: true, mode: 0o700 });
      // The gateway object exists before the admin serves a request, so the admin's reload can call it.
      let gateway: Gateway | undefined;
      if (config.admin !== false && options.admin !== false) {
        admin = await startAdminServer(config.admin, config.data, {
          stores: s, inspect, holder, logger: child({ component: 'admin' }),
          reload: async () => {
            if (gateway === undefined) throw new Error('Cannot reload: the gateway is still starting');
            return gateway.reload();
          },
        });
      }

      const privileges = options.noPrivilegeDrop === true ? undefined : dropPrivileges({
        ...(config.user !== undefined ? { user: config.user } : {}),
        ...(config.group !== undefined ? { group: config.group } : {}),
        dataDir: config.data,
      });

      gateway = new Gateway({ options, log, loggers, holder, stores: s, inspect, listeners: started, admin, privileges });
      log.info({
        event: 'start',
        generation: first.generation,
        config: options.configFile ?? null,
        data: config.data,
        listeners: Object.fromEntries(started.map((l) => [l.protocol, formatAddress(l.address())])),
        admin: admin?.url ?? null,
        signatures: first.signatures.total,
        scanners: first.signatures.scanners,
        loadDurationMs: Math.round(first.signatures.loadDurationMs),
        ...(privileges?.dropped === true ? { uid: privileges.uid, gid: privileges.gid } : {}),
      }, 'portcullis started');
      return gateway;
    } catch (err) {
      for (const l of started) await l.stopAccepting().catch(() => undefined);
      for (const l of started) await l.drain(Date.now()).catch(() => undefined);
      await admin?.close().catch(() => undefined);
      stores?.retention.stop();
      stores?.db.close();
      await holder.closeAll();
      throw err;
    }
  }

  get snapshots(): SnapshotSource {
    return this.#holder;
  }

  current(): Snapshot {
    return this.#holder.current();
  }

  /** Leases held per snapshot generation (sessions and inspections in flight). */
  leases(): Readonly<Record<number, number>> {
    return this.#holder.leases();
  }

  /** Bound addresses: smtp/ftp "host:port", admin URL. */
  addresses(): { readonly smtp?: string; readonly ftp?: string; readonly admin?: string } {
    const out: Record<string, string> = {};
    for (const l of this.#listeners) out[l.protocol] = formatAddress(l.address());
    if (this.#admin !== undefined) out['admin'] = this.#admin.url;
    return out;
  }

  sessions(): number {
    return this.#listeners.reduce((n, l) => n + l.sessions(), 0);
  }

  get stores(): Pick<Stores, 'events' | 'quarantine' | 'metrics'> {
    return this.#stores;
  }

  /** Re-reads config and signatures and swaps them in; rejects (and keeps the running snapshot) when anything fails. */
  reload(): Promise<ReloadResult> {
    const run = this.#reloading.then(() => this.#reload(), () => this.#reload());
    this.#reloading = run.catch(() => undefined);
    return run;
  }

  async #reload(): Promise<ReloadResult> {
    const old = this.#holder.current();
    if (this.#stopping !== undefined) throw new Error('Cannot reload: the gateway is stopping');
    try {
      const readConfig = this.#options.readConfig ?? (async () => (await loadConfig(this.#options.configFile)).config);
      const config = await readConfig();
      const next = await buildSnapshot(config, old.generation + 1);
      this.#holder.swap(next);
      for (const l of this.#loggers) l.level = config.log.level;
      this.#stores.metrics.setSignatures(metricsSignatures(next));
      const changed = changedKeys(old.config, config);
      const restart = changed.filter(needsRestart);
      const message = `reloaded: generation ${next.generation}, ${next.signatures.total} signatures, ${changed.length} key${changed.length === 1 ? '' : 's'} changed` +
        (restart.length > 0 ? `; restart needed for ${restart.join(', ')}` : '');
      const result: ReloadResult = { generation: next.generation, changed, needsRestart: restart, signatures: next.signatures.total, loadDurationMs: next.signatures.loadDurationMs, message };
      this.log.info({ event: 'reload', generation: next.generation, previous: old.generation, changed, needsRestart: restart, signatures: next.signatures.total, loadDurationMs: Math.round(next.signatures.loadDurationMs) }, message);
      if (restart.length > 0) this.log.warn({ event: 'reload', needsRestart: restart }, 'some changed keys take effect only after a restart');
      return result;
    } catch (err) {
      const reason = isPortcullisError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
      this.log.error({ event: 'reload-failed', generation: old.generation, reason }, 'reload failed; the running config stays');
      throw err;
    }
  }

  /** Stops accepting, lets sessions finish until the drain deadline, then closes everything. Idempotent. */
  stop(reason = 'stop'): Promise<StopResult> {
    this.#stopping ??= this.#stop(reason);
    return this.#stopping;
  }

  async #stop(reason: string): Promise<StopResult> {
    const started = Date.now();
    const deadline = started + this.#holder.current().config.drainTimeout;
    this.log.info({ event: 'drain', reason, sessions: this.sessions(), deadline: new Date(deadline).toISOString() }, 'draining: no new connections');
    await Promise.all(this.#listeners.map((l) => l.stopAccepting()));
    const adminClosed = this.#admin?.close().catch((err: unknown) => this.log.warn({ err }, 'admin close failed'));
    // A listener whose drain never settles (a bug) must not keep the process from exiting: past the deadline and a grace, its open sessions count as aborted.
    const results = await Promise.all(this.#listeners.map((l) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<DrainResult>((resolve) => {
        timer = setTimeout(() => {
          this.log.error({ event: 'drain', protocol: l.protocol, sessions: l.sessions() }, 'listener did not finish draining; giving up on it');
          resolve({ finished: 0, aborted: l.sessions() });
        }, Math.max(0, deadline - Date.now()) + DRAIN_GRACE_MS);
      });
      return Promise.race([l.drain(deadline), late]).finally(() => clearTimeout(timer));
    }));
    await Promise.race([adminClosed, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
    // Inspections still holding a lease (admin uploads) get until the deadline too.
    while (Object.keys(this.#holder.leases()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.#stores.retention.stop();
    await this.#holder.closeAll();
    try { this.#stores.db.close(); } catch (err) { this.log.warn({ err }, 'database close failed'); }
    const finished = results.reduce((n, r) => n + r.finished, 0);
    const aborted = results.reduce((n, r) => n + r.aborted, 0);
    const durationMs = Date.now() - started;
    this.log.info({ event: 'stop', reason, finished, aborted, durationMs }, 'portcullis stopped');
    return { finished, aborted, durationMs };
  }
}

function formatAddress(a: BoundAddress | undefined): string {
  if (a === undefined) return '';
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
