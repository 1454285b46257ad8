/**
 * 7z, CAB, ARJ, RAR, CHM, ISO, LZH, RPM, zstd, Unix compress (.Z),
 * XAR/.pkg, WIM, SquashFS and self-extracting PE installers (NSIS,
 * embedded CAB/7z/RAR/zip) through 7-Zip compiled to WebAssembly (7z-wasm).
 * Also the fallback for zip members whose method we do not decode ourselves
 * (deflate64, implode, LZMA, PPMd …).
 *
 * Reads untrusted bytes — inside 7-Zip's own parsers, in a wasm sandbox with
 * an in-memory file system (nothing touches disk). The 1.6 MB wasm is loaded
 * lazily on the first archive that needs it, so plain files never pay for it.
 *
 * Limits: members are listed first (`7z l -slt`) and only those whose
 * declared size fits MaxFileSize and the remaining MaxScanSize budget are
 * extracted; the extracted size is checked again (a lying header yields a
 * truncated prefix and the limit finding). 7-Zip runs in a worker thread
 * (sevenzip-pool.ts), so a job past MaxScanTime can be stopped. A password
 * is never asked for (a fixed wrong one is given, stdin is closed):
 * encrypted members are the finding `Heuristics.Encrypted.<Type>`; a member
 * in a method 7-Zip does not have is
 * `Heuristics.Unscannable.<Type>.UnsupportedMethod`.
 */
import type { SevenZipModule, SevenZipModuleFactory } from '7z-wasm';
import { LeBytes } from '../bytes.js';
import { peOverlay } from '../pe.js';
import { CappedSink, memberCap } from '../capped.js';
import { detectType, findingLabel } from '../filetype.js';
import { innerName } from '../naming.js';
import { runInWorker } from './sevenzip-pool.js';
import type { ExtractContext, ExtractedChild, Extractor, FileType } from '../types.js';

let modulePromise: Promise<SevenZipModule> | undefined;
/** Lines 7-Zip printed during the current call (one call at a time: callMain is synchronous). */
let output: string[] = [];

async function sevenZip(): Promise<SevenZipModule> {
  // The package is CommonJS; under NodeNext its typed default is the namespace, at run time it is the factory.
  modulePromise ??= import('7z-wasm').then((m) =>
    (m.default as unknown as SevenZipModuleFactory)({
      print: (s: string) => { output.push(s); },
      printErr: (s: string) => { output.push(`E:${s}`); },
      stdin: () => null as unknown as number,
    }),
  );
  return modulePromise;
}

const SINGLE_STREAM_SUFFIXES = [['.tzst', '.tar'], ['.zst', ''], ['.zstd', ''], ['.taz', '.tar'], ['.z', '']] as const;

/** Any password would do: it only has to be wrong so 7-Zip never prompts. */
const NO_PASSWORD = '-pportcullis-no-password';
const WORK = '/work';

interface Listed {
  readonly path: string;
  readonly size: number | undefined;
  readonly packed: number | undefined;
  readonly folder: boolean;
  readonly encrypted: boolean;
}

interface Listing {
  readonly type: string | undefined;
  readonly entries: Listed[];
  readonly errors: string[];
}

