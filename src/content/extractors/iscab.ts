/**
 * InstallShield cabinets ("ISc(", InstallShield 5 and later: data1.hdr +
 * data1.cab, data2.cab …): the header file's cab descriptor leads to a file
 * table; each file descriptor gives name, status flags, sizes, data offset
 * and (version 6+) volume. Compressed data is a run of chunks, each a u16
 * length and a raw deflate block ended by a sync flush. Layout learnt from
 * unshield's notes and sample files; no public spec.
 *
 * Reads untrusted bytes. Every offset is checked against its buffer; a
 * descriptor pointing outside, or a chunk that fails to inflate, is
 * `Heuristics.Broken.InstallShield` (what inflated is scanned); encrypted
 * files are `Heuristics.Encrypted.InstallShield`. At most the file count
 * given in the descriptor is read, and each chunk advances the cursor.
 */
import { Inflate } from 'fflate';
import { LeBytes } from '../bytes.js';
import { CappedSink, memberCap } from '../capped.js';
import type { ExtractContext, ExtractedChild } from '../types.js';

const SIGNATURE = 0x28635349; // "ISc("
const FILE_SPLIT = 1;
const FILE_ENCRYPTED = 2;
const FILE_COMPRESSED = 4;
const FILE_INVALID = 8;
const DESCRIPTOR6 = 0x57;

export function isIsCab(d: Uint8Array): boolean {
  return new LeBytes(d).u32(0) === SIGNATURE;
}

/** The major version from the common header's encoded version field. */
function majorVersion(v: LeBytes): number {
  const version = v.u32(4);
  if (version >>> 24 === 1) return (version >>> 12) & 0xf;
  const minor = version & 0xffff;
  return minor === 0 ? 0 : Math.floor(minor / 100);
}

interface IsFile {
  readonly name: string;
  readonly status: number;
  readonly expanded: number;
  readonly compressed: number;
  readonly offset: number;
  readonly volume: number;
  readonly index: number;
}

function cString(v: LeBytes, at: number): string {
  if (!v.fits(at, 1)) return '';
  const end = v.d.indexOf(0, at);
  return new TextDecoder('latin1').decode(v.d.subarray(at, end < 0 ? Math.min(v.d.length, at + 260) : Math.min(end, at + 260)));
}

/** The file descriptors listed by a header (data1.hdr, or a data1.cab that carries its own descriptor). */
function readFiles(hdr: Uint8Array): IsFile[] | undefined {
  const v = new LeBytes(hdr);
  const cd = v.u32(12);
  if (!isIsCab(hdr) || v.u32(16) === 0 || !v.fits(cd, 0x30)) return undefined;
  const table = cd + v.u32(cd + 0x0c);
  const dirs = v.u32(cd + 0x1c);
  const count = v.u32(cd + 0x28);
  const table2 = v.u32(cd + 0x2c);
  const major = majorVersion(v);
  const files: IsFile[] = [];
  for (let i = 0; i < count; i++) {
    if (major >= 6) {
      const o = table + table2 + i * DESCRIPTOR6;
      if (!v.fits(o, DESCRIPTOR6)) return files;
      files.push({
        name: cString(v, table + v.u32(o + 0x3a)), status: v.u16(o), expanded: v.u32(o + 2), compressed: v.u32(o + 0x0a),
        offset: v.u32(o + 0x12), volume: v.u16(o + 0x55), index: i,
      });
    } else {
      const entry = table + (dirs + i) * 4;
      if (!v.fits(entry, 4)) return files;
      const o = table + v.u32(entry);
      if (!v.fits(o, 0x2a)) return files;
      files.push({
        name: cString(v, table + v.u32(o)), status: v.u16(o + 8), expanded: v.u32(o + 0x0a), compressed: v.u32(o + 0x0e),
        offset: v.u32(o + 0x26), volume: 0, index: i,
      });
    }
  }
  return files;
}

/** Version 5 descriptors name no volume: find the cab whose header's [first, last] file index range holds it. */
function volumeOf(file: IsFile, volumes: ReadonlyMap<number, Uint8Array>): Uint8Array | undefined {
  if (file.volume !== 0) return volumes.get(file.volume);
  for (const cab of volumes.values()) {
    const v = new LeBytes(cab);
    if (file.index >= v.u32(28) && file.index <= v.u32(32)) return cab;
  }
  return volumes.get(1);
}

/** Inflates the u16-length-prefixed raw deflate chunks of one file into the sink; false if a chunk was bad or cut. */
function inflateChunks(data: Uint8Array, sink: CappedSink): boolean {
  let at = 0;
  while (at + 2 <= data.length && !sink.full) {
    const len = (data[at] ?? 0) | ((data[at + 1] ?? 0) << 8);
    at += 2;
    if (len === 0 || at + len > data.length) return false;
    const inflater = new Inflate();
    inflater.ondata = (chunk) => { sink.push(chunk); };
    try {
      // Each chunk ends with a sync flush, not a final block: push without `final` and take what came out.
      inflater.push(data.subarray(at, at + len), false);
    } catch {
      return false;
    }
    at += len;
  }
  return true;
}

/**
 * Files of an InstallShield cabinet set: `hdr` is the header file and
 * `volumes` maps volume numbers to dataN.cab contents.
 */
export async function* extractIsCab(hdr: Uint8Array, volumes: ReadonlyMap<number, Uint8Array>, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const files = readFiles(hdr);
  if (files === undefined) return;
  let broken = false;
  for (const f of files) {
    if ((f.status & FILE_INVALID) !== 0 || f.expanded === 0 || f.name === '') continue;
    if ((f.status & FILE_ENCRYPTED) !== 0) { ctx.report('Heuristics.Encrypted.InstallShield', f.name); continue; }
    const cab = volumeOf(f, volumes);
    if (cab === undefined) continue;
    const size = (f.status & FILE_COMPRESSED) !== 0 ? f.compressed : f.expanded;
    const body = cab.subarray(f.offset, f.offset + size);
    if (body.length < size && (f.status & FILE_SPLIT) === 0) broken = true;
    const sink = new CappedSink(memberCap(ctx, (f.status & FILE_COMPRESSED) !== 0 ? f.compressed : undefined));
    if ((f.status & FILE_COMPRESSED) !== 0) {
      if (!inflateChunks(body, sink)) broken = true;
    } else {
      sink.push(body);
    }
    if (sink.length > 0) yield sink.child(ctx, f.name);
  }
  if (broken) ctx.report('Heuristics.Broken.InstallShield');
}
