/**
 * Runs the block finders of the text encodings (uuencode, yEnc, BinHex) over
 * bytes and gathers what they decode; shared by the per-format extractors and
 * by the MIME extractor's fallback reading. Limits: each file is cut at
 * MaxFileSize / what is left of MaxScanSize; at most MaxFiles blocks. Reads untrusted bytes; never throws.
 */
import { BinHexFinder } from '../decoders/binhex.js';
import { collectBlocks, type BlockSink, type CollectedBlock, type StreamDecoder } from '../decoders/types.js';
import { UudecodeFinder } from '../decoders/uuencode.js';
import { YencFinder } from '../decoders/yenc.js';
import type { ExtractContext, ExtractedChild, Extractor, FileType } from '../types.js';
import { atLineStart, childBudget, cleanName, fitChild, hasMarker } from './common.js';

export type TextBlockKind = 'uuencode' | 'yenc' | 'binhex';

interface Finder {
  readonly make: (s: BlockSink) => StreamDecoder;
  /**
   * Literal strings a native search looks for; `marker` then confirms the
   * marker, which starts `back` bytes before the needle. A short needle
   * whose first byte is rare in mail and binaries is searched with memchr
   * and is many times faster than a long one (100 KB: " with " ~1 µs,
   * "onverted with " ~25-40 µs).
   */
  readonly needles: readonly string[];
  readonly back: number;
  readonly marker: (head: string) => boolean;
  readonly lineStart: boolean;
}

const UUENCODE_MARKER = /^begin(-base64)?[ \t]+[0-7]{1,4}[ \t]/;
const BINHEX_MARKER = /^converted with binhex/i;

const FINDERS: Readonly<Record<TextBlockKind, Finder>> = {
  uuencode: { make: (s) => new UudecodeFinder(s), needles: ['begin'], back: 0, marker: (h) => UUENCODE_MARKER.test(h), lineStart: true },
  yenc: { make: (s) => new YencFinder(s), needles: ['=ybegin'], back: 0, marker: (h) => h.startsWith('=ybegin '), lineStart: true },
  // "(This file must be converted with BinHex 4.0)": any case, so the marker is taken in its case-stable forms.
  binhex: {
    make: (s) => new BinHexFinder(s), needles: [' with ', ' WITH '], back: 'onverted'.length,
    marker: (h) => (h.startsWith('onverted with ') || h.startsWith('ONVERTED WITH ')) && BINHEX_MARKER.test(`c${h}`),
    lineStart: false,
  },
};

/** True when the bytes hold the start marker of this encoding (a cheap "maybe"). */
export function hasTextBlock(kind: TextBlockKind, data: Uint8Array): boolean {
  const f = FINDERS[kind];
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return hasMarker(data, f.needles, (needleAt) => {
    const at = needleAt - f.back;
    return at >= 0 && (!f.lineStart || atLineStart(data, at)) && f.marker(buf.toString('latin1', at, Math.min(buf.length, at + 64)));
  }, 0);
}

export function findTextBlocks(kind: TextBlockKind, data: Uint8Array, maxBytes: number, maxBlocks: number): CollectedBlock[] {
  if (!hasTextBlock(kind, data)) return [];
  return collectBlocks(FINDERS[kind].make, data, maxBytes, maxBlocks);
}

export const TEXT_BLOCK_KINDS: readonly TextBlockKind[] = ['uuencode', 'yenc', 'binhex'];

/**
 * The extractor of one text encoding: blocks found anywhere in a text → the
 * files they carry, named after the block. It accepts a text holding its own
 * encoding's marker, but decodes every text encoding present, because the
 * walker runs only the first extractor that accepts and one text may carry
 * a uuencoded and a yEnc file side by side. Mail is not taken: the MIME
 * extractor hands its text parts on and the walker brings them back as text.
 */
export function textBlockExtractor(kind: TextBlockKind, title: string): Extractor {
  return {
    name: kind,
    accepts(type: FileType, data: Uint8Array): boolean {
      return (type.name === kind || type.name === 'text' || type.name === 'binary') && hasTextBlock(kind, data);
    },
    async *extract(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
      const order = [kind, ...TEXT_BLOCK_KINDS.filter((k) => k !== kind)];
      let n = 0;
      for (const k of order) {
        for (const b of findTextBlocks(k, data, childBudget(ctx), ctx.limits.MaxFiles)) {
          if (++n > ctx.limits.MaxFiles) {
            ctx.report('Heuristics.Limits.Exceeded.MaxFiles');
            return;
          }
          // A missing end line is common and harmless; a failed check means the bytes are not what was sent.
          if (b.problems.some((p) => p !== 'truncated' && p !== 'no-end')) ctx.report(`Heuristics.Broken.${k === kind ? title : TITLES[k]}`, b.name);
          const child = fitChild(ctx, { name: cleanName(b.name) || `${k} ${n}`, data: b.data }, b.capped);
          if (child) yield child;
        }
      }
    },
  };
}

const TITLES: Readonly<Record<TextBlockKind, string>> = { uuencode: 'UUencode', yenc: 'YEnc', binhex: 'BinHex' };
