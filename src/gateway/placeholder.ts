/**
 * Placeholder listeners for SMTP and FTP, until the proxies of issues 4
 * (SMTP) and 5 (FTP) replace them. They bind the configured port so the
 * gateway's shape, session accounting, reload and drain work end to end, and
 * they speak just enough protocol to be correct: the greeting is
 * `421 4.3.2 Service not yet available` (SMTP, RFC 5321 §4.2.3) or
 * `421 Service not available` (FTP, RFC 959 §4.2); the client's QUIT gets
 * 221 and any other command gets the 421 again, and then the connection
 * closes. A client that says nothing is closed after the protocol's
 * idleTimeout. Replies come from the policy reply table.
 *
 * Reads untrusted bytes: command lines, at most 2 KiB buffered per session.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { splitHostPort } from '../config/fields.js';
import type { FtpConfig, SmtpConfig } from '../config/table.js';
import { PortcullisError } from '../errors.js';
import { logSession } from '../log.js';
import { ftpLine, renderReply, smtpLine, type Outcome } from '../policy/replies.js';
import { SessionTracker, type BoundAddress, type DrainResult, type ListenerContext, type ProtocolListener } from './listeners.js';

const MAX_LINE = 2048;

export class PlaceholderListener implements ProtocolListener {
  readonly protocol: 'smtp' | 'ftp';
  readonly #listen: string;
  #server: Server | undefined;
  #tracker: SessionTracker | undefined;
  #address: BoundAddress | undefined;
  /** How each open session ended, settable by drain. */
  readonly #endings = new WeakMap<Socket, (why: string) => void>();

  constructor(protocol: 'smtp' | 'ftp', listen: string) {
    this.protocol = protocol;
    this.#listen = listen;
  }

  #line(outcome: Outcome): string {
    const r = renderReply(outcome);
    return `${this.protocol === 'smtp' ? smtpLine(r.smtp) : ftpLine(r.ftp)}\r\n`;
  }

  async start(ctx: ListenerContext): Promise<void> {
    const hp = splitHostPort(this.#listen);
    if (hp === undefined) throw new PortcullisError('PC_ERR_CONFIG', `Cannot listen on ${this.protocol}.listen ${JSON.stringify(this.#listen)}: expected "host:port"`);
    const tracker = new SessionTracker(this.protocol, ctx);
    this.#tracker = tracker;
    const server = createServer({ pauseOnConnect: false }, (socket) => this.#session(ctx, tracker, socket));
    server.on('error', (err) => ctx.log.error({ err, protocol: this.protocol }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new PortcullisError('PC_ERR_CONFIG', `Cannot listen on ${this.protocol}.listen ${this.#listen}: ${err.message}`, { cause: err }));
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

  #session(ctx: ListenerContext, tracker: SessionTracker, socket: Socket): void {
    const client = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    const cfg = ctx.snapshots.current().config[this.protocol] as SmtpConfig | FtpConfig | false;
    const limits = cfg === false ? undefined : cfg;
    socket.on('error', () => socket.destroy());
    const admission = tracker.admit(socket.remoteAddress ?? '?', socket, limits);
    if (!admission.ok) {
      socket.end(this.#line(admission.reason));
      return;
    }
    const session = admission.session;
    let end = 'client-closed';
    let buffered = '';
    this.#endings.set(socket, (why) => { end = why; });
    socket.setTimeout(limits?.idleTimeout ?? 60_000, () => {
      end = 'idle-timeout';
      socket.end(this.#line('idleTimeout'));
    });
    socket.write(this.#line('unavailable'));
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const nl = buffered.indexOf('\n');
      if (nl < 0) {
        if (buffered.length > MAX_LINE) { end = 'error'; socket.destroy(); }
        return;
      }
      const verb = buffered.slice(0, nl).trim().split(/\s+/)[0]?.toUpperCase() ?? '';
      end = verb === 'QUIT' ? 'quit' : 'refused';
      socket.end(this.#line(verb === 'QUIT' ? 'closing' : 'unavailable'));
      socket.pause();
    });
    socket.on('close', () => {
      session.end();
      logSession(ctx.log, {
        protocol: this.protocol, sessionId: session.id, client, durationMs: Date.now() - session.startedAt,
        transfers: 0, bytes: 0, end, generation: session.snapshot.generation,
      });
    });
  }

  address(): BoundAddress | undefined {
    return this.#address;
  }

  async stopAccepting(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    // close() stops accepting at once; its callback waits for open sockets, which drain() handles.
    server.close();
  }

  async drain(deadline: number): Promise<DrainResult> {
    if (this.#tracker === undefined) return { finished: 0, aborted: 0 };
    return this.#tracker.drain(deadline, (_s, socket) => {
      if (socket === undefined) return;
      this.#endings.get(socket)?.('drained');
      socket.write(this.#line('shuttingDown'));
    });
  }

  sessions(): number {
    return this.#tracker?.size ?? 0;
  }
}
