/**
 * HTML (or any text) → the payloads of its `data:` URIs (RFC 2397), base64
 * (standard or URL-safe alphabet, junk skipped) or percent-encoded, named
 * "data N <media type>". Entity-escaped or script-built URIs are not
 * unescaped. Limits: each payload is cut at MaxFileSize / what is left of
 * MaxScanSize; at most MaxFiles. Reads untrusted bytes; never throws.
 */
import { Base64Decoder } from '../decoders/base64.js';
import { decodeAll } from '../decoders/types.js';
import type { ExtractContext, ExtractedChild, Extractor, FileType } from '../types.js';
import { childBudget, fitChild, hasMarker, labelled, latin1Bytes, latin1Text } from './common.js';

const DATA_URI = /data:([a-z0-9!#$&^_.+-]*\/?[a-z0-9!#$&^_.+-]*)((?:;[^,;"'\s<>]*)*),/gi;

export const htmlExtractor: Extractor = {
  name: 'html',
  accepts(type: FileType, data: Uint8Array): boolean {
    return (type.name === 'html' || type.name === 'text') && hasMarker(data, ['data:', 'DATA:', 'Data:'], (_at, head) => /^data:[^,]{0,200},/i.test(head), 210);
  },
  async *extract(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
    const text = latin1Text(data);
    let n = 0;
    for (const m of text.matchAll(DATA_URI)) {
      if (++n > ctx.limits.MaxFiles) {
        ctx.report('Heuristics.Limits.Exceeded.MaxFiles');
        return;
      }
      const start = (m.index ?? 0) + m[0].length;
      let end = start;
      while (end < text.length && !/["'<>)\s\\]/.test(text[end] as string)) end++;
      // A base64 payload may be folded over lines inside an attribute; take the folded lines too.
      while (end < text.length && /[\r\n \t]/.test(text[end] as string) && /^[\r\n \t]+[A-Za-z0-9+/=_-]/.test(text.slice(end, end + 80))) {
        end++;
        while (end < text.length && !/["'<>)\s\\]/.test(text[end] as string)) end++;
      }
      const payload = text.slice(start, end);
      const base64 = /;base64$/i.test(m[2] ?? '') || /;base64;/i.test(`${m[2] ?? ''};`);
      const bytes = base64
        ? decodeAll((d) => new Base64Decoder(d, { urlSafe: true }), latin1Bytes(payload), childBudget(ctx))
        : { data: percentDecode(payload), capped: false };
      if (bytes.data.length === 0) continue;
      const child = fitChild(ctx, { name: labelled(`data ${n}`, m[1] ?? ''), data: bytes.data }, bytes.capped);
      if (child) yield child;
    }
  },
};

function percentDecode(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(c & 0xff);
    }
  }
  return Uint8Array.from(out);
}
