/**
 * gzip (RFC 1952) through fflate's streaming Gunzip, capped; multi-member
 * files (concatenated .gz) come out as one object, as gunzip writes them.
 *
 * Reads untrusted bytes. The child is named from the header's FNAME field
 * when present, else from the container's name ("x.tar.gz" → "x.tar").
 * Trailing bytes after the last member that are not another member (tape
 * padding, appended junk) are ignored as gzip(1) does; a member that is cut
 * short or fails to inflate is `Heuristics.Broken.GZip` (the part that did
 * inflate is still scanned).
 */
import { Gunzip } from 'fflate';
import { CappedSink, feedCapped, memberCap } from '../capped.js';
import { innerName } from '../naming.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

const FEXTRA = 0x04;
const FNAME = 0x08;

/** The FNAME header field (Latin-1, zero-terminated), without any directory part. */
export function gzipFileName(d: Uint8Array): string | undefined {
  const flags = d[3] ?? 0;
  if ((flags & FNAME) === 0) return undefined;
  let o = 10;
  if ((flags & FEXTRA) !== 0) o += 2 + ((d[10] ?? 0) | ((d[11] ?? 0) << 8));
  const end = d.indexOf(0, o);
  if (end < 0 || end === o || end - o > 1024) return undefined;
  const name = String.fromCharCode(...d.subarray(o, end));
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  return base === '' ? undefined : base;
}

/** fflate's message for bytes after a complete member that do not start another one. */
const TRAILING_GARBAGE = 'invalid gzip data';

async function* extractGzip(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const name = gzipFileName(data)
    ?? innerName(ctx.containerName, [['.tgz', '.tar'], ['.taz', '.tar'], ['.gz', ''], ['.z', ''], ['-gz', '']], 'gzip data');
  const sink = new CappedSink(memberCap(ctx, data.length));
  const end = feedCapped(new Gunzip(), data, sink);
  const broken = !end.ok && !(end.error === TRAILING_GARBAGE && sink.length > 0);
  if (broken) ctx.report('Heuristics.Broken.GZip');
  if (sink.length > 0 || !broken) yield sink.child(ctx, name);
}

export const gzipExtractor: Extractor = {
  name: 'gzip',
  accepts: (type) => type.name === 'gzip',
  extract: extractGzip,
};
