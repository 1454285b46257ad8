/**
 * The quarantine: infected objects kept out of the way under new random
 * names, with their metadata in the shared SQLite database.
 *
 * - Files live in `<dir>` as 32 random hex digits, mode 0600. The original
 *   name is metadata only: it never becomes part of a path here, and the
 *   storage name read back from the database is checked against its pattern
 *   before use, so neither a hostile name nor a hostile id can reach outside
 *   the folder.
 * - `add` resolves only after the bytes are fsync'ed (file and folder) and
 *   the index row is committed: a caller may then tell its client.
 * - Release of mail goes through a hook the SMTP side provides
 *   (`releaseMail`); release of a file exports a copy to a folder or path.
 * - Retention deletes by age and then by total size, oldest first.
 *
 * Reads untrusted bytes only to copy and hash them; reads untrusted names and
 * ids (parsed by id.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { PortcullisError } from '../errors.js';
import { migrate, selectPage, type Db } from '../events/db.js';
import type { Direction, Envelope, Protocol } from '../events/types.js';
import type { Finding } from '../scanners/types.js';
import { newQuarantineId, parseQuarantineId, type QuarantineId } from './id.js';

export type QuarantineState = 'held' | 'released' | 'deleted';
export const QUARANTINE_STATES: readonly QuarantineState[] = ['held', 'released', 'deleted'];

/** What the gateway knows about an object when it quarantines it. */
export interface QuarantineMeta {
  /** The object's name as the client gave it: untrusted display text. */
  readonly originalName: string;
  readonly protocol: Protocol;
  readonly direction: Direction;
  readonly client?: string;
  readonly server?: string;
  /** For mail: whom to re-deliver to on release. */
  readonly envelope?: Envelope;
  readonly findings: readonly Finding[];
}

export interface QuarantineEntry extends QuarantineMeta {
  readonly id: QuarantineId;
  readonly size: number;
  /** Hex SHA-256 of the stored bytes. */
  readonly sha256: string;
  /** When it was quarantined, ms since epoch. */
  readonly time: number;
  readonly state: QuarantineState;
  /** Last release: when, and where to ("smtp" or the export path). */
  readonly releasedAt?: number;
  readonly releasedTo?: string;
  readonly deletedAt?: number;
}

/** The bytes to keep: a spooled file, a buffer, or a stream. */
export type QuarantineSource =
  | { readonly path: string }
  | { readonly data: Uint8Array }
  | { readonly stream: AsyncIterable<Uint8Array> };

export interface QuarantineAddInput extends QuarantineMeta {
  readonly source: QuarantineSource;
  /** Default: now. */
  readonly time?: number;
}

/**
 * Re-delivers a quarantined mail (the SMTP side provides it: it sends the
 * stored message to `entry.envelope.rcpts` through the next hop). Resolves
 * once the next hop accepted; rejects with a PortcullisError otherwise.
 */
export type ReleaseMailHook = (entry: QuarantineEntry, stream: Readable) => Promise<void>;

export interface QuarantineRetention {
  /** Delete objects older than this, in ms. Default 30 days. 0 keeps forever. */
  readonly maxAgeMs?: number;
  /** Keep at most this many bytes of objects (oldest go first). Default 1 GiB. 0 = no cap. */
  readonly maxTotalBytes?: number;
}

export interface OpenQuarantineOptions {
  /** Folder for the quarantined files, e.g. `<data>/quarantine`; created mode 0700. */
  readonly dir: string;
  /** The shared database from `openDatabase`. */
  readonly db: Db;
  /** Where a file release goes when no destination is given. Default `<dir>/../released`. */
  readonly releaseDir?: string;
  readonly releaseMail?: ReleaseMailHook;
  readonly retention?: QuarantineRetention;
  /** Clock, for tests. */
  readonly now?: () => number;
  /** Id generator, for tests. Default newQuarantineId. */
  readonly newId?: () => QuarantineId;
}

