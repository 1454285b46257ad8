/**
 * The DATA guard: looks at the message as it arrives (after smtp-server has
 * removed the dot-stuffing) and enforces what keeps it from smuggling or
 * swamping anything downstream:
 *  - bare LF and bare CR (SMTP smuggling, CVE-2023-51764/51765/51766): with
 *    `reject` the message is refused like Postfix's
 *    smtpd_forbid_bare_newline; with `normalise` each one becomes CRLF, so
 *    the next hop sees exactly the line structure that was scanned;
 *  - the longest line and the size of the header section.
 * A small state machine over bytes; chunk boundaries fall anywhere (even
 * between CR and LF) with the same result.
 *
 * Reads untrusted bytes: the message.
 */

export type GuardViolation = 'bareNewline' | 'lineTooLong' | 'headerTooBig';

export interface GuardOptions {
  readonly bareNewline: 'reject' | 'normalise';
  readonly maxLineLength: number;
  readonly maxHeaderSize: number;
}

/** After CR we do not yet know whether the CR is bare. */
type LineState = 'text' | 'afterCr';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

export class DataGuard {
  readonly #opts: GuardOptions;
  #state: LineState = 'text';
  #lineLength = 0;
  #inHeader = true;
  #headerBytes = 0;
  /** Whether the current line (so far) is empty: an empty line ends the header section. */
  #lineEmpty = true;
  #violation: GuardViolation | undefined;
  /** Bare newlines turned into CRLF (normalise mode). */
  normalised = 0;

  constructor(opts: GuardOptions) {
    this.#opts = opts;
  }

  /** The first rule broken, if any; once set the rest of the message is only counted. */
  get violation(): GuardViolation | undefined {
    return this.#violation;
  }

  #violate(v: GuardViolation): void {
    this.#violation ??= v;
  }

  #endLine(): void {
    if (this.#inHeader && this.#lineEmpty) this.#inHeader = false;
    this.#lineLength = 0;
    this.#lineEmpty = true;
  }

  #header(n: number): void {
    if (!this.#inHeader) return;
    this.#headerBytes += n;
    if (this.#headerBytes > this.#opts.maxHeaderSize) this.#violate('headerTooBig');
  }

  /** Checks one chunk and returns the bytes to keep (the chunk itself unless normalising changed it). */
  push(chunk: Buffer): Buffer {
    const normalise = this.#opts.bareNewline === 'normalise';
    let parts: Buffer[] | undefined;
    let from = 0;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#state === 'afterCr') {
        this.#state = 'text';
        if (chunk[i] === LF) {
          this.#header(1);
          this.#endLine();
          i++;
          continue;
        }
        // The CR before this byte was bare.
        if (normalise) {
          // A CR that ended the previous chunk was already kept: add only the LF.
          parts ??= [];
          if (i > from) parts.push(chunk.subarray(from, i));
          parts.push(Buffer.from('\n'));
          from = i;
          this.normalised++;
        } else this.#violate('bareNewline');
        this.#endLine();
      }
      // Jump to the next CR or LF: the bytes before it are line text.
      let j = chunk.indexOf(LF, i);
      const cr = chunk.indexOf(CR, i);
      if (j < 0 || (cr >= 0 && cr < j)) j = cr;
      const end = j < 0 ? n : j;
      if (end > i) {
        this.#lineEmpty = false;
        this.#header(end - i);
        this.#lineLength += end - i;
        if (this.#lineLength > this.#opts.maxLineLength) this.#violate('lineTooLong');
      }
      if (j < 0) break;
      this.#header(1);
      if (chunk[j] === CR) {
        this.#state = 'afterCr';
      } else {
        if (normalise) {
          parts ??= [];
          parts.push(chunk.subarray(from, j), CRLF);
          from = j + 1;
          this.normalised++;
        } else this.#violate('bareNewline');
        this.#endLine();
      }
      i = j + 1;
    }
    if (parts === undefined) return chunk;
    parts.push(chunk.subarray(from));
    return Buffer.concat(parts);
  }

  /** The end of the message: a trailing bare CR is one more bare newline. */
  end(): Buffer {
    if (this.#state !== 'afterCr') return Buffer.alloc(0);
    this.#state = 'text';
    if (this.#opts.bareNewline === 'normalise') {
      this.normalised++;
      return Buffer.from('\n');
    }
    this.#violate('bareNewline');
    return Buffer.alloc(0);
  }
}
