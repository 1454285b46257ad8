/**
 * Test helpers for the gateway: a logger that keeps its lines, configs on
 * free ports in a temporary data folder, and a tiny line-based TCP client.
 * Used by the gateway's own tests; other parts' tests may use them too.
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

/** A line-reading TCP client for raw protocol tests. */
export class LineClient {
  readonly socket: Socket;
  #buffer = '';
  #lines: string[] = [];
  #waiters: ((line: string | undefined) => void)[] = [];
  #closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buffer += d;
      let nl: number;
      while ((nl = this.#buffer.indexOf('\n')) >= 0) {
        const line = this.#buffer.slice(0, nl).replace(/\r$/, '');
        this.#buffer = this.#buffer.slice(nl + 1);
        const w = this.#waiters.shift();
        if (w) w(line);
        else this.#lines.push(line);
      }
    });
    const onEnd = (): void => {
      this.#closed = true;
      for (const w of this.#waiters.splice(0)) w(undefined);
    };
    socket.on('close', onEnd);
    socket.on('error', () => socket.destroy());
  }

  static open(address: string): Promise<LineClient> {
    const m = /^(.*):(\d+)$/.exec(address);
    if (m === null) throw new Error(`bad address ${address}`);
    return new Promise((resolve, reject) => {
      const s = connect({ host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(m[2]) }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  /** The next line, or undefined when the server closed the connection first. */
  readLine(timeoutMs = 5000): Promise<string | undefined> {
    const l = this.#lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no line within timeout')), timeoutMs);
      this.#waiters.push((line) => { clearTimeout(timer); resolve(line); });
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
