/**
 * cpio in its four formats: "newc" (070701) and "crc" (070702, SVR4 ASCII
 * hex), "odc" (070707, POSIX.1 ASCII octal) and old binary (0x71C7, little-
 * and big-endian). Regular files are members; directories, links and
 * devices are skipped; the "TRAILER!!!" record ends the archive.
 *
 * Reads untrusted bytes. A header that does not parse, or a member cut
 * short, ends the walk with `Heuristics.Broken.CPIO` (unless only padding
 * follows). Each step advances past at least one header, so it ends.
 */
import { CappedSink, memberCap } from '../capped.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

interface Header {
  readonly mode: number;
  readonly nameSize: number;
  readonly fileSize: number;
  /** Bytes of the fixed header; the name follows. */
  readonly headerSize: number;
  /** Alignment of the name end and the data end (4 for newc/crc, 2 for binary, 1 for odc). */
  readonly align: number;
}

const latin1 = new TextDecoder('latin1');

function ascii(d: Uint8Array, at: number, len: number): string {
  return latin1.decode(d.subarray(at, at + len));
}

function parseNumber(s: string, radix: 8 | 16): number {
  return (radix === 16 ? /^[0-9a-fA-F]+$/ : /^[0-7]+$/).test(s) ? parseInt(s, radix) : Number.NaN;
}

function readHeader(d: Uint8Array, o: number): Header | undefined {
  const magic = ascii(d, o, 6);
  if ((magic === '070701' || magic === '070702') && o + 110 <= d.length) {
    const hex = (i: number): number => parseNumber(ascii(d, o + 6 + i * 8, 8), 16);
    return { mode: hex(1), fileSize: hex(6), nameSize: hex(11), headerSize: 110, align: 4 };
  }
  if (magic === '070707' && o + 76 <= d.length) {
    return {
      mode: parseNumber(ascii(d, o + 18, 6), 8), nameSize: parseNumber(ascii(d, o + 59, 6), 8),
      fileSize: parseNumber(ascii(d, o + 65, 11), 8), headerSize: 76, align: 1,
    };
  }
  if (o + 26 <= d.length) {
    const le = d[o] === 0xc7 && d[o + 1] === 0x71;
    const be = d[o] === 0x71 && d[o + 1] === 0xc7;
    if (!le && !be) return undefined;
    const u16 = (i: number): number => {
      const a = d[o + i * 2] ?? 0;
      const b = d[o + i * 2 + 1] ?? 0;
      return le ? a | (b << 8) : (a << 8) | b;
    };
    // 32-bit fields are two 16-bit words, most significant word first, in either byte order.
    return { mode: u16(3), nameSize: u16(10), fileSize: u16(11) * 0x10000 + u16(12), headerSize: 26, align: 2 };
  }
  return undefined;
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

function onlyPadding(d: Uint8Array): boolean {
  for (const b of d) if (b !== 0) return false;
  return true;
}

async function* extractCpio(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  let o = 0;
  while (o < data.length) {
    const h = readHeader(data, o);
    if (h === undefined || !Number.isFinite(h.mode + h.nameSize + h.fileSize) || h.nameSize === 0) {
      if (!onlyPadding(data.subarray(o))) ctx.report('Heuristics.Broken.CPIO');
      return;
    }
    const nameAt = o + h.headerSize;
    const name = ascii(data, nameAt, h.nameSize).replace(/\0+$/, '');
    const dataAt = alignUp(nameAt + h.nameSize, h.align);
    if (name === 'TRAILER!!!') return;
    const body = data.subarray(dataAt, dataAt + h.fileSize);
    o = alignUp(dataAt + h.fileSize, h.align);
    if ((h.mode & S_IFMT) !== S_IFREG) continue;
    const sink = new CappedSink(memberCap(ctx));
    sink.push(body);
    yield sink.child(ctx, name);
    if (body.length < h.fileSize) { ctx.report('Heuristics.Broken.CPIO', name); return; }
  }
  // Ran off the end without the trailer record: the archive was cut short.
  ctx.report('Heuristics.Broken.CPIO');
}

export const cpioExtractor: Extractor = {
  name: 'cpio',
  accepts: (type) => type.name === 'cpio',
  extract: extractCpio,
};
