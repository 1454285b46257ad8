/**
 * The one SQLite database the operator's side shares: events and the
 * quarantine index live in `<data>/portcullis.db` (better-sqlite3, WAL).
 *
 * Who opens it: whoever starts the process (`portcullis start`, the
 * `portcullis quarantine` command, a test) calls `openDatabase({ dir })` once
 * and hands the handle to `openEventStore` and `openQuarantine`; each store
 * creates and migrates only its own tables (see `migrate`). Closing the
 * handle is the opener's job.
 *
 * WAL lets the running gateway write while the CLI reads the same file; a
 * busy timeout makes a second writer wait instead of failing at once.
 * Reads no untrusted bytes.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PortcullisError } from '../errors.js';

export type Db = Database.Database;

export const DATABASE_FILE_NAME = 'portcullis.db';

export interface OpenDatabaseOptions {
  /** Data directory; created (mode 0700) when missing. The file is `<dir>/portcullis.db`. */
  readonly dir: string;
  /** How long a writer waits for another process's lock, in ms. Default 5000. */
  readonly busyTimeoutMs?: number;
  /** Open read-only (the file must exist). Default false. */
  readonly readonly?: boolean;
}

export function openDatabase(options: OpenDatabaseOptions): Db {
  const path = join(options.dir, DATABASE_FILE_NAME);
  try {
    if (options.readonly !== true) mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const db = new Database(path, { readonly: options.readonly === true, fileMustExist: options.readonly === true });
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
    if (options.readonly !== true) {
      db.pragma('journal_mode = WAL');
      // NORMAL under WAL is durable across process crashes; only an OS crash can
      // lose the last transactions, and quarantined bytes are fsync'ed separately.
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    return db;
  } catch (err) {
    throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot open database ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** An in-memory database for tests and for `start` with no data dir to write. */
export function openMemoryDatabase(): Db {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  return db;
}

/**
 * Applies a component's migrations in order, each once. `steps[i]` brings the
 * component from version i to i+1; versions are kept per component so the
 * stores sharing this file never step on each other.
 */
export function migrate(db: Db, component: string, steps: readonly string[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
  const run = db.transaction(() => {
    const row = db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(component) as { version: number } | undefined;
    const from = row?.version ?? 0;
    if (from > steps.length) {
      throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot use database: ${component} schema version ${from} is newer than this build (${steps.length})`);
    }
    for (let v = from; v < steps.length; v++) db.exec(steps[v] as string);
    db.prepare('INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT(component) DO UPDATE SET version = excluded.version')
      .run(component, steps.length);
  });
  run.immediate();
}

/** Escapes LIKE wildcards so user text is matched literally (with ESCAPE '\'). */
export function likeLiteral(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function clampInt(value: number | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, Math.floor(value)));
}

/** A filtered, paged listing of a table with a `time` column, newest first. */
export interface PageFilter {
  /** `column = value` for each value given; column names come from code, never from input. */
  readonly equals: Readonly<Record<string, string | undefined>>;
  /** Inclusive lower and exclusive upper bound on `time`. */
  readonly from?: number | undefined;
  readonly to?: number | undefined;
  /** Literal substring searched in `textColumns`. */
  readonly text?: string | undefined;
  readonly textColumns: readonly string[];
  /** 1..1000, default 50. */
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
}

export function selectPage<R>(db: Db, table: string, filter: PageFilter): { rows: R[]; total: number; limit: number; offset: number } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(filter.equals)) {
    if (value !== undefined) { where.push(`${column} = @eq_${column}`); params[`eq_${column}`] = value; }
  }
  if (filter.from !== undefined) { where.push('time >= @from'); params['from'] = filter.from; }
  if (filter.to !== undefined) { where.push('time < @to'); params['to'] = filter.to; }
  if (filter.text !== undefined && filter.text !== '') {
    where.push(`(${filter.textColumns.map((c) => `${c} LIKE @text ESCAPE '\\'`).join(' OR ')})`);
    params['text'] = likeLiteral(filter.text);
  }
  const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
  const limit = clampInt(filter.limit, 1, 1000, 50);
  const offset = clampInt(filter.offset, 0, Number.MAX_SAFE_INTEGER, 0);
  const total = (db.prepare(`SELECT COUNT(*) AS n FROM ${table} ${clause}`).get(params) as { n: number }).n;
  const rows = db.prepare(`SELECT * FROM ${table} ${clause} ORDER BY time DESC, rowid DESC LIMIT @limit OFFSET @offset`)
    .all({ ...params, limit, offset }) as R[];
  return { rows, total, limit, offset };
}
