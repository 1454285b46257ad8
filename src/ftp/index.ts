/**
 * The FTP proxy (issue 5): the listener the gateway runs when `ftp` is
 * configured. Each accepted connection is admitted by the session tracker
 * (limits, snapshot lease) and becomes one FtpSession; see session.ts for
 * the protocol. Entry file; import from here.
 *
 * With ftp.proxyProtocol each control connection starts with a PROXY v1/v2
 * header (HAProxy's proxy-protocol.txt, parsed by gateway/proxy-header.ts),
 * read before anything is said; the address in it is the client for the
 * session: access lists, per-client limits, logs, direction, and the data
 * connections, which must come from that address (passive) or go to it
 * (PORT/EPRT). The balancer passes the control port only: the client's data
 * connections reach the passive ports directly (announce them with
 * ftp.passiveAddress), and a balancer that forwards them too, from its own
 * address, is refused as a hijack. A v1 UNKNOWN or v2 LOCAL header (a health
 * check) leaves the socket's peer as the client. Only peers in
 * ftp.proxyProtocolFrom may send the header (empty: any peer); others are
 * closed without a word, as is a connection without a valid header.
 *
 * Reads untrusted bytes: the PROXY header, and through the sessions.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { splitHostPort } from '../config/fields.js';
import type { FtpConfig } from '../config/table.js';
import { PortcullisError } from '../errors.js';
import { SessionTracker, type BoundAddress, type DrainResult, type ListenerContext, type ProtocolListener } from '../gateway/listeners.js';
import { logSession } from '../log.js';
import { renderReply } from '../policy/replies.js';
import { formatReply } from './codec.js';
import { FtpSession } from './session.js';
import { ProxyHeaderWaits, type ProxiedClient, type ProxyHeaderOutcome } from '../gateway/proxy-header.js';
import { accessRules, proxyHeaderAllowed } from './access.js';

export { FtpSession, MAX_COMMAND_LINE, type SessionContext } from './session.js';
export { CommandReader, ReplyReader, formatReply, splitCommand, type ServerReply } from './codec.js';
export { parseEprt, parseEpsvReply, parsePasvReply, parsePort, formatPasv, sameHost } from './addresses.js';
export { parseGatewayUser, checkDestination, clientAllowed, accessRules, type Destination } from './access.js';

export class FtpListener implements ProtocolListener {
  readonly protocol = 'ftp' as const;
  readonly #listen: string;
  #server: Server | undefined;
  #tracker: SessionTracker | undefined;
  #address: BoundAddress | undefined;
  readonly #sessions = new Map<Socket, FtpSession>();
  /** Connections whose PROXY header has not come yet; at most ftp.maxSessions. */
  readonly #headerWaits = new ProxyHeaderWaits();

  readonly #proxyProtocol: boolean;

  constructor(config: Pick<FtpConfig, 'listen' | 'proxyProtocol'>) {
    this.#listen = config.listen;
    this.#proxyProtocol = config.proxyProtocol;
  }

  async start(ctx: ListenerContext): Promise<void> {
    const hp = splitHostPort(this.#listen);
    if (hp === undefined) throw new PortcullisError('PC_ERR_CONFIG', `Cannot listen on ftp.listen ${JSON.stringify(this.#listen)}: expected "host:port"`);
    const tracker = new SessionTracker('ftp', ctx);
    this.#tracker = tracker;
    const server = createServer((socket) => {
      if (this.#proxyProtocol) void this.#acceptProxied(ctx, tracker, socket);
      else this.#accept(ctx, tracker, socket);
    });
    server.on('error', (err) => ctx.log.error({ err, protocol: 'ftp' }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new PortcullisError('PC_ERR_CONFIG', `Cannot listen on ftp.listen ${this.#listen}: ${err.message}`, { cause: err }));
      server.once('error', onError);
      server.listen({ host: hp.host, port: hp.port }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const a = server.address();
    this.#address = typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host: hp.host, port: hp.port };
    this.#server = server;
  }

  async #acceptProxied(ctx: ListenerContext, tracker: SessionTracker, socket: Socket): Promise<void> {
    socket.on('error', () => socket.destroy());
    const current = ctx.snapshots.current().config;
    const cfg = current.ftp === false ? undefined : current.ftp;
    const peer = socket.remoteAddress ?? '';
    const header: ProxyHeaderOutcome = cfg !== undefined && !proxyHeaderAllowed(accessRules(cfg), peer)
      ? { ok: false, reason: 'the peer is not in ftp.proxyProtocolFrom' }
      : await this.#headerWaits.read(socket, cfg?.proxyProtocolTimeout ?? 10_000, cfg?.maxSessions ?? 100);
    if (!header.ok) {
      // Nothing is said: the peer is a balancer that broke the protocol, not a client to answer.
      ctx.log.warn({ protocol: 'ftp', peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`, reason: header.reason }, 'connection closed: no valid PROXY header');
      socket.destroy();
      return;
    }
    this.#accept(ctx, tracker, socket, header.client);
  }

  #accept(ctx: ListenerContext, tracker: SessionTracker, socket: Socket, proxied?: ProxiedClient): void {
    socket.on('error', () => socket.destroy());
    const current = ctx.snapshots.current().config;
    const cfg = current.ftp === false ? undefined : current.ftp;
    const admission = tracker.admit(proxied?.address ?? socket.remoteAddress ?? '?', socket, cfg);
    if (!admission.ok) {
      const r = renderReply(admission.reason).ftp;
      socket.end(formatReply(r.code, r.text));
      return;
    }
    const tracked = admission.session;
    const client = proxied !== undefined ? `${proxied.address}:${proxied.port}` : `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const session = new FtpSession(socket, {
      tracked,
      inspect: ctx.inspect,
      log: ctx.log,
      selfPort: this.#address?.port ?? 0,
      spoolDir: join(tracked.snapshot.config.data, 'spool', 'ftp'),
      client: proxied,
    });
    this.#sessions.set(socket, session);
    void session.closed().then(() => {
      this.#sessions.delete(socket);
      tracked.end();
      logSession(ctx.log, {
        protocol: 'ftp', sessionId: tracked.id, client, ...(session.server !== '' ? { server: session.server } : {}),
        durationMs: Date.now() - tracked.startedAt, transfers: session.transfers, bytes: session.bytes, end: session.end,
        generation: tracked.snapshot.generation,
      });
    });
    session.start().catch((err: unknown) => {
      ctx.log.error({ err, sessionId: tracked.id }, 'ftp session failed to start');
      socket.destroy();
    });
  }

  address(): BoundAddress | undefined {
    return this.#address;
  }

  async stopAccepting(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.close();
  }

  async drain(deadline: number): Promise<DrainResult> {
    if (this.#tracker === undefined) return { finished: 0, aborted: 0 };
    return this.#tracker.drain(deadline, (_s, socket) => {
      if (socket !== undefined) this.#sessions.get(socket)?.goodbye();
    });
  }

  sessions(): number {
    return this.#tracker?.size ?? 0;
  }
}

/** What the gateway calls (src/gateway/runtime.ts loads it when present). */
export function createListener(config: FtpConfig): ProtocolListener {
  return new FtpListener(config);
}
