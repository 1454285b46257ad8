/**
 * bzip2 (.bz2, and zip method 12) through seek-bzip, with the output capped.
 *
 * Reads untrusted bytes. seek-bzip decodes synchronously one byte at a time
 * into a writer we supply; the writer stops it (by throwing) when the member
 * cap is reached, and the reader stops it at the end of the input — the
 * library itself would read zeros past the end. Multi-stream files
 * (concatenated .bz2, as pbzip2 writes) are decoded as one stream.
 */
import { createRequire } from 'node:module';
import { CappedSink, CapReached, memberCap, type DecodeEnd } from '../capped.js';
import { innerName } from '../naming.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

interface ByteReader {
  readByte(): number;
  read(buffer: Uint8Array, offset: number, length: number): number;
  seek(pos: number): void;
  eof(): boolean;
}
interface ByteWriter { writeByte(b: number): void }
interface Bunzip { decode(input: ByteReader, output: ByteWriter, multistream?: boolean): void }

const bunzip = createRequire(import.meta.url)('seek-bzip') as Bunzip;

class InputEnded extends Error {
  constructor() { super('Cannot read bzip2 data: input ends inside a block'); }
}

const CHUNK = 64 * 1024;

/** Decodes bzip2 `input` into `sink` until it ends, fails or the sink is full. */
export function bunzipCapped(input: Uint8Array, sink: CappedSink): DecodeEnd {
  let pos = 0;
  let buf = new Uint8Array(CHUNK);
  let used = 0;
  const reader: ByteReader = {
    readByte: () => {
      if (pos >= input.length) throw new InputEnded();
      return input[pos++] ?? 0;
    },
    read: (buffer, offset, length) => {
      const n = Math.min(length, input.length - pos);
      if (n <= 0) return -1;
      buffer.set(input.subarray(pos, pos + n), offset);
      pos += n;
      return n;
    },
    seek: (p) => { pos = p; },
    eof: () => pos >= input.length,
  };
  const writer: ByteWriter = {
    writeByte: (b) => {
      buf[used++] = b;
      if (used === CHUNK) {
        if (!sink.push(buf)) throw new CapReached();
        buf = new Uint8Array(CHUNK);
        used = 0;
      }
    },
  };
  let end: DecodeEnd = { ok: true };
  try {
    bunzip.decode(reader, writer, true);
  } catch (err) {
    if (!(err instanceof CapReached)) end = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  sink.push(buf.subarray(0, used));
  return end;
}

async function* extractBzip2(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const sink = new CappedSink(memberCap(ctx, data.length));
  const end = bunzipCapped(data, sink);
  if (!end.ok) ctx.report('Heuristics.Broken.BZip2');
  if (sink.length > 0 || end.ok) yield sink.child(ctx, innerName(ctx.containerName, [['.bz2', ''], ['.bz', ''], ['.tbz2', '.tar'], ['.tbz', '.tar']], 'bzip2 data'));
}

export const bzip2Extractor: Extractor = {
  name: 'bzip2',
  accepts: (type) => type.name === 'bzip2',
  extract: extractBzip2,
};
