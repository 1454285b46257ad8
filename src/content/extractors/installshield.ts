/**
 * InstallShield self-extracting setup.exe, both layouts found in the PE
 * overlay (no public spec; learnt from sample files and public notes):
 *  - plain: the files one after another, each as four NUL-terminated
 *    strings — name, path ("Disk1\setup.ini"), version, size in decimal —
 *    then that many bytes;
 *  - "InstallShield\0" header (optionally after a CodeView "NB10" blob):
 *    a u16 file count at 14, records from 46 on, each a 312-byte header
 *    (name in the first 260 bytes, u64 size at 268) then the data,
 *    obfuscated per byte as NOT(swap-nibbles(b) XOR key[(i mod 1024) mod
 *    len]) with key = name XOR 13 35 86 07 repeated; the result is often a
 *    zlib stream (inflated, capped).
 *
 * Cabinets among the plain records (data1.hdr + dataN.cab) are opened too
 * (iscab.ts), since only here are header and data seen together.
 *
 * Reads untrusted bytes. Records are read while they parse (printable
 * names of bounded length, a size that fits); the first that does not
 * ends the list. A record whose data is cut short or fails to inflate is
 * `Heuristics.Broken.InstallShield` and what was read is scanned. Each
 * step advances by at least one record header, so the loop ends.
 */
import { Unzlib } from 'fflate';
import { CappedSink, feedCapped, memberCap } from '../capped.js';
import { extractIsCab, isIsCab } from './iscab.js';
import { peOverlay } from '../pe.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

const MAX_FIELD = 1024;

interface IsRecord {
  readonly name: string;
  readonly size: number;
  readonly dataAt: number;
}

/** One NUL-terminated printable field at `at`, or undefined. */
function field(d: Uint8Array, at: number): { text: string; next: number } | undefined {
  let end = at;
  while (end < d.length && end - at <= MAX_FIELD && d[end] !== 0) {
    const b = d[end] ?? 0;
    if (b < 0x20 || b === 0x7f) return undefined;
    end++;
  }
  if (end >= d.length || d[end] !== 0) return undefined;
  return { text: String.fromCharCode(...d.subarray(at, end)), next: end + 1 };
}

function readRecord(d: Uint8Array, at: number): IsRecord | undefined {
  const name = field(d, at);
  if (name === undefined || name.text === '') return undefined;
  const path = field(d, name.next);
  if (path === undefined) return undefined;
  const version = field(d, path.next);
  if (version === undefined || !/^[0-9.]*$/.test(version.text)) return undefined;
  const size = field(d, version.next);
  if (size === undefined || !/^[0-9]{1,12}$/.test(size.text)) return undefined;
  return { name: path.text === '' ? name.text : path.text.replaceAll('\\', '/'), size: Number(size.text), dataAt: size.next };
}

async function* extractPlain(data: Uint8Array, start: number, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  let at = start;
  const cabinets: { name: string; data: Uint8Array }[] = [];
  for (;;) {
    const rec = readRecord(data, at);
    if (rec === undefined) break;
    const body = data.subarray(rec.dataAt, rec.dataAt + rec.size);
    const sink = new CappedSink(memberCap(ctx));
    sink.push(body);
    const child = sink.child(ctx, rec.name);
    if (isIsCab(child.data)) cabinets.push({ name: rec.name, data: child.data });
    yield child;
    if (body.length < rec.size) { ctx.report('Heuristics.Broken.InstallShield', rec.name); break; }
    at = rec.dataAt + rec.size;
  }
  yield* extractCabinetSet(cabinets, ctx);
}

/**
 * The files inside InstallShield cabinets shipped as setup records: data1.hdr
 * (or a data1.cab carrying its own header) lists them, dataN.cab hold them.
 * Neither half is useful alone, so this is done here, where both are seen.
 */
