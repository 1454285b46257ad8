/**
 * MS COMPRESS "SZDD" (COMPRESS.EXE / EXPAND.EXE, the "file.ex_" format):
 * a 14-byte header (magic, mode 'A', the missing last character of the
 * name, the unpacked size) and LZSS data: a flag byte, then eight items,
 * each a literal byte (flag bit 1) or a 12-bit window position and 4-bit
 * length (+3), over a 4096-byte window that starts as spaces at 4096-16.
 *
 * Reads untrusted bytes. Output is capped; the loop consumes at least one
 * input byte per item, so it ends. Data that stops mid-item is
 * `Heuristics.Broken.SZDD`; a shorter output than the header's size is too.
 */
import { CappedSink, memberCap } from '../capped.js';
import { innerName } from '../naming.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

const HEADER = 14;
const WINDOW = 4096;
const CHUNK = 64 * 1024;

/** Decodes SZDD LZSS from `d` (after the header) into `sink`; returns false if the input ended mid-item. */
export function unszdd(d: Uint8Array, sink: CappedSink): boolean {
  const window = new Uint8Array(WINDOW).fill(0x20);
  let pos = WINDOW - 16;
  let out = new Uint8Array(CHUNK);
  let used = 0;
  let full = false;
  const emit = (b: number): void => {
    window[pos] = b;
    pos = (pos + 1) & (WINDOW - 1);
    out[used++] = b;
    if (used === CHUNK) {
      full = !sink.push(out);
      out = new Uint8Array(CHUNK);
      used = 0;
    }
  };
  let i = 0;
  let complete = true;
  while (i < d.length && !full) {
    const flags = d[i++] ?? 0;
    for (let bit = 0; bit < 8 && i < d.length && !full; bit++) {
      if ((flags & (1 << bit)) !== 0) {
        emit(d[i++] ?? 0);
      } else {
        if (i + 1 >= d.length) { complete = false; i = d.length; break; }
        const lo = d[i++] ?? 0;
        const hi = d[i++] ?? 0;
        let from = lo | ((hi & 0xf0) << 4);
        for (let n = (hi & 0x0f) + 3; n > 0; n--) {
          emit(window[from] ?? 0x20);
          from = (from + 1) & (WINDOW - 1);
        }
      }
    }
  }
  if (!full) sink.push(out.subarray(0, used));
  return complete;
}

/** "setup.ex_" → "setup.exe" (the header keeps the missing character); "x.szdd" → "x". */
function szddName(data: Uint8Array, container: string | undefined): string {
  const missing = data[9] ?? 0;
  if (container?.endsWith('_') === true && missing >= 0x20 && missing < 0x7f) {
    return container.slice(0, -1) + String.fromCharCode(missing);
  }
  return innerName(container, [['.szdd', '']], 'szdd data');
}

async function* extractSzdd(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  if (data.length < HEADER) { ctx.report('Heuristics.Broken.SZDD'); return; }
  const declared = ((data[10] ?? 0) | ((data[11] ?? 0) << 8) | ((data[12] ?? 0) << 16)) + (data[13] ?? 0) * 0x1000000;
  const sink = new CappedSink(memberCap(ctx, data.length));
  const complete = unszdd(data.subarray(HEADER), sink);
  if (!complete || (!sink.full && sink.length < declared)) ctx.report('Heuristics.Broken.SZDD');
  yield sink.child(ctx, szddName(data, ctx.containerName));
}

export const szddExtractor: Extractor = {
  name: 'szdd',
  accepts: (type) => type.name === 'szdd',
  extract: extractSzdd,
};
