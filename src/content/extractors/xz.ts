/**
 * xz (the .xz container of LZMA2, tukaani.org xz-file-format 1.x) through
 * xz-decompress (xz-embedded compiled to wasm), streamed and capped.
 *
 * Reads untrusted bytes, inside the wasm decoder. The package is loaded
 * lazily, on the first .xz file. Output is read chunk by chunk and the
 * stream is cancelled when the member cap is reached; a stream that fails
 * or ends early is `Heuristics.Broken.XZ` (what decoded before is scanned).
 */
import { CappedSink, FEED_SLICE, memberCap } from '../capped.js';
import { innerName } from '../naming.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

type XzModule = typeof import('xz-decompress');
let xzModule: Promise<XzModule> | undefined;

/** The input as a web stream of FEED_SLICE slices, pulled only as fast as the decoder asks. */
function sliced(data: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= data.length) { controller.close(); return; }
      controller.enqueue(data.slice(at, at + FEED_SLICE * 16));
      at += FEED_SLICE * 16;
    },
  });
}

async function* extractXz(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const name = innerName(ctx.containerName, [['.txz', '.tar'], ['.xz', '']], 'xz data');
  const sink = new CappedSink(memberCap(ctx, data.length));
  let broken = false;
  xzModule ??= import('xz-decompress');
  const mod = await xzModule;
  // A CommonJS package: under Node's ESM loader its exports sit on `default`.
  const XzReadableStream = (mod as { default?: XzModule }).default?.XzReadableStream ?? mod.XzReadableStream;
  const reader = new XzReadableStream(sliced(data)).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!sink.push(value)) break;
    }
  } catch {
    broken = true;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  if (broken) ctx.report('Heuristics.Broken.XZ');
  if (sink.length > 0 || !broken) yield sink.child(ctx, name);
}

export const xzExtractor: Extractor = {
  name: 'xz',
  accepts: (type) => type.name === 'xz',
  extract: extractXz,
};