async function* extractCabinetSet(cabinets: readonly { name: string; data: Uint8Array }[], ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const volumes = new Map<number, Uint8Array>();
  for (const c of cabinets) {
    const m = /(\d+)\.cab$/i.exec(c.name);
    if (m !== null) volumes.set(Number(m[1]), c.data);
  }
  const header = cabinets.find((c) => /\.hdr$/i.test(c.name)) ?? cabinets.find((c) => /1\.cab$/i.test(c.name));
  if (header === undefined || volumes.size === 0) return;
  const dir = header.name.slice(0, header.name.lastIndexOf('/') + 1);
  for await (const child of extractIsCab(header.data, volumes, ctx)) yield { ...child, name: `${dir}${child.name}` };
}

const MAGIC = new TextEncoder().encode('InstallShield\0');
const KEY_MAGIC = [0x13, 0x35, 0x86, 0x07] as const;
const RECORD_HEADER = 312;
/** How far into the overlay the header may sit (after debug data the linker appended). */
const HEADER_SEARCH = 64 * 1024;

function findMagic(d: Uint8Array, from: number): number {
  const stop = Math.min(d.length - MAGIC.length, from + HEADER_SEARCH);
  outer: for (let o = from; o <= stop; o++) {
    for (let i = 0; i < MAGIC.length; i++) if (d[o + i] !== MAGIC[i]) continue outer;
    return o;
  }
  return -1;
}

/** Undoes the per-byte obfuscation (see the header comment). */
export function deobfuscate(c: Uint8Array, name: Uint8Array): Uint8Array {
  const key = name.map((b, i) => b ^ (KEY_MAGIC[i % 4] ?? 0));
  const out = new Uint8Array(c.length);
  for (let i = 0; i < c.length; i++) {
    const b = c[i] ?? 0;
    out[i] = ~((((b << 4) | (b >> 4)) & 0xff) ^ (key[(i % 1024) % key.length] ?? 0)) & 0xff;
  }
  return out;
}

const isZlib = (d: Uint8Array): boolean => d.length > 2 && ((d[0] ?? 0) & 0x0f) === 8 && (((d[0] ?? 0) << 8) | (d[1] ?? 0)) % 31 === 0;

async function* extractObfuscated(data: Uint8Array, header: number, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const count = (data[header + 14] ?? 0) | ((data[header + 15] ?? 0) << 8);
  let at = header + 46;
  for (let i = 0; i < count && at + RECORD_HEADER <= data.length; i++) {
    const nameEnd = data.subarray(at, at + 260).indexOf(0);
    const nameBytes = data.subarray(at, at + (nameEnd < 0 ? 260 : nameEnd));
    if (nameBytes.length === 0) { ctx.report('Heuristics.Broken.InstallShield'); return; }
    const name = new TextDecoder('latin1').decode(nameBytes);
    const size = new DataView(data.buffer, data.byteOffset + at + 268, 8).getBigUint64(0, true);
    const start = at + RECORD_HEADER;
    const body = data.subarray(start, start + Number(size > BigInt(data.length) ? BigInt(data.length) : size));
    const plain = deobfuscate(body, nameBytes);
    const sink = new CappedSink(memberCap(ctx, isZlib(plain) ? plain.length : undefined));
    const end = isZlib(plain) ? feedCapped(new Unzlib(), plain, sink) : (sink.push(plain), { ok: true });
    yield sink.child(ctx, name);
    if (!end.ok || BigInt(body.length) < size) { ctx.report('Heuristics.Broken.InstallShield', name); return; }
    at = start + body.length;
  }
}

async function* extractInstallShield(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const overlayAt = peOverlay(data).start;
  const header = findMagic(data, overlayAt);
  if (header >= 0) yield* extractObfuscated(data, header, ctx);
  else yield* extractPlain(data, overlayAt, ctx);
}

/** A PE whose overlay starts with an InstallShield file record or holds the "InstallShield" header. */
export const installShieldExtractor: Extractor = {
  name: 'installshield',
  accepts: (type, data) => {
    if (type.name !== 'pe') return false;
    const overlay = peOverlay(data);
    if (overlay.payload === 0) return false;
    const at = overlay.start;
    return readRecord(data, at) !== undefined || findMagic(data, at) >= 0;
  },
  extract: extractInstallShield,
};
