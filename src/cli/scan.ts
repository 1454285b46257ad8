/**
 * `portcullis scan [--db FILE|DIR]… [--scanner SPEC]… [--json] [--infected]
 * [--recursive] [--no-summary] PATH…` — scans files and folders from the
 * command line, with output shaped like clamscan's so scripts written for
 * clamscan keep working:
 *  - one line `PATH: NAME FOUND` per signature name found in the file; each
 *    place inside an archive or mail where it was found follows as an
 *    indented line `    (in a.zip › b.exe)` (it has no ": " and does not
 *    end in FOUND, so clamscan parsers skip it);
 *  - `PATH: OK` for clean files (not with --infected), `PATH: MESSAGE ERROR`;
 *  - the `----------- SCAN SUMMARY -----------` block (MB = 2^20 bytes, as
 *    clamscan counts), plus the throughput and the database load time;
 *  - exit code 0 clean, 1 something found, 2 an error (an error wins: a
 *    file that could not be scanned must not read as a clean run).
 * Folders: like clamscan, without --recursive only the files directly in a
 * named folder are scanned; with it, the whole tree (symbolic links inside
 * the tree are not followed). With --json, stdout has one JSON object per
 * file and the summary goes to stderr. A progress bar is drawn on stderr
 * only when stderr is a terminal.
 * Without --scanner the built-in engine is used, with the databases named by
 * --db or else the built-in database. Several --scanner options combine.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { PortcullisError } from '../errors.js';
import { keepYoungGenerationSmall } from '../gateway/memory.js';
import { createScanner, loadDatabase, parseScannerSpec, type LoadedDatabase, type ScannerSpec } from '../scanners/index.js';
import type { ScanReport, Scanner } from '../scanners/types.js';

const HELP = `usage: portcullis scan [options] PATH…

Scans files and folders; output like clamscan's. Exit code 0 clean, 1 found, 2 error.

options:
  --db FILE|DIR        signature file or folder (repeatable); default the built-in database
  --scanner SPEC       builtin | clamd=HOST:PORT | clamd=/path.sock | command='PROGRAM ARGS {}'
                       (repeatable: the scanners are combined)
  -r, --recursive      scan folders with everything below them
  -i, --infected       print only infected files (and errors)
  --json               one JSON object per file on stdout; summary on stderr
  --no-summary         do not print the scan summary
  -h, --help           this text
`;

const MB = 1024 * 1024;
const PATH_SEP = ' › ';

interface FileJob {
  readonly path: string;
  readonly size: number;
}

interface Collected {
  readonly files: FileJob[];
  readonly errors: { path: string; message: string }[];
  directories: number;
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        db: { type: 'string', multiple: true },
        scanner: { type: 'string', multiple: true },
        recursive: { type: 'boolean', short: 'r' },
        infected: { type: 'boolean', short: 'i' },
        json: { type: 'boolean' },
        'no-summary': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`portcullis scan: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length === 0) {
    process.stderr.write(`portcullis scan: no PATH given\n\n${HELP}`);
    return 2;
  }
  const specs: ScannerSpec[] = (values.scanner ?? ['builtin']).map(parseScannerSpec);
  const dbPaths = values.db ?? [];
  if (dbPaths.length > 0 && !specs.includes('builtin')) {
    throw new PortcullisError('PC_ERR_USAGE', 'Cannot use --db: only the builtin scanner reads signature files');
  }

  keepYoungGenerationSmall();
  const startedAt = new Date();
  const started = performance.now();
  const loaded = specs.includes('builtin') ? await loadDatabase(dbPaths) : undefined;
  const spec: ScannerSpec = specs.length === 1 ? (specs[0] as ScannerSpec) : { combined: specs };
  const scanner = await createScanner(spec, loaded === undefined ? {} : { db: loaded.db });

  const out = new Output({ json: values.json === true, infectedOnly: values.infected === true });
  const collected = await collect(positionals, values.recursive === true);
  for (const e of collected.errors) out.error(e.path, e.message);

  const totals = { scanned: 0, infected: 0, errors: collected.errors.length, bytes: 0, read: 0 };
  const progress = process.stderr.isTTY ? new Progress(collected.files) : undefined;
  out.beforeWrite = () => progress?.clear();
  try {
    await scanAll(scanner, collected.files, concurrencyFor(specs), (job, report) => {
      totals.scanned++;
      totals.read += job.size;
      totals.bytes += report.bytesScanned;
      if (report.verdict === 'infected') totals.infected++;
      if (report.verdict === 'error') totals.errors++;
      out.report(job.path, report);
      progress?.advance(job.size);
    });
  } finally {
    progress?.clear();
    await scanner.close();
  }

  if (values['no-summary'] !== true) {
    const summary = summaryLines({ started, startedAt, loaded, directories: collected.directories, ...totals });
    (values.json === true ? process.stderr : process.stdout).write(summary.join('\n'));
  }
  return totals.errors > 0 ? 2 : totals.infected > 0 ? 1 : 0;
}

interface SummaryFacts {
  readonly started: number;
  readonly startedAt: Date;
  readonly loaded: LoadedDatabase | undefined;
  readonly directories: number;
  readonly scanned: number;
  readonly infected: number;
  readonly errors: number;
  readonly bytes: number;
  readonly read: number;
}

/** clamscan's SCAN SUMMARY block (MB = 2^20 bytes, as clamscan counts), plus load time and throughput. */
function summaryLines(f: SummaryFacts): string[] {
  const seconds = (performance.now() - f.started) / 1000;
  const scanSeconds = seconds - (f.loaded?.loadMs ?? 0) / 1000;
  return [
    '',
    '----------- SCAN SUMMARY -----------',
    ...(f.loaded !== undefined ? [`Known viruses: ${f.loaded.db.stats.total}`] : []),
    'Engine version: portcullis 0.1.0',
    `Scanned directories: ${f.directories}`,
    `Scanned files: ${f.scanned}`,
    `Infected files: ${f.infected}`,
    ...(f.errors > 0 ? [`Total errors: ${f.errors}`] : []),
    `Data scanned: ${(f.bytes / MB).toFixed(2)} MB`,
    `Data read: ${(f.read / MB).toFixed(2)} MB (ratio ${(f.read > 0 ? f.bytes / f.read : 0).toFixed(2)}:1)`,
    `Time: ${seconds.toFixed(3)} sec (${Math.floor(seconds / 60)} m ${Math.floor(seconds % 60)} s)`,
    ...(f.loaded !== undefined ? [`Database load: ${(f.loaded.loadMs / 1000).toFixed(3)} sec`] : []),
    `Throughput: ${(scanSeconds > 0 ? f.read / MB / scanSeconds : 0).toFixed(2)} MB/s (data read, database load excluded)`,
    `Start Date: ${clamDate(f.startedAt)}`,
    `End Date:   ${clamDate(new Date())}`,
    '',
  ];
}

