/**
 * The proxy's control connection to the FTP server: connect, send a command,
 * read whole replies (multi-line kept intact) in order. A reply that arrives
 * with nobody waiting (a 421 before closing) is kept for the next reader.
 * Every wait has a timeout; a broken reply or a lost connection fails every
 * waiter and the connection is unusable after.
 *
 * Reads untrusted bytes: the server's replies, through ReplyReader's limits.
 */
import { connect, type Socket } from 'node:net';
import { ReplyReader, type ServerReply } from './codec.js';

export class UpstreamError extends Error {}

export class Upstream {
  readonly socket: Socket;
  readonly #reader = new ReplyReader();
  readonly #queue: ServerReply[] = [];
  #waiters: { resolve: (r: ServerReply) => void; reject: (e: Error) => void }[] = [];
  #failure: Error | undefined;
  readonly #timeoutMs: number;

  private constructor(socket: Socket, timeoutMs: number) {
    this.socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.on('data', (chunk: Buffer) => {
      let replies: ServerReply[];
      try {
        replies = this.#reader.feed(chunk);
      } catch (err) {
        this.#fail(err instanceof Error ? err : new UpstreamError(String(err)));
        socket.destroy();
        return;
      }
      for (const r of replies) {
        const w = this.#waiters.shift();
        if (w !== undefined) w.resolve(r);
        else this.#queue.push(r);
      }
    });
    socket.on('error', (err) => this.#fail(new UpstreamError(`Cannot talk to the server: ${err.message}`)));
    socket.on('close', () => this.#fail(new UpstreamError('Cannot talk to the server: connection closed')));
  }

  static open(host: string, port: number, timeoutMs: number): Promise<Upstream> {
    return new Promise((resolve, reject) => {
      const s = connect({ host, port });
      const timer = setTimeout(() => { s.destroy(); reject(new UpstreamError(`no answer from ${host}:${port} in time`)); }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        s.setNoDelay(true);
        resolve(new Upstream(s, timeoutMs));
      });
      s.once('error', (err) => { clearTimeout(timer); reject(new UpstreamError(`${host}:${port}: ${err.message}`)); });
    });
  }

  get alive(): boolean {
    return this.#failure === undefined;
  }

  /** The server's address as seen on the control connection. */
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  get localAddress(): string {
    return this.socket.localAddress ?? '';
  }

  #fail(err: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = err;
    const w = this.#waiters;
    this.#waiters = [];
    for (const x of w) x.reject(err);
  }

  /** Sends one command line (latin1, as the client sent it). */
  send(line: string): void {
    if (this.#failure === undefined) this.socket.write(`${line}\r\n`, 'latin1');
  }

  /** The next reply; `timeoutMs` 0 waits without limit (a transfer's final reply). */
  read(timeoutMs = this.#timeoutMs): Promise<ServerReply> {
    const q = this.#queue.shift();
    if (q !== undefined) return Promise.resolve(q);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = timeoutMs > 0 ? setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new UpstreamError('Cannot talk to the server: no reply in time'));
      }, timeoutMs) : undefined;
      const waiter = {
        resolve: (r: ServerReply) => { clearTimeout(timer); resolve(r); },
        reject: (e: Error) => { clearTimeout(timer); reject(e); },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Sends a command and reads its reply, skipping nothing. */
  async command(line: string, timeoutMs?: number): Promise<ServerReply> {
    this.send(line);
    return this.read(timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}