function run(sz: SevenZipModule, args: string[]): { code: number; lines: string[] } {
  output = [];
  // Emscripten's exit path sets process.exitCode to 7-Zip's status; the gateway's exit code is not 7-Zip's to set.
  const exitCode = process.exitCode;
  let code: number;
  try {
    code = (sz.callMain(args) as unknown as number | undefined) ?? 0;
  } catch (err) {
    // An abort (out of memory, a trap) leaves the instance unusable: the next archive gets a fresh one.
    modulePromise = undefined;
    code = 255;
    output.push(`E:ERROR: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    process.exitCode = exitCode;
  }
  const lines = output;
  output = [];
  return { code, lines };
}

function parseListing(lines: readonly string[]): Listing {
  const entries: Listed[] = [];
  let type: string | undefined;
  let block: Record<string, string> = {};
  let inEntries = false;
  const flush = (): void => {
    // Single-stream formats (zstd, .Z) list their one member without a Path.
    const path = block['Path'] ?? (Object.keys(block).length > 0 ? '' : undefined);
    if (inEntries && path !== undefined) {
      const size = block['Size'] === undefined || block['Size'] === '' ? undefined : Number(block['Size']);
      const packed = block['Packed Size'] === undefined || block['Packed Size'] === '' ? undefined : Number(block['Packed Size']);
      entries.push({
        path,
        size: Number.isFinite(size) ? size : undefined,
        packed: Number.isFinite(packed) ? packed : undefined,
        folder: block['Folder'] === '+' || (block['Attributes'] ?? '').startsWith('D'),
        encrypted: block['Encrypted'] === '+',
      });
    }
    block = {};
  };
  for (const line of lines) {
    if (line.startsWith('----------')) { inEntries = true; block = {}; continue; }
    if (line === '') { flush(); continue; }
    const eq = line.indexOf(' = ');
    if (eq > 0) {
      const key = line.slice(0, eq);
      const value = line.slice(eq + 3);
      if (!inEntries && key === 'Type') type = value;
      block[key] = value;
    }
  }
  flush();
  const errors = lines.filter((l) => l.startsWith('E:') && l.length > 2).map((l) => l.slice(2).trim()).filter((l) => l !== '');
  return { type, entries, errors };
}

function rmTree(sz: SevenZipModule, dir: string): void {
  let names: string[];
  try { names = sz.FS.readdir(dir); } catch { return; }
  for (const n of names) {
    if (n === '.' || n === '..') continue;
    const p = `${dir}/${n}`;
    if (sz.FS.isDir(sz.FS.stat(p).mode)) rmTree(sz, p); else sz.FS.unlink(p);
  }
  sz.FS.rmdir(dir);
}

function readTree(sz: SevenZipModule, dir: string, prefix: string, out: { path: string; file: string }[]): void {
  for (const n of sz.FS.readdir(dir)) {
    if (n === '.' || n === '..') continue;
    const p = `${dir}/${n}`;
    const rel = prefix === '' ? n : `${prefix}/${n}`;
    const mode = sz.FS.lstat(p).mode;
    if (sz.FS.isDir(mode)) readTree(sz, p, rel, out);
    else if (sz.FS.isFile(mode)) out.push({ path: rel, file: p });
  }
}

/** Archive types 7-Zip may find inside a PE; anything else ("PE" itself) means: no installer payload. */
const SFX_TYPES = new Set(['Nsis', 'Cab', '7z', 'Rar', 'Rar5', 'zip', 'Arj', 'Chm', 'Iso', 'Udf', 'Lzh', 'Xz', 'gzip', 'bzip2']);

export interface SevenZipOptions {
  /** Label for findings ("7z", "CAB", "Zip" …). */
  readonly label: string;
  /** Extract only these member paths (the zip fallback), or everything. */
  readonly only?: ReadonlySet<string> | readonly string[];
  /** For PE input: go on only when 7-Zip opens it as an installer/SFX archive. */
  readonly sfxOnly?: boolean;
  /**
   * 7-Zip's type name to open the input as. Without it 7-Zip opens an .rpm
   * at its "main" member (the compressed payload) and hides the rest —
   * the header with the install scripts, where install-time malware lives.
   */
  readonly type?: string;
}

/**
 * One 7-Zip job, run synchronously where the wasm instance lives (the worker
 * thread): list, pick what fits the caps, extract, read back. Findings go to
 * `ctx.report`; the members are returned.
 */
export async function sevenZipJob(data: Uint8Array, ctx: ExtractContext, opts: SevenZipOptions): Promise<ExtractedChild[]> {
  const sz = await sevenZip();
  const children: ExtractedChild[] = [];
  rmTree(sz, WORK);
  sz.FS.mkdir(WORK);
  try {
    sz.FS.writeFile(`${WORK}/in`, data);
    const typeSwitch = opts.type === undefined ? [] : [`-t${opts.type}`];
    const listing = parseListing(run(sz, ['l', '-slt', '-y', NO_PASSWORD, ...typeSwitch, `${WORK}/in`]).lines);
    if (listing.type === undefined) {
      // 7-Zip cannot even list an archive whose names are encrypted; that is encryption, not breakage.
      if (!opts.sfxOnly) ctx.report(`Heuristics.${headersEncrypted(data) ? 'Encrypted' : 'Broken'}.${opts.label}`);
      return children;
    }
    if (opts.sfxOnly === true && !SFX_TYPES.has(listing.type)) return children;
    const label = opts.sfxOnly === true ? findingLabel(listing.type.toLowerCase()) : opts.label;
    const exclude: string[] = [];
    const only = opts.only === undefined ? undefined : new Set(opts.only);
    let budget = ctx.remainingScanBytes();
    let wanted = 0;
    for (const e of listing.entries) {
      if (e.folder) continue;
      if (only !== undefined && !only.has(e.path)) { exclude.push(e.path); continue; }
      if (e.encrypted) { ctx.report(`Heuristics.Encrypted.${label}`, e.path); exclude.push(e.path); continue; }
      const cap = memberCap(ctx, e.packed);
      if (e.size !== undefined && (e.size > cap.bytes || e.size > budget)) {
        ctx.report(`Heuristics.Limits.Exceeded.${e.size > budget && cap.reason !== 'MaxScanSize' ? 'MaxScanSize' : cap.reason}`, e.path);
        exclude.push(e.path);
        continue;
      }
      budget -= e.size ?? 0;
      wanted++;
    }
    if (wanted === 0) {
      if (listing.errors.length > 0) ctx.report(`Heuristics.Broken.${label}`);
      return children;
    }
    sz.FS.writeFile(`${WORK}/exclude`, exclude.join('\n'));
    const x = run(sz, ['x', '-y', '-spd', NO_PASSWORD, '-scsUTF-8', ...typeSwitch, `-o${WORK}/out`, `-x@${WORK}/exclude`, `${WORK}/in`]);
    const files: { path: string; file: string }[] = [];
    readTree(sz, `${WORK}/out`, '', files);
    // A member in a method 7-Zip lacks is left as an empty file: say it was not scanned, and do not pass the empty file on.
    const unsupported = new Set<string>();
    for (const line of x.lines) {
      const m = /Unsupported Method\s*:\s*(.+)$/.exec(line);
      if (m?.[1] !== undefined) unsupported.add(m[1].trim());
    }
    for (const name of unsupported) ctx.report(`Heuristics.Unscannable.${label}.UnsupportedMethod`, name);
    for (const f of files) {
      if (unsupported.has(f.path)) continue;
      const bytes = sz.FS.readFile(f.file);
      // Single-stream formats (zstd, .Z) name their one member after the input file, which here is "in".
      const name = f.path === 'in' || f.path === 'in~' ? innerName(ctx.containerName, SINGLE_STREAM_SUFFIXES, `${label} data`) : f.path;
      sz.FS.unlink(f.file);
      const sink = new CappedSink(memberCap(ctx));
      sink.push(bytes);
      children.push(sink.child(ctx, name));
    }
    // 7-Zip exits 1 for warnings (e.g. "data after the end of archive"), 2 for errors: only errors are a broken archive.
    if (x.lines.some((l) => /Wrong password/i.test(l))) ctx.report(`Heuristics.Encrypted.${label}`);
    else if (x.code >= 2) {
      const otherErrors = x.lines.some((l) => /ERROR|Error/.test(l) && !/Unsupported Method|Sub items Errors|Archives with Errors/.test(l));
      if (otherErrors || unsupported.size === 0) ctx.report(`Heuristics.Broken.${label}`);
    }
  } finally {
    rmTree(sz, WORK);
  }
  return children;
}

/**
 * Lists and extracts `data` with 7-Zip, in the worker thread (see
 * sevenzip-pool.ts): the event loop stays free and a job that runs past
 * MaxScanTime is stopped by ending the worker.
 */
export async function* sevenZipExtract(data: Uint8Array, ctx: ExtractContext, opts: SevenZipOptions): AsyncGenerator<ExtractedChild> {
  yield* await runInWorker(data, ctx, opts);
}

const AES_CODER = [0x06, 0xf1, 0x07, 0x01];

function includes(hay: Uint8Array, needle: readonly number[]): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/**
 * Archives whose directory itself is encrypted (7z -mhe, RAR -hp): 7z's
 * end header is an encoded header (0x17) whose coders include AES; RAR 4
 * sets the main header's password flag (0x0080); RAR 5 starts with an
 * archive-encryption header (type 4).
 */
export function headersEncrypted(d: Uint8Array): boolean {
  const b = new LeBytes(d);
  if (d[0] === 0x37 && d[1] === 0x7a) {
    const next = 32 + b.u64(12);
    const size = b.u64(20);
    return b.fits(next, size) && d[next] === 0x17 && includes(d.subarray(next, next + size), AES_CODER);
  }
  if (d[0] === 0x52 && d[1] === 0x61 && d[6] === 0x00) return d[9] === 0x73 && (b.u16(10) & 0x0080) !== 0;
  if (d[0] === 0x52 && d[1] === 0x61 && d[6] === 0x01 && d[7] === 0x00) {
    // CRC32, then the header size and type as variable-length integers (7 bits per byte, high bit = more).
    let at = 12;
    while (at < 16 && ((d[at] ?? 0) & 0x80) !== 0) at++;
    return d[at + 1] === 4;
  }
  return false;
}

/** Our type names that 7-Zip opens. */
const HANDLED = new Set(['7z', 'cab', 'arj', 'rar', 'chm', 'iso', 'lzh', 'rpm', 'zstd', 'compress', 'xar', 'wim', 'squashfs']);

/** Smallest overlay (bytes after the last PE section) worth asking 7-Zip about: installers carry their payload there. */
const MIN_OVERLAY = 512;


/** Our type names that 7-Zip must be told, because it would otherwise open only their main member. */
const EXPLICIT_TYPES: Readonly<Record<string, string>> = { rpm: 'Rpm' };

export const sevenZipExtractor: Extractor = {
  name: '7z-wasm',
  accepts: (type: FileType) => HANDLED.has(type.name),
  extract: (data, ctx) => {
    const ours = detectType(data).name;
    const type = EXPLICIT_TYPES[ours];
    return sevenZipExtract(data, ctx, type === undefined ? { label: findingLabel(ours) } : { label: findingLabel(ours), type });
  },
};

/** The PE path: only installers and SFX with an overlay go to 7-Zip, plain executables do not. */
export const peInstallerExtractor: Extractor = {
  name: 'pe-installer',
  accepts: (type: FileType, data: Uint8Array) => type.name === 'pe' && peOverlay(data).payload >= MIN_OVERLAY,
  extract: (data, ctx) => sevenZipExtract(data, ctx, { label: 'PE', sfxOnly: true }),
};
