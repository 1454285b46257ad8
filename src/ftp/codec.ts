/**
 * Byte-level codecs of the FTP control channel (RFC 959 §4, RFC 854 TELNET):
 *
 * - `CommandReader`: client bytes → command lines. Lines end at LF (CR
 *   before it dropped); commands split across segments and several commands
 *   in one segment (pipelining) both come out one line each. TELNET IAC
 *   sequences are removed (IAC IP / IAC DM around ABOR, option negotiation),
 *   IAC IAC is a literal 0xFF. A line longer than `maxLine` is discarded up to
 *   its LF and reported as too long, so memory stays bounded.
 * - `ReplyReader`: server bytes → whole replies. A multi-line reply
 *   (`ddd-` … `ddd `) is kept intact, continuation lines that start with
 *   digits included; a reply of more than `maxLines` lines or a line over
 *   `maxLine` is a protocol error.
 * - `formatReply`: our own replies; every line carries the code (`ddd-` then
 *   `ddd `), control characters are removed and lines and count are capped,
 *   so untrusted text (file names, findings) cannot inject a line.
 *
 * Reads untrusted bytes: both readers. Lines are latin1 strings so that every
 * byte survives a round trip to the other side unchanged.
 */

const IAC = 0xff;
const DONT = 0xfe;
const WILL = 0xfb;
const SB = 0xfa;
const SE = 0xf0;

export type CommandEvent = { readonly kind: 'line'; readonly line: string } | { readonly kind: 'tooLong' };

/** Splits a command line into its upper-cased verb and the argument as sent. */
export function splitCommand(line: string): { verb: string; arg: string } {
  const sp = line.indexOf(' ');
  const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
  return { verb, arg: sp < 0 ? '' : line.slice(sp + 1) };
}

export class CommandReader {
  readonly #maxLine: number;
  #line: Buffer;
  #length = 0;
  #discarding = false;
  /** TELNET state: 0 data, 1 after IAC, 2 after IAC WILL/WONT/DO/DONT, 3 in a subnegotiation, 4 IAC inside it. */
  #telnet = 0;

  constructor(maxLine: number) {
    this.#maxLine = maxLine;
    this.#line = Buffer.alloc(maxLine);
  }

  feed(chunk: Uint8Array): CommandEvent[] {
    const out: CommandEvent[] = [];
    for (const b of chunk) {
      switch (this.#telnet) {
        case 1:
          this.#telnet = 0;
          if (b === IAC) { this.#push(b, out); continue; }
          if (b >= WILL && b <= DONT) { this.#telnet = 2; continue; }
          if (b === SB) { this.#telnet = 3; continue; }
          // IP, DM, AO … are one-byte commands; a byte that is no command means the DM went out of band: keep it.
          if (b >= SE) continue;
          this.#push(b, out);
          continue;
        case 2: this.#telnet = 0; continue;
        case 3: if (b === IAC) this.#telnet = 4; continue;
        case 4: this.#telnet = b === SE ? 0 : 3; continue;
        default:
          if (b === IAC) { this.#telnet = 1; continue; }
          this.#push(b, out);
      }
    }
    return out;
  }

  #push(b: number, out: CommandEvent[]): void {
    if (b === 0x0a) {
      if (this.#discarding) {
        this.#discarding = false;
        out.push({ kind: 'tooLong' });
      } else {
        let end = this.#length;
        if (end > 0 && this.#line[end - 1] === 0x0d) end--;
        out.push({ kind: 'line', line: this.#line.toString('latin1', 0, end) });
      }
      this.#length = 0;
      return;
    }
    if (this.#discarding) return;
    if (this.#length >= this.#maxLine) {
      this.#discarding = true;
      this.#length = 0;
      return;
    }
    this.#line[this.#length++] = b;
  }
}

export interface ServerReply {
  readonly code: number;
  /** Every line as received (latin1, without CR LF). */
  readonly lines: readonly string[];
}

/** The reply's text: the lines without their codes, joined by spaces. */
export function replyText(r: ServerReply): string {
  return r.lines.map((l) => (/^\d{3}[ -]/.test(l) ? l.slice(4) : l)).join(' ');
}

export class ReplyError extends Error {}

export class ReplyReader {
  readonly #maxLine: number;
  readonly #maxLines: number;
  #partial = '';
  #lines: string[] = [];
  #code: string | undefined;

  constructor(maxLine = 8192, maxLines = 2000) {
    this.#maxLine = maxLine;
    this.#maxLines = maxLines;
  }

  /** Whole replies completed by this chunk; throws ReplyError on a reply that breaks the limits or the grammar. */
  feed(chunk: Uint8Array): ServerReply[] {
    const out: ServerReply[] = [];
    let text = this.#partial + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      const line = text.slice(0, nl).replace(/\r$/, '');
      text = text.slice(nl + 1);
      const done = this.#line(line);
      if (done !== undefined) out.push(done);
    }
    if (text.length > this.#maxLine) throw new ReplyError('Cannot read the server reply: line too long');
    this.#partial = text;
    return out;
  }

  #line(line: string): ServerReply | undefined {
    if (line.length > this.#maxLine) throw new ReplyError('Cannot read the server reply: line too long');
    if (this.#code === undefined) {
      const m = /^([1-5]\d\d)([ -]|$)/.exec(line);
      if (m === null) throw new ReplyError(`Cannot read the server reply: no reply code in ${JSON.stringify(line.slice(0, 40))}`);
      if (m[2] === '-') {
        this.#code = m[1];
        this.#lines = [line];
        return undefined;
      }
      return { code: Number(m[1]), lines: [line] };
    }
    this.#lines.push(line);
    if (this.#lines.length > this.#maxLines) throw new ReplyError('Cannot read the server reply: too many lines');
    if (line.startsWith(`${this.#code} `) || line === this.#code) {
      const r = { code: Number(this.#code), lines: this.#lines };
      this.#code = undefined;
      this.#lines = [];
      return r;
    }
    return undefined;
  }
}

const MAX_REPLY_LINE = 200;
const MAX_REPLY_LINES = 20;

function cleanLine(s: string): string {
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return t.length > MAX_REPLY_LINE ? `${t.slice(0, MAX_REPLY_LINE - 3)}...` : t;
}

/** A reply of our own as wire text (CRLF-terminated): `lines` before the last become `code-` continuation lines. */
export function formatReply(code: number, text: string, before: readonly string[] = []): string {
  const shown = before.slice(0, MAX_REPLY_LINES).map(cleanLine);
  if (before.length > MAX_REPLY_LINES) shown.push(`... and ${before.length - MAX_REPLY_LINES} more`);
  return [...shown.map((l) => `${code}-${l}\r\n`), `${code} ${cleanLine(text)}\r\n`].join('');
}

/** A server reply relayed as received. */
export function relayText(r: ServerReply): string {
  return r.lines.map((l) => `${l}\r\n`).join('');
}
