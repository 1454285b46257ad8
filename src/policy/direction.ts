/**
 * Direction of a transfer: inbound (into the protected networks) or
 * outbound. Pure function of the config's protectedNetworks/localDomains and
 * the facts of the transfer.
 *
 * FTP: data moves server → client on RETR and client → server on
 * STOR/APPE/STOU. When exactly one end lies in the protected networks, the
 * direction is where the data goes (a download to an outside client from a
 * protected server is outbound); otherwise (both ends inside or both
 * outside, e.g. on loopback) RETR is inbound and STOR/APPE/STOU outbound.
 *
 * Mail (RFC 5321 envelope): a client outside the protected networks sends
 * inbound mail. A protected client sends outbound mail when any recipient is
 * outside the local domains; mail from a protected client to local
 * recipients only is internal and treated as inbound (it is delivered to
 * local mailboxes).
 *
 * Reads untrusted text (addresses from sockets, envelope recipients); never
 * throws: an unparsable address is simply not in any network.
 */
import type { CidrSet } from './cidr.js';
import type { Direction, FtpTransferCommand } from './types.js';

/** Strips a ":port" or "[v6]:port" suffix if there is one; a bare address passes through. */
export function addressOnly(peer: string): string {
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(peer);
  if (bracket) return bracket[1] ?? peer;
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(peer);
  if (v4port) return v4port[1] ?? peer;
  return peer;
}

export interface FtpDirectionFacts {
  readonly command: FtpTransferCommand;
  /** Client address (with or without port). */
  readonly client?: string;
  /** FTP server address (with or without port). */
  readonly server?: string;
}

export function ftpDirection(facts: FtpDirectionFacts, protectedNetworks: CidrSet): Direction {
  const download = facts.command === 'RETR';
  const clientInside = facts.client !== undefined && protectedNetworks.contains(addressOnly(facts.client));
  const serverInside = facts.server !== undefined && protectedNetworks.contains(addressOnly(facts.server));
  if (clientInside !== serverInside) {
    const destinationInside = download ? clientInside : serverInside;
    return destinationInside ? 'inbound' : 'outbound';
  }
  return download ? 'inbound' : 'outbound';
}

/** The domain of a mail address, lower-case, without angle brackets or a trailing dot; undefined for a local part only. */
export function mailDomain(address: string): string | undefined {
  const a = address.trim().replace(/^<|>$/g, '');
  const at = a.lastIndexOf('@');
  if (at < 0) return undefined;
  return a.slice(at + 1).toLowerCase().replace(/\.$/, '');
}

/** "example.org" matches itself only; ".example.org" matches its subdomains (Postfix style). */
export function isLocalDomain(domain: string, localDomains: readonly string[]): boolean {
  const d = domain.toLowerCase();
  return localDomains.some((l) => (l.startsWith('.') ? d.endsWith(l) && d.length > l.length : d === l));
}

export interface MailDirectionFacts {
  readonly client?: string;
  readonly rcpts: readonly string[];
}

export function mailDirection(facts: MailDirectionFacts, protectedNetworks: CidrSet, localDomains: readonly string[]): Direction {
  const clientInside = facts.client !== undefined && protectedNetworks.contains(addressOnly(facts.client));
  if (!clientInside) return 'inbound';
  // A bare local part ("postmaster") is local by definition (RFC 5321 §4.5.1).
  const external = facts.rcpts.some((r) => {
    const d = mailDomain(r);
    return d !== undefined && !isLocalDomain(d, localDomains);
  });
  return external || facts.rcpts.length === 0 ? 'outbound' : 'inbound';
}
