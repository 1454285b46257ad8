/**
 * Quoted-printable (RFC 2045 §6.7) as a forgiving streaming decoder:
 * `=XX` (either case) is a byte, `=` before a line break (with white space
 * between, as broken mailers write) is a soft break, and any other `=` is
 * kept as it stands, the way mail clients show it. Line breaks stay as they
 * are. Reads untrusted bytes; never throws.
 */
import type { StreamDecoder } from './types.js';

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** After '=': nothing yet, one hex digit, or white space waiting for a line break. */
type State = { k: 'text' } | { k: 'eq' } | { k: 'hex'; c: number } | { k: 'soft'; ws: number[] } | { k: 'softcr' };

export class QuotedPrintableDecoder implements StreamDecoder {
  readonly #onData: (bytes: Uint8Array) => void;
  #s: State = { k: 'text' };
  /** `=` sequences that were neither a byte nor a soft break. */
  invalid = 0;
  /** `=XX` sequences decoded. */
  escapes = 0;

  constructor(onData: (bytes: Uint8Array) => void) {
    this.#onData = onData;
  }

  write(chunk: Uint8Array): void {
    const out: number[] = [];
    for (let i = 0; i < chunk.length; i++) this.#step(chunk[i] as number, out);
    if (out.length > 0) this.#onData(Uint8Array.from(out));
  }

  end(): void {
    const out: number[] = [];
    const s = this.#s;
    if (s.k === 'eq') { out.push(0x3d); this.invalid++; }
    else if (s.k === 'hex') { out.push(0x3d, s.c); this.invalid++; }
    // '=' followed only by white space at the very end is a soft break.
    this.#s = { k: 'text' };
    if (out.length > 0) this.#onData(Uint8Array.from(out));
  }

  #step(c: number, out: number[]): void {
    const s = this.#s;
    switch (s.k) {
      case 'text':
        if (c === 0x3d) this.#s = { k: 'eq' };
        else out.push(c);
        return;
      case 'eq':
        if (hex(c) >= 0) { this.#s = { k: 'hex', c }; return; }
        if (c === 0x0a) { this.#s = { k: 'text' }; return; }
        if (c === 0x0d) { this.#s = { k: 'softcr' }; return; }
        if (c === 0x20 || c === 0x09) { this.#s = { k: 'soft', ws: [c] }; return; }
        this.invalid++;
        out.push(0x3d);
        this.#s = { k: 'text' };
        this.#step(c, out);
        return;
      case 'hex': {
        const h = hex(c);
        if (h >= 0) {
          out.push((hex(s.c) << 4) | h);
          this.escapes++;
          this.#s = { k: 'text' };
          return;
        }
        this.invalid++;
        out.push(0x3d, s.c);
        this.#s = { k: 'text' };
        this.#step(c, out);
        return;
      }
      case 'soft':
        if (c === 0x20 || c === 0x09) {
          if (s.ws.length < 256) { s.ws.push(c); return; }
        } else if (c === 0x0a) { this.#s = { k: 'text' }; return; }
        else if (c === 0x0d) { this.#s = { k: 'softcr' }; return; }
        // '=' then white space then text: not a soft break after all.
        this.invalid++;
        out.push(0x3d, ...s.ws);
        this.#s = { k: 'text' };
        this.#step(c, out);
        return;
      case 'softcr':
        this.#s = { k: 'text' };
        if (c !== 0x0a) this.#step(c, out);
        return;
    }
  }
}
