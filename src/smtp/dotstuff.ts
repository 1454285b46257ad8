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

/** Where the encoder stands: at the start of a line, inside one, or just after a CR. */
type StuffState = 'lineStart' | 'inLine' | 'afterCr';

const DOT = 0x2e;
const CR = 0x0d;
const LF = 0x0a;

export class DotStuffer {
  #state: StuffState = 'lineStart';
  #empty = true;

  /** Encodes one chunk; the returned buffers are the chunk's bytes with dots added (no copy when none is needed). */
  push(chunk: Uint8Array): Buffer[] {
    const out: Buffer[] = [];
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let from = 0;
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i] as number;
      switch (this.#state) {
        case 'lineStart':
          if (b === DOT) {
            out.push(buf.subarray(from, i), Buffer.from('.'));
            from = i;
          }
          this.#state = b === CR ? 'afterCr' : b === LF ? 'lineStart' : 'inLine';
          break;
        case 'afterCr':
          this.#state = b === LF ? 'lineStart' : b === CR ? 'afterCr' : 'inLine';
          break;
        case 'inLine':
          if (b === CR) this.#state = 'afterCr';
          else if (b === LF) this.#state = 'lineStart';
          break;
      }
    }
    if (buf.length > 0) this.#empty = false;
    if (from < buf.length) out.push(buf.subarray(from));
    return out.filter((b) => b.length > 0);
  }

  /** The end of DATA: CRLF first unless the message already ended a line. */
  end(): Buffer {
    if (this.#state === 'lineStart' && !this.#empty) return Buffer.from('.\r\n');
    if (this.#state === 'afterCr') return Buffer.from('\n.\r\n');
    return Buffer.from(this.#empty ? '.\r\n' : '\r\n.\r\n');
  }
}

/** The whole message dot-stuffed and terminated, for tests and small messages. */
export function dotStuff(message: Uint8Array): Buffer {
  const s = new DotStuffer();
  return Buffer.concat([...s.push(message), s.end()]);
}
