/**
 * The SMTP listener: smtp-server on the client side (RFC 5321 with
 * PIPELINING RFC 2920, SIZE RFC 1870, 8BITMIME, SMTPUTF8, DSN,
 * ENHANCEDSTATUSCODES, STARTTLS RFC 3207 when a certificate is configured,
 * XCLIENT/XFORWARD from trusted clients, PROXY protocol v1/v2) and one
 * ProxySession per client.
 *
 * Who the client is: the socket's peer; or, with smtp.proxyProtocol, the
 * address in the PROXY header (read here by ProxyHeaderReader in place of
 * smtp-server's reader, which knows v1 only and closes without a word in the
 * log); or, from a peer in smtp.trustedProxyClients (addresses or CIDR
 * blocks, checked against the current config), what its XFORWARD/XCLIENT
 * said. Others are not offered XFORWARD/XCLIENT and get Postfix's
 * "550 5.7.0 Error: insufficient authorization". smtp-server puts the
 * result into each session's remoteAddress/clientHostname, which the
 * session uses for events, policy direction and the next hop's XFORWARD.
 *
 * smtp-server writes its own reply texts; a before-queue proxy must give the
 * next hop's. So each connection's `send` is wrapped once (`#hook`): a reply
 * the session has put in its pending slot replaces smtp-server's reply of
 * the same class, the EHLO keyword list is cut down to what the next hop
 * can take (SIZE is the smaller of the two limits), and error replies are
 * counted against smtp.maxErrors.
 *
 * No greet pause: smtp-server's 100 ms wait for early talkers is skipped,
 * since the MTA in front (Postfix postscreen, …) does that job and the pause
 * would be added to every message.
 *
 * Reads untrusted bytes: everything the client sends, through smtp-server.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { splitHostPort } from '../config/fields.js';
import type { SmtpConfig } from '../config/table.js';
import { PortcullisError } from '../errors.js';
import { SessionTracker, type BoundAddress, type DrainResult, type ListenerContext, type ProtocolListener } from '../gateway/listeners.js';
import { logSession } from '../log.js';
import { renderReply, type Outcome } from '../policy/replies.js';
import { CidrSet } from '../policy/cidr.js';
import { Semaphore } from '../scanners/report.js';
import { ProxyHeaderWaits, type ProxyHeaderOutcome } from '../gateway/proxy-header.js';
import { replyText, type Reply } from './reply.js';
import { smtpReply } from './replies.js';
import { redeliver } from './release.js';
import { ProxySession, splitNextHop, type ClientFacts, type ParsedAddress } from './session.js';
import { hostname as osHostname } from 'node:os';

/** The part of smtp-server's connection object the hook touches. */
interface Connection {
  readonly id: string;
  send(code: number, data?: string | string[], context?: string | false): void;
  close(): void;
  readonly _socket?: Socket;
}

type Send = Connection['send'];

/** smtp-server's connection internals the trust check replaces (see #hook). */
interface ProxyCommandGate {
  _proxyCommandAllowed(command: string, option: string): boolean;
  readonly _xClient: ReadonlyMap<string, unknown>;
  readonly _originalRemoteAddress: string;
  _isSupported(command: string): boolean;
}

/** What smtp-server's connect() takes from the PROXY header. */
interface SocketOptions {
  readonly id: string;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

/** A connection id in smtp-server's own form. */
function connectionId(): string {
  return BigInt(`0x${randomBytes(10).toString('hex')}`).toString(32).padStart(16, '0');
}

/** Parsed CIDR lists, once per config object. */
const cidrCache = new WeakMap<readonly string[], CidrSet>();
function cidrs(list: readonly string[]): CidrSet {
  let set = cidrCache.get(list);
  if (set === undefined) {
    set = CidrSet.parse(list);
    cidrCache.set(list, set);
  }
  return set;
}

const PROXIED_FEATURES = ['8BITMIME', 'SMTPUTF8', 'DSN'];

function errorReply(outcome: Outcome): Error {
  const r = renderReply(outcome).smtp;
  return Object.assign(new Error(`${r.enhanced} ${r.text}`), { responseCode: r.code });
}

export class SmtpListener implements ProtocolListener {
  readonly protocol = 'smtp' as const;
  readonly #config: SmtpConfig;
  #server: SMTPServer | undefined;
  #tracker: SessionTracker | undefined;
  #address: BoundAddress | undefined;
  readonly #sessions = new Map<string, ProxySession>();
  readonly #connections = new Map<string, Connection>();
  /** Connections whose PROXY header has not come yet; at most smtp.maxSessions. */
  readonly #headerWaits = new ProxyHeaderWaits();

