/**
 * RTF → its embedded objects: each `\objdata` group's hex text decoded to
 * bytes; an OLE 1.0 header is stripped, and a Packager object is opened to
 * the file it carries (named as the package names it); other classes (Word,
 * Excel, OLE2 documents) are handed on as their native data for the walker.
 * Obfuscation that Word itself ignores is skipped: white space and junk
 * between hex digits, `{\*…}` destinations inside the group, `\binN` runs,
 * other control words. `\pict` images are not taken. Limits: each object
 * is cut at MaxFileSize / what is left of MaxScanSize; at most MaxFiles.
 * Reads untrusted bytes; never throws.
 */
import { parseOle1Object, parsePackage } from '../decoders/olepackage.js';
import type { ExtractContext, ExtractedChild, Extractor, FileType } from '../types.js';
import { childBudget, cleanName, fitChild, labelled, latin1Text } from './common.js';

export const rtfExtractor: Extractor = {
  name: 'rtf',
  accepts(type: FileType, data: Uint8Array): boolean {
    return type.name === 'rtf' || ((type.name === 'text' || type.name === 'binary') && latin1Text(data.subarray(0, 16)).startsWith('{\\rt'));
  },
  async *extract(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
    const text = latin1Text(data);
    let n = 0;
    for (let at = text.indexOf('\\objdata'); at >= 0; at = text.indexOf('\\objdata', at + 8)) {
      if (/[a-zA-Z]/.test(text[at + 8] ?? '')) continue;
      if (++n > ctx.limits.MaxFiles) {
        ctx.report('Heuristics.Limits.Exceeded.MaxFiles');
        return;
      }
      const { bytes, capped } = objdataBytes(text, at + 8, childBudget(ctx) * 2 + 4096);
      const child = fitChild(ctx, openObject(bytes, n), capped);
      if (child && child.data.length > 0) yield child;
    }
  },
};

/** Strips the OLE 1.0 header, and the Packager wrapper when there is one. */
function openObject(bytes: Uint8Array, n: number): ExtractedChild {
  const ole1 = parseOle1Object(bytes);
  if (!ole1) return { name: `objdata ${n}`, data: bytes };
  if (/^package$/i.test(ole1.className)) {
    const pkg = parsePackage(ole1.native);
    if (pkg) return { name: labelled(`object ${n}`, cleanName(pkg.name)), data: pkg.data };
  }
  return { name: labelled(`object ${n}`, ole1.className), data: ole1.native };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Hex digits of the group from `start` to the brace that closes it, as bytes (at most `max`). */
function objdataBytes(text: string, start: number, max: number): { bytes: Uint8Array; capped: boolean } {
  const out = new Uint8Array(Math.min(max, Math.ceil((text.length - start) / 2) + 1));
  let o = 0;
  let high = -1;
  let depth = 0;
  /** Depth at which a `{\*` destination began; its content is skipped. */
  let skipFrom = -1;
  let capped = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      depth++;
      if (skipFrom < 0 && text.startsWith('\\*', i + 1)) skipFrom = depth;
      continue;
    }
    if (c === 0x7d) {
      if (depth === 0) break;
      if (depth === skipFrom) skipFrom = -1;
      depth--;
      continue;
    }
    if (c === 0x5c) {
      const m = /^\\([a-zA-Z]{1,32})(-?\d{1,10})? ?/.exec(text.slice(i, i + 48));
      if (m) {
        i += m[0].length - 1;
        if (m[1] === 'bin' && m[2] !== undefined) i += Math.max(0, Number(m[2]));
      } else {
        i += text[i + 1] === "'" ? 3 : 1;
      }
      continue;
    }
    if (skipFrom >= 0) continue;
    const v = hexValue(c);
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      if (o >= out.length) {
        capped = true;
        break;
      }
      out[o++] = (high << 4) | v;
      high = -1;
    }
  }
  return { bytes: out.subarray(0, o), capped };
}
