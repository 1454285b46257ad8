/**
 * The `command` scanner: runs any scanner program on the object as a file.
 * `argv` names the program and its arguments; every `{}` in them is replaced
 * by the file's path. An object in memory is first written to a private
 * temporary folder (0700, file 0600) and removed afterwards.
 *
 * The exit code decides the verdict (default like clamscan: 0 clean,
 * 1 infected, anything else an error); stdout and stderr are captured
 * together, capped at `maxOutputBytes`, and returned as `output` so users can
 * be shown what the program said. Finding names come from lines shaped like
 * clamscan's `PATH: NAME FOUND`; when an infected exit code comes with no such
 * line the finding is `Command.Infected`.
 * A scan that takes longer than `timeoutMs` kills the program's whole process
 * group (it runs as a group leader) and reports PC_ERR_SCAN_TIMEOUT.
 *
 * Reads untrusted bytes: the program's output, parsed line by line as text.
 * No shell is involved: argv is passed to the program as is.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PortcullisError } from '../errors.js';
import { failedReport, finishedReport, targetSize } from './report.js';
import type { Finding, ScanCallOptions, ScanReport, Scanner, ScanTarget } from './types.js';

export interface CommandOptions {
  /** Program and arguments; `{}` stands for the path of the file to scan and must appear at least once. */
  readonly argv: readonly string[];
  /** Exit codes meaning clean and infected; any other code is an error. Default { clean: [0], infected: [1] }. */
  readonly exitCodes?: { readonly clean: readonly number[]; readonly infected: readonly number[] };
  /** Longest run of the program. Default 120 000 ms. */
  readonly timeoutMs?: number;
  /** Most bytes of stdout+stderr kept for `output`. Default 64 KiB. */
  readonly maxOutputBytes?: number;
  /** Finding name when the program says "infected" by exit code only. Default "Command.Infected". */
  readonly findingName?: string;
  /** Folder for spooled in-memory objects. Default the OS temp folder. */
  readonly tmpDir?: string;
  /** Scanner name used in findings and errors. Default "command". */
  readonly name?: string;
}

export const PLACEHOLDER = '{}';

/** Names from clamscan-style lines "PATH: NAME FOUND" (the last ": " separates path and name). */
export function parseFoundLines(output: string): string[] {
  const names: string[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (!line.endsWith(' FOUND')) continue;
    const colon = line.lastIndexOf(': ');
    if (colon < 0) continue;
    const name = line.slice(colon + 2, -' FOUND'.length).trim();
    if (name.length > 0 && !names.includes(name)) names.push(name);
  }
  return names;
}