  constructor(config: SmtpConfig) {
    this.#config = config;
  }

  async start(ctx: ListenerContext): Promise<void> {
    const cfg = this.#config;
    const hp = splitHostPort(cfg.listen);
    if (hp === undefined) throw new PortcullisError('PC_ERR_CONFIG', `Cannot listen on smtp.listen ${JSON.stringify(cfg.listen)}: expected "host:port"`);
    let tls: { key: Buffer; cert: Buffer } | undefined;
    if (cfg.tlsCert !== undefined) {
      if (cfg.tlsKey === undefined) throw new PortcullisError('PC_ERR_CONFIG', 'Cannot offer STARTTLS: smtp.tlsCert is set but smtp.tlsKey is not');
      try {
        tls = { cert: await readFile(cfg.tlsCert), key: await readFile(cfg.tlsKey) };
      } catch (err) {
        throw new PortcullisError('PC_ERR_CONFIG', `Cannot offer STARTTLS: ${(err as Error).message}`, { cause: err });
      }
    }
    const hostname = cfg.hostname ?? osHostname();
    const tracker = new SessionTracker('smtp', ctx);
    this.#tracker = tracker;
    const scanGate = new Semaphore(cfg.maxConcurrentScans);
    const spoolDir = join(ctx.snapshots.current().config.data, 'spool');
    const trusted = cfg.trustedProxyClients.length > 0 ? [...cfg.trustedProxyClients] : false;

    const options: SMTPServerOptions = {
      name: hostname,
      banner: 'portcullis ESMTP',
      size: cfg.maxMessageSize,
      authOptional: true,
      disabledCommands: tls === undefined ? ['AUTH', 'STARTTLS'] : ['AUTH'],
      ...(tls !== undefined ? { key: tls.key, cert: tls.cert } : { hideSTARTTLS: true }),
      hideREQUIRETLS: true,
      hideENHANCEDSTATUSCODES: false,
      hideDSN: false,
      // Exact addresses here only as a fallback: #hook replaces the check with the CIDR one of the current config.
      useXClient: trusted as unknown as boolean,
      useXForward: trusted as unknown as boolean,
      // True only so that smtp-server guards the socket until connect(); the header itself is read by #readProxyHeader.
      useProxy: cfg.proxyProtocol,
      socketTimeout: cfg.idleTimeout,
      closeTimeout: 1000,
      maxRecipients: cfg.maxRecipients,
      disableReverseLookup: true,
      logger: false,
      onConnect: (session, cb) => {
        void this.#onConnect(ctx, tracker, { hostname, scanGate, spoolDir }, session as unknown as ClientFacts, cb);
      },
      onMailFrom: (address, session, cb) => {
        const s = this.#sessions.get(session.id);
        if (s === undefined) return cb(errorReply('unavailable'));
        void s.onMailFrom(address as unknown as ParsedAddress, session as unknown as ClientFacts, cb);
      },
      onRcptTo: (address, session, cb) => {
        const s = this.#sessions.get(session.id);
        if (s === undefined) return cb(errorReply('unavailable'));
        void s.onRcptTo(address as unknown as ParsedAddress, cb);
      },
      onData: (stream, session, cb) => {
        const s = this.#sessions.get(session.id);
        if (s === undefined) {
          stream.resume();
          return cb(errorReply('unavailable'));
        }
        void s.onData(stream, session as unknown as ClientFacts, cb);
      },
      onClose: (session) => {
        void this.#onClose(ctx, session as unknown as ClientFacts);
      },
    };
    const server = new SMTPServer(options);
    if (cfg.proxyProtocol) {
      (server as unknown as { _handleProxy(socket: Socket, cb: (err: Error | null, o?: SocketOptions) => void): void })._handleProxy = (socket, cb) => {
        this.#readProxyHeader(ctx, socket, cb);
      };
    }
    // Each connection's send is wrapped before it greets (see the header comment).
    const hookedServer = server as unknown as { connections: Set<Connection>; _onError(e: Error): void; _onClientConnect(d: unknown): void };
    (server as unknown as { connect: (socket: Socket, o: unknown) => void }).connect = (socket, socketOptions) => {
      const connection = new SMTPConnection(server as never, socket as never, socketOptions as never) as unknown as Connection & {
        on(e: string, f: (x: never) => void): void; _setListeners(ready: () => void): void; connectionReady(): void;
      };
      hookedServer.connections.add(connection);
      connection.on('error', (err: Error) => hookedServer._onError(err));
      connection.on('connect', (data: unknown) => hookedServer._onClientConnect(data));
      this.#hook(connection, ctx);
      // init() would wait 100 ms to catch early talkers (a greet pause); a before-queue proxy sits
      // behind the MTA that does that, and the pause would be added to every message.
      connection._setListeners(() => connection.connectionReady());
    };
    server.on('error', (err) => ctx.log.warn({ err: err.message }, 'smtp connection error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new PortcullisError('PC_ERR_CONFIG', `Cannot listen on smtp.listen ${cfg.listen}: ${err.message}`, { cause: err }));
      server.server.once('error', onError);
      server.listen(hp.port, hp.host, () => {
        server.server.off('error', onError);
        resolve();
      });
    });
    ctx.quarantine.setReleaseMail(redeliver(cfg, hostname));
    const a = server.server.address();
    this.#address = typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host: hp.host, port: hp.port };
    this.#server = server;
  }

