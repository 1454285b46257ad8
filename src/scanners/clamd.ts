/**
 * The `clamd` scanner: sends each object to a ClamAV daemon with the
 * INSTREAM command (clamd's docs, "INSTREAM": `zINSTREAM\0`, then chunks
 * each prefixed by a 4-byte big-endian length, then a zero length) over TCP
 * (`host:port`, `[v6]:port`) or a unix socket (any address with a `/`).
 *
 * Replies understood: `stream: NAME FOUND` (one per line or NUL when clamd
 * reports several), `stream: OK`, `INSTREAM size limit exceeded. ERROR` and
 * any other `… ERROR`.
 *
 * Decisions:
 * - One scan per connection. clamd closes an INSTREAM connection after its
 *   reply unless the client opened an IDSESSION; sessions would save one
 *   connect per object but tie a clamd thread to an idle client and make one
 *   stuck scan poison the following ones. The "pool" therefore bounds the
 *   number of connections in flight (`maxConnections`, default 4, like
 *   clamd's own MaxThreads default neighbourhood); further scans queue.
 * - clamd's StreamMaxLength answer is a limits finding
 *   `Heuristics.Limits.Exceeded.StreamMaxLength` (verdict `infected`, class
 *   `limits`), not a scanner failure: the object was not fully scanned
 *   because of a configured limit, and what follows is policy, exactly like
 *   the built-in walker's limits. clamd may reset the connection while we
 *   are still sending; the reply is kept if it arrived first.
 * - A scan that exceeds `timeoutMs` (queueing, connecting, sending and
 *   waiting for the reply together) destroys its socket and reports
 *   PC_ERR_SCAN_TIMEOUT; an unreachable clamd is PC_ERR_SCANNER.
 *
 * Reads untrusted bytes: only clamd's short reply, which is parsed as text
 * and capped at 64 KiB.
 */
import { createReadStream } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { PortcullisError } from '../errors.js';
import { failedReport, finishedReport, Semaphore } from './report.js';
import type { Finding, ScanCallOptions, ScanReport, Scanner, ScanTarget } from './types.js';

export interface ClamdOptions {
  /** `host:port`, `[v6addr]:port`, or the path of clamd's unix socket (contains a `/`). */
  readonly address: string;
  /** Longest time one scan may take, queueing included. Default 120 000 ms (ClamAV's MaxScanTime default). */
  readonly timeoutMs?: number;
  /** Longest time to wait for a connection to be accepted. Default 5 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Connections (scans) in flight at once; more scans wait their turn. Default 4. */
  readonly maxConnections?: number;
  /** Bytes per INSTREAM chunk. Default 256 KiB. */
  readonly chunkSize?: number;
  /** Scanner name used in findings and errors. Default "clamd". */
  readonly name?: string;
  /**
   * clamd's StreamMaxLength. Only this many bytes are sent; a larger object gets the finding
   * Heuristics.Limits.Exceeded.StreamMaxLength besides what clamd found in them. Sending more would
   * make clamd answer and close while we write, and the reset can destroy its answer before we read
   * it: a finding every time beats a scanner error some of the time. Default 25 MiB (clamd's default).
   */
  readonly streamMaxLength?: number;
}

export const STREAM_LIMIT_FINDING = 'Heuristics.Limits.Exceeded.StreamMaxLength';
const MAX_REPLY_BYTES = 64 * 1024;

type Endpoint = { readonly path: string } | { readonly host: string; readonly port: number };

export function parseClamdAddress(address: string): Endpoint {
  if (address.includes('/')) return { path: address };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = Number(m?.[3]);
  const host = m?.[1] ?? m?.[2];
  if (host === undefined || !(port > 0 && port < 65536)) {
    throw new PortcullisError('PC_ERR_CONFIG', `Cannot use clamd address "${address}": expected HOST:PORT or a socket path`);
  }
  return { host, port };
}

/** Parsed INSTREAM reply: what was found, or why clamd refused. */
export type ClamdReply =
  | { readonly kind: 'ok' }
  | { readonly kind: 'found'; readonly names: readonly string[] }
  | { readonly kind: 'limit' }
  | { readonly kind: 'error'; readonly message: string };

