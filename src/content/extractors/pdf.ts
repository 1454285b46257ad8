/**
 * PDF (ISO 32000-1 §7.3.8, §7.4) → its streams, decoded through their
 * filter chain: FlateDecode (zlib, or raw deflate when the header is broken;
 * a truncated stream yields what inflated before the break), ASCIIHexDecode,
 * ASCII85Decode and RunLengthDecode. The chain stops at a filter we do not
 * decode (LZW, image codecs) and the bytes so far are handed on. Predictors
 * (DecodeParms) are not undone. Streams are found by their `stream` keyword,
 * not through the xref table, so broken or incremental files still give up
 * their streams; a /Length that does not land on `endstream` is replaced by
 * a search for it. Streams of an encrypted file are handed on still
 * encrypted, with the finding Heuristics.Encrypted.PDF. Children are named
 * "obj N G" (plus "embedded file" for /Type /EmbeddedFile). Limits: each
 * stream is cut at MaxFileSize / what is left of MaxScanSize; at most
 * MaxFiles. Reads untrusted bytes; never throws.
 */
import { inflateRawSync, inflateSync, constants as zc } from 'node:zlib';
import type { ExtractContext, ExtractedChild, Extractor, FileType } from '../types.js';
import { childBudget, fitChild, latin1Text } from './common.js';

export const pdfExtractor: Extractor = {
  name: 'pdf',
  accepts(type: FileType, data: Uint8Array): boolean {
    return type.name === 'pdf' || (type.name === 'binary' && latin1Text(data.subarray(0, 1024)).includes('%PDF-'));
  },
  async *extract(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
    const text = latin1Text(data);
    if (/\/Encrypt\s/.test(text)) ctx.report('Heuristics.Encrypted.PDF');
    let n = 0;
    let broken = false;
    for (const s of findStreams(text)) {
      if (++n > ctx.limits.MaxFiles) {
        ctx.report('Heuristics.Limits.Exceeded.MaxFiles');
        return;
      }
      const decoded = applyFilters(data.subarray(s.start, s.end), filtersOf(s.dict), childBudget(ctx));
      broken ||= decoded.broken;
      const name = `${s.id}${/\/Type\s*\/EmbeddedFile\b/.test(s.dict) ? ' embedded file' : ''}`;
      const child = fitChild(ctx, { name, data: decoded.data }, decoded.capped);
      if (child && child.data.length > 0) yield child;
    }
    if (broken) ctx.report('Heuristics.Broken.PDF');
  },
};

interface StreamAt {
  readonly id: string;
  readonly dict: string;
  readonly start: number;
  readonly end: number;
}

function* findStreams(text: string): Generator<StreamAt> {
  const kw = /(?<!end)stream(\r\n|\n|\r)/g;
  let lastEnd = 0;
  let k = 0;
  for (let m = kw.exec(text); m; m = kw.exec(text)) {
    const start = m.index + m[0].length;
    if (m.index < lastEnd) continue;
    const objAt = text.lastIndexOf(' obj', m.index);
    const head = objAt >= 0 && m.index - objAt < 64 * 1024 ? text.slice(Math.max(0, objAt - 24), m.index) : text.slice(Math.max(0, m.index - 4096), m.index);
    const idm = /(\d+)\s+(\d+)\s+obj\b/.exec(head);
    const dict = idm ? head.slice(idm.index) : head;
    let end = -1;
    const len = lengthOf(dict, text);
    if (len !== undefined && start + len <= text.length && /^\s*endstream/.test(text.slice(start + len, start + len + 32))) end = start + len;
    if (end < 0) {
      const e = text.indexOf('endstream', start);
      end = e < 0 ? text.length : e;
      if (text[end - 1] === '\n') end--;
      if (text[end - 1] === '\r') end--;
    }
    lastEnd = end;
    k++;
    yield { id: idm ? `obj ${idm[1]} ${idm[2]}` : `stream ${k}`, dict, start, end };
  }
}