/** Splits a command line into words: whitespace separates, '…' and "…" group, backslash escapes in "…" and bare words. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (c === '\\' && i + 1 < line.length && (quote === '"' || quote === undefined)) {
      word += line[++i];
      inWord = true;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new PortcullisError('PC_ERR_USAGE', `Cannot parse command line: unclosed ${quote}`);
  if (inWord) words.push(word);
  return words;
}

export class CommandScanner implements Scanner {
  readonly name: string;
  readonly #argv: readonly string[];
  readonly #clean: readonly number[];
  readonly #infected: readonly number[];
  readonly #timeoutMs: number;
  readonly #maxOutput: number;
  readonly #findingName: string;
  readonly #tmpDir: string;
  readonly #running = new Set<number>();

  constructor(options: CommandOptions) {
    if (options.argv.length === 0 || options.argv[0] === '') {
      throw new PortcullisError('PC_ERR_CONFIG', 'Cannot create command scanner: argv is empty');
    }
    if (!options.argv.some((a) => a.includes(PLACEHOLDER))) {
      throw new PortcullisError('PC_ERR_CONFIG', `Cannot create command scanner: argv has no ${PLACEHOLDER} placeholder for the file path`);
    }
    this.name = options.name ?? 'command';
    this.#argv = options.argv;
    this.#clean = options.exitCodes?.clean ?? [0];
    this.#infected = options.exitCodes?.infected ?? [1];
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#maxOutput = options.maxOutputBytes ?? 64 * 1024;
    this.#findingName = options.findingName ?? 'Command.Infected';
    this.#tmpDir = options.tmpDir ?? tmpdir();
  }

  async scan(target: ScanTarget, options: ScanCallOptions = {}): Promise<ScanReport> {
    const started = performance.now();
    let spoolDir: string | undefined;
    try {
      options.signal?.throwIfAborted();
      let path: string;
      if ('data' in target) {
        spoolDir = await mkdtemp(join(this.#tmpDir, 'portcullis-cmd-'));
        path = join(spoolDir, safeFileName(target.name));
        await writeFile(path, target.data, { mode: 0o600 });
      } else {
        path = target.path;
      }
      const run = await this.#run(path, options.signal);
      const size = targetSize(target);
      if (this.#clean.includes(run.code ?? -1)) return finishedReport([], started, size, run.output);
      if (this.#infected.includes(run.code ?? -1)) {
        const names = parseFoundLines(run.output);
        const findings: Finding[] = (names.length > 0 ? names : [this.#findingName]).map((name) => ({ name, path: [target.name], scanner: this.name }));
        return finishedReport(findings, started, size, run.output);
      }
      const how = run.code === null ? `killed by ${run.signal ?? 'a signal'}` : `exit code ${run.code}`;
      return failedReport(this.name, new PortcullisError('PC_ERR_SCANNER', `Cannot scan with ${this.#argv[0]}: ${how}`), started, 0, run.output);
    } catch (e) {
      return failedReport(this.name, e, started);
    } finally {
      if (spoolDir !== undefined) await rm(spoolDir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    for (const pid of this.#running) killGroup(pid);
    this.#running.clear();
  }

  #run(path: string, signal: AbortSignal | undefined): Promise<{ code: number | null; signal: string | null; output: string }> {
    const argv = this.#argv.map((a) => a.split(PLACEHOLDER).join(path));
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const kept: Buffer[] = [];
      let keptBytes = 0;
      let dropped = 0;
      let timedOut = false;
      let aborted = false;
      const collect = (d: Buffer): void => {
        const room = this.#maxOutput - keptBytes;
        if (room > 0) {
          kept.push(room >= d.byteLength ? d : d.subarray(0, room));
          keptBytes += Math.min(room, d.byteLength);
        }
        dropped += Math.max(0, d.byteLength - Math.max(0, room));
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const kill = (): void => {
        if (child.pid !== undefined) killGroup(child.pid);
      };
      const timer = setTimeout(() => { timedOut = true; kill(); }, this.#timeoutMs);
      const onAbort = (): void => { aborted = true; kill(); };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (child.pid !== undefined) this.#running.add(child.pid);
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (child.pid !== undefined) this.#running.delete(child.pid);
      };
      child.once('error', (err: NodeJS.ErrnoException) => {
        finish();
        reject(new PortcullisError('PC_ERR_SCANNER', `Cannot run ${argv[0]}: ${err.code ?? err.message}`, { cause: err }));
      });
      child.once('close', (code, sig) => {
        finish();
        const output = Buffer.concat(kept).toString('utf8') + (dropped > 0 ? `\n[${dropped} more bytes of output not kept]` : '');
        if (timedOut) reject(new PortcullisError('PC_ERR_SCAN_TIMEOUT', `Cannot scan with ${argv[0]}: no result in ${this.#timeoutMs} ms`));
        else if (aborted) reject(new PortcullisError('PC_ERR_SCANNER', `Cannot scan with ${argv[0]}: scan aborted`));
        else resolve({ code, signal: sig, output });
      });
    });
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
}

/** A file name that keeps the object's extension (scanners use it) but cannot leave the spool folder. */
function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(-100);
  return clean.length > 0 ? clean : 'object';
}
