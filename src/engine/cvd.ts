/**
 * ClamAV database containers (.cvd, .cld, .cud): a 512-byte ASCII header
 * `ClamAV-VDB:BuildTime:Version:Signatures:FLevel:MD5:DSig:Builder:STime`
 * (space padded), then a tar archive of signature files — gzip'd in a .cvd
 * and .cud, usually plain in a .cld (we go by the gzip magic, not the name).
 *
 * Checks: the header must parse, and for .cvd/.cud the MD5 of the body must
 * equal the header's. A mismatch is a build error (PC_ERR_DB_BUILD), not a
 * skipped file: a damaged official database must not quietly leave a gateway
 * with fewer signatures than the operator thinks (clamscan refuses it too).
 * A .cld carries the MD5 of the .cvd it was rebuilt from (freshclam writes
 * "X"), so it cannot be checked. The digital signature (DSig, RSA with
 * ClamAV's key) is not verified.
 *
 * sigtool writes the build time as "09 Nov 2023 07-33 -0500"; other writers
 * may put a colon in it ("07:33"), so the fixed fields are read from the right.
 *
 * Limits: ustar/GNU tar with regular files only; reads untrusted bytes and
 * throws PortcullisError(PC_ERR_DB_BUILD) for anything it cannot read.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { PortcullisError } from '../errors.js';
import type { DbFile } from './types.js';

export interface CvdHeader {
  /** As written, e.g. "09 Nov 2023 07-33 -0500". */
  readonly buildTime: string;
  readonly version: number;
  readonly signatures: number;
  readonly flevel: number;
  /** Lower-case hex, or "X" when the writer left it out (.cld). */
  readonly md5: string;
  readonly builder: string;
  /** Build time in ms since the epoch (from STime, else parsed from BuildTime), when known. */
  readonly buildTimeMs?: number;
}

export const CVD_HEADER_BYTES = 512;
const MAGIC = 'ClamAV-VDB:';

function buildError(file: string, state: string, cause?: unknown): PortcullisError {
  return new PortcullisError('PC_ERR_DB_BUILD', `Cannot load ${file}: ${state}`, cause === undefined ? undefined : { cause });
}

export function isCvdName(name: string): boolean {
  return /\.(cvd|cld|cud)$/i.test(name);
}

export function parseCvdHeader(data: Uint8Array, fileName: string): CvdHeader {
  if (data.length < CVD_HEADER_BYTES) throw buildError(fileName, `file is ${data.length} bytes, shorter than the 512-byte header`);
  const text = Buffer.from(data.buffer, data.byteOffset, CVD_HEADER_BYTES).toString('latin1').replace(/[\s\0]+$/, '');
  if (!text.startsWith(MAGIC)) throw buildError(fileName, 'the header does not start with "ClamAV-VDB:"');
  const fields = text.slice(MAGIC.length).split(':');
  if (fields.length < 8) throw buildError(fileName, `the header has ${fields.length + 1} fields, expected 9`);
  const tail = fields.slice(-7);
  const [version, signatures, flevel, md5, , builder, stime] = tail as [string, string, string, string, string, string, string];
  const buildTime = fields.slice(0, fields.length - 7).join(':');
  const num = (what: string, v: string): number => {
    if (!/^\d+$/.test(v)) throw buildError(fileName, `the header's ${what} "${v}" is not a number`);
    return Number(v);
  };
  const md5Lower = md5.toLowerCase();
  if (md5Lower !== 'x' && !/^[0-9a-f]{32}$/.test(md5Lower)) throw buildError(fileName, `the header's MD5 "${md5}" is not 32 hex digits`);
  const stimeMs = /^\d+$/.test(stime) ? Number(stime) * 1000 : Date.parse(buildTime.replace(/ (\d\d)-(\d\d) /, ' $1:$2 '));
  return {
    buildTime,
    version: num('version', version),
    signatures: num('signature count', signatures),
    flevel: num('functionality level', flevel),
    md5: md5Lower === 'x' ? 'X' : md5Lower,
    builder,
    ...(Number.isFinite(stimeMs) ? { buildTimeMs: stimeMs } : {}),
  };
}

/** Checks and unpacks one container into the signature files inside it. */
export function unpackCvd(file: DbFile): { header: CvdHeader; files: DbFile[] } {
  const header = parseCvdHeader(file.data, file.name);
  const body = file.data.subarray(CVD_HEADER_BYTES);
  const isCld = /\.cld$/i.test(file.name);
  if (!isCld && header.md5 !== 'X') {
    const actual = createHash('md5').update(body).digest('hex');
    if (actual !== header.md5) {
      throw buildError(file.name, `the body's MD5 ${actual} does not match the header's ${header.md5} (damaged or altered file)`);
    }
  }
  let tar: Uint8Array = body;
  if (body[0] === 0x1f && body[1] === 0x8b) {
    try {
      tar = gunzipSync(body);
    } catch (e) {
      throw buildError(file.name, 'the gzip body is corrupt', e);
    }
  }
  return { header, files: readTar(tar, file.name) };
}

/** A minimal ustar reader: regular files only (GNU long names honoured), everything else passed over. */
export function readTar(data: Uint8Array, containerName: string): DbFile[] {
  const files: DbFile[] = [];
  let at = 0;
  let longName: string | undefined;
  while (at + 512 <= data.length) {
    const block = data.subarray(at, at + 512);
    if (block.every((b) => b === 0)) break;
    const name = cString(block, 0, 100);
    const prefix = cString(block, 345, 155);
    const size = parseOctal(block, 124, 12);
    if (size < 0) throw buildError(containerName, `the tar header at byte ${at} has a bad size field`);
    if (!checksumOk(block)) throw buildError(containerName, `the tar header at byte ${at} fails its checksum`);
    const type = String.fromCharCode(block[156] as number);
    const start = at + 512;
    const end = start + size;
    if (end > data.length) throw buildError(containerName, `the tar entry "${name}" is truncated`);
    const content = data.subarray(start, end);
    if (type === 'L') {
      longName = cString(content, 0, content.length);
    } else {
      if (type === '0' || type === '\0' || type === '7') {
        const full = longName ?? (prefix !== '' ? `${prefix}/${name}` : name);
        files.push({ name: `${containerName}/${full}`, data: content });
      }
      longName = undefined;
    }
    at = start + Math.ceil(size / 512) * 512;
  }
  return files;
}

function cString(b: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && b[end] !== 0) end++;
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('latin1');
}

function parseOctal(b: Uint8Array, start: number, length: number): number {
  const text = cString(b, start, length).trim();
  if (text === '') return 0;
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : -1;
}

function checksumOk(block: Uint8Array): boolean {
  const stored = parseOctal(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  return stored === sum;
}
