/**
 * Finds and decodes uuencoded blocks (`begin NNN name` … `end`, POSIX
 * uuencode, and its `begin-base64 NNN name` … `====` form) anywhere in a text
 * stream, as mail bodies carry them. Forgiving like the old mail clients:
 * trailing spaces that a mailer stripped are put back, lines with an extra
 * checksum character are taken, a few junk lines inside a block are skipped,
 * and a block whose `end` never comes is still handed on (marked incomplete).
 * Reads untrusted bytes; never throws; memory bounded by the line cap.
 */
import { Base64Decoder } from './base64.js';
import { LineSplitter, lineText } from './lines.js';
import type { BlockSink, StreamDecoder } from './types.js';

/** Consecutive lines that are not uuencode after which a block is taken as ended. */
const MAX_JUNK_LINES = 8;
const BEGIN = /^begin(-base64)?[ \t]+([0-7]{1,4})[ \t]+(.*?)[ \t]*$/;

type State =
  | { k: 'seek' }
  | { k: 'uu'; junk: number; bytes: number }
  | { k: 'b64'; dec: Base64Decoder };

export class UudecodeFinder implements StreamDecoder {
  readonly #sink: BlockSink;
  readonly #lines: LineSplitter;
  #s: State = { k: 'seek' };

  constructor(sink: BlockSink) {
    this.#sink = sink;
    this.#lines = new LineSplitter((line, piece) => this.#line(line, piece), 4096);
  }

  write(chunk: Uint8Array): void {
    this.#lines.write(chunk);
  }

  end(): void {
    this.#lines.end();
    if (this.#s.k !== 'seek') this.#close(false, ['truncated']);
  }

  #line(line: Uint8Array, piece: 'whole' | 'first' | 'more' | 'last'): void {
    if (piece !== 'whole') {
      if (this.#s.k === 'uu') this.#junk();
      return;
    }
    const text = lineText(line);
    const m = BEGIN.exec(text);
    if (m) {
      if (this.#s.k !== 'seek') this.#close(false, ['truncated']);
      this.#sink.begin({ name: m[3] ?? '' });
      if (m[1] !== undefined) {
        const dec = new Base64Decoder((b) => this.#sink.data(b));
        this.#s = { k: 'b64', dec };
      } else {
        this.#s = { k: 'uu', junk: 0, bytes: 0 };
      }
      return;
    }
    const s = this.#s;
    if (s.k === 'seek') return;
    if (s.k === 'b64') {
      if (text.trim() === '====') this.#close(true, []);
      else s.dec.write(line);
      return;
    }
    if (text.trimEnd() === 'end') {
      this.#close(true, []);
      return;
    }
    const decoded = decodeUuLine(line);
    if (decoded === undefined) {
      this.#junk();
      return;
    }
    s.junk = 0;
    s.bytes += decoded.length;
    if (decoded.length > 0) this.#sink.data(decoded);
  }

  #junk(): void {
    const s = this.#s;
    if (s.k !== 'uu') return;
    if (++s.junk >= MAX_JUNK_LINES) this.#close(false, ['no-end']);
  }

  #close(complete: boolean, problems: string[]): void {
    const s = this.#s;
    if (s.k === 'b64') s.dec.end();
    this.#s = { k: 'seek' };
    this.#sink.end({ complete, problems });
  }
}

/**
 * Decodes one uuencoded line, or returns undefined when the line is not one.
 * The first character gives the byte count; each 4 characters give 3 bytes;
 * backquote stands for space (zero).
 */
export function decodeUuLine(line: Uint8Array): Uint8Array | undefined {
  if (line.length === 0) return undefined;
  const first = line[0] as number;
  if (first < 0x20 || first > 0x60) return undefined;
  const n = (first - 0x20) & 0x3f;
  const fullChars = Math.ceil(n / 3) * 4;
  let body = line.length - 1;
  // Some encoders add one checksum character or trailing spaces; some mailers
  // strip trailing spaces, which stood for zero bits, so a short line is padded.
  while (body > fullChars && line[body] === 0x20) body--;
  if (body > fullChars + 2) return undefined;
  for (let i = 1; i <= Math.min(body, fullChars); i++) {
    const c = line[i] as number;
    if (c < 0x20 || c > 0x60) return undefined;
  }
  const out = new Uint8Array(n);
  const sym = (i: number): number => {
    const c = i <= body ? (line[i] as number) : 0x20;
    return (c - 0x20) & 0x3f;
  };
  let o = 0;
  for (let i = 1; o < n; i += 4) {
    const a = sym(i), b = sym(i + 1), c = sym(i + 2), d = sym(i + 3);
    out[o++] = ((a << 2) | (b >> 4)) & 0xff;
    if (o < n) out[o++] = ((b << 4) | (c >> 2)) & 0xff;
    if (o < n) out[o++] = ((c << 6) | d) & 0xff;
  }
  return out;
}
