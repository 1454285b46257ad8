/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2)
 * that a TCP load balancer writes before the SMTP session: who the client
 * really is. A small state machine: bytes go in until the header is whole,
 * then it yields the client's address and port (or none, for a v1 UNKNOWN
 * or a v2 LOCAL connection such as a health check: the socket's own peer is
 * the client then) and the bytes that came after it.
 *
 * Limits: TCP over IPv4/IPv6 only (a UDP or UNIX family is refused); v2 TLVs
 * are skipped, not read; a v1 line is at most 107 bytes, a v2 header at most
 * 16 + 1024 bytes.
 *
 * Reads untrusted bytes: whatever the peer sends first. Nothing is trusted
 * beyond the syntax; the listener decides whether the peer may send it.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net';

export interface ProxiedClient {
  readonly address: string;
  readonly port: number;
}

export type ProxyHeaderResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'done'; readonly version: 1 | 2; readonly client: ProxiedClient | undefined; readonly rest: Buffer }
  | { readonly kind: 'error'; readonly reason: string };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_MAX = 107;
const V2_MAX_BODY = 1024;

const MORE = { kind: 'more' } as const;
const error = (reason: string): ProxyHeaderResult => ({ kind: 'error', reason });

function port(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

/** "PROXY TCP4 192.0.2.1 198.51.100.1 56324 25\r\n" (or "PROXY UNKNOWN …"). */
function parseV1(line: string): ProxyHeaderResult | { client: ProxiedClient | undefined } {
  const f = line.split(' ');
  if (f[0] !== 'PROXY') return error('not a PROXY header');
  if (f[1] === 'UNKNOWN') return { client: undefined };
  if (f.length !== 6) return error('PROXY v1 line has the wrong number of fields');
  const [, family, src, dst, sport, dport] = f as [string, string, string, string, string, string];
  const valid = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : undefined;
  if (valid === undefined) return error(`PROXY v1 family ${JSON.stringify(family.slice(0, 10))} is not TCP4/TCP6/UNKNOWN`);
  const sp = port(sport);
  if (!valid(src) || !valid(dst) || sp === undefined || port(dport) === undefined) return error('PROXY v1 line has a bad address or port');
  return { client: { address: src.toLowerCase(), port: sp } };
}

function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // The longest run of zero groups becomes "::" (RFC 5952).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** The 16-byte v2 header and its body (addresses, then TLVs). */
function parseV2(head: Buffer, body: Buffer): ProxyHeaderResult | { client: ProxiedClient | undefined } {
  const verCmd = head[12] ?? 0;
  if (verCmd >> 4 !== 2) return error('PROXY v2 header has an unknown version');
  const cmd = verCmd & 0x0f;
  if (cmd === 0) return { client: undefined };
  if (cmd !== 1) return error('PROXY v2 header has an unknown command');
  const fam = head[13] ?? 0;
  if (fam === 0x00) return { client: undefined };
  if (fam === 0x11) {
    if (body.length < 12) return error('PROXY v2 TCP4 addresses are truncated');
    return { client: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8) } };
  }
  if (fam === 0x21) {
    if (body.length < 36) return error('PROXY v2 TCP6 addresses are truncated');
    // An IPv4-mapped source (::ffff:a.b.c.d) is the IPv4 client it stands for.
    const mapped = body.subarray(0, 10).every((x) => x === 0) && body.readUInt16BE(10) === 0xffff;
    const address = mapped ? [...body.subarray(12, 16)].join('.') : ipv6(body.subarray(0, 16));
    return { client: { address, port: body.readUInt16BE(32) } };
  }
  return error(`PROXY v2 family 0x${fam.toString(16).padStart(2, '0')} is not TCP over IPv4/IPv6`);
}

/** Collects the first bytes of a connection until the PROXY header is whole. */
export class ProxyHeaderReader {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): ProxyHeaderResult {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const b = this.#buf;
    const sigLen = Math.min(b.length, V2_SIGNATURE.length);
    if (b.subarray(0, sigLen).equals(V2_SIGNATURE.subarray(0, sigLen))) {
      if (b.length < 16) return MORE;
      const len = b.readUInt16BE(14);
      if (len > V2_MAX_BODY) return error(`PROXY v2 header is longer than ${V2_MAX_BODY} bytes`);
      if (b.length < 16 + len) return MORE;
      const r = parseV2(b.subarray(0, 16), b.subarray(16, 16 + len));
      return 'kind' in r ? r : { kind: 'done', version: 2, client: r.client, rest: b.subarray(16 + len) };
    }
    const prefix = 'PROXY '.slice(0, Math.min(b.length, 6));
    if (b.toString('latin1', 0, prefix.length) !== prefix) return error('not a PROXY header');
    const nl = b.indexOf(0x0a);
    if (nl < 0) return b.length >= V1_MAX ? error(`PROXY v1 line is longer than ${V1_MAX} bytes`) : MORE;
    if (nl + 1 > V1_MAX || b[nl - 1] !== 0x0d) return error('PROXY v1 line is too long or does not end in CRLF');
    const r = parseV1(b.toString('latin1', 0, nl - 1));
    return 'kind' in r ? r : { kind: 'done', version: 1, client: r.client, rest: b.subarray(nl + 1) };
  }
}

/** What reading a connection's PROXY header came to. */
export type ProxyHeaderOutcome =
  | { readonly ok: true; readonly version: 1 | 2; readonly client: ProxiedClient | undefined }
  | { readonly ok: false; readonly reason: string };

/**
 * Reads the PROXY header off a fresh connection, before any protocol code
 * sees it: bytes after the header are put back for the protocol to read. A
 * malformed header, the peer closing or failing first, or no header within
 * `timeoutMs` is `ok: false` with the reason; the caller closes and logs.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeaderOutcome> {
  const reader = new ProxyHeaderReader();
  return new Promise((resolve) => {
    let finished = false;
    const finish = (outcome: ProxyHeaderOutcome, rest?: Buffer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
      resolve(outcome);
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while (!finished && (chunk = socket.read() as Buffer | null) !== null) {
        const r = reader.push(chunk);
        if (r.kind === 'error') finish({ ok: false, reason: r.reason });
        else if (r.kind === 'done') finish({ ok: true, version: r.version, client: r.client }, r.rest);
      }
    };
    const onEnd = (): void => finish({ ok: false, reason: 'the peer closed the connection before the PROXY header' });
    const onError = (err: Error): void => finish({ ok: false, reason: `socket error before the PROXY header: ${err.message}` });
    const timer = setTimeout(() => finish({ ok: false, reason: `no PROXY header within ${timeoutMs} ms` }), timeoutMs);
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}

/**
 * Connections still owing their PROXY header, capped. Past `max` a new one
 * is refused at once: a flood of silent connections would otherwise each
 * hold a socket for the whole timeout before any session limit counts them.
 */
export class ProxyHeaderWaits {
  #waiting = 0;

  get waiting(): number {
    return this.#waiting;
  }

  read(socket: Socket, timeoutMs: number, max: number): Promise<ProxyHeaderOutcome> {
    if (this.#waiting >= max) return Promise.resolve({ ok: false, reason: `too many connections waiting for their PROXY header (${max})` });
    this.#waiting++;
    return readProxyHeader(socket, timeoutMs).finally(() => {
      this.#waiting--;
    });
  }
}
