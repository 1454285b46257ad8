/**
 * Dot-stuffing for DATA sent to the next hop (RFC 5321 §4.5.2): a line that
 * begins with "." gets one more "." in front, and the message ends with
 * CRLF "." CRLF. A small explicit state machine over bytes, so a chunk may
 * end anywhere (even between CR and LF) and the output is the same as for
 * the whole message at once.
 *
 * Input is a message whose line ends are CRLF (the DATA guard has already
 * rejected or normalised bare LF and bare CR); a message that does not end
 * with CRLF gets one before the terminator, as every MTA does.
 *
 * Reads untrusted bytes (the message), but only copies them.
 */

const DOT = 0x2e;
const CR = 0x0d;
const LF = 0x0a;
const DOT_BUF = Buffer.from('.');

export class DotStuffer {
  /** True when the next byte starts a line (message start, or after LF). */
  #lineStart = true;
  /** The last two bytes seen (-1: none yet), for the terminator. */
  #prev = -1;
  #last = -1;

  /** Encodes one chunk; the returned buffers are the chunk's bytes with dots added (no copy). */
  push(chunk: Uint8Array): Buffer[] {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    if (n === 0) return [];
    const out: Buffer[] = [];
    if (this.#lineStart && buf[0] === DOT) out.push(DOT_BUF);
    let from = 0;
    // Only a dot right after LF starts a line: jump from LF to LF.
    for (let i = buf.indexOf(LF); i >= 0 && i + 1 < n; i = buf.indexOf(LF, i + 1)) {
      if (buf[i + 1] === DOT) {
        out.push(buf.subarray(from, i + 1), DOT_BUF);
        from = i + 1;
      }
    }
    out.push(from === 0 ? buf : buf.subarray(from));
    this.#prev = n > 1 ? (buf[n - 2] as number) : this.#last;
    this.#last = buf[n - 1] as number;
    this.#lineStart = this.#last === LF;
    return out;
  }

  /** The end of DATA: CRLF first unless the message already ended a line. */
  end(): Buffer {
    if (this.#last === -1) return Buffer.from('.\r\n');
    if (this.#last === LF && this.#prev === CR) return Buffer.from('.\r\n');
    if (this.#last === CR) return Buffer.from('\n.\r\n');
    return Buffer.from('\r\n.\r\n');
  }
}

/** The whole message dot-stuffed and terminated, for tests and small messages. */
export function dotStuff(message: Uint8Array): Buffer {
  const s = new DotStuffer();
  return Buffer.concat([...s.push(message), s.end()]);
}
