/**
 * tar (POSIX.1-1988 ustar, GNU tar and POSIX.1-2001 pax): names from the
 * ustar prefix, GNU long-name records ('L') and pax `path=` records; sizes in
 * octal or GNU base-256. Regular and contiguous files are members; links,
 * directories and devices carry no data and are skipped.
 *
 * Reads untrusted bytes. Every header's checksum is verified: a bad one ends
 * the archive (`Heuristics.Broken.Tar` unless only zero padding follows), as
 * does a member cut short (its first bytes are still scanned). The loop
 * advances at least one 512-byte block per step, so it ends.
 */
import { CappedSink, memberCap } from '../capped.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

const BLOCK = 512;
const utf8 = new TextDecoder('utf-8');

function field(h: Uint8Array, at: number, len: number): string {
  const bytes = h.subarray(at, at + len);
  const nul = bytes.indexOf(0);
  return utf8.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** Octal, or GNU base-256 when the top bit of the first byte is set; NaN when neither. */
function number(h: Uint8Array, at: number, len: number): number {
  if (((h[at] ?? 0) & 0x80) !== 0) {
    let n = (h[at] ?? 0) & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + (h[at + i] ?? 0);
    return n;
  }
  const s = field(h, at, len).trim();
  return s === '' ? 0 : /^[0-7]+$/.test(s) ? parseInt(s, 8) : Number.NaN;
}

export function tarChecksumOk(h: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
  return number(h, 148, 8) === sum;
}

function isZero(d: Uint8Array): boolean {
  for (const b of d) if (b !== 0) return false;
  return true;
}

/** The `path` record of a pax extended header ("<len> path=<value>\n" records). */
function paxPath(body: Uint8Array): string | undefined {
  const text = utf8.decode(body);
  let at = 0;
  while (at < text.length) {
    const sp = text.indexOf(' ', at);
    const len = Number(text.slice(at, sp));
    if (sp < 0 || !Number.isInteger(len) || len <= 0) break;
    const record = text.slice(sp + 1, at + len - 1);
    if (record.startsWith('path=')) return record.slice(5);
    at += len;
  }
  return undefined;
}

async function* extractTar(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  let o = 0;
  let longName: string | undefined;
  while (o + BLOCK <= data.length) {
    const h = data.subarray(o, o + BLOCK);
    if (isZero(h)) break;
    if (!tarChecksumOk(h)) {
      if (!isZero(data.subarray(o))) ctx.report('Heuristics.Broken.Tar');
      return;
    }
    const size = number(h, 124, 12);
    if (!Number.isFinite(size) || size < 0) { ctx.report('Heuristics.Broken.Tar'); return; }
    const type = String.fromCharCode(h[156] ?? 0);
    const start = o + BLOCK;
    const body = data.subarray(start, start + size);
    o = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') { longName = field(body, 0, body.length); continue; }
    if (type === 'x') { longName = paxPath(body) ?? longName; continue; }
    if (type === 'K' || type === 'g') continue;
    const fromHeader = longName === undefined;
    let name = longName ?? field(h, 0, 100);
    longName = undefined;
    // POSIX ustar ("ustar\0") keeps a path prefix at 345; old GNU tar ("ustar  ") keeps times there instead.
    if (fromHeader && field(h, 257, 5) === 'ustar' && h[262] === 0) {
      const prefix = field(h, 345, 155);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    if (type !== '0' && type !== '\0' && type !== '7' && type !== 'S') continue;
    const sink = new CappedSink(memberCap(ctx));
    sink.push(body);
    yield sink.child(ctx, name);
    if (body.length < size) { ctx.report('Heuristics.Broken.Tar', name); return; }
  }
}

export const tarExtractor: Extractor = {
  name: 'tar',
  accepts: (type) => type.name === 'tar',
  extract: extractTar,
};
