/**
 * Base64 (RFC 2045 §6.8, RFC 4648) as a forgiving streaming decoder: any
 * byte outside the alphabet is skipped (line breaks, spaces, junk a broken
 * mailer left), padding ends the current quantum but decoding goes on after
 * it (concatenated encodings), and a quantum cut off at the end is decoded as
 * far as it goes. It counts what it skipped so callers can tell a clean body
 * from one that only looks encoded. The `urlSafe` option also takes `-` `_`.
 * Reads untrusted bytes; never throws.
 */
import type { StreamDecoder } from './types.js';

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const NONE = 255;
const PAD = 254;
const SPACE = 253;

function table(urlSafe: boolean): Uint8Array {
  const t = new Uint8Array(256).fill(NONE);
  for (let i = 0; i < 64; i++) t[STD.charCodeAt(i)] = i;
  if (urlSafe) {
    t[0x2d] = 62;
    t[0x5f] = 63;
  }
  t[0x3d] = PAD;
  for (const c of [0x20, 0x09, 0x0d, 0x0a]) t[c] = SPACE;
  return t;
}

const TABLE_STD = table(false);
const TABLE_URL = table(true);

export interface Base64Options {
  readonly urlSafe?: boolean;
}

export class Base64Decoder implements StreamDecoder {
  readonly #onData: (bytes: Uint8Array) => void;
  readonly #table: Uint8Array;
  #acc = 0;
  #n = 0;
  /** Alphabet characters decoded. */
  symbols = 0;
  /** Bytes that were neither alphabet, padding nor white space. */
  junk = 0;
  /** Padding characters that came before the end of the input. */
  earlyPads = 0;
  #padSeen = false;

  constructor(onData: (bytes: Uint8Array) => void, options: Base64Options = {}) {
    this.#onData = onData;
    this.#table = options.urlSafe === true ? TABLE_URL : TABLE_STD;
  }

  write(chunk: Uint8Array): void {
    const out = new Uint8Array(Math.floor((chunk.length + 4) * 3 / 4) + 3);
    let o = 0;
    const t = this.#table;
    // The state lives in locals while the loop runs (fields are slower in a loop this hot) and is put back after.
    let acc = this.#acc, n = this.#n, symbols = 0, junk = 0, padSeen = this.#padSeen;
    for (let i = 0; i < chunk.length; i++) {
      const v = t[chunk[i] as number] as number;
      if (v < 64) {
        if (padSeen) {
          this.earlyPads++;
          padSeen = false;
        }
        symbols++;
        acc = (acc << 6) | v;
        if (++n === 4) {
          out[o++] = (acc >> 16) & 0xff;
          out[o++] = (acc >> 8) & 0xff;
          out[o++] = acc & 0xff;
          acc = 0;
          n = 0;
        }
      } else if (v === PAD) {
        this.#acc = acc;
        this.#n = n;
        o = this.#flushPartial(out, o);
        acc = 0;
        n = 0;
        padSeen = true;
      } else if (v === NONE) {
        junk++;
      }
    }
    this.#acc = acc;
    this.#n = n;
    this.#padSeen = padSeen;
    this.symbols += symbols;
    this.junk += junk;
    if (o > 0) this.#onData(out.subarray(0, o));
  }

  end(): void {
    const out = new Uint8Array(3);
    const o = this.#flushPartial(out, 0);
    if (o > 0) this.#onData(out.subarray(0, o));
  }

  /** Decodes the bytes a partial quantum still holds (2 symbols → 1 byte, 3 → 2). */
  #flushPartial(out: Uint8Array, o: number): number {
    if (this.#n >= 2) {
      const acc = this.#acc << (6 * (4 - this.#n));
      out[o++] = (acc >> 16) & 0xff;
      if (this.#n === 3) out[o++] = (acc >> 8) & 0xff;
    }
    this.#acc = 0;
    this.#n = 0;
    return o;
  }
}

/**
 * Decodes the whole of `bytes` natively, several times faster than the
 * streaming decoder. Only for bytes the caller knows hold nothing but
 * standard alphabet symbols, white space (space, tab, CR, LF) and padding
 * after the last symbol: for those it gives exactly what Base64Decoder
 * gives (a test holds the two equal). Other bytes it decodes as Node does,
 * which differs (Node stops at the first padding).
 */
export function decodeCleanBase64(bytes: Uint8Array): Uint8Array {
  return Buffer.from(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'), 'base64');
}

/** True for bytes of the standard alphabet (not padding). */
export function isBase64Char(c: number): boolean {
  return (TABLE_STD[c] as number) < 64;
}
