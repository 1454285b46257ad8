/**
 * Shared pieces of the ClamAV interop tests: the EICAR string (built from
 * two halves so no source file is itself a test virus), an EICAR-only
 * database, a real clamd started on temporary folders, and running
 * `portcullis scan` / `clamscan` and reading their `PATH: NAME FOUND` lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClamdScanner } from '../../src/scanners/clamd.js';

export const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*', 'latin1');

/** The CLI entry as compiled: dist/test/interop/x.js → dist/src/cli/main.js. */
export const PORTCULLIS = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Writes eicar.ndb (body) and eicar.hdb (hash) into `dir`, as the rig's make-sigs.sh does. */
export async function writeEicarDb(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'eicar.ndb'), `Eicar-Test-Signature:0:*:${EICAR.toString('hex')}\n`);
  await writeFile(join(dir, 'eicar.hdb'), `${createHash('md5').update(EICAR).digest('hex')}:${EICAR.length}:Eicar-Test-Signature\n`);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RunningClamd {
  readonly tcp: string;
  readonly socket: string;
  /** Sends clamd a signal (fault runs: SIGSTOP to hang it, SIGKILL to kill it mid-scan). */
  signal(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

/** Starts /usr/sbin/clamd in the foreground on `dir` (config, socket, log) and waits for PONG. */
export async function startClamd(dir: string, dbDir: string, extraConfig: Record<string, string> = {}): Promise<RunningClamd> {
  const port = await freePort();
  const socket = join(dir, 'clamd.sock');
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const config: Record<string, string> = {
    Foreground: 'yes', LocalSocket: socket, FixStaleSocket: 'yes', TCPSocket: String(port), TCPAddr: '127.0.0.1',
    DatabaseDirectory: dbDir, TemporaryDirectory: join(dir, 'tmp'), LogFile: join(dir, 'clamd.log'),
    MaxThreads: '2', SelfCheck: '0', Bytecode: 'no', DisableCache: 'yes', ...extraConfig,
  };
  const confPath = join(dir, 'clamd.conf');
  await writeFile(confPath, Object.entries(config).map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
  const child: ChildProcess = spawn('/usr/sbin/clamd', ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    // SIGKILL when it may be stopped (a SIGTERM would wait for a SIGCONT that never comes).
    if (child.exitCode === null && child.signalCode === null) child.kill(stopped ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  let stopped = false;
  const signal = (sig: NodeJS.Signals): void => {
    if (sig === 'SIGSTOP') stopped = true;
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const probe = new ClamdScanner({ address: socket });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await probe.ping(1000);
      break;
    } catch (e) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        const log = await readFile(join(dir, 'clamd.log'), 'utf8').catch(() => '');
        throw new Error(`clamd did not start: ${stderr}\n${log}`, { cause: e });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { tcp: `127.0.0.1:${port}`, socket, signal, stop };
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runTool(program: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function runPortcullis(args: readonly string[]): Promise<RunResult> {
  return runTool(process.execPath, [PORTCULLIS, ...args]);
}

/** Path → signature names from `PATH: NAME FOUND` lines, ClamAV's ".UNOFFICIAL" suffix stripped. */
export function foundByPath(stdout: string): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const line of stdout.split('\n')) {
    if (!line.endsWith(' FOUND')) continue;
    const at = line.lastIndexOf(': ');
    if (at < 0) continue;
    const path = line.slice(0, at);
    const name = line.slice(at + 2, -' FOUND'.length).replace(/\.UNOFFICIAL$/, '');
    const names = found.get(path) ?? new Set<string>();
    names.add(name);
    found.set(path, names);
  }
  return found;
}
