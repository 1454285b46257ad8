/**
 * Envelope commands for the next hop, rebuilt from what smtp-server parsed:
 * MAIL FROM and RCPT TO with the ESMTP parameters the next hop offers
 * (SIZE RFC 1870, BODY RFC 6152, SMTPUTF8 RFC 6531, RET/ENVID/NOTIFY/ORCPT
 * RFC 3461 with xtext), and XFORWARD or XCLIENT (Postfix XFORWARD_README,
 * XCLIENT_README) with the real client's address, name and HELO.
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

/** Who the client really is: what goes into XFORWARD or XCLIENT for the next hop. */
export interface ForwardFacts {
  readonly addr?: string;
  readonly port?: number;
  readonly name?: string;
  readonly helo?: string;
  /** SMTP or ESMTP (what the client opened with, or what the front MTA forwarded). */
  readonly proto?: string;
  /** XFORWARD only: the front MTA's queue id (Postfix logs it as orig_queue_id). */
  readonly ident?: string;
  /** XFORWARD only: LOCAL or REMOTE, as the front MTA said. */
  readonly source?: 'LOCAL' | 'REMOTE';
}

/** How the next hop learns the client: XFORWARD (logging only), XCLIENT (its access rules see the client too) or not at all. */
export type IdentityMethod = 'xforward' | 'xclient' | 'none';

/**
 * Which of XFORWARD and XCLIENT to send. XFORWARD wins when both are
 * offered unless smtp.xclient is "prefer": it only changes what the next
 * hop logs, while XCLIENT makes the next hop apply its client access rules
 * (mynetworks, RBLs) to the real client, a change an operator must ask for.
 */
export function identityMethod(cfg: { readonly xforward: boolean; readonly xclient: 'off' | 'fallback' | 'prefer' }, hop: Offers): IdentityMethod {
  if (cfg.xclient === 'prefer' && hop.has('XCLIENT')) return 'xclient';
  if (cfg.xforward && hop.has('XFORWARD')) return 'xforward';
  if (cfg.xclient === 'fallback' && hop.has('XCLIENT')) return 'xclient';
  return 'none';
}

/** An address as XFORWARD/XCLIENT carry it: IPv4-mapped IPv6 as IPv4, IPv6 with the "IPV6:" prefix Postfix writes. */
function addrValue(addr: string | undefined): string | undefined {
  if (addr === undefined || addr === '') return undefined;
  const a = addr.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  return a.includes(':') && !/^ipv6:/i.test(a) ? `IPV6:${a}` : a;
}

/**
 * "VERB K=V ..." lines for the attributes the next hop lists after the
 * keyword (its EHLO "XFORWARD NAME ADDR PROTO HELO …"), each well under
 * 512 octets. Values are xtext; an unknown one is "[UNAVAILABLE]".
 */
function attributeCommands(verb: 'XFORWARD' | 'XCLIENT', offered: string, pairsIn: readonly [string, string | undefined][]): string[] {
  const attrs = new Set(offered.toUpperCase().split(/\s+/).filter((x) => x !== ''));
  const pairs = pairsIn.filter(([k]) => attrs.has(k)).map(([k, v]) => `${k}=${v === undefined || v === '' ? '[UNAVAILABLE]' : xtext(v.slice(0, 255))}`);
  const lines: string[] = [];
  let line = verb;
  for (const p of pairs) {
    if (line.length + p.length + 1 > 400) {
      lines.push(line);
      line = verb;
    }
    line += ` ${p}`;
  }
  if (line !== verb) lines.push(line);
  return lines;
}

/** The client's attributes in the order Postfix sends them. A name in brackets is an address literal: no verified host name (Postfix sends [UNAVAILABLE] then). */
function basePairs(f: ForwardFacts): [string, string | undefined][] {
  return [
    ['NAME', f.name?.startsWith('[') === true ? undefined : f.name],
    ['ADDR', addrValue(f.addr)],
    ['PORT', f.port !== undefined && f.port > 0 ? String(f.port) : undefined],
    ['PROTO', f.proto],
    ['HELO', f.helo],
  ];
}

/** XFORWARD lines (Postfix XFORWARD_README) for the attributes the next hop offers. */
export function xforwardCommands(offered: string, f: ForwardFacts): string[] {
  const extra: [string, string | undefined][] = [['IDENT', f.ident], ['SOURCE', f.source]];
  // IDENT and SOURCE only when known: the next hop's defaults are better than "[UNAVAILABLE]" there.
  return attributeCommands('XFORWARD', offered, [...basePairs(f), ...extra.filter(([, v]) => v !== undefined)]);
}

/**
 * The XCLIENT line(s) (Postfix XCLIENT_README) for the attributes the next
 * hop offers. The next hop answers each with a new 220 greeting and the
 * session starts over (EHLO again), so the caller sends them one by one.
 */
export function xclientCommands(offered: string, f: ForwardFacts): string[] {
  // ADDR goes last: should the attributes need two lines, some servers (smtp-server) stop offering XCLIENT once ADDR is set.
  const pairs = basePairs(f);
  return attributeCommands('XCLIENT', offered, [...pairs.filter(([k]) => k !== 'ADDR'), ...pairs.filter(([k]) => k === 'ADDR')]);
}
