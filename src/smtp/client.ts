/**
 * A small SMTP client for the next hop (RFC 5321), one per client session,
 * with per-command control: the proxy sends each command when it decides to
 * and hands the next hop's own reply back to its client.
 *
 * - Connect, greeting, EHLO (HELO when EHLO is refused), optional STARTTLS
 *   (RFC 3207: off / opportunistic / required; the certificate is not
 *   verified, like Postfix's "encrypt" level) and EHLO again.
 * - `xclient()` hands the next hop the real client (XCLIENT) and says EHLO
 *   again, as the session starts over after it.
 * - `pipeline()` sends several commands in one write when the next hop
 *   offers PIPELINING (RFC 2920) and collects the replies in order.
 * - `data()` sends DATA, waits for 354, streams the message through the
 *   dot-stuffing state machine with backpressure, and returns the final
 *   reply. The message is written corked: a write on loopback costs about
 *   as much as scanning a few KB (the peer's receive path runs in it), so
 *   headers, body pieces and the final dot leave in one writev, with at most
 *   CORK_LIMIT bytes queued before a flush.
 * Every wait has a timeout; a closed, silent or confused next hop fails the
 * waiting call with PC_ERR_NEXT_HOP and the connection is dropped.
 *
 * Reads untrusted bytes: the next hop's replies (ReplyParser caps them).
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { PortcullisError } from '../errors.js';
import { DotStuffer } from './dotstuff.js';
import { ehloKeywords, ReplyParser, type Reply } from './reply.js';

export interface NextHopOptions {
  readonly host: string;
  readonly port: number;
  /** Name we give in EHLO. */
  readonly heloName: string;
  readonly connectTimeout: number;
  readonly replyTimeout: number;
  readonly tls: 'off' | 'opportunistic' | 'required';
}

interface Waiter {
  resolve(r: Reply): void;
  reject(e: Error): void;
}

function hopError(message: string, cause?: unknown): PortcullisError {
  return new PortcullisError('PC_ERR_NEXT_HOP', message, cause !== undefined ? { cause } : undefined);
}

/** Bytes of message queued on the corked socket before a flush is forced (see #put). */
const CORK_LIMIT = 256 * 1024;

const closedByPeer = (): Error => hopError('Cannot talk to the next hop: it closed the connection');
const closedByUs = (): Error => hopError('Cannot talk to the next hop: the session is closed');

export class NextHopClient {
  readonly #opts: NextHopOptions;
  #socket: Socket;
  #parser = new ReplyParser();
  #waiters: Waiter[] = [];
  /** Set by the first failure; its Error is built only when someone is told (see #error). */
  #failed: (() => Error) | undefined;
  #failure: Error | undefined;
  #keywords = new Map<string, string>();
  #tls = false;
  /** Whether the socket's reply timeout is set (see #arm). */
  #armed = false;

  private constructor(socket: Socket, opts: NextHopOptions) {
    this.#socket = socket;
    this.#opts = opts;
    this.#attach(socket);
  }

