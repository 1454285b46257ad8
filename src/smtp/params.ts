/**
 * Envelope commands for the next hop, rebuilt from what smtp-server parsed:
 * MAIL FROM and RCPT TO with the ESMTP parameters the next hop offers
 * (SIZE RFC 1870, BODY RFC 6152, SMTPUTF8 RFC 6531, RET/ENVID/NOTIFY/ORCPT
 * RFC 3461 with xtext), and XFORWARD (Postfix XFORWARD_README) with the
 * real client's address, name and HELO.
 *
 * Reads untrusted text (addresses, parameter values, HELO names): xtext
 * values are encoded, and a value that could break a command line (space,
 * control characters, "<", ">") is left out rather than written.
 */

/** RFC 3461 §4: xtext = printable ASCII except "+" and "=", others as "+XX". */
export function xtext(value: string): string {
  let out = '';
  for (const ch of Buffer.from(value, 'utf8')) {
    out += ch >= 33 && ch <= 126 && ch !== 0x2b && ch !== 0x3d ? String.fromCharCode(ch) : `+${ch.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const SAFE = /^[\x21-\x3b\x3d\x3f-\x7e]+$/;
const safe = (v: string): boolean => SAFE.test(v);

/** An address fit for "<...>": no angle brackets, no spaces or control characters. */
export function safeAddress(address: string): boolean {
  return address === '' || /^[^\s<>\x00-\x1f\x7f]+$/u.test(address);
}

export type Args = Readonly<Record<string, string | boolean>> | false | undefined;

export interface Offers {
  has(keyword: string): boolean;
}

export function mailCommand(address: string, args: Args, hop: Offers): string {
  const out = [`MAIL FROM:<${address}>`];
  const a = args || {};
  const size = a['SIZE'];
  if (typeof size === 'string' && /^\d{1,20}$/.test(size) && hop.has('SIZE')) out.push(`SIZE=${size}`);
  const body = a['BODY'];
  if (typeof body === 'string' && /^(7BIT|8BITMIME|BINARYMIME)$/i.test(body) && (hop.has('8BITMIME') || body.toUpperCase() === '7BIT')) out.push(`BODY=${body.toUpperCase()}`);
  if (a['SMTPUTF8'] === true && hop.has('SMTPUTF8')) out.push('SMTPUTF8');
  if (hop.has('DSN')) {
    const ret = a['RET'];
    if (typeof ret === 'string' && /^(FULL|HDRS)$/i.test(ret)) out.push(`RET=${ret.toUpperCase()}`);
    const envid = a['ENVID'];
    if (typeof envid === 'string' && envid.length <= 100) out.push(`ENVID=${xtext(envid)}`);
  }
  return out.join(' ');
}

export function rcptCommand(address: string, args: Args, hop: Offers): string {
  const out = [`RCPT TO:<${address}>`];
  const a = args || {};
  if (hop.has('DSN')) {
    const notify = a['NOTIFY'];
    if (typeof notify === 'string' && /^(NEVER|((SUCCESS|FAILURE|DELAY),?)+)$/i.test(notify)) out.push(`NOTIFY=${notify.toUpperCase()}`);
    const orcpt = a['ORCPT'];
    if (typeof orcpt === 'string' && orcpt.length <= 500) {
      const semi = orcpt.indexOf(';');
      if (semi > 0 && safe(orcpt.slice(0, semi))) out.push(`ORCPT=${orcpt.slice(0, semi)};${xtext(orcpt.slice(semi + 1))}`);
    }
  }
  return out.join(' ');
}

export interface ForwardFacts {
  readonly addr?: string;
  readonly port?: number;
  readonly name?: string;
  readonly helo?: string;
  readonly proto?: 'SMTP' | 'ESMTP';
}

/**
 * XFORWARD lines for the attributes the next hop lists (its EHLO
 * "XFORWARD NAME ADDR PROTO HELO …"); each line stays well under 512 octets.
 * Values are xtext; an unknown one is "[UNAVAILABLE]".
 */
export function xforwardCommands(offered: string, f: ForwardFacts): string[] {
  const attrs = new Set(offered.toUpperCase().split(/\s+/).filter((x) => x !== ''));
  const pairs: string[] = [];
  const add = (k: string, v: string | undefined): void => {
    if (!attrs.has(k)) return;
    pairs.push(`${k}=${v === undefined || v === '' ? '[UNAVAILABLE]' : xtext(v.slice(0, 255))}`);
  };
  // A name in brackets is an address literal: no verified host name (Postfix sends [UNAVAILABLE] then).
  add('NAME', f.name?.startsWith('[') === true ? undefined : f.name);
  add('ADDR', f.addr?.replace(/^::ffff:/i, ''));
  add('PORT', f.port !== undefined ? String(f.port) : undefined);
  add('PROTO', f.proto);
  add('HELO', f.helo);
  const lines: string[] = [];
  let line = 'XFORWARD';
  for (const p of pairs) {
    if (line.length + p.length + 1 > 400) {
      lines.push(line);
      line = 'XFORWARD';
    }
    line += ` ${p}`;
  }
  if (line !== 'XFORWARD') lines.push(line);
  return lines;
}