/** /Length N, or /Length N G R resolved to "N G obj <int>". */
function lengthOf(dict: string, text: string): number | undefined {
  const ind = /\/Length\s+(\d+)\s+(\d+)\s+R\b/.exec(dict);
  if (ind) {
    const target = new RegExp(`(?:^|\\D)${ind[1]}\\s+${ind[2]}\\s+obj\\s*(\\d+)\\s*endobj`).exec(text);
    return target ? Number(target[1]) : undefined;
  }
  const direct = /\/Length\s+(\d+)/.exec(dict);
  return direct ? Number(direct[1]) : undefined;
}

const ABBREV: Readonly<Record<string, string>> = {
  Fl: 'FlateDecode', AHx: 'ASCIIHexDecode', A85: 'ASCII85Decode', RL: 'RunLengthDecode', LZW: 'LZWDecode',
};

function filtersOf(dict: string): string[] {
  const m = /\/Filter\s*(\[[^\]]*\]|\/[A-Za-z0-9]+)/.exec(dict);
  if (!m) return [];
  return [...(m[1] as string).matchAll(/\/([A-Za-z0-9]+)/g)].map((x) => ABBREV[x[1] as string] ?? (x[1] as string));
}

function applyFilters(raw: Uint8Array, filters: readonly string[], cap: number): { data: Uint8Array; capped: boolean; broken: boolean } {
  let data = raw;
  let broken = false;
  for (const f of filters) {
    let next: Uint8Array | undefined;
    if (f === 'FlateDecode') next = inflate(data, cap);
    else if (f === 'ASCIIHexDecode') next = asciiHex(data);
    else if (f === 'ASCII85Decode') next = ascii85(data);
    else if (f === 'RunLengthDecode') next = runLength(data, cap);
    if (next === undefined) {
      broken ||= f === 'FlateDecode';
      break;
    }
    data = next;
  }
  return { data: data.length > cap ? data.subarray(0, cap) : data, capped: data.length > cap, broken };
}

export function inflate(data: Uint8Array, cap: number): Uint8Array | undefined {
  const opts = { maxOutputLength: Math.max(1, cap), finishFlush: zc.Z_SYNC_FLUSH };
  for (const fn of [inflateSync, inflateRawSync]) {
    try {
      return new Uint8Array(fn(data, opts));
    } catch {
      // try the next reading
    }
  }
  return undefined;
}

function asciiHex(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  let high = -1;
  for (const c of data) {
    if (c === 0x3e) break;
    const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : -1;
    if (v < 0) continue;
    if (high < 0) high = v;
    else { out.push((high << 4) | v); high = -1; }
  }
  if (high >= 0) out.push(high << 4);
  return Uint8Array.from(out);
}

function ascii85(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  const group: number[] = [];
  const flush = (count: number): void => {
    let v = 0;
    for (let i = 0; i < 5; i++) v = v * 85 + (group[i] ?? 84);
    const bytes = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    out.push(...bytes.slice(0, count));
    group.length = 0;
  };
  for (let i = 0; i < data.length; i++) {
    const c = data[i] as number;
    if (c === 0x7e) break;
    if (c === 0x7a && group.length === 0) { out.push(0, 0, 0, 0); continue; }
    if (c < 0x21 || c > 0x75) continue;
    group.push(c - 0x21);
    if (group.length === 5) flush(4);
  }
  if (group.length > 1) flush(group.length - 1);
  return Uint8Array.from(out);
}

function runLength(data: Uint8Array, cap: number): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < data.length && out.length < cap;) {
    const len = data[i++] as number;
    if (len === 128) break;
    if (len < 128) {
      for (let k = 0; k <= len && i < data.length; k++) out.push(data[i++] as number);
    } else {
      const b = data[i++];
      if (b === undefined) break;
      for (let k = 0; k < 257 - len; k++) out.push(b);
    }
  }
  return Uint8Array.from(out);
}
