/**
 * Test helpers for the FTP proxy: a small in-process FTP server (files in
 * memory, one anonymous user) whose every quirk a test can switch on — no
 * EPSV, a PASV reply naming a foreign address, slow sending, a FEAT list —
 * and that records the commands it received, so tests can tell what reached
 * the server. Speaks RFC 959 just far enough for the proxy's tests; not for
 * production.
 *
 * Reads untrusted bytes: only from the tests' own proxy.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { dial, FramedClient } from '../gateway/testing.js';
import { CommandReader, ReplyReader, splitCommand } from './codec.js';
import { formatPasv, parseEprt, parsePort } from './addresses.js';

export interface FakeServerOptions {
  /** Answer EPSV with 500 (old servers). */
  readonly noEpsv?: boolean;
  /** Name this address in PASV replies instead of its own. */
  readonly pasvAddress?: string;
  /** FEAT lines (without the leading space). */
  readonly features?: readonly string[];
  /** Send RETR data in chunks of this size with `chunkDelayMs` between them. */
  readonly chunkSize?: number;
  readonly chunkDelayMs?: number;
  /** The size a RETR's 150 announces, given the true one (default: the true one; undefined: none, as FileZilla Server and IIS answer). */
  readonly announceSize?: (size: number) => number | undefined;
  /** Extra text lines of the greeting (multi-line 220). */
  readonly greetingLines?: readonly string[];
}

export class FakeFtpServer {
  readonly files = new Map<string, Buffer>();
  /** Every command line received, in order, from every session. */
  readonly commands: string[] = [];
  /** Every upload as it arrived (STOR, APPE, STOU), in order. */
  readonly uploads: { readonly name: string; readonly data: Buffer }[] = [];
  readonly #server: Server;
  readonly #options: FakeServerOptions;
  readonly #sockets = new Set<Socket>();
  readonly #listeners = new Set<Server>();
  #unique = 0;

  private constructor(server: Server, options: FakeServerOptions) {
    this.#server = server;
    this.#options = options;
  }

