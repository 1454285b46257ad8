/**
 * Data-connection endpoints, one per transfer and side (RFC 959 §3.2,
 * RFC 2428): passive (we listen, the peer connects) and active (we
 * connect to the peer). Both hand out a plain TCP socket from `open()`;
 * the session opens every data socket through one method per side, which is
 * where a later FTPS layer wraps it in TLS.
 *
 * Hijack protection: a passive endpoint accepts only connections from the
 * expected peer address (the control connection's peer); any other is
 * closed at once and the endpoint keeps listening, so the real peer can still
 * connect. One connection is taken; the listener then closes, and `close()`
 * frees everything (no listener outlives its transfer).
 *
 * ChunkReader hands a data socket's bytes to one consumer at a time; a
 * socket we connect for a download, and a client's socket an upload comes
 * on (readIntoReusedBuffer), read into one reused buffer (no allocation and
 * no garbage per read).
 *
 * Passes payload bytes along; never interprets them.
 */
import { createServer, connect, Socket, type Server, type OnReadOpts } from 'node:net';
import { sameHost } from './addresses.js';

/** Size of the one buffer a download's server socket reads into (ActiveOptions.reuseReadBuffer). */
export const READ_BUFFER = 1024 * 1024;

/**
 * Takes a socket's incoming bytes one read at a time. When `reused`, the
 * chunk is a view of a buffer the socket reuses: it is valid during the
 * call, and, when the handler returns false (stop reading), until
 * ChunkReader.resume(); otherwise the handler may keep it.
 */
export type ChunkHandler = (chunk: Buffer, reused: boolean) => boolean;

const readers = new WeakMap<Socket, ChunkReader>();

/**
 * One consumer at a time for a data socket's bytes, the same for the two
 * kinds of socket: one that reads into a reused buffer (no allocation per
 * read, so no garbage to collect per 64 KiB; Node offers it for sockets we
 * connect) and an ordinary stream socket. Bytes that come while nobody
 * listens are kept (copied) and reading stops until a handler resumes it.
 * 'end', 'error' and 'close' stay the socket's own events.
 */
export class ChunkReader {
  readonly #socket: Socket;
  #handler: ChunkHandler | undefined;
  readonly #pending: Buffer[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    readers.set(socket, this);
  }

  /** The reader of `socket`; the first call for a stream socket starts listening for its data. */
  static of(socket: Socket): ChunkReader {
    const known = readers.get(socket);
    if (known !== undefined) return known;
    const r = new ChunkReader(socket);
    socket.on('data', (chunk: Buffer) => { if (!r.deliver(chunk, false)) socket.pause(); });
    return r;
  }

  /** A reader for a socket about to be made with `onread`; its callback is `deliver(chunk, true)`. */
  static forReusedBuffer(socket: Socket): ChunkReader {
    return new ChunkReader(socket);
  }

  /** Returns false to stop the socket reading. */
  deliver(chunk: Buffer, reused: boolean): boolean {
    if (this.#handler === undefined || this.#pending.length > 0) {
      this.#pending.push(reused ? Buffer.from(chunk) : chunk);
      return false;
    }
    return this.#handler(chunk, reused);
  }

  /** Hands every later chunk to `handler` (none: keep them); call resume() to start. */
  set(handler: ChunkHandler | undefined): void {
    this.#handler = handler;
  }

  /** Reading goes on: kept chunks first, then the socket. */
  resume(): void {
    const h = this.#handler;
    if (h === undefined) return;
    while (this.#pending.length > 0) {
      const c = this.#pending.shift() as Buffer;
      if (!h(c, false)) return;
    }
    this.#socket.resume();
  }
}

/** What a socket's constructor takes beyond its typed options: the handle of a connection made elsewhere (as node:net's own server passes it). */
interface AdoptOptions {
  readonly handle: unknown;
  readonly onread: OnReadOpts;
  readonly pauseOnCreate: boolean;
}

/**
 * The same connection as `socket`, from now on read into one reused buffer
 * of READ_BUFFER bytes (through ChunkReader only) instead of a new 64 KiB
 * buffer per read: for an upload of 200 MB that garbage was most of the
 * proxy's CPU (a receiver's CPU 230-275 -> 57-112 ms per 400 MB on this
 * box). Node offers `onread` only to sockets it connects itself, so the
 * connection of an accepted socket is handed to a new Socket made with it,
 * the way node:net's server makes its sockets; the old object is left
 * without it and destroyed. Only a plain TCP socket that has read nothing
 * yet is taken over (a passive endpoint's accepted socket is still paused;
 * a client sends nothing before our 150); any other is returned as it is.
 */
export function readIntoReusedBuffer(socket: Socket): Socket {
  const old = socket as unknown as { _handle?: unknown };
  const handle = old._handle;
  if (Object.getPrototypeOf(socket) !== Socket.prototype || handle === undefined || handle === null
    || socket.bytesRead > 0 || socket.readableLength > 0 || readers.has(socket) || socket.destroyed) return socket;
  let reader: ChunkReader | undefined;
  const buffer = Buffer.allocUnsafeSlow(READ_BUFFER);
  const options: AdoptOptions = {
    handle,
    pauseOnCreate: true,
    onread: { buffer, callback: (n, b) => reader?.deliver((b as Buffer).subarray(0, n), true) ?? false },
  };
  const adopted = new Socket(options as unknown as ConstructorParameters<typeof Socket>[0]);
  reader = ChunkReader.forReusedBuffer(adopted);
  adopted.on('error', () => adopted.destroy());
  old._handle = null;
  socket.destroy();
  return adopted;
}

export type DataErrorReason = 'timeout' | 'closed' | 'refused' | 'bind' | 'lost';

