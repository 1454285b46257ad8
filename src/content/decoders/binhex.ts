/**
 * Finds and decodes BinHex 4.0 (RFC 1741) blocks in a text stream: the
 * marker line `(This file must be converted with BinHex 4.0)`, then text
 * between two colons in a 64-character alphabet (8-to-6 encoding), then
 * run-length decoding (0x90 marker), then the header (name, type, creator,
 * fork lengths) and the data and resource forks, each with a CRC-16/XMODEM.
 * The data fork is handed on as one block named after the file; a non-empty
 * resource fork as a second block. A CRC mismatch is a problem, not a reason
 * to drop the bytes. Reads untrusted bytes; never throws; holds only a few
 * bytes of state.
 */
import { crc16Byte } from './crc.js';
import type { BlockSink, StreamDecoder } from './types.js';

const ALPHABET = '!"#$%&\'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr';
const SIX = (() => {
  const t = new Int16Array(256).fill(-1);
  for (let i = 0; i < 64; i++) t[ALPHABET.charCodeAt(i)] = i;
  return t;
})();
const MARKER = 'converted with binhex';
const RLE_MARK = 0x90;

/** Where the decoded byte stream stands inside the BinHex file layout. */
type Fork =
  | { k: 'header'; need: number; buf: number[]; crc: number }
  | { k: 'fork'; which: 'data' | 'rsrc'; left: number; crc: number; out: number[] }
  | { k: 'crc'; which: 'data' | 'rsrc'; crc: number; got: number[] }
  | { k: 'done' };

type State = { k: 'seek'; tail: string } | { k: 'colon' } | { k: 'data' };

export class BinHexFinder implements StreamDecoder {
  readonly #sink: BlockSink;
  #s: State = { k: 'seek', tail: '' };
  // 8-to-6 decoding
  #acc = 0;
  #bits = 0;
  // RLE90 decoding
  #last = 0;
  #marker = false;
  // file layout
  #fork: Fork = { k: 'done' };
  #name = '';
  #dataLen = 0;
  #rsrcLen = 0;
  #open = false;
  #problems: string[] = [];

  constructor(sink: BlockSink) {
    this.#sink = sink;
  }

  write(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      const s = this.#s;
      if (s.k === 'seek') {
        s.tail = (s.tail + String.fromCharCode(c | 0x20)).slice(-MARKER.length);
        if (s.tail === MARKER) this.#s = { k: 'colon' };
      } else if (s.k === 'colon') {
        if (c === 0x3a) this.#startData();
      } else if (c === 0x3a) {
        this.#finish();
      } else {
        const v = SIX[c] as number;
        if (v >= 0) this.#six(v);
        else if (c !== 0x0a && c !== 0x0d && c !== 0x20 && c !== 0x09) this.#problem('junk');
      }
    }
    this.#flushOut();
  }

  end(): void {
    if (this.#s.k === 'data') this.#finish();
  }

  #problem(p: string): void {
    if (!this.#problems.includes(p)) this.#problems.push(p);
  }

  #startData(): void {
    this.#s = { k: 'data' };
    this.#acc = 0;
    this.#bits = 0;
    this.#last = 0;
    this.#marker = false;
    this.#problems = [];
    this.#fork = { k: 'header', need: -1, buf: [], crc: 0 };
  }

  #finish(): void {
    this.#flushOut();
    if (this.#fork.k !== 'done') {
      this.#problem('truncated');
      if (this.#open) this.#endBlock(false);
      else if (this.#fork.k === 'header') this.#problem('header');
    }
    this.#fork = { k: 'done' };
    this.#s = { k: 'seek', tail: '' };
  }

  #six(v: number): void {
    this.#acc = ((this.#acc << 6) | v) & 0xffffff;
    this.#bits += 6;
    if (this.#bits >= 8) {
      this.#bits -= 8;
      this.#rle((this.#acc >> this.#bits) & 0xff);
    }
  }

  #rle(b: number): void {
    if (this.#marker) {
      this.#marker = false;
      if (b === 0) {
        this.#byte(RLE_MARK);
        this.#last = RLE_MARK;
      } else {
        for (let n = 1; n < b; n++) this.#byte(this.#last);
      }
    } else if (b === RLE_MARK) {
      this.#marker = true;
    } else {
      this.#byte(b);
      this.#last = b;
    }
  }

  #byte(b: number): void {
    const f = this.#fork;
    switch (f.k) {
      case 'header': {
        f.buf.push(b);
        if (f.need < 0) f.need = 1 + b + 1 + 4 + 4 + 2 + 4 + 4;
        if (f.buf.length <= f.need) {
          f.crc = crc16Byte(f.crc, b);
          return;
        }
        if (f.buf.length < f.need + 2) return;
        const stored = ((f.buf[f.need] as number) << 8) | (f.buf[f.need + 1] as number);
        if (crcFinish(f.crc) !== stored) this.#problem('header-crc');
        const h = f.buf;
        const n = h[0] as number;
        this.#name = String.fromCharCode(...h.slice(1, 1 + n));
        const at = 1 + n + 1 + 4 + 4 + 2;
        this.#dataLen = be32(h, at);
        this.#rsrcLen = be32(h, at + 4);
        this.#beginBlock(this.#name, this.#dataLen);
        this.#fork = { k: 'fork', which: 'data', left: this.#dataLen, crc: 0, out: [] };
        if (this.#dataLen === 0) this.#forkDone();
        return;
      }
      case 'fork':
        f.crc = crc16Byte(f.crc, b);
        f.out.push(b);
        if (f.out.length >= 4096) this.#flushOut();
        if (--f.left === 0) this.#forkDone();
        return;
      case 'crc':
        f.got.push(b);
        if (f.got.length < 2) return;
        if (crcFinish(f.crc) !== (((f.got[0] as number) << 8) | (f.got[1] as number))) this.#problem(f.which === 'data' ? 'crc' : 'rsrc-crc');
        if (f.which === 'data') {
          this.#endBlock(true);
          if (this.#rsrcLen > 0) {
            this.#beginBlock(`${this.#name} (resource fork)`, this.#rsrcLen);
            this.#fork = { k: 'fork', which: 'rsrc', left: this.#rsrcLen, crc: 0, out: [] };
          } else {
            this.#fork = { k: 'crc', which: 'rsrc', crc: 0, got: [] };
          }
        } else {
          if (this.#open) this.#endBlock(true);
          this.#fork = { k: 'done' };
        }
        return;
      case 'done':
        return;
    }
  }

  #forkDone(): void {
    const f = this.#fork;
    if (f.k !== 'fork') return;
    this.#flushOut();
    this.#fork = { k: 'crc', which: f.which, crc: f.crc, got: [] };
  }

  #flushOut(): void {
    const f = this.#fork;
    if (f.k === 'fork' && f.out.length > 0) {
      this.#sink.data(Uint8Array.from(f.out));
      f.out = [];
    }
  }

  #beginBlock(name: string, size: number): void {
    this.#open = true;
    this.#sink.begin({ name, size });
  }

  #endBlock(complete: boolean): void {
    this.#open = false;
    this.#sink.end({ complete, problems: this.#problems });
    this.#problems = [];
  }
}

/** The stored CRC equals CRC-16/XMODEM of the bytes (the original algorithm appends two zeros, which is the same thing). */
function crcFinish(crc: number): number {
  return crc;
}

function be32(b: readonly number[], at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}
