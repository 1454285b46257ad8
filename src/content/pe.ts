/**
 * Where a PE file's overlay is: the bytes after the end of its last section,
 * where self-extractors and installers (NSIS, InstallShield, SFX archives)
 * keep their payload. The Authenticode certificate table also lives there
 * in signed files; it is not payload, so it is left out of the count — a
 * signed plain executable then has no overlay worth opening. Nor is a COFF
 * symbol table (MinGW and Cygwin builds keep one there, with its string
 * table) — but only when every record parses as one, so a payload cannot
 * hide by being declared a symbol table.
 *
 * Reads untrusted bytes (the PE/COFF headers, Microsoft PE format spec);
 * every field is bounds-checked and at most 96 section headers are read.
 */
import { LeBytes } from './bytes.js';

export interface Overlay {
  /** File offset where the overlay starts (the end of the last section). */
  readonly start: number;
  /** Overlay bytes that are neither the certificate table nor the COFF symbol table; 0 when there is no overlay. */
  readonly payload: number;
}

const NONE: Overlay = { start: 0, payload: 0 };
const PE32 = 0x10b;
const PE32_PLUS = 0x20b;
const SECURITY_DIRECTORY = 4;

const SYMBOL = 18;

/** COFF storage classes (PE format spec, "Storage Class"). */
function knownStorageClass(c: number): boolean {
  return c <= 18 || (c >= 100 && c <= 105) || c === 107 || c === 255;
}

/**
 * Size of the COFF symbol table at `at` plus the string table after it,
 * when both lie inside [from, to) and parse: every record names a section
 * that exists (or -2 … 0) and a known storage class, and the string table
 * is NUL-terminated names without control characters. 0 otherwise.
 */
function symbolTableSize(b: LeBytes, at: number, count: number, sections: number, from: number, to: number): number {
  if (at < from || count === 0 || at + count * SYMBOL + 4 > to) return 0;
  for (let i = 0; i < count; i++) {
    const r = at + i * SYMBOL;
    const section = b.u16(r + 12) << 16 >> 16;
    if (section < -2 || section > sections || !knownStorageClass(b.d[r + 16] ?? 0)) return 0;
    i += b.d[r + 17] ?? 0;
  }
  const strings = at + count * SYMBOL;
  const size = b.u32(strings);
  if (size < 4 || strings + size > to || (size > 4 && b.d[strings + size - 1] !== 0)) return 0;
  for (let i = strings + 4; i < strings + size; i++) {
    const c = b.d[i] ?? 0;
    if (c !== 0 && c < 0x20) return 0;
  }
  return count * SYMBOL + size;
}

export function peOverlay(d: Uint8Array): Overlay {
  const b = new LeBytes(d);
  const pe = b.u32(0x3c);
  if (!b.fits(pe, 24) || b.u32(pe) !== 0x4550) return NONE;
  const sections = b.u16(pe + 6);
  const optional = pe + 24;
  const table = optional + b.u16(pe + 20);
  let end = 0;
  for (let i = 0; i < sections && i < 96; i++) {
    const s = table + i * 40;
    if (!b.fits(s, 40)) break;
    end = Math.max(end, b.u32(s + 20) + b.u32(s + 16));
  }
  if (end <= 0 || end >= d.length) return NONE;
  let payload = d.length - end;
  const magic = b.u16(optional);
  const dirs = magic === PE32 ? optional + 96 : magic === PE32_PLUS ? optional + 112 : -1;
  const count = dirs < 0 ? 0 : b.u32(dirs - 4);
  if (count > SECURITY_DIRECTORY && b.fits(dirs + SECURITY_DIRECTORY * 8, 8)) {
    // The security directory's "address" is a file offset, unlike every other directory's.
    const certAt = b.u32(dirs + SECURITY_DIRECTORY * 8);
    const certSize = b.u32(dirs + SECURITY_DIRECTORY * 8 + 4);
    if (certAt >= end && certAt + certSize <= d.length) payload -= certSize;
  }
  payload -= symbolTableSize(b, b.u32(pe + 12), b.u32(pe + 16), sections, end, d.length);
  return { start: end, payload: Math.max(0, payload) };
}