export interface QuarantineQuery {
  readonly state?: QuarantineState;
  readonly protocol?: Protocol;
  /** Literal substring of id, original name, finding names, addresses or envelope. */
  readonly text?: string;
  readonly from?: number;
  readonly to?: number;
  /** 1..1000, default 50. */
  readonly limit?: number;
  readonly offset?: number;
}

export interface QuarantinePage {
  readonly items: readonly QuarantineEntry[];
  readonly total: number;
  readonly limit: number;
  readonly offset: number;
}

export interface ReleaseOptions {
  /**
   * Export destination: an existing folder (the file goes inside it under a
   * cleaned-up original name) or a new file path. Given for mail, the message
   * is exported as a file instead of re-delivered.
   */
  readonly to?: string;
}

export interface ReleaseResult {
  readonly entry: QuarantineEntry;
  /** "smtp" for a re-delivered mail, else the path written. */
  readonly releasedTo: string;
}

export interface QuarantineStats {
  readonly held: number;
  readonly released: number;
  /** Bytes on disk (held and released objects). */
  readonly bytes: number;
}

export interface Quarantine {
  readonly dir: string;
  add(input: QuarantineAddInput): Promise<QuarantineEntry>;
  /** Accepts an id as typed (see parseQuarantineId); undefined when unknown or malformed. */
  get(id: string): QuarantineEntry | undefined;
  list(query?: QuarantineQuery): QuarantinePage;
  /** The stored bytes. Throws PC_ERR_NOT_FOUND for an unknown, malformed or deleted id. */
  read(id: string): { entry: QuarantineEntry; stream: ReadStream };
  release(id: string, options?: ReleaseOptions): Promise<ReleaseResult>;
  /** Removes the bytes; the index row stays (state "deleted") for the audit trail. */
  delete(id: string): Promise<QuarantineEntry>;
  /** Applies the retention, then removes stray files; resolves to how many objects were deleted. */
  prune(): Promise<number>;
  stats(): QuarantineStats;
  /** Lets the SMTP side plug its re-delivery in after the store is open. */
  setReleaseMail(hook: ReleaseMailHook | undefined): void;
}

const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_QUARANTINE_RETENTION = { maxAgeMs: 30 * DAY_MS, maxTotalBytes: 1024 ** 3 } as const;
/** A file in the folder that no row names is removed once this old (it was cut off mid-add by a crash). */
const STRAY_AGE_MS = 60 * 60 * 1000;
const STORAGE_NAME = /^[0-9a-f]{32}$/;

const MIGRATIONS = [
  `CREATE TABLE quarantine (
     id TEXT PRIMARY KEY,
     storage_name TEXT NOT NULL UNIQUE,
     original_name TEXT NOT NULL,
     protocol TEXT NOT NULL,
     direction TEXT NOT NULL,
     client TEXT,
     server TEXT,
     envelope TEXT,
     findings TEXT NOT NULL,
     finding_names TEXT NOT NULL,
     size INTEGER NOT NULL,
     sha256 TEXT NOT NULL,
     time INTEGER NOT NULL,
     state TEXT NOT NULL,
     released_at INTEGER,
     released_to TEXT,
     deleted_at INTEGER
   );
   CREATE INDEX quarantine_time ON quarantine (time);
   CREATE INDEX quarantine_state_time ON quarantine (state, time);`,
];

interface Row {
  id: string; storage_name: string; original_name: string; protocol: string; direction: string;
  client: string | null; server: string | null; envelope: string | null; findings: string; size: number;
  sha256: string; time: number; state: string; released_at: number | null; released_to: string | null; deleted_at: number | null;
}

