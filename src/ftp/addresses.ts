/**
 * Data-connection addresses in the FTP control channel: PORT and PASV's
 * "h1,h2,h3,h4,p1,p2" (RFC 959 §4.1.2, §4.2), EPRT's "|af|addr|port|" and
 * EPSV's "(|||port|)" (RFC 2428), and the address comparisons that stop
 * bounce and hijack attacks (an IPv4-mapped IPv6 address is the same host as
 * its IPv4 form).
 *
 * Reads untrusted bytes: command arguments and server replies; every parser
 * returns undefined on anything malformed.
 */
import { isIP } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** "::ffff:1.2.3.4" → "1.2.3.4"; lower-case; zone ids kept. */
export function normaliseAddress(address: string): string {
  const a = address.toLowerCase();
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  return m?.[1] ?? a;
}

export function sameHost(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && normaliseAddress(a) === normaliseAddress(b);
}

function parseSixNumbers(text: string): HostPort | undefined {
  const m = /(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})/.exec(text);
  if (m === null) return undefined;
  const n = m.slice(1).map(Number);
  if (n.some((x) => x > 255)) return undefined;
  return { host: n.slice(0, 4).join('.'), port: (n[4] ?? 0) * 256 + (n[5] ?? 0) };
}

/** The argument of PORT: exactly six numbers. */
export function parsePort(arg: string): HostPort | undefined {
  return /^\s*\d{1,3}(,\d{1,3}){5}\s*$/.test(arg) ? parseSixNumbers(arg) : undefined;
}

/** The text of a 227 reply: the first six comma-separated numbers in it. */
export function parsePasvReply(text: string): HostPort | undefined {
  return parseSixNumbers(text);
}

/** The argument of EPRT: "<d>af<d>addr<d>port<d>", af 1 (IPv4) or 2 (IPv6). */
export function parseEprt(arg: string): HostPort | undefined {
  const t = arg.trim();
  const d = t[0];
  if (d === undefined || d.charCodeAt(0) < 33 || d.charCodeAt(0) > 126) return undefined;
  const parts = t.split(d);
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return undefined;
  const [, af, host = '', portText = ''] = parts;
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  if (af === '1' && isIP(host) === 4) return { host, port };
  if (af === '2' && isIP(host) === 6) return { host, port };
  return undefined;
}

/** The port in a 229 reply's "(<d><d><d>port<d>)". */
export function parseEpsvReply(text: string): number | undefined {
  const m = /\((.)\1\1(\d{1,5})\1\)/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** "h1,h2,h3,h4,p1,p2" for an IPv4 address. */
export function formatPasv(host: string, port: number): string {
  return `${host.split('.').join(',')},${port >> 8},${port & 255}`;
}

/** The PORT or EPRT command that asks a server to connect to `host:port`. */
export function activeCommand(host: string, port: number): string {
  const h = normaliseAddress(host);
  return isIP(h) === 4 ? `PORT ${formatPasv(h, port)}` : `EPRT |2|${h}|${port}|`;
}