/** The engine is one thread: a few files in flight only overlap reading with scanning; daemons get more. */
function concurrencyFor(specs: readonly ScannerSpec[]): number {
  return specs.every((s) => s === 'builtin') ? 2 : 4;
}

/** Scans jobs with `width` in flight and hands each report over in the order of `jobs`. */
async function scanAll(scanner: Scanner, jobs: readonly FileJob[], width: number, onReport: (job: FileJob, report: ScanReport) => void): Promise<void> {
  const done = new Map<number, ScanReport>();
  let next = 0;
  let emitted = 0;
  const flush = (): void => {
    for (let r = done.get(emitted); r !== undefined; r = done.get(emitted)) {
      done.delete(emitted);
      onReport(jobs[emitted] as FileJob, r);
      emitted++;
    }
  };
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const index = next++;
      const job = jobs[index] as FileJob;
      // The file's own name roots the inner paths (a gzip member is named after it), as it is for files the gateway receives.
      done.set(index, await scanner.scan({ name: basename(job.path), path: job.path, size: job.size }));
      flush();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
}

async function collect(paths: readonly string[], recursive: boolean): Promise<Collected> {
  const result: Collected = { files: [], errors: [], directories: 0 };
  const visitDir = async (dir: string, descend: boolean): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      result.errors.push({ path: dir, message: `Can't open directory: ${errCode(e)}` });
      return;
    }
    result.directories++;
    for (const name of names) {
      const path = join(dir, name);
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined) continue;
      if (info.isFile()) result.files.push({ path, size: info.size });
      else if (info.isDirectory() && descend) await visitDir(path, true);
    }
  };
  for (const path of paths) {
    const info = await stat(path).catch((e: unknown) => e as Error);
    if (info instanceof Error) result.errors.push({ path, message: `Can't access file: ${errCode(info)}` });
    else if (info.isDirectory()) await visitDir(path, recursive);
    else if (info.isFile()) result.files.push({ path, size: info.size });
    else result.errors.push({ path, message: 'Not a regular file' });
  }
  return result;
}