function fromRow(r: Row): QuarantineEntry {
  return {
    id: r.id as QuarantineId,
    originalName: r.original_name,
    protocol: r.protocol as Protocol,
    direction: r.direction as Direction,
    ...(r.client !== null ? { client: r.client } : {}),
    ...(r.server !== null ? { server: r.server } : {}),
    ...(r.envelope !== null ? { envelope: JSON.parse(r.envelope) as Envelope } : {}),
    findings: JSON.parse(r.findings) as Finding[],
    size: r.size,
    sha256: r.sha256,
    time: r.time,
    state: r.state as QuarantineState,
    ...(r.released_at !== null ? { releasedAt: r.released_at } : {}),
    ...(r.released_to !== null ? { releasedTo: r.released_to } : {}),
    ...(r.deleted_at !== null ? { deletedAt: r.deleted_at } : {}),
  };
}

/**
 * A file name safe to create in an export folder, derived from an untrusted
 * original name: last path segment only, no control or reserved characters,
 * no leading dots, at most 120 characters; a fallback when nothing is left.
 */
export function safeFileName(original: string, fallback: string): string {
  const last = original.split(/[/\\]/).pop() ?? '';
  const cleaned = last
    .replace(/[\u0000-\u001f\u007f-\u009f<>:"|?*\u202a-\u202e\u2066-\u2069]/g, '_')
    // A lone surrogate cannot be written as UTF-8 (file name, header).
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '_')
    .replace(/^[.\s]+/, '')
    .trim();
  // Cut by code points so a surrogate pair is never split.
  const short = Array.from(cleaned).slice(0, 120).join('').trim();
  return short === '' ? fallback : short;
}

function notFound(id: string): PortcullisError {
  return new PortcullisError('PC_ERR_NOT_FOUND', `Cannot find quarantined object ${JSON.stringify(id.slice(0, 40))}: no such id`);
}

async function* sourceChunks(source: QuarantineSource): AsyncIterable<Uint8Array> {
  if ('data' in source) yield source.data;
  else if ('path' in source) yield* createReadStream(source.path, { highWaterMark: 256 * 1024 });
  else yield* source.stream;
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try { await handle.sync(); } finally { await handle.close(); }
}

/** Copies `chunks` into a new file (never overwriting), fsync'ed; returns size and SHA-256. */
async function writeNewFile(path: string, chunks: AsyncIterable<Uint8Array>, mode: number): Promise<{ size: number; sha256: string }> {
  const handle = await open(path, 'wx', mode);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of chunks) {
      hash.update(chunk);
      size += chunk.byteLength;
      let off = 0;
      while (off < chunk.byteLength) off += (await handle.write(chunk, off, chunk.byteLength - off)).bytesWritten;
    }
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw err;
  }
  await handle.close();
  return { size, sha256: hash.digest('hex') };
}

/** Where the quarantine lives under a data folder: `<data>/quarantine` (the CLI and `start` agree on it). */
export function quarantineDirIn(dataDir: string): string {
  return join(dataDir, 'quarantine');
}