  /** Connects, reads the greeting and says EHLO; rejects with PC_ERR_NEXT_HOP (reply attached when the next hop refused). */
  static async connect(opts: NextHopOptions): Promise<NextHopClient> {
    const socket = netConnect({ host: opts.host, port: opts.port });
    socket.setNoDelay(true);
    const client = new NextHopClient(socket, opts);
    const timer = setTimeout(() => client.#fail(() => hopError(`Cannot connect to the next hop ${opts.host}:${opts.port}: no greeting within ${opts.connectTimeout} ms`)), opts.connectTimeout);
    try {
      const greeting = await client.#next();
      if (greeting.code !== 220) throw Object.assign(hopError(`Cannot use the next hop: it greeted with ${greeting.code}`), { reply: greeting });
      await client.#hello();
      if (opts.tls !== 'off' && client.#keywords.has('STARTTLS')) await client.#startTls();
      else if (opts.tls === 'required') throw hopError('Cannot use the next hop: it does not offer STARTTLS and nextHopTls is required');
      return client;
    } catch (err) {
      client.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  #attach(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      for (const ev of this.#parser.push(chunk)) {
        if (ev.kind === 'error') {
          const message = ev.message;
          this.#fail(() => hopError(`Cannot understand the next hop: ${message}`));
          return;
        }
        const w = this.#waiters.shift();
        if (w === undefined) {
          // A reply nobody asked for (e.g. a 421 before closing): nothing waits, the close will tell.
          continue;
        }
        w.resolve(ev.reply);
      }
      this.#arm();
    });
    socket.on('error', (err) => this.#fail(() => hopError(`Cannot talk to the next hop: ${err.message}`, err)));
    socket.on('close', () => this.#fail(closedByPeer));
    socket.on('timeout', () => this.#fail(() => hopError(`Cannot talk to the next hop: no reply within ${this.#opts.replyTimeout} ms`)));
  }

  /**
   * The socket timeout runs only while a reply is awaited. Changed only when
   * that flips: Node already restarts a running timeout on every read and
   * write, and re-arming it per reply cost a timer unenroll/enroll each.
   */
  #arm(): void {
    const want = this.#waiters.length > 0;
    if (want === this.#armed) return;
    this.#armed = want;
    this.#socket.setTimeout(want ? this.#opts.replyTimeout : 0);
  }

  /**
   * Fails every waiting call and drops the connection. Only the first
   * failure counts, and its Error is built only when a call is told about
   * it: an Error's stack costs, and every session ends here twice (close(),
   * then the socket's 'close') with nobody waiting.
   */
  #fail(err: () => Error): void {
    this.#failed ??= err;
    const w = this.#waiters;
    if (w.length > 0) {
      this.#waiters = [];
      const e = this.#error();
      for (const x of w) x.reject(e);
    }
    this.#socket.destroy();
  }

  #error(): Error {
    return (this.#failure ??= (this.#failed as () => Error)());
  }

  #next(): Promise<Reply> {
    if (this.#failed !== undefined) return Promise.reject(this.#error());
    const p = new Promise<Reply>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#arm();
    return p;
  }

  async #hello(name = this.#opts.heloName): Promise<void> {
    let r = await this.command(`EHLO ${name}`);
    if (r.code === 250) {
      this.#keywords = ehloKeywords(r);
      return;
    }
    r = await this.command(`HELO ${name}`);
    if (r.code !== 250) throw Object.assign(hopError(`Cannot use the next hop: it refused HELO with ${r.code}`), { reply: r });
    this.#keywords = new Map();
  }

  async #startTls(): Promise<void> {
    const r = await this.command('STARTTLS');
    if (r.code !== 220) {
      if (this.#opts.tls === 'required') throw Object.assign(hopError(`Cannot start TLS with the next hop: ${r.code}`), { reply: r });
      return;
    }
    const plain = this.#socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('timeout');
    plain.setTimeout(0);
    this.#armed = false;
    const secure = tlsConnect({ socket: plain, ...(isIP(this.#opts.host) === 0 ? { servername: this.#opts.host } : {}), rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(hopError('Cannot start TLS with the next hop: handshake timed out')), this.#opts.connectTimeout);
      secure.once('secureConnect', () => { clearTimeout(t); resolve(); });
      secure.once('error', (e) => { clearTimeout(t); reject(hopError(`Cannot start TLS with the next hop: ${e.message}`, e)); });
    });
    this.#socket = secure;
    this.#parser = new ReplyParser();
    this.#attach(secure);
    this.#tls = true;
    await this.#hello();
  }

  get tls(): boolean {
    return this.#tls;
  }

  /** EHLO keywords of the next hop, upper case ("SIZE" → "10240000"). */
  get keywords(): ReadonlyMap<string, string> {
    return this.#keywords;
  }

  offers(keyword: string): boolean {
    return this.#keywords.has(keyword.toUpperCase());
  }

  /** The next hop's SIZE limit; undefined when it announces none (or 0). */
  get sizeLimit(): number | undefined {
    const v = Number(this.#keywords.get('SIZE') ?? '');
    return Number.isSafeInteger(v) && v > 0 ? v : undefined;
  }

  get usable(): boolean {
    return this.#failed === undefined;
  }

  async #write(data: string | Buffer): Promise<void> {
    if (this.#failed !== undefined) throw this.#error();
    if (this.#socket.write(data)) return;
    await this.#drained();
  }

  #drained(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        if (this.#failed !== undefined) reject(this.#error());
        else resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
  }

  /** Sends one command line (without CRLF) and returns its reply. */
  async command(line: string): Promise<Reply> {
    const p = this.#next();
    await this.#write(`${line}\r\n`).catch((e: unknown) => { p.catch(() => undefined); throw e; });
    return p;
  }

  /** Sends the commands in one write when PIPELINING is offered (else one at a time) and returns the replies in order. */
  async pipeline(lines: readonly string[]): Promise<Reply[]> {
    if (!this.offers('PIPELINING')) {
      const out: Reply[] = [];
      for (const l of lines) out.push(await this.command(l));
      return out;
    }
    const ps = lines.map(() => this.#next());
    for (const p of ps) p.catch(() => undefined);
    await this.#write(lines.map((l) => `${l}\r\n`).join(''));
    return Promise.all(ps);
  }

  /**
   * Sends one XCLIENT line (Postfix XCLIENT_README). The next hop answers
   * with a new 220 greeting and forgets the session (older servers say 250),
   * so EHLO is said again, as the client (`helo`: Postfix takes the HELO
   * name from this EHLO, not from the XCLIENT HELO attribute), and the
   * keywords are read afresh. A refusal is returned as it is and the
   * session stays as it was.
   */
  async xclient(line: string, helo?: string): Promise<Reply> {
    const r = await this.command(line);
    const name = helo !== undefined && /^[\x21-\x7e]{1,255}$/.test(helo) ? helo : this.#opts.heloName;
    if (r.code === 220 || r.code === 250) await this.#hello(name);
    return r;
  }

  /**
   * DATA: returns the reply to DATA itself when it is not 354, else streams
   * the message (dot-stuffed) and returns the final reply.
   */
  async data(message: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Reply> {
    const go = await this.command('DATA');
    if (go.code !== 354) return go;
    const stuffer = new DotStuffer();
    const final = this.#next();
    final.catch(() => undefined);
    // Corked, the status headers, the body's pieces and the terminator leave in one writev
    // instead of a write syscall each; #put uncorks whenever the socket asks us to wait.
    const socket = this.#socket;
    socket.cork();
    try {
      if (Symbol.iterator in message) {
        for (const chunk of message) await this.#putAll(stuffer.push(chunk));
      } else {
        for await (const chunk of message) await this.#putAll(stuffer.push(chunk));
      }
      await this.#put(stuffer.end());
    } finally {
      socket.uncork();
    }
    return final;
  }

  async #putAll(pieces: readonly Buffer[]): Promise<void> {
    for (const p of pieces) await this.#put(p);
  }

  /**
   * A write inside a corked run. The pieces are views of buffers the caller
   * already holds, so up to CORK_LIMIT of them are queued (past the socket's
   * 16 KiB highWaterMark: a 100 KB message still leaves in one writev); past
   * that the queue is flushed and its drain awaited, which keeps memory
   * bounded for a message streamed from disk.
   */
  async #put(data: Buffer): Promise<void> {
    if (this.#failed !== undefined) throw this.#error();
    const socket = this.#socket;
    socket.write(data);
    if (socket.writableLength < CORK_LIMIT) return;
    socket.uncork();
    try {
      if (socket.writableNeedDrain) await this.#drained();
    } finally {
      socket.cork();
    }
  }

  /** Says QUIT (without waiting long for the answer) and closes. */
  async quit(): Promise<void> {
    if (this.#failed !== undefined) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = this.command('QUIT');
      await Promise.race([r, new Promise((resolve) => { timer = setTimeout(resolve, 1000).unref(); })]);
    } catch {
      // The next hop may close before it answers QUIT; that is fine.
    } finally {
      // Cleared, not left to run out: at hundreds of sessions a second they would pile up.
      clearTimeout(timer);
      this.close();
    }
  }

  close(): void {
    this.#fail(closedByUs);
  }
}
