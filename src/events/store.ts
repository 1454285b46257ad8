/**
 * The audit log: every inspection (clean ones too) is one row in the shared
 * SQLite database. Query by time range, protocol, direction, verdict, action
 * and free text, with paging; prune by age and row count.
 *
 * Stored strings are untrusted (file names, addresses, envelopes); they are
 * stored as given and escaped by whoever renders them. Text search uses
 * LIKE with the user's wildcards escaped, so a search is always literal.
 */
import type { Finding, Verdict } from '../scanners/types.js';
import { migrate, selectPage, type Db } from './db.js';
import type { Action, Direction, EventInput, EventRecord, Protocol } from './types.js';

export interface EventRetention {
  /** Delete events older than this, in ms. Default: 90 days. 0 keeps forever. */
  readonly maxAgeMs?: number;
  /** Keep at most this many events (oldest go first). Default: 1,000,000. 0 = no cap. */
  readonly maxRows?: number;
}

export interface OpenEventStoreOptions {
  /** The shared database from `openDatabase`. */
  readonly db: Db;
  readonly retention?: EventRetention;
  /** Clock, for tests. Default Date.now. */
  readonly now?: () => number;
}

export interface EventQuery {
  /** Inclusive lower bound, ms since epoch. */
  readonly from?: number;
  /** Exclusive upper bound, ms since epoch. */
  readonly to?: number;
  readonly protocol?: Protocol;
  readonly direction?: Direction;
  readonly verdict?: Verdict;
  readonly action?: Action;
  /** Literal substring of object name, finding names, addresses, envelope or quarantine id (case-insensitive for ASCII). */
  readonly text?: string;
  /** Page size, 1..1000. Default 50. */
  readonly limit?: number;
  /** Rows to skip. Default 0. */
  readonly offset?: number;
}

export interface EventPage {
  readonly items: readonly EventRecord[];
  /** Rows matching the query, over all pages. */
  readonly total: number;
  readonly limit: number;
  readonly offset: number;
}

export interface EventSummary {
  readonly since: number;
  readonly byVerdict: Readonly<Record<Verdict, number>>;
  readonly bytes: number;
  /** Events and bytes per minute, oldest first; `minute` is ms since epoch at the start of the minute. */
  readonly perMinute: readonly { readonly minute: number; readonly events: number; readonly bytes: number }[];
}

