/**
 * Reads signature files and folders from disk into `DbFile[]` for the
 * engine's compiler. A folder contributes the files whose extension names a
 * ClamAV database format (not recursive, like ClamAV's DatabaseDirectory);
 * a file named explicitly is taken whatever its extension, so the compiler
 * can count and report a format it does not know. When a folder holds both
 * `X.cvd` and `X.cld` (or `.cud`), only the one with the higher version in
 * its 512-byte header is kept, as ClamAV does.
 *
 * Reads local files only; their bytes are not interpreted here beyond the
 * text header of .cvd/.cld/.cud. Any read failure is PC_ERR_DB_READ.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
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
    else out.push({ name: basename(path), data: await readDbFile(path) });
  }
  return out;
}

async function loadFolder(dir: string): Promise<DbFile[]> {
  const names = await readdir(dir).catch((cause: unknown) => {
    throw new PortcullisError('PC_ERR_DB_READ', `Cannot read signature folder: ${dir}: ${errText(cause)}`, { cause });
  });
  const wanted = names.filter((n) => DB_EXTENSIONS.has(extname(n).toLowerCase())).sort();
  const files: DbFile[] = [];
  for (const name of wanted) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || !info.isFile()) continue;
    files.push({ name, data: await readDbFile(path) });
  }
  if (files.length === 0) {
    throw new PortcullisError('PC_ERR_DB_READ', `Cannot read signature folder: ${dir}: no signature files in it`);
  }
  return keepNewestContainers(files);
}

async function readDbFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new PortcullisError('PC_ERR_DB_READ', `Cannot read signature file: ${path}: ${errText(cause)}`, { cause });
  }
}

/** Of main.cvd / main.cld / main.cud, keep the highest version (field 3 of "ClamAV-VDB:time:version:…"). */
function keepNewestContainers(files: DbFile[]): DbFile[] {
  const best = new Map<string, { file: DbFile; version: number }>();
  for (const file of files) {
    const ext = extname(file.name).toLowerCase();
    if (!CONTAINER_EXTENSIONS.has(ext)) continue;
    const stem = file.name.slice(0, -ext.length);
    const version = containerVersion(file.data);
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
