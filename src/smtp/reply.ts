/**
 * SMTP replies as data: parsing the next hop's replies (RFC 5321 §4.2,
 * multi-line "250-…" continuations, RFC 3463 enhanced status codes) and
 * writing them back out, so a reply can be handed from the next hop to the
 * client unchanged in code, enhanced code and text.
 *
 * Reads untrusted bytes: reply lines from the next hop. A line that is not
 * "NNN[ -]text" is a protocol error (`ReplyParser.push` returns it as such);
 * each line is capped and the number of lines per reply is capped.
 */

/** One whole reply: its code, its enhanced code when the first line has one, and its text lines (without code or enhanced code). */
export interface Reply {
  readonly code: number;
  readonly enhanced?: string;
  readonly lines: readonly string[];
}

const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/;
const MAX_LINE = 4096;
const MAX_LINES = 200;

/** Splits "5.1.1 User unknown" into enhanced code and text when the class digit agrees with the code. */
function splitEnhanced(code: number, text: string): { enhanced?: string; text: string } {
  const m = ENHANCED.exec(text);
  if (m === null || Number(m[1]) !== Math.floor(code / 100)) return { text };
  return { enhanced: `${m[1]}.${m[2]}.${m[3]}`, text: text.slice(m[0].length) };
}

export function reply(code: number, enhanced: string | undefined, ...lines: string[]): Reply {
  return { code, ...(enhanced !== undefined ? { enhanced } : {}), lines: lines.length > 0 ? lines : [''] };
}

export const isPositive = (r: Reply): boolean => r.code >= 200 && r.code < 400;
export const isTransient = (r: Reply): boolean => r.code >= 400 && r.code < 500;

/** The text of a reply on one line: "5.1.1 User unknown" (what smtp-server's send gets). */
export function replyText(r: Reply): string[] {
  return r.lines.map((l) => (r.enhanced !== undefined ? `${r.enhanced} ${l}` : l));
}

/** The reply as wire lines with CRLF. */
export function formatReply(r: Reply): string {
  const texts = replyText(r);
  return texts.map((t, i) => `${r.code}${i < texts.length - 1 ? '-' : ' '}${t}`.trimEnd()).join('\r\n') + '\r\n';
}

export type ParseEvent = { readonly kind: 'reply'; readonly reply: Reply } | { readonly kind: 'error'; readonly message: string };

/**
 * Turns the next hop's byte stream into replies. Keeps the partial line and
 * the lines of a multi-line reply across chunks.
 */
export class ReplyParser {
  #partial = '';
  #lines: string[] = [];
  #code = 0;

  /** Feeds a chunk; returns the replies (or a protocol error) completed by it. */
  push(chunk: Buffer): ParseEvent[] {
    const out: ParseEvent[] = [];
    this.#partial += chunk.toString('latin1');
    let nl: number;
    while ((nl = this.#partial.indexOf('\n')) >= 0) {
      const line = this.#partial.slice(0, nl).replace(/\r$/, '');
      this.#partial = this.#partial.slice(nl + 1);
      const ev = this.#line(line);
      if (ev !== undefined) {
        out.push(ev);
        if (ev.kind === 'error') return out;
      }
    }
    if (this.#partial.length > MAX_LINE) out.push({ kind: 'error', message: 'reply line too long' });
    return out;
  }

  #line(line: string): ParseEvent | undefined {
    const m = /^([2-5]\d\d)([ -]?)(.*)$/.exec(line);
    if (m === null) return { kind: 'error', message: `malformed reply line ${JSON.stringify(line.slice(0, 80))}` };
    const code = Number(m[1]);
    if (this.#lines.length > 0 && code !== this.#code) return { kind: 'error', message: 'reply code changed inside a multi-line reply' };
    this.#code = code;
    this.#lines.push(m[3] ?? '');
    if (m[2] === '-') {
      if (this.#lines.length > MAX_LINES) return { kind: 'error', message: 'reply has too many lines' };
      return undefined;
    }
    const lines = this.#lines;
    this.#lines = [];
    const first = splitEnhanced(code, lines[0] ?? '');
    if (first.enhanced === undefined) return { kind: 'reply', reply: { code, lines } };
    const enhanced = first.enhanced;
    const rest = lines.slice(1).map((l) => (l.startsWith(`${enhanced} `) ? l.slice(enhanced.length + 1) : l === enhanced ? '' : l));
    return { kind: 'reply', reply: { code, enhanced, lines: [first.text, ...rest] } };
  }
}

/** The EHLO keywords of a reply ("SIZE 10240000" → SIZE: "10240000"), keyword upper case. */
export function ehloKeywords(r: Reply): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of r.lines.slice(1)) {
    const [k, ...rest] = l.trim().split(/\s+/);
    if (k !== undefined && k !== '') out.set(k.toUpperCase(), rest.join(' '));
  }
  return out;
}
