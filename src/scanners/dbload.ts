/**
 * Reads signature files and folders from disk into `DbFile[]` for the
 * engine's compiler. A folder contributes the files whose extension names a
 * ClamAV database format (not recursive, like ClamAV's DatabaseDirectory);
 * a file named explicitly is taken whatever its extension, so the compiler
 * can count and report a format it does not know. When a folder holds both
 * `X.cvd` and `X.cld` (or `.cud`), only the one with the higher version in
 * its 512-byte header is kept, as ClamAV does.
 *
 * The files are checked (readable regular files) here but their bytes are
 * read only when the compiler asks for `data`, and read again on every ask:
 * the compiler takes each file's bytes once and drops them after parsing,
 * so a 61 MB .hdb is not held while the next file is parsed or the matcher
 * is compiled (that was most of the load's peak memory).
 *
 * Reads local files only; their bytes are not interpreted here beyond the
 * text header of .cvd/.cld/.cud. Any read failure is PC_ERR_DB_READ (thrown
 * by `data` when the file went away after listing).
 */
import { readFileSync } from 'node:fs';
import { access, constants, open, readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { DbFile } from '../engine/types.js';
import { PortcullisError } from '../errors.js';

/** Extensions ClamAV reads from a database folder. Unknown-but-listed formats are counted as skipped by the compiler. */
export const DB_EXTENSIONS: ReadonlySet<string> = new Set([
  '.cvd', '.cld', '.cud',
  '.hdb', '.hsb', '.hdu', '.hsu', '.mdb', '.msb', '.mdu', '.msu', '.imp',
  '.ndb', '.ndu', '.ldb', '.ldu', '.idb', '.cdb', '.crb', '.cbc',
  '.fp', '.sfp', '.ign', '.ign2',
  '.pdb', '.gdb', '.wdb', '.ftm', '.info', '.cfg', '.pwdb', '.yar', '.yara',
]);

const CONTAINER_EXTENSIONS = new Set(['.cvd', '.cld', '.cud']);

/** Reads each path (a signature file or a folder of them) and returns the files in a stable order. */
export async function loadDbFiles(paths: readonly string[]): Promise<DbFile[]> {
  const out: DbFile[] = [];
  for (const path of paths) {
    const info = await stat(path).catch((cause: unknown) => {
      throw new PortcullisError('PC_ERR_DB_READ', `Cannot read signature database: ${path}: ${errText(cause)}`, { cause });
    });
    if (info.isDirectory()) out.push(...(await loadFolder(path)));
    else out.push(await openDbFile(basename(path), path));
  }
  return out;
}

async function loadFolder(dir: string): Promise<DbFile[]> {
  const names = await readdir(dir).catch((cause: unknown) => {
    throw new PortcullisError('PC_ERR_DB_READ', `Cannot read signature folder: ${dir}: ${errText(cause)}`, { cause });
  });
  const wanted = names.filter((n) => DB_EXTENSIONS.has(extname(n).toLowerCase())).sort();
  const files: DiskDbFile[] = [];
  for (const name of wanted) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isFile()) continue;
    files.push(await openDbFile(name, path));
  }
  if (files.length === 0) {
    throw new PortcullisError('PC_ERR_DB_READ', `Cannot read signature folder: ${dir}: no signature files in it`);
  }
  return keepNewestContainers(files);
}

/** A signature file on disk whose bytes are read on each access of `data` (see the header). */
class DiskDbFile implements DbFile {
  constructor(readonly name: string, readonly path: string) {}

  get data(): Uint8Array {
    try {
      return readFileSync(this.path);
    } catch (cause) {
      throw readError(this.path, cause);
    }
  }

  /** The first bytes only: enough for a container's text header. */
  async head(bytes: number): Promise<Uint8Array> {
    try {
      const handle = await open(this.path, 'r');
      try {
        const { buffer, bytesRead } = await handle.read(Buffer.alloc(bytes), 0, bytes, 0);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    } catch (cause) {
      throw readError(this.path, cause);
    }
  }
}

/** A signature file on disk read when the compiler asks (a scan worker rebuilds its files from name and path this way). */
export function diskDbFile(name: string, path: string): DbFile & { readonly path: string } {
  return new DiskDbFile(name, path);
}

/** Fails now, not at compile time, when a listed file cannot be read. */
async function openDbFile(name: string, path: string): Promise<DiskDbFile> {
  try {
    await access(path, constants.R_OK);
  } catch (cause) {
    throw readError(path, cause);
  }
  return new DiskDbFile(name, path);
}

function readError(path: string, cause: unknown): PortcullisError {
  return new PortcullisError('PC_ERR_DB_READ', `Cannot read signature file: ${path}: ${errText(cause)}`, { cause });
}

/** Of main.cvd / main.cld / main.cud, keep the highest version (field 3 of "ClamAV-VDB:time:version:…"). */
async function keepNewestContainers(files: DiskDbFile[]): Promise<DiskDbFile[]> {
  const best = new Map<string, { file: DiskDbFile; version: number }>();
  for (const file of files) {
    const ext = extname(file.name).toLowerCase();
    if (!CONTAINER_EXTENSIONS.has(ext)) continue;
    const stem = file.name.slice(0, -ext.length);
    const version = containerVersion(await file.head(512));
    const seen = best.get(stem);
    if (seen === undefined || version > seen.version) best.set(stem, { file, version });
  }
  return files.filter((file) => {
    const ext = extname(file.name).toLowerCase();
    if (!CONTAINER_EXTENSIONS.has(ext)) return true;
    return best.get(file.name.slice(0, -ext.length))?.file === file;
  });
}

export function containerVersion(data: Uint8Array): number {
  const header = Buffer.from(data.buffer, data.byteOffset, Math.min(512, data.byteLength)).toString('latin1');
  if (!header.startsWith('ClamAV-VDB:')) return -1;
  const version = Number(header.split(':')[2]);
  return Number.isFinite(version) ? version : -1;
}

export function errText(e: unknown): string {
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ?? e.message;
  return String(e);
}
