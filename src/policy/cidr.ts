/**
 * IPv4 and IPv6 addresses and CIDR blocks (RFC 4632, RFC 4291 §2.2/§2.3):
 * parse, and test whether an address lies in any of a list of blocks.
 *
 * Why our own matcher and not node:net BlockList: a dual-stack socket reports
 * IPv4 peers as IPv4-mapped IPv6 ("::ffff:192.0.2.1"); such a peer must match
 * an IPv4 block, and BlockList's behaviour there has changed between Node
 * versions. Addresses are compared as 16-byte values, IPv4 mapped into
 * ::ffff:0:0/96, so one comparison covers both families.
 *
 * Reads untrusted text (peer addresses come from sockets, blocks from the
 * config): never throws on bad input; parse functions return undefined.
 * Limits: zone ids ("fe80::1%eth0") are accepted and ignored.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** 16 bytes; IPv4 is stored IPv4-mapped (::ffff:a.b.c.d). */
type Address16 = Uint8Array;

export interface CidrBlock {
  /** The block as written, normalised ("10.0.0.0/8", "2001:db8::/32"). */
  readonly text: string;
  readonly family: 4 | 6;
  readonly bytes: Address16;
  /** Prefix length in the 128-bit space (an IPv4 /8 is /104 here). */
  readonly bits: number;
}

function parseIPv4(text: string): number[] | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split('.').map((p) => Number(p));
}

/** Parses an IPv4 or IPv6 address into 16 bytes (IPv4 mapped). */
export function parseAddress(input: string): Address16 | undefined {
  const text = input.trim().replace(/%.*$/, '');
  const v4 = parseIPv4(text);
  if (v4 !== undefined) {
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    out.set(v4, 12);
    return out;
  }
  if (!isIPv6(text)) return undefined;
  let head = text;
  let tailV4: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes('.')) {
    const parsed = parseIPv4(maybeV4);
    if (parsed === undefined) return undefined;
    tailV4 = parsed;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = toGroups(halves[0] ?? '');
  const right = halves.length === 2 ? toGroups(halves[1] ?? '') : [];
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  if (tailV4.length === 4) out.set(tailV4, 12);
  return out;
}

/** Parses "a.b.c.d/n", "x::y/n", or a bare address (a /32 or /128). */
export function parseCidr(input: string): CidrBlock | undefined {
  const text = input.trim();
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const family: 4 | 6 | undefined = isIPv4(addrText) ? 4 : isIPv6(addrText.replace(/%.*$/, '')) ? 6 : undefined;
  if (family === undefined) return undefined;
  const maxPrefix = family === 4 ? 32 : 128;
  let prefix = maxPrefix;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    prefix = Number(prefixText);
    if (prefix > maxPrefix) return undefined;
  }
  const bytes = parseAddress(addrText);
  if (bytes === undefined) return undefined;
  const bits = family === 4 ? prefix + 96 : prefix;
  // Host bits set ("10.1.2.3/8") are cleared, as Postfix's mynetworks does, so the block means what its prefix says.
  const masked = maskBytes(bytes, bits);
  return { text: `${formatAddress(masked, family)}/${prefix}`, family, bytes: masked, bits };
}

function maskBytes(bytes: Address16, bits: number): Address16 {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

function formatAddress(bytes: Address16, family: 4 | 6): string {
  if (family === 4) return Array.from(bytes.subarray(12)).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  // RFC 5952: compress the longest run of zero groups (two or more).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export function inBlock(address: Address16, block: CidrBlock): boolean {
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, block.bits - i * 8));
    if (keep === 0) return true;
    const mask = (0xff << (8 - keep)) & 0xff;
    if (((address[i] ?? 0) & mask) !== (block.bytes[i] ?? 0)) return false;
  }
  return true;
}

/** A compiled list of blocks; `contains` is false for anything that is not an address. */
export class CidrSet {
  readonly #blocks: readonly CidrBlock[];
  constructor(blocks: readonly CidrBlock[]) {
    this.#blocks = blocks;
  }
  static parse(texts: readonly string[]): CidrSet {
    const blocks: CidrBlock[] = [];
    for (const t of texts) {
      const b = parseCidr(t);
      if (b !== undefined) blocks.push(b);
    }
    return new CidrSet(blocks);
  }
  get blocks(): readonly CidrBlock[] {
    return this.#blocks;
  }
  contains(address: string | undefined): boolean {
    if (address === undefined) return false;
    const a = parseAddress(address);
    return a !== undefined && this.#blocks.some((b) => inBlock(a, b));
  }
}
