/**
 * Zip (PKWARE APPNOTE 6.3.x): our own central-directory reader, members
 * decoded with fflate (deflate, streamed with a cap), seek-bzip (method 12)
 * or stored; other methods (deflate64, implode, LZMA, PPMd …) go to 7-Zip.
 *
 * Reads untrusted bytes. Handles zip64, data descriptors, data prepended to
 * the archive (SFX stubs, shifted offsets) and — when there is no usable
 * central directory (truncated downloads, streamed zips) — a forward scan of
 * local headers. Findings:
 *  - `Heuristics.Encrypted.Zip` per encrypted member (it is not unpacked);
 *  - `Heuristics.Zip.OverlappingFiles` once when members share bytes (the
 *    non-recursive zip-bomb construction), and only the first of each
 *    overlapping run is unpacked;
 *  - `Heuristics.Broken.Zip` when a member's data is cut short or fails to
 *    decode (what decoded before the fault is still scanned);
 *  - limit findings from the member caps (capped.ts).
 */
import { Inflate, inflateSync } from 'fflate';
import { CappedSink, feedCapped, memberCap, type DecodeEnd, type MemberCap } from '../capped.js';
import { LeBytes } from '../bytes.js';
import { bunzipCapped } from './bzip2.js';
import { sevenZipExtract } from './sevenzip.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