class Output {
  beforeWrite: () => void = () => undefined;
  readonly #json: boolean;
  readonly #infectedOnly: boolean;

  constructor(options: { json: boolean; infectedOnly: boolean }) {
    this.#json = options.json;
    this.#infectedOnly = options.infectedOnly;
  }

  report(path: string, report: ScanReport): void {
    if (this.#json) {
      this.#write(`${JSON.stringify({
        path, verdict: report.verdict,
        findings: report.findings.map((f) => ({ name: f.name, path: f.path, scanner: f.scanner })),
        errors: report.errors, bytesScanned: report.bytesScanned, durationMs: Math.round(report.durationMs * 1000) / 1000,
      })}\n`);
      return;
    }
    // One FOUND line per name (as clamscan prints one per file), then each inner place it was found.
    const places = new Map<string, string[]>();
    for (const f of report.findings) {
      const inner = places.get(f.name) ?? [];
      if (f.path.length > 1) inner.push(f.path.slice(1).join(PATH_SEP));
      places.set(f.name, inner);
    }
    const lines: string[] = [];
    for (const [name, inner] of places) {
      lines.push(`${path}: ${name} FOUND`);
      for (const p of inner) lines.push(`    (in ${p})`);
    }
    for (const e of report.errors) lines.push(`${path}: ${oneLine(e.message)} ERROR`);
    if (report.verdict === 'clean' && !this.#infectedOnly) lines.push(`${path}: OK`);
    if (lines.length > 0) this.#write(`${lines.join('\n')}\n`);
  }

  error(path: string, message: string): void {
    if (this.#json) this.#write(`${JSON.stringify({ path, verdict: 'error', findings: [], errors: [{ scanner: 'cli', code: 'PC_ERR_SCAN_INPUT', message }] })}\n`);
    else {
      this.beforeWrite();
      process.stderr.write(`${path}: ${message} ERROR\n`);
    }
  }

  #write(text: string): void {
    this.beforeWrite();
    process.stdout.write(text);
  }
}

/** One line on stderr, redrawn at most ten times a second. */
class Progress {
  readonly #totalFiles: number;
  readonly #totalBytes: number;
  readonly #started = performance.now();
  #files = 0;
  #bytes = 0;
  #drawnAt = 0;
  #shown = false;

  constructor(files: readonly FileJob[]) {
    this.#totalFiles = files.length;
    this.#totalBytes = files.reduce((n, f) => n + f.size, 0);
  }

  advance(bytes: number): void {
    this.#files++;
    this.#bytes += bytes;
    const now = performance.now();
    if (now - this.#drawnAt < 100 && this.#files < this.#totalFiles) return;
    this.#drawnAt = now;
    const share = this.#totalBytes > 0 ? this.#bytes / this.#totalBytes : this.#files / Math.max(1, this.#totalFiles);
    const width = 30;
    const filled = Math.round(share * width);
    const rate = this.#bytes / MB / Math.max(0.001, (now - this.#started) / 1000);
    process.stderr.write(`\r\x1b[K[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${this.#files}/${this.#totalFiles} files, ${(this.#bytes / MB).toFixed(1)} MB, ${rate.toFixed(1)} MB/s`);
    this.#shown = true;
  }

  clear(): void {
    if (!this.#shown) return;
    process.stderr.write('\r\x1b[K');
    this.#shown = false;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function errCode(e: unknown): string {
  return e instanceof Error ? ((e as NodeJS.ErrnoException).code ?? e.message) : String(e);
}

function clamDate(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}:${p(d.getMonth() + 1)}:${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
