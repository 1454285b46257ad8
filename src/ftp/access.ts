/**
 * Who may use the proxy and where to: the client allow/deny networks, and in
 * gateway mode the destination a client names as `USER name@host[:port]`
 * (split on the last "@", so user names may contain "@"; "[v6]:port" for
 * IPv6), checked against the destination allow/deny networks after name
 * resolution. A destination that is the proxy itself (any local address with
 * the listening port) is refused, so a client cannot make it loop.
 *
 * Reads untrusted bytes: the USER argument.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { FtpConfig } from '../config/table.js';
import { CidrSet } from '../policy/index.js';
import { normaliseAddress } from './addresses.js';

export interface Destination {
  readonly user: string;
  readonly host: string;
  readonly port: number;
}

const HOST_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})$/;

/** "name@host[:port]" → its parts; undefined when there is no usable host. */
export function parseGatewayUser(arg: string): Destination | undefined {
  const at = arg.lastIndexOf('@');
  if (at <= 0) return undefined;
  const user = arg.slice(0, at);
  const rest = arg.slice(at + 1);
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(rest) ?? /^([^:[\]]+)(?::(\d{1,5}))?$/.exec(rest);
  if (m === null) return undefined;
  const host = m[1] ?? '';
  const port = m[2] === undefined ? 21 : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  if (rest.startsWith('[') ? isIP(host) !== 6 : !(isIP(host) === 4 || HOST_NAME.test(host))) return undefined;
  return { user, host, port };
}

export interface AccessRules {
  readonly allowClients: CidrSet;
  readonly denyClients: CidrSet;
  readonly allowDestinations: CidrSet;
  readonly denyDestinations: CidrSet;
  readonly hasAllowClients: boolean;
  readonly hasAllowDestinations: boolean;
  /** ftp.proxyProtocolFrom: the balancers that may send a PROXY header (empty: any peer). */
  readonly proxyFrom: CidrSet;
  readonly hasProxyFrom: boolean;
}

const compiled = new WeakMap<FtpConfig, AccessRules>();

export function accessRules(config: FtpConfig): AccessRules {
  let r = compiled.get(config);
  if (r === undefined) {
    r = {
      allowClients: CidrSet.parse(config.allowClients),
      denyClients: CidrSet.parse(config.denyClients),
      allowDestinations: CidrSet.parse(config.allowDestinations),
      denyDestinations: CidrSet.parse(config.denyDestinations),
      hasAllowClients: config.allowClients.length > 0,
      hasAllowDestinations: config.allowDestinations.length > 0,
      proxyFrom: CidrSet.parse(config.proxyProtocolFrom),
      hasProxyFrom: config.proxyProtocolFrom.length > 0,
    };
    compiled.set(config, r);
  }
  return r;
}

export function clientAllowed(rules: AccessRules, address: string): boolean {
  const a = normaliseAddress(address);
  if (rules.denyClients.contains(a)) return false;
  return !rules.hasAllowClients || rules.allowClients.contains(a);
}

/** May this peer send a PROXY header (ftp.proxyProtocolFrom)? A header from anyone else would let them name any client address. */
export function proxyHeaderAllowed(rules: AccessRules, peer: string): boolean {
  return !rules.hasProxyFrom || rules.proxyFrom.contains(normaliseAddress(peer));
}

function isLocalAddress(address: string): boolean {
  const a = normaliseAddress(address);
  if (a === '0.0.0.0' || a === '::' || a.startsWith('127.') || a === '::1') return true;
  return Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => normaliseAddress(i.address) === a));
}

export type DestinationCheck = { readonly ok: true; readonly address: string } | { readonly ok: false; readonly reason: string };

/** Resolves the destination and checks it; `self` is the proxy's own listening port. */
export async function checkDestination(rules: AccessRules, dest: Destination, selfPort: number): Promise<DestinationCheck> {
  let addresses: string[];
  try {
    addresses = isIP(dest.host) !== 0 ? [dest.host] : (await lookup(dest.host, { all: true })).map((a) => a.address);
  } catch {
    return { ok: false, reason: `cannot resolve ${dest.host}` };
  }
  for (const address of addresses) {
    const a = normaliseAddress(address);
    if (dest.port === selfPort && isLocalAddress(a)) return { ok: false, reason: 'that is this proxy' };
    if (rules.denyDestinations.contains(a)) return { ok: false, reason: `${dest.host} is not allowed` };
    if (rules.hasAllowDestinations && !rules.allowDestinations.contains(a)) return { ok: false, reason: `${dest.host} is not allowed` };
  }
  const first = addresses[0];
  return first === undefined ? { ok: false, reason: `cannot resolve ${dest.host}` } : { ok: true, address: first };
}
