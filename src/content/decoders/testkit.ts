/**
 * Test support for the decoders and extractors (used only by *.test.ts):
 * every way to cut an input into chunks, a seeded random generator, and
 * small encoders that build golden inputs in code (uuencode, yEnc, BinHex
 * with RLE, TNEF) so tests carry no binary fixtures.
 */
import { crc16Byte, crc32 } from './crc.js';

/** The whole input, every split into two at each byte boundary, and one byte at a time. */
export function* splits(input: Uint8Array): Generator<{ label: string; chunks: Uint8Array[] }> {
  yield { label: 'whole', chunks: [input] };
  for (let k = 1; k < input.length; k++) yield { label: `split at ${k}`, chunks: [input.subarray(0, k), input.subarray(k)] };
  yield { label: 'bytewise', chunks: Array.from(input, (_, i) => input.subarray(i, i + 1)) };
}

/** mulberry32: a small seeded generator, so a failing random case can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(next: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
}

/** Damage: `count` random bytes overwritten. */
export function corrupt(next: () => number, data: Uint8Array, count: number): Uint8Array {
  const out = data.slice();
  for (let i = 0; i < count && out.length > 0; i++) out[Math.floor(next() * out.length)] = Math.floor(next() * 256);
  return out;
}

export const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
export const text = (b: Uint8Array): string => String.fromCharCode(...b);

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Classic uuencode with backquote for zero. */
export function uuencode(data: Uint8Array, name: string, mode = '644'): string {
  const ch = (v: number): string => String.fromCharCode(v === 0 ? 0x60 : v + 0x20);
  let out = `begin ${mode} ${name}\n`;
  for (let i = 0; i < data.length; i += 45) {
    const line = data.subarray(i, i + 45);
    out += ch(line.length);
    for (let j = 0; j < line.length; j += 3) {
      const a = line[j] ?? 0, b = line[j + 1] ?? 0, c = line[j + 2] ?? 0;
      out += ch(a >> 2) + ch(((a << 4) | (b >> 4)) & 0x3f) + ch(((b << 2) | (c >> 6)) & 0x3f) + ch(c & 0x3f);
    }
    out += '\n';
  }
  return `${out}\`\nend\n`;
}

/** yEnc 1.3, single part, with the CRC-32 on the =yend line. */
export function yencode(data: Uint8Array, name: string, lineLen = 32, crcOverride?: number): string {
  let out = `=ybegin line=${lineLen} size=${data.length} name=${name}\n`;
  let col = 0;
  for (const b of data) {
    const v = (b + 42) & 0xff;
    if (v === 0x00 || v === 0x0a || v === 0x0d || v === 0x3d) {
      out += `=${String.fromCharCode((v + 64) & 0xff)}`;
      col += 2;
    } else {
      out += String.fromCharCode(v);
      col++;
    }
    if (col >= lineLen) { out += '\n'; col = 0; }
  }
  if (col > 0) out += '\n';
  const crc = crcOverride ?? crc32(data);
  return `${out}=yend size=${data.length} crc32=${crc.toString(16).padStart(8, '0')}\n`;
}

const BINHEX_ALPHABET = '!"#$%&\'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr';

/** BinHex 4.0 with RLE90 compression and the three CRCs. */
export function binhexEncode(data: Uint8Array, name: string, rsrc: Uint8Array = new Uint8Array(0)): string {
  const bytes: number[] = [];
  const withCrc = (part: number[]): void => {
    let crc = 0;
    for (const b of part) crc = crc16Byte(crc, b);
    bytes.push(...part, crc >> 8, crc & 0xff);
  };
  const be32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  withCrc([name.length, ...Array.from(name, (c) => c.charCodeAt(0)), 0, ...ascii('TEXT'), ...ascii('ttxt'), 0, 0, ...be32(data.length), ...be32(rsrc.length)]);
  withCrc([...data]);
  withCrc([...rsrc]);
  // RLE90: runs of 3 or more become byte, 0x90, count; a literal 0x90 is 0x90 0x00.
  const rle: number[] = [];
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i] as number;
    let run = 1;
    while (i + run < bytes.length && bytes[i + run] === b && run < 255) run++;
    if (b === 0x90) { rle.push(0x90, 0x00); i++; continue; }
    if (run >= 3) { rle.push(b, 0x90, run); i += run; continue; }
    rle.push(b);
    i++;
  }
  let six = '';
  for (let i = 0; i < rle.length; i += 3) {
    const a = rle[i] ?? 0, b = rle[i + 1] ?? 0, c = rle[i + 2] ?? 0;
    const n = Math.min(3, rle.length - i);
    const syms = [a >> 2, ((a << 4) | (b >> 4)) & 0x3f, ((b << 2) | (c >> 6)) & 0x3f, c & 0x3f].slice(0, n + 1);
    six += syms.map((s) => BINHEX_ALPHABET[s]).join('');
  }
  const lines = (`:${six}:`).match(/.{1,64}/g) ?? [];
  return `(This file must be converted with BinHex 4.0)\n${lines.join('\n')}\n`;
}

/** A TNEF stream with one attachment per entry; the title may come before or after the data. */
export function tnefBuild(files: readonly { name: string; data: Uint8Array; titleAfter?: boolean }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const le16 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff];
  const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const attr = (level: number, id: number, data: Uint8Array): void => {
    let sum = 0;
    for (const b of data) sum = (sum + b) & 0xffff;
    parts.push(Uint8Array.from([level, ...le32(id), ...le32(data.length)]), data, Uint8Array.from(le16(sum)));
  };
  parts.push(Uint8Array.from([...le32(0x223e9f78), ...le16(0x0001)]));
  attr(1, 0x00089006, Uint8Array.from(le32(0x00010000)));
  for (const f of files) {
    const title = ascii(`${f.name}\0`);
    attr(2, 0x00069002, new Uint8Array(14));
    if (!f.titleAfter) attr(2, 0x00018010, title);
    attr(2, 0x0006800f, f.data);
    if (f.titleAfter) attr(2, 0x00018010, title);
  }
  return concatBytes(parts);
}
