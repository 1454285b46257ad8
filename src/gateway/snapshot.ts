/**
 * Snapshots: an immutable bundle of config + compiled policy + scanner (with
 * its signature database) that one session uses from start to end. Reload
 * builds a whole new snapshot beside the running one and swaps it in one
 * assignment; a session that began on the old one keeps it (it holds a
 * lease), and the old scanner is closed only when its last lease is
 * released. A reload that fails leaves nothing behind and the running
 * snapshot untouched.
 *
 * Reads signature files from disk (through the scanners' loader); their
 * bytes are interpreted only by the engine's compiler.
 */
import type { Config } from '../config/table.js';
import type { ScannerSpec as ConfigScannerSpec } from '../config/scanners.js';
import { PortcullisError } from '../errors.js';
import type { DatabaseStats, DbFile } from '../engine/types.js';
import { compilePolicy, type Policy } from '../policy/index.js';
import { collectGarbage } from './memory.js';
import type { Scanner } from '../scanners/types.js';

export interface SignatureInfo {
  readonly loaded: Readonly<Record<string, number>>;
  readonly skipped: Readonly<Record<string, number>>;
  readonly total: number;
  readonly files: readonly { readonly name: string; readonly signatures: number }[];
  readonly newestBuildTime?: number;
  readonly loadedAt: number;
  readonly loadDurationMs: number;
  /** Scanner backends in use ("builtin", "clamd 127.0.0.1:3310" …). */
  readonly scanners: readonly string[];
}

export interface Snapshot {
  /** 1 for the first, +1 per successful reload. */
  readonly generation: number;
  readonly config: Config;
  readonly policy: Policy;
  readonly scanner: Scanner;
  readonly signatures: SignatureInfo;
  readonly createdAt: number;
}

function describeSpec(s: ConfigScannerSpec): string {
  switch (s.kind) {
    case 'builtin': return 'builtin';
    case 'clamd': return `clamd ${s.address}`;
    case 'command': return `command ${s.argv[0] ?? ''}`;
  }
}

const EMPTY_STATS: DatabaseStats = { loaded: {}, skipped: {}, skippedExamples: {}, files: [], total: 0 };

async function compileSignatures(config: Config): Promise<{ db: import('../engine/types.js').CompiledDatabase; stats: DatabaseStats; files: DbFile[] }> {
  const engine = await import('../engine/index.js');
  const { loadDbFiles } = await import('../scanners/dbload.js');
  const files: DbFile[] = [
    ...(config.engine.builtinSignatures ? engine.builtinDbFiles() : []),
    ...(config.engine.databases.length > 0 ? await loadDbFiles(config.engine.databases) : []),
  ];
  if (files.length === 0) {
    throw new PortcullisError('PC_ERR_CONFIG', 'Cannot start the builtin scanner: engine.builtinSignatures is false and engine.databases is empty');
  }
  const db = engine.compileDatabase(files);
  if (db.stats.total === 0) throw new PortcullisError('PC_ERR_DB_BUILD', 'Cannot start the builtin scanner: the signature databases hold no usable signature');
  return { db, stats: db.stats, files };
}

async function createScanners(config: Config, compiled: { db: import('../engine/types.js').CompiledDatabase; files: DbFile[] } | undefined): Promise<Scanner> {
  const { createScanner, CombinedScanner } = await import('../scanners/index.js');
  const members: Scanner[] = [];
  try {
    for (const spec of config.scanners) {
      switch (spec.kind) {
        case 'builtin': {
          const local = await createScanner('builtin', { ...(compiled !== undefined ? { db: compiled.db } : {}), limits: config.limits });
          if (config.engine.scanWorkers === 0 || compiled === undefined) { members.push(local); break; }
          const { WorkerScanner } = await import('../scanners/pool.js');
          members.push(await WorkerScanner.start({ files: compiled.files, limits: config.limits, workers: config.engine.scanWorkers, local }));
          break;
        }
        case 'clamd':
          members.push(await createScanner({ clamd: spec.address }, {
            timeoutMs: spec.timeoutMs ?? config.limits.MaxScanTime,
            clamd: {
              ...(spec.maxConnections !== undefined ? { maxConnections: spec.maxConnections } : {}),
              ...(spec.streamMaxLength !== undefined ? { streamMaxLength: spec.streamMaxLength } : {}),
            },
          }));
          break;
        case 'command':
          members.push(await createScanner({ command: spec.argv }, {
            timeoutMs: spec.timeoutMs ?? config.limits.MaxScanTime,
            command: { exitCodes: { clean: spec.clean ?? [0], infected: spec.infected ?? [1] } },
          }));
          break;
      }
    }
  } catch (err) {
    await Promise.all(members.map((m) => m.close().catch(() => undefined)));
    throw err;
  }
  return members.length === 1 ? (members[0] as Scanner) : new CombinedScanner(members);
}