export class DataError extends Error {
  readonly reason: DataErrorReason;
  constructor(reason: DataErrorReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface DataEndpoint {
  /** The connected socket; rejects with DataError on timeout, close or refusal. */
  open(): Promise<Socket>;
  /** Frees the listener and any socket not handed out yet (idempotent). */
  close(): void;
}

export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

export function parsePortRange(text: string | undefined): PortRange | undefined {
  const m = text === undefined ? null : /^(\d+)-(\d+)$/.exec(text);
  return m === null ? undefined : { lo: Number(m[1]), hi: Number(m[2]) };
}

export interface PassiveOptions {
  /** Local address to bind. */
  readonly host: string;
  readonly ports?: PortRange | undefined;
  /** The only address allowed to connect. */
  readonly peer: string;
  readonly timeoutMs: number;
  /** Told about each connection refused for coming from elsewhere. */
  readonly onForeign?: (address: string) => void;
}

function listenOn(server: Server, host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    };
    const onListening = (): void => { server.off('error', onError); resolve(true); };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true, backlog: 4 });
  });
}

export class PassiveEndpoint implements DataEndpoint {
  readonly #server: Server;
  readonly #options: PassiveOptions;
  #socket: Socket | undefined;
  #taken = false;
  #closed = false;
  #waiter: { resolve: (s: Socket) => void; reject: (e: Error) => void } | undefined;

  private constructor(server: Server, options: PassiveOptions) {
    this.#server = server;
    this.#options = options;
    server.on('connection', (s) => this.#accept(s));
    server.on('error', () => this.close());
  }

  /** Binds a listener on a free port (from the range when given, starting at a random point). */
  static async listen(options: PassiveOptions): Promise<PassiveEndpoint> {
    const server = createServer({ pauseOnConnect: true });
    const range = options.ports;
    if (range === undefined) {
      await listenOn(server, options.host, 0);
      return new PassiveEndpoint(server, options);
    }
    const span = range.hi - range.lo + 1;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      if (await listenOn(server, options.host, range.lo + ((start + i) % span))) return new PassiveEndpoint(server, options);
    }
    throw new DataError('bind', `Cannot open a passive data port: every port in ${range.lo}-${range.hi} is in use`);
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  #accept(s: Socket): void {
    if (this.#closed || this.#socket !== undefined || this.#taken || !sameHost(s.remoteAddress, this.#options.peer)) {
      if (!sameHost(s.remoteAddress, this.#options.peer)) this.#options.onForeign?.(s.remoteAddress ?? '?');
      s.destroy();
      return;
    }
    s.on('error', () => s.destroy());
    this.#server.close();
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      this.#taken = true;
      w.resolve(s);
    } else {
      this.#socket = s;
    }
  }

  open(): Promise<Socket> {
    if (this.#closed) return Promise.reject(new DataError('closed', 'Cannot open the data connection: it was closed'));
    const s = this.#socket;
    if (s !== undefined) {
      this.#socket = undefined;
      this.#taken = true;
      return Promise.resolve(s);
    }
    if (this.#taken) return Promise.reject(new DataError('closed', 'Cannot open the data connection: already used'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        this.close();
        reject(new DataError('timeout', 'Cannot open the data connection: no connection in time'));
      }, this.#options.timeoutMs);
      this.#waiter = {
        resolve: (sock) => { clearTimeout(timer); resolve(sock); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    this.#socket?.destroy();
    this.#socket = undefined;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(new DataError('closed', 'Cannot open the data connection: it was closed'));
  }
}

export interface ActiveOptions {
  readonly host: string;
  readonly port: number;
  /** Local address to connect from (the control connection's), so the peer sees the expected source. */
  readonly localAddress?: string | undefined;
  readonly timeoutMs: number;
  /** Read into one reused buffer of READ_BUFFER bytes; the socket's bytes then come only through ChunkReader. */
  readonly reuseReadBuffer?: boolean | undefined;
}

export class ActiveEndpoint implements DataEndpoint {
  readonly #options: ActiveOptions;
  #socket: Socket | undefined;
  #closed = false;

  constructor(options: ActiveOptions) {
    this.#options = options;
  }

  open(): Promise<Socket> {
    if (this.#closed || this.#socket !== undefined) return Promise.reject(new DataError('closed', 'Cannot open the data connection: it was closed'));
    const o = this.#options;
    return new Promise((resolve, reject) => {
      let reader: ChunkReader | undefined;
      const onread = (): { buffer: Buffer; callback: (n: number, b: Buffer) => boolean } => ({
        buffer: Buffer.allocUnsafeSlow(READ_BUFFER),
        callback: (n, b) => reader?.deliver(b.subarray(0, n), true) ?? false,
      });
      const s = connect({
        host: o.host, port: o.port,
        ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
        ...(o.reuseReadBuffer === true ? { onread: onread() } : {}),
      });
      if (o.reuseReadBuffer === true) reader = ChunkReader.forReusedBuffer(s);
      this.#socket = s;
      const timer = setTimeout(() => { s.destroy(); reject(new DataError('timeout', `Cannot connect to ${o.host}:${o.port}: no answer in time`)); }, o.timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        s.on('error', () => s.destroy());
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        s.destroy();
        reject(new DataError('refused', `Cannot connect to ${o.host}:${o.port}: ${err.message}`));
      });
      // Destroyed by close() while connecting: no error event comes, so say so here.
      s.once('close', () => { clearTimeout(timer); reject(new DataError('closed', 'Cannot open the data connection: it was closed')); });
    });
  }

  close(): void {
    this.#closed = true;
    this.#socket?.destroy();
  }
}
