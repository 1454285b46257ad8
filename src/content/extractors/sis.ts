/**
 * Symbian EPOC installation files (.sis, EPOC release 3–6; UID2 0x10003A12):
 * a fixed header (counts, options, pointers), then file records — simple
 * (one data block) or multi-language (one per language) — whose data is
 * zlib-compressed unless the header's "no compress" option is set.
 * Option and condition records are stepped over. Symbian 9 "SISX" is a
 * different format and is not handled.
 *
 * Reads untrusted bytes. Every pointer and length is checked against the
 * input; a record that points outside it, or data that fails to inflate,
 * is `Heuristics.Broken.SIS` (what inflated is scanned). At most `nfiles`
 * records are read, so the loop ends.
 */
import { Unzlib } from 'fflate';
import { LeBytes } from '../bytes.js';
import { CappedSink, feedCapped, memberCap, type DecodeEnd } from '../capped.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

const UID3_RELEASE6 = 0x10000419;
const OPT_UNICODE = 0x0001;
const OPT_NO_COMPRESS = 0x0008;

function fileName(r: LeBytes, at: number, len: number, unicode: boolean, fallback: string): string {
  if (!r.fits(at, len) || len === 0) return fallback;
  const bytes = r.d.subarray(at, at + len);
  const full = new TextDecoder(unicode ? 'utf-16le' : 'latin1').decode(bytes);
  const base = full.slice(full.lastIndexOf('\\') + 1);
  return base === '' ? fallback : base;
}

async function* extractSis(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const r = new LeBytes(data);
  if (data.length < 0x54) { ctx.report('Heuristics.Broken.SIS'); return; }
  const release6 = r.u32(8) === UID3_RELEASE6;
  const nLangs = Math.max(1, r.u16(0x12));
  const nFiles = r.u16(0x14);
  const options = r.u16(0x24);
  const unicode = (options & OPT_UNICODE) !== 0;
  const compressed = (options & OPT_NO_COMPRESS) === 0;
  let at = r.u32(0x34);
  let broken = false;
  for (let i = 0; i < nFiles && r.fits(at, 4); i++) {
    const kind = r.u32(at);
    if (kind === 2) { at += 8 + r.u32(at + 4) * nLangs * 8 + 16; continue; } // options: count, per-language texts, selection bitmap
    if (kind === 3 || kind === 4) { at += 8 + r.u32(at + 4); continue; } // if / else-if: expression
    if (kind === 5 || kind === 6) { at += 4; continue; } // else / end-if
    if (kind !== 0 && kind !== 1) { broken = true; break; }
    const blocks = kind === 0 ? 1 : nLangs;
    const srcLen = r.u32(at + 12);
    const srcPtr = r.u32(at + 16);
    const dstLen = r.u32(at + 20);
    const dstPtr = r.u32(at + 24);
    const lens = at + 28;
    const ptrs = lens + blocks * 4;
    const base = fileName(r, dstPtr, dstLen, unicode, fileName(r, srcPtr, srcLen, unicode, `file${i}`));
    for (let b = 0; b < blocks; b++) {
      const len = r.u32(lens + b * 4);
      const ptr = r.u32(ptrs + b * 4);
      if (len === 0) continue;
      const name = blocks === 1 ? base : `${base} (language ${b + 1})`;
      if (!r.fits(ptr, len)) { broken = true; continue; }
      const body = data.subarray(ptr, ptr + len);
      const sink = new CappedSink(memberCap(ctx, compressed ? len : undefined));
      let end: DecodeEnd = { ok: true };
      if (compressed) end = feedCapped(new Unzlib(), body, sink); else sink.push(body);
      if (!end.ok) broken = true;
      if (end.ok || sink.length > 0) yield sink.child(ctx, name);
    }
    // Release 6 adds the unpacked length per block, and every release a MIME type (length, pointer).
    at = ptrs + blocks * 4 + (release6 ? blocks * 4 : 0) + (release6 ? 8 : 0);
  }
  if (broken) ctx.report('Heuristics.Broken.SIS');
}

export const sisExtractor: Extractor = {
  name: 'sis',
  accepts: (type) => type.name === 'sis',
  extract: extractSis,
};
