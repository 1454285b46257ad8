/**
 * Test fixture for the operator's side: a temp data folder with the shared
 * database, the event and quarantine stores, metrics, and a small inspect
 * built from them with a fake scanner (infected when the bytes contain the
 * EICAR string; quarantined, as the default policy does). Used by unit
 * tests only; the gateway's real inspect() replaces it in `portcullis start`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../events/db.js';
import { createMetrics, type Metrics } from '../events/metrics.js';
import { openEventStore, type EventStore } from '../events/store.js';
import type { EventInput } from '../events/types.js';
import { openQuarantine, type Quarantine } from '../quarantine/store.js';
import type { Finding } from '../scanners/types.js';
import type { AdminLogger, AdminOptions, InspectUpload, SignatureStatus } from './types.js';

/** The EICAR test string, from two halves so no tool flags this source. */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

export interface Fixture {
  readonly dir: string;
  readonly db: Db;
  readonly events: EventStore;
  readonly quarantine: Quarantine;
  readonly metrics: Metrics;
  readonly inspect: InspectUpload;
  readonly logs: { level: string; msg: string; obj: object }[];
  readonly logger: AdminLogger;
  reloads: number;
  /** Admin options with everything above; override what a test needs. */
  adminOptions(extra?: Partial<AdminOptions>): AdminOptions;
  cleanup(): void;
}

export function makeFixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-admin-'));
  const db = openDatabase({ dir });
  const events = openEventStore({ db });
  const quarantine = openQuarantine({ dir: join(dir, 'quarantine'), db });
  const metrics = createMetrics({ processMetrics: false });
  const logs: Fixture['logs'] = [];
  const logger: AdminLogger = {
    info: (obj, msg) => { logs.push({ level: 'info', msg, obj }); },
    warn: (obj, msg) => { logs.push({ level: 'warn', msg, obj }); },
    error: (obj, msg) => { logs.push({ level: 'error', msg, obj }); },
  };
  const inspect: InspectUpload = async (u) => {
    const started = performance.now();
    const infected = readFileSync(u.path).includes(EICAR);
    const findings: Finding[] = infected ? [{ name: 'Eicar-Test-Signature', path: [u.name], scanner: 'fake' }] : [];
    const quarantineId = infected
      ? (await quarantine.add({ source: { path: u.path }, originalName: u.name, protocol: 'upload', direction: 'inbound', client: u.client, findings })).id
      : undefined;
    const event: EventInput = {
      protocol: 'upload', direction: 'inbound', client: u.client, objectName: u.name, size: u.size,
      verdict: infected ? 'infected' : 'clean', findings, action: infected ? 'quarantine' : 'pass',
      durationMs: performance.now() - started, ...(quarantineId !== undefined ? { quarantineId } : {}),
    };
    metrics.observeInspection(event);
    const record = events.record(event);
    return { verdict: event.verdict, action: event.action, findings, durationMs: event.durationMs, eventId: record.id, ...(quarantineId !== undefined ? { quarantineId } : {}) };
  };
  const signatures: SignatureStatus = { loaded: { md5: 2, body: 3 }, skipped: { bytecode: 1 }, total: 5, loadedAt: Date.now(), loadDurationMs: 12 };
  const fixture: Fixture = {
    dir, db, events, quarantine, metrics, inspect, logs, logger,
    reloads: 0,
    adminOptions: (extra = {}) => ({
      listen: '127.0.0.1:0',
      stores: { quarantine, events },
      metrics,
      inspect,
      reload: async () => { fixture.reloads += 1; return { message: `Reloaded (${fixture.reloads})` }; },
      configRedacted: () => ({ data: dir, admin: { listen: '127.0.0.1:0', passwordHash: 'scrypt$secret' }, smtp: { nextHop: '127.0.0.1:10026', auth: { password: 'hunter2' } } }),
      dbStats: () => signatures,
      logger,
      spoolDir: dir,
      ...extra,
    }),
    cleanup: () => {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}