  /** The current config's SMTP section (the listener's own when a reload switched SMTP off). */
  #current(ctx: ListenerContext): SmtpConfig {
    const s = ctx.snapshots.current().config.smtp;
    return s === false ? this.#config : s;
  }

  /**
   * Reads the PROXY header (v1 or v2) before smtp-server sees the
   * connection. A peer outside proxyProtocolFrom, a malformed header or none
   * within proxyProtocolTimeout closes the connection with a log line; no
   * SMTP session is started.
   */
  #readProxyHeader(ctx: ListenerContext, socket: Socket, cb: (err: Error | null, o?: SocketOptions) => void): void {
    const id = connectionId();
    const cfg = this.#current(ctx);
    const peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const from = cidrs(cfg.proxyProtocolFrom);
    const header: Promise<ProxyHeaderOutcome> = from.blocks.length > 0 && !from.contains(socket.remoteAddress)
      ? Promise.resolve({ ok: false, reason: 'the peer is not in smtp.proxyProtocolFrom' })
      : this.#headerWaits.read(socket, cfg.proxyProtocolTimeout, cfg.maxSessions);
    void header.then((h) => {
      if (!h.ok) {
        ctx.log.warn({ protocol: 'smtp', peer, reason: h.reason }, 'connection closed: no valid PROXY header');
        socket.on('error', () => undefined);
        socket.destroy();
        // smtp-server only drops the socket on an error here; the log line above is what is left of it.
        cb(new Error(`Cannot start an SMTP session: ${h.reason}`));
        return;
      }
      ctx.log.debug({ protocol: 'smtp', peer, client: h.client, version: h.version }, 'PROXY header');
      cb(null, { id, ...(h.client !== undefined ? { remoteAddress: h.client.address, remotePort: h.client.port } : {}) });
    });
  }

  #hook(connection: Connection, ctx: ListenerContext): void {
    this.#connections.set(connection.id, connection);
    // XCLIENT/XFORWARD trust: CIDR blocks of the current config (smtp-server itself matches exact addresses only).
    const gate = connection as unknown as ProxyCommandGate;
    gate._proxyCommandAllowed = (command) =>
      !gate._xClient.has('ADDR') && cidrs(this.#current(ctx).trustedProxyClients).contains(gate._originalRemoteAddress) && gate._isSupported(command);
    const original: Send = connection.send.bind(connection);
    const write = (r: Reply): void => original(r.code, replyText(r), false);
    connection.send = (code, data, context) => {
      const s = this.#sessions.get(connection.id);
      if (s === undefined) return original(code, data, context);
      const pending = s.takePending(code);
      if (pending !== undefined) write(pending);
      else if (context === 'NOT_AUTHORIZED') write(smtpReply('notAuthorized'));
      else if (code === 250 && Array.isArray(data) && context === false) original(code, this.#ehloFeatures(s, data), context);
      else original(code, data, context);
      const sent = pending?.code ?? code;
      if (sent === 221 || sent === 421) s.end = sent === 221 ? 'quit' : s.end;
      if (sent >= 400 && sent !== 421 && ++s.errors >= s.cfg.maxErrors) {
        write(smtpReply('tooManyErrors'));
        s.end = 'too-many-errors';
        setImmediate(() => connection.close());
      }
      if (context === 'RSET' || context === 'EHLO' || context === 'HELO') s.resetTransaction();
    };
  }

  /** The EHLO keywords we can keep: only what the next hop takes too; SIZE the smaller limit. */
  #ehloFeatures(s: ProxySession, lines: string[]): string[] {
    const hop = s.hop;
    if (hop === undefined) return lines;
    return lines.flatMap((line, i) => {
      if (i === 0) return [line];
      const kw = line.split(' ')[0]?.toUpperCase() ?? '';
      if (PROXIED_FEATURES.includes(kw) && !hop.offers(kw)) return [];
      if (kw === 'SIZE') return [`SIZE ${s.sizeLimit()}`];
      return [line];
    });
  }

  async #onConnect(
    ctx: ListenerContext, tracker: SessionTracker, extra: { hostname: string; scanGate: Semaphore; spoolDir: string },
    client: ClientFacts, cb: (err?: Error | null) => void,
  ): Promise<void> {
    const current = ctx.snapshots.current().config.smtp;
    const limits = current === false ? this.#config : current;
    const connection = this.#connections.get(client.id);
    const admission = tracker.admit(client.remoteAddress, connection?._socket, limits);
    if (!admission.ok) {
      this.#connections.delete(client.id);
      return cb(errorReply(admission.reason));
    }
    const session = new ProxySession({ ctx, tracked: admission.session, config: this.#config, ...extra });
    this.#sessions.set(client.id, session);
    const failed = await session.connectHop();
    if (failed !== undefined) {
      session.end = 'next-hop-unavailable';
      // The session stays registered until close so the 421 goes out with its own text.
      // A greeting can only refuse with 421 (RFC 5321 §3.1), whatever the reply's own code.
      return cb(Object.assign(new Error(replyText(failed)[0] ?? ''), { responseCode: 421 }));
    }
    cb();
  }

  async #onClose(ctx: ListenerContext, client: ClientFacts): Promise<void> {
    this.#connections.delete(client.id);
    const s = this.#sessions.get(client.id);
    if (s === undefined) return;
    this.#sessions.delete(client.id);
    await s.close().catch(() => undefined);
    logSession(ctx.log, {
      protocol: 'smtp', sessionId: s.id, client: `${client.remoteAddress}:${client.remotePort}`, server: this.#config.nextHop,
      durationMs: Date.now() - s.startedAt, transfers: s.transfers, bytes: s.bytes, end: s.end, generation: s.generation,
    });
    s.finish();
  }

  address(): BoundAddress | undefined {
    return this.#address;
  }

  async stopAccepting(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    // Only the listening socket: open sessions go on until drain.
    server.server.close();
  }

  async drain(deadline: number): Promise<DrainResult> {
    if (this.#tracker === undefined) return { finished: 0, aborted: 0 };
    const byId = new Map([...this.#sessions.entries()].map(([cid, s]) => [s.id, cid]));
    const result = await this.#tracker.drain(deadline, (tracked) => {
      const cid = byId.get(tracked.id);
      const c = cid !== undefined ? this.#connections.get(cid) : undefined;
      const s = cid !== undefined ? this.#sessions.get(cid) : undefined;
      if (s !== undefined) s.end = 'drained';
      c?.send(421, `${renderReply('shuttingDown').smtp.enhanced} ${renderReply('shuttingDown').smtp.text}`, false);
    });
    return result;
  }

  sessions(): number {
    return this.#tracker?.size ?? 0;
  }
}

export function createListener(config: SmtpConfig): ProtocolListener {
  return new SmtpListener(config);
}