export interface EventStore {
  record(input: EventInput): EventRecord;
  get(id: number): EventRecord | undefined;
  query(query?: EventQuery): EventPage;
  /** Infected or error events, newest first. */
  recentDetections(limit?: number): readonly EventRecord[];
  /** Counts and throughput since `since` (ms since epoch). */
  summary(since: number): EventSummary;
  /** Applies the retention; returns how many events were deleted. */
  prune(): number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_EVENT_RETENTION = { maxAgeMs: 90 * DAY_MS, maxRows: 1_000_000 } as const;

const MIGRATIONS = [
  `CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     time INTEGER NOT NULL,
     protocol TEXT NOT NULL,
     direction TEXT NOT NULL,
     client TEXT,
     server TEXT,
     object_name TEXT NOT NULL,
     size INTEGER NOT NULL,
     verdict TEXT NOT NULL,
     findings TEXT NOT NULL,
     finding_names TEXT NOT NULL,
     action TEXT NOT NULL,
     duration_ms REAL NOT NULL,
     quarantine_id TEXT,
     session_id TEXT,
     envelope TEXT,
     errors TEXT
   );
   CREATE INDEX events_time ON events (time);
   CREATE INDEX events_verdict_time ON events (verdict, time);
   CREATE INDEX events_protocol_time ON events (protocol, time);`,
];

interface Row {
  id: number; time: number; protocol: string; direction: string; client: string | null; server: string | null;
  object_name: string; size: number; verdict: string; findings: string; action: string; duration_ms: number;
  quarantine_id: string | null; session_id: string | null; envelope: string | null; errors: string | null;
}

function fromRow(r: Row): EventRecord {
  return {
    id: r.id,
    time: r.time,
    protocol: r.protocol as Protocol,
    direction: r.direction as Direction,
    ...(r.client !== null ? { client: r.client } : {}),
    ...(r.server !== null ? { server: r.server } : {}),
    objectName: r.object_name,
    size: r.size,
    verdict: r.verdict as Verdict,
    findings: JSON.parse(r.findings) as Finding[],
    action: r.action as Action,
    durationMs: r.duration_ms,
    ...(r.quarantine_id !== null ? { quarantineId: r.quarantine_id } : {}),
    ...(r.session_id !== null ? { sessionId: r.session_id } : {}),
    ...(r.envelope !== null ? { envelope: JSON.parse(r.envelope) as EventRecord['envelope'] & object } : {}),
    ...(r.errors !== null ? { errors: JSON.parse(r.errors) as NonNullable<EventRecord['errors']> } : {}),
  };
}

export function openEventStore(options: OpenEventStoreOptions): EventStore {
  const { db } = options;
  const now = options.now ?? Date.now;
  const maxAgeMs = options.retention?.maxAgeMs ?? DEFAULT_EVENT_RETENTION.maxAgeMs;
  const maxRows = options.retention?.maxRows ?? DEFAULT_EVENT_RETENTION.maxRows;
  migrate(db, 'events', MIGRATIONS);

  const insert = db.prepare(`INSERT INTO events
    (time, protocol, direction, client, server, object_name, size, verdict, findings, finding_names, action, duration_ms, quarantine_id, session_id, envelope, errors)
    VALUES (@time, @protocol, @direction, @client, @server, @object_name, @size, @verdict, @findings, @finding_names, @action, @duration_ms, @quarantine_id, @session_id, @envelope, @errors)`);
  const byId = db.prepare('SELECT * FROM events WHERE id = ?');
  const recent = db.prepare("SELECT * FROM events WHERE verdict != 'clean' ORDER BY time DESC, id DESC LIMIT ?");
  const perMinuteVerdict = db.prepare(`SELECT (time / 60000) * 60000 AS minute, verdict, COUNT(*) AS n, SUM(size) AS bytes
    FROM events WHERE time >= ? GROUP BY minute, verdict ORDER BY minute`);
  const deleteOlder = db.prepare('DELETE FROM events WHERE time < ?');
  const deleteBeyondRows = db.prepare('DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)');

  return {
    record(input) {
      const time = input.time ?? now();
      const info = insert.run({
        time,
        protocol: input.protocol,
        direction: input.direction,
        client: input.client ?? null,
        server: input.server ?? null,
        object_name: input.objectName,
        size: input.size,
        verdict: input.verdict,
        findings: JSON.stringify(input.findings),
        finding_names: input.findings.map((f) => f.name).join('\n'),
        action: input.action,
        duration_ms: input.durationMs,
        quarantine_id: input.quarantineId ?? null,
        session_id: input.sessionId ?? null,
        envelope: input.envelope !== undefined ? JSON.stringify(input.envelope) : null,
        errors: input.errors !== undefined && input.errors.length > 0 ? JSON.stringify(input.errors) : null,
      });
      return { ...input, time, id: Number(info.lastInsertRowid) };
    },

    get(id) {
      if (!Number.isSafeInteger(id)) return undefined;
      const row = byId.get(id) as Row | undefined;
      return row === undefined ? undefined : fromRow(row);
    },

    query(q = {}) {
      const page = selectPage<Row>(db, 'events', {
        equals: { protocol: q.protocol, direction: q.direction, verdict: q.verdict, action: q.action },
        from: q.from, to: q.to, limit: q.limit, offset: q.offset,
        text: q.text, textColumns: ['object_name', 'finding_names', 'client', 'server', 'envelope', 'quarantine_id'],
      });
      return { items: page.rows.map(fromRow), total: page.total, limit: page.limit, offset: page.offset };
    },

    recentDetections(limit = 10) {
      return (recent.all(Math.min(1000, Math.max(1, Math.floor(limit) || 10))) as Row[]).map(fromRow);
    },

    summary(since) {
      // One pass over the time index; grouping by verdict first would make
      // SQLite walk the verdict index over the whole table instead.
      const rows = perMinuteVerdict.all(since) as { minute: number; verdict: string; n: number; bytes: number | null }[];
      const byVerdict: Record<Verdict, number> = { clean: 0, infected: 0, error: 0 };
      const minutes = new Map<number, { minute: number; events: number; bytes: number }>();
      let bytes = 0;
      for (const r of rows) {
        if (r.verdict in byVerdict) byVerdict[r.verdict as Verdict] += r.n;
        bytes += r.bytes ?? 0;
        const m = minutes.get(r.minute) ?? { minute: r.minute, events: 0, bytes: 0 };
        m.events += r.n;
        m.bytes += r.bytes ?? 0;
        minutes.set(r.minute, m);
      }
      return { since, byVerdict, bytes, perMinute: [...minutes.values()] };
    },

    prune() {
      let deleted = 0;
      if (maxAgeMs > 0) deleted += deleteOlder.run(now() - maxAgeMs).changes;
      if (maxRows > 0) deleted += deleteBeyondRows.run(maxRows).changes;
      return deleted;
    },
  };
}