export function parseInstreamReply(raw: string): ClamdReply {
  const lines = raw.split(/[\0\n]/).map((l) => l.trim()).filter((l) => l.length > 0);
  const names: string[] = [];
  for (const line of lines) {
    const body = line.startsWith('stream: ') ? line.slice('stream: '.length) : line;
    if (body.endsWith(' FOUND')) names.push(body.slice(0, -' FOUND'.length).trim());
    else if (/size limit exceeded/i.test(body)) return { kind: 'limit' };
    else if (body.endsWith(' ERROR') || body === 'ERROR') return { kind: 'error', message: body };
    else if (body !== 'OK') return { kind: 'error', message: `unexpected reply "${line.slice(0, 200)}"` };
  }
  if (names.length > 0) return { kind: 'found', names };
  if (lines.length === 0) return { kind: 'error', message: 'empty reply' };
  return { kind: 'ok' };
}

export class ClamdScanner implements Scanner {
  readonly name: string;
  readonly #endpoint: Endpoint;
  readonly #address: string;
  readonly #timeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #chunkSize: number;
  readonly #streamMax: number;
  readonly #pool: Semaphore;
  readonly #sockets = new Set<Socket>();
  #closed = false;

  constructor(options: ClamdOptions) {
    this.name = options.name ?? 'clamd';
    this.#address = options.address;
    this.#endpoint = parseClamdAddress(options.address);
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.#chunkSize = Math.max(1024, options.chunkSize ?? 256 * 1024);
    this.#streamMax = Math.max(1, options.streamMaxLength ?? 25 * 1024 * 1024);
    this.#pool = new Semaphore(options.maxConnections ?? 4);
  }

  /** Sockets open right now (scans and commands in flight); 0 once every scan has settled. */
  get openConnections(): number {
    return this.#sockets.size;
  }

  async scan(target: ScanTarget, options: ScanCallOptions = {}): Promise<ScanReport> {
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    let release: (() => void) | undefined;
    let sent = 0;
    try {
      if (this.#closed) throw new PortcullisError('PC_ERR_SCANNER', 'Cannot scan with clamd: scanner is closed');
      release = await this.#pool.acquire(signal);
      const result = await this.#instream(target, signal);
      sent = result.sent;
      return this.#report(parseInstreamReply(result.reply), target, started, sent, result.cut);
    } catch (e) {
      return failedReport(this.name, this.#abortError(e, timeout, signal), started, sent);
    } finally {
      release?.();
    }
  }

  /** Health check: resolves when clamd answers PONG, throws PC_ERR_SCANNER or PC_ERR_SCAN_TIMEOUT otherwise. */
  async ping(timeoutMs = 5_000): Promise<void> {
    const reply = await this.command('PING', timeoutMs);
    if (reply !== 'PONG') throw new PortcullisError('PC_ERR_SCANNER', `Cannot ping clamd at ${this.#address}: replied "${reply.slice(0, 100)}"`);
  }

  /** Sends one short command (`PING`, `VERSION`) and returns clamd's reply without its terminator. */
  async command(name: string, timeoutMs = 5_000): Promise<string> {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const socket = await this.#connect(timeout);
      return await this.#exchange(socket, timeout, async () => {
        await writeAll(socket, Buffer.from(`z${name}\0`, 'latin1'));
      }).then((r) => r.reply.replace(/\0+$/, '').trim());
    } catch (e) {
      throw this.#abortError(e, timeout, timeout);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  #report(reply: ClamdReply, target: ScanTarget, started: number, sent: number, cut: boolean): ScanReport {
    const at = (name: string): Finding => ({ name, path: [target.name], scanner: this.name });
    const limit = cut ? [at(STREAM_LIMIT_FINDING)] : [];
    switch (reply.kind) {
      case 'ok': return finishedReport(limit, started, sent);
      case 'found': return finishedReport([...reply.names.map(at), ...limit], started, sent);
      case 'limit': return finishedReport([at(STREAM_LIMIT_FINDING)], started, sent);
      case 'error': return failedReport(this.name, new PortcullisError('PC_ERR_SCANNER', `Cannot scan with clamd: ${reply.message}`), started, sent);
    }
  }