export function openQuarantine(options: OpenQuarantineOptions): Quarantine {
  const dir = resolve(options.dir);
  const releaseDir = resolve(options.releaseDir ?? join(dir, '..', 'released'));
  const { db } = options;
  const now = options.now ?? Date.now;
  const newId = options.newId ?? newQuarantineId;
  const maxAgeMs = options.retention?.maxAgeMs ?? DEFAULT_QUARANTINE_RETENTION.maxAgeMs;
  const maxTotalBytes = options.retention?.maxTotalBytes ?? DEFAULT_QUARANTINE_RETENTION.maxTotalBytes;
  let releaseMail = options.releaseMail;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot create quarantine folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  migrate(db, 'quarantine', MIGRATIONS);

  const insert = db.prepare(`INSERT INTO quarantine
    (id, storage_name, original_name, protocol, direction, client, server, envelope, findings, finding_names, size, sha256, time, state)
    VALUES (@id, @storage_name, @original_name, @protocol, @direction, @client, @server, @envelope, @findings, @finding_names, @size, @sha256, @time, 'held')`);
  const byId = db.prepare('SELECT * FROM quarantine WHERE id = ?');
  const markReleased = db.prepare("UPDATE quarantine SET state = 'released', released_at = ?, released_to = ? WHERE id = ? AND state != 'deleted'");
  const markDeleted = db.prepare("UPDATE quarantine SET state = 'deleted', deleted_at = ? WHERE id = ?");
  const storedOldestFirst = db.prepare("SELECT * FROM quarantine WHERE state != 'deleted' ORDER BY time ASC, id ASC");
  const storedOlderThan = db.prepare("SELECT * FROM quarantine WHERE state != 'deleted' AND time < ? ORDER BY time ASC");
  // A deleted object's record is kept for another retention period, for the audit trail.
  const dropDeletedRows = db.prepare("DELETE FROM quarantine WHERE state = 'deleted' AND deleted_at < ?");
  const allStorageNames = db.prepare('SELECT storage_name FROM quarantine');
  const countBy = db.prepare("SELECT state, COUNT(*) AS n, SUM(size) AS bytes FROM quarantine WHERE state != 'deleted' GROUP BY state");

  const row = (id: string): Row | undefined => {
    const canonical = parseQuarantineId(id);
    return canonical === undefined ? undefined : (byId.get(canonical) as Row | undefined);
  };

  /** The one place a storage path is built; refuses anything but a storage name inside `dir`. */
  const storagePath = (r: Row): string => {
    const path = join(dir, r.storage_name);
    if (!STORAGE_NAME.test(r.storage_name) || !path.startsWith(dir + sep)) {
      throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot use quarantine entry ${r.id}: its storage name is not valid`);
    }
    return path;
  };

  const removeObject = async (r: Row): Promise<void> => {
    await unlink(storagePath(r)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    markDeleted.run(now(), r.id);
  };

  /** Picks a destination that does not exist yet: `to` itself, or a name inside the folder `to`. */
  const exportPath = async (r: Row, to: string): Promise<string> => {
    const target = resolve(to);
    const st = await stat(target).catch(() => undefined);
    if (st === undefined) return target;
    if (!st.isDirectory()) {
      throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot release ${r.id} to ${target}: the file exists`);
    }
    const name = safeFileName(r.original_name, `quarantine-${r.id}`);
    const dot = name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    for (let i = 0; i < 1000; i++) {
      const candidate = join(target, i === 0 ? name : `${stem} (${i})${ext}`);
      if ((await stat(candidate).catch(() => undefined)) === undefined) return candidate;
    }
    throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot release ${r.id} to ${target}: too many files named ${name}`);
  };

  return {
    dir,

    async add(input) {
      const storageName = randomBytes(16).toString('hex');
      const path = join(dir, storageName);
      let written: { size: number; sha256: string };
      try {
        written = await writeNewFile(path, sourceChunks(input.source), 0o600);
        await fsyncDir(dir);
      } catch (err) {
        throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot store object in quarantine: ${(err as Error).message}`, { cause: err });
      }
      const fields = {
        storage_name: storageName,
        original_name: input.originalName,
        protocol: input.protocol,
        direction: input.direction,
        client: input.client ?? null,
        server: input.server ?? null,
        envelope: input.envelope !== undefined ? JSON.stringify(input.envelope) : null,
        findings: JSON.stringify(input.findings),
        finding_names: input.findings.map((f) => f.name).join('\n'),
        size: written.size,
        sha256: written.sha256,
        time: input.time ?? now(),
      };
      // 60 random bits make a clash very unlikely, but a clash must not lose the object.
      for (let attempt = 1; ; attempt++) {
        const id = newId();
        try {
          insert.run({ id, ...fields });
          return fromRow(byId.get(id) as Row);
        } catch (err) {
          const clash = (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
          if (clash && attempt < 5) continue;
          await unlink(path).catch(() => undefined);
          throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot index quarantined object: ${(err as Error).message}`, { cause: err });
        }
      }
    },

    get(id) {
      const r = row(id);
      return r === undefined ? undefined : fromRow(r);
    },

    list(q = {}) {
      const page = selectPage<Row>(db, 'quarantine', {
        equals: { state: q.state, protocol: q.protocol },
        from: q.from, to: q.to, limit: q.limit, offset: q.offset,
        text: q.text, textColumns: ['id', 'original_name', 'finding_names', 'client', 'server', 'envelope'],
      });
      return { items: page.rows.map(fromRow), total: page.total, limit: page.limit, offset: page.offset };
    },

    read(id) {
      const r = row(id);
      if (r === undefined || r.state === 'deleted') throw notFound(id);
      const path = storagePath(r);
      // Checked here so a missing file is a clear error, not a stream that fails later.
      if (!existsSync(path)) throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot read ${r.id}: its stored file is missing`);
      return { entry: fromRow(r), stream: createReadStream(path) };
    },

    async release(id, opts = {}) {
      const r = row(id);
      if (r === undefined || r.state === 'deleted') throw notFound(id);
      const entry = fromRow(r);
      let releasedTo: string;
      if (opts.to === undefined && entry.protocol === 'smtp') {
        if (releaseMail === undefined) {
          throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot release mail ${entry.id}: no SMTP next hop is set up for re-delivery`);
        }
        if (entry.envelope === undefined || entry.envelope.rcpts.length === 0) {
          throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot release mail ${entry.id}: it has no recorded recipients`);
        }
        const stream = createReadStream(storagePath(r));
        try {
          await releaseMail(entry, stream);
        } finally {
          stream.destroy();
        }
        releasedTo = 'smtp';
      } else {
        const to = opts.to ?? releaseDir;
        if (opts.to === undefined) await mkdir(releaseDir, { recursive: true, mode: 0o700 });
        const path = await exportPath(r, to);
        try {
          await writeNewFile(path, createReadStream(storagePath(r)), 0o600);
        } catch (err) {
          throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot release ${entry.id} to ${path}: ${(err as Error).message}`, { cause: err });
        }
        releasedTo = path;
      }
      markReleased.run(now(), releasedTo, r.id);
      return { entry: fromRow(byId.get(r.id) as Row), releasedTo };
    },

    async delete(id) {
      const r = row(id);
      if (r === undefined || r.state === 'deleted') throw notFound(id);
      await removeObject(r);
      return fromRow(byId.get(r.id) as Row);
    },

    async prune() {
      let deleted = 0;
      const t = now();
      if (maxAgeMs > 0) {
        for (const r of storedOlderThan.all(t - maxAgeMs) as Row[]) { await removeObject(r); deleted++; }
        dropDeletedRows.run(t - maxAgeMs);
      }
      if (maxTotalBytes > 0) {
        const rows = storedOldestFirst.all() as Row[];
        let total = rows.reduce((sum, r) => sum + r.size, 0);
        for (const r of rows) {
          if (total <= maxTotalBytes) break;
          await removeObject(r);
          total -= r.size;
          deleted++;
        }
      }
      // Files a crash left without an index row; young ones may be an add in progress.
      const known = new Set((allStorageNames.all() as { storage_name: string }[]).map((x) => x.storage_name));
      for (const name of await readdir(dir)) {
        if (!STORAGE_NAME.test(name) || known.has(name)) continue;
        const st = await stat(join(dir, name)).catch(() => undefined);
        if (st !== undefined && st.isFile() && t - st.mtimeMs > STRAY_AGE_MS) await unlink(join(dir, name)).catch(() => undefined);
      }
      return deleted;
    },

    stats() {
      const s = { held: 0, released: 0, bytes: 0 };
      for (const c of countBy.all() as { state: string; n: number; bytes: number | null }[]) {
        if (c.state === 'held') s.held = c.n;
        if (c.state === 'released') s.released = c.n;
        s.bytes += c.bytes ?? 0;
      }
      return s;
    },

    setReleaseMail(hook) {
      releaseMail = hook;
    },
  };
}


