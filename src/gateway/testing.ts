/**
 * Test helpers for the gateway: a logger that keeps its lines, configs on
 * free ports in a temporary data folder, and a small TCP client that cuts
 * what it receives into messages (lines here; the FTP and SMTP tests frame
 * whole replies with it). Used by the gateway's own tests and by the other
 * parts' tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig } from '../config/schema.js';
import type { Config } from '../config/table.js';
import { createLogger, type Logger } from '../log.js';

export interface CapturedLog {
  readonly log: Logger;
  readonly lines: Record<string, unknown>[];
  /** Resolves with the first line (already written or to come) that `match` accepts. */
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export function captureLog(level: 'debug' | 'info' = 'info'): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  let waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  const log = createLogger({
    level,
    destination: {
      write(s: string) {
        for (const part of s.split('\n')) {
          if (part.trim() === '') continue;
          const line = JSON.parse(part) as Record<string, unknown>;
          lines.push(line);
          waiters = waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
        }
      },
    },
  });
  return {
    log,
    lines,
    waitFor(match, timeoutMs = 5000) {
      const found = lines.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no log line matched within ${timeoutMs} ms; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`)), timeoutMs);
        waiters.push({ match, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      });
    },
  };
}

/** A config on free loopback ports in `dataDir`, with `overrides` (a YAML-shaped object) applied. */
export function testConfig(dataDir: string, overrides: Record<string, unknown> = {}): Config {
  const base: Record<string, unknown> = {
    data: dataDir,
    drainTimeout: '1s',
    smtp: { listen: '127.0.0.1:0' },
    ftp: { listen: '127.0.0.1:0' },
    admin: false,
    log: { level: 'debug' },
  };
  const r = checkConfig({ ...base, ...overrides });
  if (!r.ok) throw new Error(`bad test config: ${JSON.stringify(r.problems)}`);
  return r.config;
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Connects to `host:port` (an IPv6 host may be bracketed); resolves once connected. */
export function dial(address: string, localAddress?: string): Promise<Socket> {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  if (m === null) return Promise.reject(new Error(`bad address ${address}`));
  return new Promise((resolve, reject) => {
    const s = connect({ host: m[1] ?? '', port: Number(m[2]), ...(localAddress !== undefined ? { localAddress } : {}) }, () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * A TCP client for raw protocol tests that cuts what it receives into
 * messages with `frame` (lines, whole FTP or SMTP replies, …) and hands
 * them out in order; subclasses name the reading method after their unit.
 */
export class FramedClient<T> {
  readonly socket: Socket;
  #items: T[] = [];
  #waiters: ((item: T | undefined) => void)[] = [];
  #closed = false;

  protected constructor(socket: Socket, frame: (chunk: Buffer) => Iterable<T>) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const item of frame(chunk)) {
        const w = this.#waiters.shift();
        if (w !== undefined) w(item);
        else this.#items.push(item);
      }
    });
    socket.on('close', () => {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w(undefined);
    });
    socket.on('error', () => socket.destroy());
  }

  /** The next message, or undefined when the peer closed the connection first; `what` names it in the timeout error. */
  protected next(timeoutMs: number, what: string): Promise<T | undefined> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within timeout`)), timeoutMs);
      this.#waiters.push((x) => { clearTimeout(timer); resolve(x); });
    });
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  closed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Cuts bytes into lines (LF or CRLF ended, CR dropped), read as latin1 so that any byte survives. */
function lineFramer(): (chunk: Buffer) => string[] {
  let buffer = '';
  return (chunk) => {
    buffer += chunk.toString('latin1');
    const lines: string[] = [];
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      lines.push(buffer.slice(0, nl).replace(/\r$/, ''));
      buffer = buffer.slice(nl + 1);
    }
    return lines;
  };
}

/** A line-reading TCP client for raw protocol tests. */
export class LineClient extends FramedClient<string> {
  private constructor(socket: Socket) {
    super(socket, lineFramer());
  }

  static async open(address: string): Promise<LineClient> {
    return new LineClient(await dial(address));
  }

  /** The next line, or undefined when the server closed the connection first. */
  readLine(timeoutMs = 5000): Promise<string | undefined> {
    return this.next(timeoutMs, 'line');
  }
}