  #abortError(e: unknown, timeout: AbortSignal, signal: AbortSignal): unknown {
    if (timeout.aborted) return new PortcullisError('PC_ERR_SCAN_TIMEOUT', `Cannot scan with clamd at ${this.#address}: no answer in time`, { cause: e });
    if (signal.aborted) return new PortcullisError('PC_ERR_SCANNER', `Cannot scan with clamd: scan aborted`, { cause: e });
    return e;
  }

  async #instream(target: ScanTarget, signal: AbortSignal): Promise<{ reply: string; sent: number; cut: boolean }> {
    const size = 'data' in target ? target.data.byteLength : target.size;
    const cut = size > this.#streamMax;
    const end = Math.min(size, this.#streamMax);
    const socket = await this.#connect(signal);
    let sent = 0;
    const { reply } = await this.#exchange(socket, signal, async (isDone) => {
      await writeAll(socket, Buffer.from('zINSTREAM\0', 'latin1'));
      const send = async (chunk: Uint8Array): Promise<void> => {
        const header = Buffer.allocUnsafe(4);
        header.writeUInt32BE(chunk.byteLength, 0);
        // Corked, the length and the chunk leave in one writev instead of two writes.
        socket.cork();
        socket.write(header);
        const flushed = writeAll(socket, chunk);
        socket.uncork();
        await flushed;
        sent += chunk.byteLength;
      };
      if ('data' in target) {
        for (let at = 0; at < end && !isDone(); at += this.#chunkSize) {
          await send(target.data.subarray(at, Math.min(end, at + this.#chunkSize)));
        }
      } else {
        const stream = createReadStream(target.path, { highWaterMark: this.#chunkSize, signal, ...(cut ? { end: end - 1 } : {}) });
        try {
          for await (const chunk of stream as AsyncIterable<Buffer>) {
            if (isDone()) break;
            await send(chunk);
          }
        } catch (cause) {
          if (signal.aborted || isDone()) return;
          throw new PortcullisError('PC_ERR_SCAN_INPUT', `Cannot read ${target.path}: ${(cause as Error).message}`, { cause });
        } finally {
          stream.destroy();
        }
      }
      if (!isDone()) await writeAll(socket, Buffer.alloc(4));
    });
    return { reply, sent, cut };
  }

  #connect(signal: AbortSignal): Promise<Socket> {
    return new Promise((resolve, reject) => {
      signal.throwIfAborted();
      const socket = 'path' in this.#endpoint ? connect(this.#endpoint.path) : connect(this.#endpoint.port, this.#endpoint.host);
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      const fail = (err: unknown): void => {
        cleanup();
        socket.destroy();
        this.#sockets.delete(socket);
        reject(err);
      };
      const onError = (err: Error): void => fail(new PortcullisError('PC_ERR_SCANNER', `Cannot connect to clamd at ${this.#address}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
      const onAbort = (): void => fail(signal.reason);
      const timer = setTimeout(() => fail(new PortcullisError('PC_ERR_SCANNER', `Cannot connect to clamd at ${this.#address}: no connection in ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        signal.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        cleanup();
        resolve(socket);
      });
    });
  }

  /**
   * Runs `send` on a connected socket while collecting the reply; settles on
   * the first NUL-terminated reply, on close, on error or on abort, and
   * always destroys the socket.
   */
  #exchange(socket: Socket, signal: AbortSignal, send: (isDone: () => boolean) => Promise<void>): Promise<{ reply: string }> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const text = (): string => Buffer.concat(chunks).toString('utf8');
      const settle = (err: unknown, reply?: string): void => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        this.#sockets.delete(socket);
        if (err !== undefined) reject(err);
        else resolve({ reply: reply ?? '' });
      };
      const onAbort = (): void => settle(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('data', (d: Buffer) => {
        chunks.push(d);
        size += d.byteLength;
        if (d.includes(0) || size > MAX_REPLY_BYTES) settle(undefined, text());
      });
      socket.on('end', () => settle(size > 0 ? undefined : new PortcullisError('PC_ERR_SCANNER', 'Cannot scan with clamd: connection closed without a reply'), text()));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        // clamd resets the connection after a StreamMaxLength reply while we are still sending: keep the reply.
        if (size > 0) settle(undefined, text());
        else settle(new PortcullisError('PC_ERR_SCANNER', `Cannot scan with clamd: ${err.code ?? err.message}`, { cause: err }));
      });
      socket.on('close', () => settle(size > 0 ? undefined : new PortcullisError('PC_ERR_SCANNER', 'Cannot scan with clamd: connection closed without a reply'), text()));
      send(() => done).catch((err: unknown) => settle(err));
    });
  }
}

/** Writes one buffer and waits until the socket can take more (or is gone: the reply handler settles then). */
function writeAll(socket: Socket, data: Uint8Array): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  if (socket.write(data)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
