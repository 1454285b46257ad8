/**
 * Shared pieces of the SMTP interop tests: Postfix's smtp-sink as the next
 * hop (dumping each message to a folder when content matters), portcullis
 * started as a real child process (`portcullis start --config`), swaks runs,
 * and test messages (EICAR in a base64 zip, uuencoded EICAR) built in code.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { EICAR, freePort, PORTCULLIS } from './clamav-helpers.js';

export { EICAR, freePort };

export async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Sink {
  readonly port: number;
  readonly dumpDir: string | undefined;
  readonly proc: ChildProcess;
  /** The dumped transactions (smtp-sink's envelope lines + message) by file name. */
  dumps(): Promise<Map<string, string>>;
  /** The dumps once aborted transactions' files are gone (waits up to timeoutMs while any remain). */
  settledDumps(timeoutMs?: number): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

/** smtp-sink on a free loopback port; `flags` e.g. ['-q', 'dot'] act out failures. */
export async function startSink(dir: string, options: { dump?: boolean; flags?: string[]; backlog?: number } = {}): Promise<Sink> {
  const port = await freePort();
  let dumpDir: string | undefined;
  const args = ['-u', 'nobody', '-c'];
  if (options.dump === true) {
    dumpDir = join(dir, `sink-${port}`);
    await mkdir(dumpDir, { recursive: true });
    await chmod(dumpDir, 0o1777);
    args.push('-d', `${dumpDir}/%Y%m%d%H%M%S.`);
  }
  args.push(...(options.flags ?? []), `127.0.0.1:${port}`, String(options.backlog ?? 256));
  // Not a pipe: the tests block in spawnSync (swaks, smtp-source), and a full pipe would stall the sink.
  const proc = spawn('smtp-sink', args, { stdio: 'ignore' });
  await waitPort(port);
  const dumps = async (): Promise<Map<string, string>> => {
    const out = new Map<string, string>();
    if (dumpDir === undefined) return out;
    for (const n of await readdir(dumpDir)) {
      // smtp-sink opens the dump file at MAIL FROM and unlinks it when the transaction is aborted.
      try {
        out.set(n, await readFile(join(dumpDir, n), 'latin1'));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    return out;
  };
  return {
    port, dumpDir, proc, dumps,
    async settledDumps(timeoutMs = 3000) {
      // An aborted transaction's file goes away shortly after the session ends; a delivered mail stays.
      const until = Date.now() + timeoutMs;
      let out = await dumps();
      while (out.size > 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        out = await dumps();
      }
      return out;
    },
    stop: () => stopChild(proc),
  };
}

export async function stopChild(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

export interface Portcullis {
  readonly port: number;
  readonly proc: ChildProcess;
  readonly output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `portcullis start` with a YAML config written from `smtp` and `extra` (YAML text appended). */
export async function startPortcullis(dir: string, nextHopPort: number, extraYaml = '', smtpYaml = ''): Promise<Portcullis> {
  const port = await freePort();
  const data = join(dir, `data-${port}`);
  const file = join(dir, `portcullis-${port}.yaml`);
  await writeFile(file, [
    `data: ${data}`,
    'admin: false',
    'ftp: false',
    'log: { level: info }',
    'drainTimeout: 2s',
    'smtp:',
    `  listen: 127.0.0.1:${port}`,
    `  nextHop: 127.0.0.1:${nextHopPort}`,
    '  hostname: portcullis.test',
    ...smtpYaml.split('\n').filter((l) => l !== '').map((l) => `  ${l}`),
    extraYaml,
  ].join('\n'));
  // The log goes to a file, not a pipe: the tests block in spawnSync, and a full pipe would stall portcullis.
  const logFile = join(dir, `portcullis-${port}.log`);
  const fd = openSync(logFile, 'w');
  const proc = spawn(process.execPath, [PORTCULLIS, 'start', '--config', file], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const output = (): string => readFileSync(logFile, 'utf8');
  try {
    await waitPort(port, 60_000);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`portcullis did not start: ${output()}`, { cause: err });
  }
  return { port, proc, output, stop: (signal) => stopChild(proc, signal) };
}

export interface SwaksResult {
  readonly status: number | null;
  readonly transcript: string;
  /** The reply to the end of DATA, e.g. "554 5.7.1 Rejected: …". */
  readonly dataReply: string | undefined;
}

export function swaks(port: number, args: string[]): SwaksResult {
  const r = spawnSync('swaks', ['--server', `127.0.0.1:${port}`, '--helo', 'client.test', '--from', 'alice@example.net', ...args], { encoding: 'latin1', timeout: 60_000 });
  const transcript = `${r.stdout}${r.stderr}`;
  // The reply after the message: swaks marks our lines "->" / " ->" and server lines "<-" / "<~" / "<**".
  const lines = transcript.split('\n');
  const dot = lines.findIndex((l) => /^\s*-> \.$/.test(l) || /^ ~> \.$/.test(l));
  const dataReply = dot >= 0 ? lines.slice(dot + 1).find((l) => /^<(\*\*|-|~)\s*\d{3}/.test(l))?.replace(/^<(\*\*|-|~)\s*/, '') : undefined;
  return { status: r.status, transcript, dataReply };
}

/** Dumps that appeared since `before` was taken. */
export function newDumps(before: Map<string, string>, now: Map<string, string>): string[] {
  return [...now].filter(([n]) => !before.has(n)).map(([, v]) => v);
}

/** A zip with one deflated member, by hand (local header, data, central directory, end record). */
export function zipOf(name: string, data: Buffer): Buffer {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const b of data) crc = (table[(crc ^ b) & 0xff] as number) ^ (crc >>> 8);
  crc = (crc ^ 0xffffffff) >>> 0;
  const packed = deflateRawSync(data);
  const fname = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(8, 8); local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(packed.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(fname.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(20, 6); central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc, 16); central.writeUInt32LE(packed.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(fname.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fname.length, 12); end.writeUInt32LE(local.length + fname.length + packed.length, 16);
  return Buffer.concat([local, fname, packed, central, fname, end]);
}

/** Classic uuencode of one file, as `uuencode` writes it. */
export function uuencode(name: string, data: Buffer): string {
  const lines = [`begin 644 ${name}`];
  const ch = (v: number): string => String.fromCharCode(v === 0 ? 96 : v + 32);
  for (let i = 0; i < data.length; i += 45) {
    const chunk = data.subarray(i, i + 45);
    let line = ch(chunk.length);
    for (let j = 0; j < chunk.length; j += 3) {
      const a = chunk[j] ?? 0;
      const b = chunk[j + 1] ?? 0;
      const c = chunk[j + 2] ?? 0;
      line += ch(a >> 2) + ch(((a & 3) << 4) | (b >> 4)) + ch(((b & 15) << 2) | (c >> 6)) + ch(c & 63);
    }
    lines.push(line);
  }
  return [...lines, '`', 'end', ''].join('\n');
}
