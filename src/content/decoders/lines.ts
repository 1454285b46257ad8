/**
 * Splits a byte stream into lines (LF, CRLF or lone CR-less LF endings; a
 * trailing CR is removed) for the line-oriented decoders (uuencode, yEnc,
 * BinHex preamble). A line longer than `maxLine` is handed on in pieces, each
 * flagged `continued` after the first, so memory stays bounded on input
 * without newlines. Reads untrusted bytes; never throws.
 */

export type LineHandler = (line: Uint8Array, piece: 'whole' | 'first' | 'more' | 'last') => void;

export class LineSplitter {
  readonly #onLine: LineHandler;
  readonly #maxLine: number;
  #pending: Uint8Array = new Uint8Array(0);
  /** True while we are inside an overlong line that was already partly emitted. */
  #inLong = false;

  constructor(onLine: LineHandler, maxLine = 64 * 1024) {
    this.#onLine = onLine;
    this.#maxLine = Math.max(16, maxLine);
  }

  write(chunk: Uint8Array): void {
    let start = 0;
    for (;;) {
      const lf = chunk.indexOf(0x0a, start);
      if (lf < 0) break;
      this.#finish(chunk.subarray(start, lf));
      start = lf + 1;
    }
    if (start < chunk.length) this.#hold(chunk.subarray(start));
  }

  end(): void {
    if (this.#pending.length > 0 || this.#inLong) this.#finish(new Uint8Array(0));
  }

  #hold(part: Uint8Array): void {
    const joined = concat(this.#pending, part);
    // Keep a byte back so a CR that ends the line can still be dropped.
    let off = 0;
    while (joined.length - off - 1 > this.#maxLine) {
      this.#onLine(joined.slice(off, off + this.#maxLine), this.#inLong ? 'more' : 'first');
      this.#inLong = true;
      off += this.#maxLine;
    }
    this.#pending = off === 0 ? joined : joined.slice(off);
  }

  #finish(tail: Uint8Array): void {
    let line = concat(this.#pending, tail);
    this.#pending = new Uint8Array(0);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (!this.#inLong && line.length <= this.#maxLine) {
      this.#onLine(line, 'whole');
      return;
    }
    let off = 0;
    while (line.length - off > this.#maxLine) {
      this.#onLine(line.subarray(off, off + this.#maxLine), this.#inLong ? 'more' : 'first');
      this.#inLong = true;
      off += this.#maxLine;
    }
    this.#inLong = false;
    this.#onLine(line.subarray(off), 'last');
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** A line as a string with one char per byte, for matching markers (WHATWG's "latin1" would be windows-1252). */
export function lineText(line: Uint8Array): string {
  return Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('latin1');
}