  static async start(options: FakeServerOptions = {}, host = '127.0.0.1'): Promise<FakeFtpServer> {
    const server = createServer();
    const fake = new FakeFtpServer(server, options);
    server.on('connection', (s) => fake.#session(s));
    await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
    return fake;
  }

  get address(): string {
    const a = this.#server.address();
    if (typeof a !== 'object' || a === null) return '';
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /** Commands of the given verb received so far. */
  received(verb: string): string[] {
    return this.commands.filter((c) => splitCommand(c).verb === verb);
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    for (const l of this.#listeners) l.close();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #session(control: Socket): void {
    this.#sockets.add(control);
    control.on('close', () => this.#sockets.delete(control));
    control.on('error', () => control.destroy());
    const reader = new CommandReader(4096);
    const o = this.#options;
    const say = (text: string): void => { if (!control.destroyed) control.write(`${text}\r\n`, 'latin1'); };
    let data: { listener?: Server; socket?: Promise<Socket> } = {};
    let rest = 0;
    let transfer: { stop: () => void } | undefined;
    const greeting = o.greetingLines ?? [];
    say(greeting.length === 0 ? '220 fake ready' : [`220-fake ready`, ...greeting, '220 go'].join('\r\n'));

    const openData = (): Promise<Socket> => {
      // The listener closes itself on its first connection, which may still be on its way: closing it here would drop it.
      const p = data.socket ?? Promise.reject(new Error('no data'));
      data = {};
      return p;
    };
    const passive = (): Promise<number> => new Promise((resolve) => {
      data.listener?.close();
      const l = createServer();
      this.#listeners.add(l);
      l.on('close', () => this.#listeners.delete(l));
      let accepted: (s: Socket) => void = () => undefined;
      const sock = new Promise<Socket>((res) => { accepted = res; });
      l.once('connection', (s) => { this.#sockets.add(s); s.on('close', () => this.#sockets.delete(s)); s.on('error', () => s.destroy()); accepted(s); l.close(); });
      l.listen({ host: control.localAddress, port: 0 }, () => {
        const a = l.address();
        resolve(typeof a === 'object' && a !== null ? a.port : 0);
      });
      data = { listener: l, socket: sock };
    });
    const active = (host: string, port: number): void => {
      data.listener?.close();
      data = { socket: new Promise((res, rej) => { const s = connect({ host, port }, () => res(s)); s.on('error', rej); }) };
      data.socket?.catch(() => undefined);
    };
    const sendFile = async (buf: Buffer): Promise<void> => {
      let s: Socket;
      try { s = await openData(); } catch { say('425 no data connection'); return; }
      const announced = o.announceSize === undefined ? buf.length : o.announceSize(buf.length);
      say(announced === undefined ? '150 Opening BINARY mode data connection' : `150 Opening BINARY mode data connection (${announced} bytes)`);
      let stopped = false;
      transfer = { stop: () => { stopped = true; s.destroy(); } };
      const size = o.chunkSize ?? buf.length;
      for (let off = rest; off < buf.length && !stopped; off += size) {
        const ok = s.write(buf.subarray(off, off + size));
        if (!ok) await new Promise((r) => s.once('drain', r));
        if (o.chunkDelayMs !== undefined) await new Promise((r) => setTimeout(r, o.chunkDelayMs));
      }
      rest = 0;
      transfer = undefined;
      if (stopped || s.destroyed) { say('426 Transfer aborted'); return; }
      await new Promise<void>((r) => s.end(r));
      say('226 Transfer complete');
    };
    const receiveFile = async (name: string, append: boolean): Promise<void> => {
      let s: Socket;
      try { s = await openData(); } catch { say('425 no data connection'); return; }
      say(name.startsWith('FILE:') ? `150 ${name}` : '150 Ok to send data');
      const parts: Buffer[] = [];
      for await (const c of s) parts.push(c as Buffer);
      const key = name.replace(/^FILE: /, '');
      const got = Buffer.concat(parts);
      this.uploads.push({ name: key, data: got });
      const old = this.files.get(key);
      this.files.set(key, append && old !== undefined ? Buffer.concat([old, got]) : rest > 0 && old !== undefined ? Buffer.concat([old.subarray(0, rest), got]) : got);
      rest = 0;
      say('226 Transfer complete');
    };

    const handle = async (line: string): Promise<void> => {
      this.commands.push(line);
      const { verb, arg } = splitCommand(line);
      switch (verb) {
        case 'USER': return say(arg === 'anonymous' || arg === 'ftp' ? '331 Please specify the password' : '530 Unknown user');
        case 'PASS': return say('230 Login successful');
        case 'TYPE': case 'MODE': case 'STRU': case 'OPTS': return say('200 ok');
        case 'SYST': return say('215 UNIX Type: L8');
        case 'PWD': return say('257 "/" is the current directory');
        case 'CWD': return say('250 ok');
        case 'NOOP': return say('200 NOOP ok');
        case 'SIZE': { const f = this.files.get(arg); return say(f === undefined ? '550 no such file' : `213 ${f.length}`); }
        case 'FEAT': return say(['211-Features:', ...(o.features ?? []).map((f) => ` ${f}`), '211 End'].join('\r\n'));
        case 'EPSV': return o.noEpsv === true ? say('500 unknown command') : say(`229 Entering Extended Passive Mode (|||${await passive()}|)`);
        case 'PASV': return say(`227 Entering Passive Mode (${formatPasv(o.pasvAddress ?? (control.localAddress ?? '').replace(/^::ffff:/, ''), await passive())}).`);
        case 'PORT': case 'EPRT': {
          const hp = verb === 'PORT' ? parsePort(arg) : parseEprt(arg);
          if (hp === undefined) return say('501 bad');
          active(hp.host, hp.port);
          return say(`200 ${verb} ok`);
        }
        case 'REST': rest = Number(arg); return say(`350 Restart position accepted (${rest})`);
        case 'LIST': case 'NLST': case 'MLSD': {
          const listing = Buffer.from([...this.files].map(([n, b]) => `-rw-r--r-- 1 ftp ftp ${b.length} Jan 01 00:00 ${n}\r\n`).join(''), 'latin1');
          let s: Socket;
          try { s = await openData(); } catch { return say('425 no data connection'); }
          say('150 Here comes the directory listing');
          await new Promise<void>((r) => s.end(listing, r));
          return say('226 Directory send OK');
        }
        case 'RETR': {
          const f = this.files.get(arg);
          if (f === undefined) { data.listener?.close(); data = {}; return say('550 Failed to open file'); }
          return sendFile(f);
        }
        case 'STOR': return receiveFile(arg, false);
        case 'APPE': return receiveFile(arg, true);
        case 'STOU': return receiveFile(`FILE: unique.${++this.#unique}`, false);
        case 'ABOR': {
          if (transfer !== undefined) { transfer.stop(); return; }
          return say('225 No transfer to ABOR');
        }
        case 'QUIT': say('221 Goodbye'); control.end(); return;
        default: return say('500 Unknown command');
      }
    };
    // Commands run one at a time, except ABOR, which must reach a running transfer.
    let chain = Promise.resolve();
    control.on('data', (chunk: Buffer) => {
      for (const ev of reader.feed(chunk)) {
        if (ev.kind !== 'line') continue;
        if (splitCommand(ev.line).verb === 'ABOR' && transfer !== undefined) {
          this.commands.push(ev.line);
          const t = transfer;
          t.stop();
          chain = chain.then(() => say('226 ABOR successful'));
          continue;
        }
        chain = chain.then(() => handle(ev.line)).catch(() => undefined);
      }
    });
  }
}

export interface TestReply {
  readonly code: number;
  readonly lines: readonly string[];
  /** The whole reply, lines joined by "\n". */
  readonly text: string;
}

/** A raw FTP client for tests: whole replies, passive and active data sockets. */
export class TestClient extends FramedClient<TestReply> {
  private constructor(socket: Socket) {
    const reader = new ReplyReader();
    super(socket, (chunk) => reader.feed(chunk).map((r) => ({ code: r.code, lines: r.lines, text: r.lines.join('\n') })));
  }

  static async open(address: string, localAddress?: string): Promise<TestClient> {
    return new TestClient(await dial(address, localAddress));
  }

  /** The control connection (the socket the replies arrive on). */
  get control(): Socket {
    return this.socket;
  }

  /** The next whole reply; undefined when the connection closed first. */
  reply(timeoutMs = 5000): Promise<TestReply | undefined> {
    return this.next(timeoutMs, 'reply');
  }

  async must(timeoutMs = 5000): Promise<TestReply> {
    const r = await this.reply(timeoutMs);
    if (r === undefined) throw new Error('connection closed instead of a reply');
    return r;
  }

  override send(line: string): void {
    this.control.write(`${line}\r\n`, 'latin1');
  }

  raw(bytes: Uint8Array | string): void {
    this.control.write(bytes);
  }

  async command(line: string, timeoutMs?: number): Promise<TestReply> {
    this.send(line);
    return this.must(timeoutMs);
  }

  /** Reads the greeting and logs in anonymously (USER may carry @host). */
  async login(user = 'anonymous'): Promise<void> {
    const g = await this.must();
    if (g.code !== 220) throw new Error(`greeting: ${g.text}`);
    const u = await this.command(`USER ${user}`);
    if (u.code === 331) {
      const p = await this.command('PASS test@');
      if (p.code !== 230) throw new Error(`PASS: ${p.text}`);
    } else if (u.code !== 230) {
      throw new Error(`USER: ${u.text}`);
    }
  }

  /** EPSV, then a connection to the announced port. */
  async epsv(): Promise<Socket> {
    const r = await this.command('EPSV');
    const m = /\(\|\|\|(\d+)\|\)/.exec(r.text);
    if (r.code !== 229 || m === null) throw new Error(`EPSV: ${r.text}`);
    const host = this.control.remoteAddress ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const s = connect({ host, port: Number(m[1]) }, () => resolve(s));
      s.once('error', reject);
    });
  }

  /** Listens for an active data connection and sends PORT or EPRT for it; `accepted` resolves when the proxy connects. */
  async active(extended: boolean): Promise<{ readonly accepted: Promise<Socket> }> {
    const l = createServer();
    const host = this.control.localAddress ?? '127.0.0.1';
    await new Promise<void>((r) => l.listen({ host, port: 0 }, r));
    const a = l.address();
    const port = typeof a === 'object' && a !== null ? a.port : 0;
    const cmd = extended ? `EPRT |${host.includes(':') ? 2 : 1}|${host}|${port}|` : `PORT ${formatPasv(host.replace(/^::ffff:/, ''), port)}`;
    const r = await this.command(cmd);
    if (r.code !== 200) { l.close(); throw new Error(`${cmd}: ${r.text}`); }
    // Wrapped: an async function would otherwise wait for the connection itself before returning.
    return { accepted: new Promise((resolve) => l.once('connection', (s) => { l.close(); resolve(s); })) };
  }
}

/** Everything a socket sends until it closes. */
export function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

/** Writes `data` and closes the socket. */
export function writeAll(s: Socket, data: Uint8Array): Promise<void> {
  return new Promise((resolve) => s.end(data, () => resolve()));
}

/** The EICAR test file, built from two halves so that no source file carries it whole. */
export function eicar(): Buffer {
  return Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');
}

/** Bytes that differ at every position, so a reordered or repeated chunk shows. */
export function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 8) * 7 + (i >>> 16)) & 0xff;
  return b;
}
