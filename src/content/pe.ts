/**
 * Where a PE file's overlay is: the bytes after the end of its last section,
 * where self-extractors and installers (NSIS, InstallShield, SFX archives)
 * keep their payload. The Authenticode certificate table also lives there
 * in signed files; it is not payload, so it is left out of the count — a
 * signed plain executable then has no overlay worth opening.
 *
 * Reads untrusted bytes (the PE/COFF headers, Microsoft PE format spec);
 * every field is bounds-checked and at most 96 section headers are read.
 */
import { LeBytes } from './bytes.js';

export interface Overlay {
  /** File offset where the overlay starts (the end of the last section). */
  readonly start: number;
  /** Overlay bytes that are not the certificate table; 0 when there is no overlay. */
  readonly payload: number;
}

const NONE: Overlay = { start: 0, payload: 0 };
const PE32 = 0x10b;
const PE32_PLUS = 0x20b;
const SECURITY_DIRECTORY = 4;

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
  return { start: end, payload };
}