/** Builds a snapshot: compiles the signatures (when a builtin scanner is configured), creates the scanners and compiles the policy. */
export async function buildSnapshot(config: Config, generation: number, now: () => number = Date.now): Promise<Snapshot> {
  const started = performance.now();
  const needsDb = config.scanners.some((s) => s.kind === 'builtin');
  const compiled = needsDb ? await compileSignatures(config) : undefined;
  // The signature files' text and the compiler's working arrays are garbage now: tens of MB a scan would otherwise stack on.
  if (compiled !== undefined) collectGarbage();
  const loadDurationMs = performance.now() - started;
  const scanner = await createScanners(config, compiled);
  const stats = compiled?.stats ?? EMPTY_STATS;
  const createdAt = now();
  return Object.freeze({
    generation,
    config,
    policy: compilePolicy(config),
    scanner,
    signatures: Object.freeze({
      loaded: stats.loaded,
      skipped: stats.skipped,
      total: stats.total,
      files: stats.files,
      ...(stats.newestBuildTime !== undefined ? { newestBuildTime: stats.newestBuildTime } : {}),
      loadedAt: createdAt,
      loadDurationMs,
      scanners: config.scanners.map(describeSpec),
    }),
    createdAt,
  });
}

/** A session's hold on a snapshot; release it exactly once when the session ends. */
export interface Lease {
  readonly snapshot: Snapshot;
  release(): void;
}

export interface SnapshotSource {
  /** The snapshot new sessions start on. */
  current(): Snapshot;
  /** Holds the current snapshot until `release()`: its scanner stays open even if a reload replaces it. */
  acquire(): Lease;
}

/**
 * Holds the current snapshot and counts leases on every snapshot still in
 * use, so a replaced scanner is closed only when no session needs it.
 */
export class SnapshotHolder implements SnapshotSource {
  #current: Snapshot;
  readonly #leases = new Map<Snapshot, number>();
  readonly #retired = new Set<Snapshot>();
  readonly #onClosed: (s: Snapshot, err?: unknown) => void;

  constructor(first: Snapshot, onClosed: (s: Snapshot, err?: unknown) => void = () => undefined) {
    this.#current = first;
    this.#onClosed = onClosed;
  }

  current(): Snapshot {
    return this.#current;
  }

  acquire(): Lease {
    const snapshot = this.#current;
    this.#leases.set(snapshot, (this.#leases.get(snapshot) ?? 0) + 1);
    let released = false;
    return {
      snapshot,
      release: () => {
        if (released) return;
        released = true;
        const n = (this.#leases.get(snapshot) ?? 1) - 1;
        if (n > 0) this.#leases.set(snapshot, n);
        else {
          this.#leases.delete(snapshot);
          if (this.#retired.has(snapshot)) this.#close(snapshot);
        }
      },
    };
  }

  /** Leases held on each snapshot still in use, by generation. */
  leases(): Readonly<Record<number, number>> {
    return Object.fromEntries([...this.#leases].map(([s, n]) => [s.generation, n]));
  }

  /** Makes `next` current; the old one is closed now if unused, else when its last lease goes. */
  swap(next: Snapshot): Snapshot {
    const old = this.#current;
    this.#current = next;
    if ((this.#leases.get(old) ?? 0) === 0) this.#close(old);
    else this.#retired.add(old);
    return old;
  }

  /** Closes every snapshot (at exit). */
  async closeAll(): Promise<void> {
    const all = new Set([this.#current, ...this.#retired]);
    this.#retired.clear();
    await Promise.all([...all].map((s) => s.scanner.close().catch((err: unknown) => this.#onClosed(s, err))));
  }

  #close(s: Snapshot): void {
    this.#retired.delete(s);
    s.scanner.close().then(() => this.#onClosed(s), (err: unknown) => this.#onClosed(s, err));
  }
}
