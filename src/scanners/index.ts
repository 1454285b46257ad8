/**
 * The scanners' entry point: `createScanner(spec, options)` builds a Scanner
 * from a spec (`'builtin'`, `{ clamd: 'host:port' | '/path.sock' }`,
 * `{ command: argv }`, `{ combined: [...] }`), and `loadDatabase` reads and
 * compiles signature files (or the built-in database) once for sharing.
 * The engine and the content walker are imported only when a builtin
 * scanner or a database is asked for, so clamd- or command-only users do not
 * pay for them at startup.
 */
import type { Limits } from '../content/limits.js';
import type { CompiledDatabase } from '../engine/types.js';
import { PortcullisError } from '../errors.js';
import { ClamdScanner, type ClamdOptions } from './clamd.js';
import { CombinedScanner } from './combined.js';
import { CommandScanner, splitCommandLine, type CommandOptions } from './command.js';
import { loadDbFiles } from './dbload.js';
import type { Scanner } from './types.js';

export type { BuiltinOptions } from './builtin.js';
export { ClamdScanner, parseClamdAddress, parseInstreamReply } from './clamd.js';
export { CombinedScanner, mergeReports } from './combined.js';
export { CommandScanner, parseFoundLines, splitCommandLine } from './command.js';
export { loadDbFiles, DB_EXTENSIONS } from './dbload.js';

export type ScannerSpec =
  | 'builtin'
  | { readonly clamd: string }
  | { readonly command: readonly string[] }
  | { readonly combined: readonly ScannerSpec[] };

export interface CreateScannerOptions {
  /** Database for builtin scanners; when absent it is loaded from `dbPaths`, or the built-in database is used. */
  readonly db?: CompiledDatabase;
  /** Signature files or folders for builtin scanners when `db` is not given. */
  readonly dbPaths?: readonly string[];
  /** Walker limits for builtin scanners. */
  readonly limits?: Partial<Limits>;
  /** Per-scan timeout of clamd and command scanners (ms). */
  readonly timeoutMs?: number;
  /** Further clamd settings (connections, chunk size). */
  readonly clamd?: Omit<ClamdOptions, 'address' | 'timeoutMs'>;
  /** Further command settings (exit codes, output cap). */
  readonly command?: Omit<CommandOptions, 'argv' | 'timeoutMs'>;
  /** For combined scanners: a failed member does not make the verdict `error`. Default false. */
  readonly failOpen?: boolean;
}

export interface LoadedDatabase {
  readonly db: CompiledDatabase;
  /** Wall time of reading and compiling, ms. */
  readonly loadMs: number;
}

/** Reads and compiles `paths` (files or folders), or the built-in database when `paths` is empty. */
export async function loadDatabase(paths: readonly string[] = []): Promise<LoadedDatabase> {
  const started = performance.now();
  const engine = await import('../engine/index.js');
  const files = paths.length > 0 ? await loadDbFiles(paths) : engine.builtinDbFiles();
  const db = engine.compileDatabase(files);
  return { db, loadMs: performance.now() - started };
}

export async function createScanner(spec: ScannerSpec, options: CreateScannerOptions = {}): Promise<Scanner> {
  const timeout = options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs };
  if (spec === 'builtin') {
    const db = options.db ?? (await loadDatabase(options.dbPaths)).db;
    const { BuiltinScanner } = await import('./builtin.js');
    return new BuiltinScanner({ db, ...(options.limits !== undefined ? { limits: options.limits } : {}) });
  }
  if ('clamd' in spec) return new ClamdScanner({ ...options.clamd, ...timeout, address: spec.clamd });
  if ('command' in spec) return new CommandScanner({ ...options.command, ...timeout, argv: spec.command });
  if (spec.combined.length === 0) throw new PortcullisError('PC_ERR_CONFIG', 'Cannot create combined scanner: no scanners listed');
  // One database for every builtin member: compiling it twice would double load time and memory.
  const needsDb = spec.combined.some((s) => s === 'builtin') && options.db === undefined;
  const shared = needsDb ? { ...options, db: (await loadDatabase(options.dbPaths)).db } : options;
  const members: Scanner[] = [];
  try {
    for (const member of spec.combined) members.push(await createScanner(member, shared));
  } catch (e) {
    await Promise.all(members.map((m) => m.close()));
    throw e;
  }
  return members.length === 1 ? (members[0] as Scanner) : new CombinedScanner(members, { failOpen: options.failOpen ?? false });
}

/** Parses a command-line scanner spec: `builtin`, `clamd=HOST:PORT`, `clamd=/path.sock` or `command=PROGRAM ARGS… {}`. */
export function parseScannerSpec(text: string): ScannerSpec {
  if (text === 'builtin') return 'builtin';
  const eq = text.indexOf('=');
  const kind = eq < 0 ? text : text.slice(0, eq);
  const value = eq < 0 ? '' : text.slice(eq + 1).trim();
  if (kind === 'clamd' && value !== '') return { clamd: value };
  if (kind === 'command' && value !== '') return { command: splitCommandLine(value) };
  throw new PortcullisError('PC_ERR_USAGE', `Cannot use scanner "${text}": expected builtin, clamd=HOST:PORT, clamd=/path.sock or command='PROGRAM ARGS {}'`);
}