interface Entry {
  readonly name: string;
  readonly flags: number;
  readonly method: number;
  readonly compSize: number;
  readonly size: number;
  readonly localOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_DESCRIPTOR = 0x08074b50;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
const EOCD_MAGIC = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

function decodeName(bytes: Uint8Array, flags: number): string {
  return (flags & FLAG_UTF8) !== 0 ? utf8.decode(bytes) : latin1.decode(bytes);
}

/** The end-of-central-directory record is in the last 64 KiB + 22 bytes (the comment is at most 65535 bytes). */
function findEocd(v: LeBytes): number {
  const stop = Math.max(0, v.d.length - 22 - 0xffff);
  const buf = Buffer.from(v.d.buffer, v.d.byteOffset, v.d.byteLength);
  // Native search backwards from the last place a record fits; a comment may itself contain the signature, so keep looking.
  for (let o = buf.lastIndexOf(EOCD_MAGIC, v.d.length - 22); o >= stop; o = buf.lastIndexOf(EOCD_MAGIC, o - 1)) {
    if (o + 22 + v.u16(o + 20) <= v.d.length) return o;
    if (o === 0) break;
  }
  return -1;
}

/** Entries from the central directory, or undefined when it is missing or unreadable. */
function readCentral(v: LeBytes): Entry[] | undefined {
  const eocd = findEocd(v);
  if (eocd < 0) return undefined;
  let count = v.u16(eocd + 10);
  let cdSize = v.u32(eocd + 12);
  let cdOffset = v.u32(eocd + 16);
  let cdEnd = eocd;
  const loc = eocd - 20;
  if (v.fits(loc, 20) && v.u32(loc) === SIG_ZIP64_LOCATOR) {
    const z = v.u64(loc + 8);
    if (v.fits(z, 56) && v.u32(z) === SIG_ZIP64_EOCD) {
      count = v.u64(z + 32);
      cdSize = v.u64(z + 40);
      cdOffset = v.u64(z + 48);
      cdEnd = z;
    }
  }
  // Data prepended after the archive was made (an SFX stub) shifts every offset by the same amount.
  let shift = 0;
  if (!(v.fits(cdOffset, 4) && v.u32(cdOffset) === SIG_CENTRAL) && count > 0) {
    shift = cdEnd - cdSize - cdOffset;
    if (!v.fits(cdOffset + shift, 4) || v.u32(cdOffset + shift) !== SIG_CENTRAL) return undefined;
  }
  const entries: Entry[] = [];
  let o = cdOffset + shift;
  // Each record is ≥ 46 bytes, so the loop is bounded by the input size whatever `count` claims.
  for (let i = 0; i < count && v.fits(o, 46) && v.u32(o) === SIG_CENTRAL; i++) {
    const flags = v.u16(o + 8);
    const nameLen = v.u16(o + 28);
    const extraLen = v.u16(o + 30);
    const commentLen = v.u16(o + 32);
    let compSize = v.u32(o + 20);
    let size = v.u32(o + 24);
    let localOffset = v.u32(o + 42);
    const extra = o + 46 + nameLen;
    for (let e = extra; e + 4 <= extra + extraLen && v.fits(e, 4);) {
      const id = v.u16(e);
      const len = v.u16(e + 2);
      if (id === 0x0001) {
        let f = e + 4;
        if (size === 0xffffffff && f + 8 <= e + 4 + len) { size = v.u64(f); f += 8; }
        if (compSize === 0xffffffff && f + 8 <= e + 4 + len) { compSize = v.u64(f); f += 8; }
        if (localOffset === 0xffffffff && f + 8 <= e + 4 + len) { localOffset = v.u64(f); }
      }
      e += 4 + len;
    }
    entries.push({
      name: decodeName(v.d.subarray(o + 46, o + 46 + nameLen), flags),
      flags, method: v.u16(o + 10), compSize, size, localOffset: localOffset + shift,
    });
    o += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Where a member's data starts (after its local header), or -1 when the local header is not there. */
function dataStart(v: LeBytes, localOffset: number): number {
  if (!v.fits(localOffset, 30) || v.u32(localOffset) !== SIG_LOCAL) return -1;
  return localOffset + 30 + v.u16(localOffset + 26) + v.u16(localOffset + 28);
}

/** Next offset ≥ from where one of the zip record signatures starts, or the input length. */
function nextRecord(v: LeBytes, from: number): number {
  for (let o = from; o + 4 <= v.d.length; o++) {
    if (v.d[o] !== 0x50 || v.d[o + 1] !== 0x4b) continue;
    const sig = v.u32(o);
    if (sig === SIG_LOCAL || sig === SIG_CENTRAL || sig === SIG_DESCRIPTOR || sig === SIG_EOCD) return o;
  }
  return v.d.length;
}

/**
 * Without a central directory: walk the local headers front to back. A
 * member with a data descriptor has no size in its header, so its data ends
 * at the next record signature.
 */
function readLocal(v: LeBytes): Entry[] {
  const entries: Entry[] = [];
  let o = 0;
  while (v.fits(o, 30) && v.u32(o) === SIG_LOCAL) {
    const flags = v.u16(o + 6);
    const nameLen = v.u16(o + 26);
    const start = o + 30 + nameLen + v.u16(o + 28);
    let compSize = v.u32(o + 18);
    let size = v.u32(o + 22);
    if ((flags & FLAG_DESCRIPTOR) !== 0 && compSize === 0) {
      compSize = nextRecord(v, start) - start;
      size = 0;
    }
    if (compSize < 0 || start > v.d.length) break;
    entries.push({
      name: decodeName(v.d.subarray(o + 30, o + 30 + nameLen), flags),
      flags, method: v.u16(o + 8), compSize, size, localOffset: o,
    });
    let next = start + compSize;
    if (v.fits(next, 4) && v.u32(next) === SIG_DESCRIPTOR) next += 16;
    else if ((flags & FLAG_DESCRIPTOR) !== 0 && v.fits(next, 12) && v.u32(next) !== SIG_LOCAL) next += 12;
    if (next <= o) break;
    o = next;
  }
  return entries;
}

/**
 * Small deflated members are inflated in one call into a buffer of the size
 * the central directory states (one allocation), not through the streaming
 * decoder, which costs a 32 KiB window and growing copies per member — a jar
 * or ct.sym of 15 000 small classes made ~1.5 GB of short-lived buffers that
 * way. The packed bound keeps the one-call decode as short as the capped
 * path's first slices (deflate expands at most 1032×; output past the buffer
 * is discarded, not stored); the unpacked bound keeps a lying size from
 * allocating much.
 */
const EXACT_MAX_PACKED = 32 * 1024;
const EXACT_MAX_UNPACKED = 1024 * 1024;

/**
 * The member inflated into a buffer of its stated size, or undefined when it
 * does not fit that path: too big, stated size at or over the cap, a bad
 * stream, or more bytes than stated (a lie that must not hide the rest). The
 * capped streaming decoder then does it, keeping what decodes before a fault.
 */
function inflateExact(input: Uint8Array, size: number, cap: MemberCap): Uint8Array | undefined {
  if (input.length > EXACT_MAX_PACKED || size > EXACT_MAX_UNPACKED || size >= cap.bytes) return undefined;
  try {
    // One byte of room past the stated size tells a longer stream from an exact one.
    const out = inflateSync(input, { out: new Uint8Array(size + 1) });
    return out.length <= size ? out : undefined;
  } catch {
    return undefined;
  }
}

function decodeMember(method: number, input: Uint8Array, sink: CappedSink): DecodeEnd {
  switch (method) {
    case 0: sink.push(input); return { ok: true };
    case 8: return feedCapped(new Inflate(), input, sink);
    case 12: return bunzipCapped(input, sink);
    default: return { ok: false, error: `method ${method}` };
  }
}

/** Methods decoded here; the rest go to 7-Zip. */
const OWN_METHODS = new Set([0, 8, 12]);

/** Keeps the first of each run of members whose byte ranges overlap; says whether any did. */
function dropOverlaps(v: LeBytes, entries: readonly Entry[]): { kept: Entry[]; overlapped: boolean } {
  const sorted = [...entries].sort((a, b) => a.localOffset - b.localOffset);
  const kept: Entry[] = [];
  let end = -1;
  let overlapped = false;
  for (const e of sorted) {
    if (e.localOffset < end) { overlapped = true; continue; }
    const start = dataStart(v, e.localOffset);
    end = (start < 0 ? e.localOffset + 30 : start) + e.compSize;
    kept.push(e);
  }
  return { kept, overlapped };
}

async function* extractZip(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const v = new LeBytes(data);
  const central = readCentral(v);
  let entries = central ?? readLocal(v);
  if (central === undefined && entries.length === 0) {
    // Only an end record (an empty zip) is a complete archive; anything else with a zip magic and no members is broken.
    if (findEocd(v) < 0) ctx.report('Heuristics.Broken.Zip');
    return;
  }
  if (central !== undefined) {
    const { kept, overlapped } = dropOverlaps(v, entries);
    if (overlapped) ctx.report('Heuristics.Zip.OverlappingFiles');
    entries = kept;
  }
  let broken = false;
  const viaSevenZip = new Set<string>();
  for (const e of entries) {
    if (e.name.endsWith('/') && e.compSize === 0) continue;
    if ((e.flags & FLAG_ENCRYPTED) !== 0) { ctx.report('Heuristics.Encrypted.Zip', e.name); continue; }
    if (!OWN_METHODS.has(e.method)) { viaSevenZip.add(e.name); continue; }
    const start = dataStart(v, e.localOffset);
    if (start < 0) { broken = true; continue; }
    const input = data.subarray(start, start + e.compSize);
    const cap = memberCap(ctx, e.compSize);
    const exact = e.method === 8 && input.length === e.compSize ? inflateExact(input, e.size, cap) : undefined;
    if (exact !== undefined) {
      yield { name: e.name, data: exact };
      continue;
    }
    const sink = new CappedSink(cap);
    const end = decodeMember(e.method, input, sink);
    if (!end.ok || input.length < e.compSize) broken = true;
    if (end.ok || sink.length > 0) yield sink.child(ctx, e.name);
  }
  if (viaSevenZip.size > 0) yield* sevenZipExtract(data, ctx, { label: 'Zip', only: viaSevenZip });
  if (broken) ctx.report('Heuristics.Broken.Zip');
}

/**
 * Zip by magic, and also a binary or PE file that ends in a zip (an SFX: a
 * stub in front of the archive) — found by the end record in the last 64 KiB.
 */
export const zipExtractor: Extractor = {
  name: 'zip',
  accepts: (type, data) => type.name === 'zip' || ((type.name === 'binary' || type.name === 'pe') && readCentral(new LeBytes(data)) !== undefined),
  extract: extractZip,
};
