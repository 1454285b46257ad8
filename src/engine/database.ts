/**
 * The signature database: compiles ClamAV database files (and the built-in
 * set) into one immutable CompiledDatabase, and runs one streaming scan of
 * one object against it.
 *
 * File kinds, decided by the name's extension:
 *   .hdb .hsb (.hdu .hsu)   hash signatures            → hashdb.ts
 *   .fp .sfp                allow-list (same format)   → hashdb.ts
 *   .ndb (.ndu)             body signatures            → ndb.ts + matcher
 *   .ldb (.ldu)             logical signatures         → ldb.ts + matcher
 *   .db                     old `Name=HexSignature` body signatures
 *   .ign2 .ign              names to ignore
 *   .cvd .cld .cud          containers of the above    → cvd.ts
 * Everything else (.cbc bytecode, .mdb/.msb PE section hashes, .pdb/.wdb
 * phishing, .ftm, .idb, .cdb, .crb, .info, .cfg, .yar …) is counted as
 * skipped by kind — never dropped silently, never an error.
 *
 * A scan: body patterns (ndb and ldb subsigs) run through the matcher; the
 * hash kinds the database holds are computed in the same pass, but only when
 * the object's size is one the database lists (or a `*` size exists); PCRE
 * and byte-compare subsigs run at end on the buffered object (up to
 * PCRE_MAX_BYTES, like ClamAV's PCREMaxFileSize; larger objects leave them
 * unmatched). At end: an allow-listed hash clears the object
 * whatever else matched, then hash, body and logical hits minus ignored names
 * (each name once).
 *
 * Build errors (a damaged .cvd) throw PortcullisError(PC_ERR_DB_BUILD); bad
 * lines are skipped with a reason. Scanning never throws because of the bytes.
 */
import { createHash, type Hash } from 'node:crypto';
import { PortcullisError } from '../errors.js';
import { isCvdName, unpackCvd } from './cvd.js';
import { HASH_KINDS, HashSet, latin1, NamePool, type HashKind } from './hashdb.js';
import { evaluate, parseLdbLine, runByteCompare, runPcre, type ByteCompareSubsig, type Expr, type LogicalSignature, type PcreSubsig } from './ldb.js';
import { PatternSet, type PatternInput, type PatternScan } from './matcher.js';
import { parseNdbLine } from './ndb.js';
import { ANY_OFFSET, parseOffset, type OffsetSpec } from './offset.js';
import { parsePattern, PatternSyntaxError } from './pattern.js';
import type { CompiledDatabase, DatabaseStats, DbFile, EngineFinding, EngineScan, ScanOptions, TargetType } from './types.js';

/** Objects larger than this are not buffered for PCRE and byte-compare subsigs (ClamAV's PCREMaxFileSize is 100M; we hold the bytes in memory). */
export const PCRE_MAX_BYTES = 32 * 1024 * 1024;
/** Example lines kept per skipped reason. */
const EXAMPLES_PER_REASON = 3;
const EXAMPLE_CHARS = 160;

/** File kinds we do not use, by extension → reason, and whether each line is one signature. */
const SKIPPED_KINDS: Readonly<Record<string, { reason: string; perLine: boolean }>> = {
  mdb: { reason: 'pe-section-hash', perLine: true },
  mdu: { reason: 'pe-section-hash', perLine: true },
  msb: { reason: 'pe-section-hash', perLine: true },
  msu: { reason: 'pe-section-hash', perLine: true },
  imp: { reason: 'pe-import-hash', perLine: true },
  cbc: { reason: 'bytecode', perLine: false },
  pdb: { reason: 'phishing', perLine: true },
  gdb: { reason: 'phishing', perLine: true },
  wdb: { reason: 'phishing', perLine: true },
  ftm: { reason: 'file-type-magic', perLine: true },
  idb: { reason: 'icon', perLine: true },
  cdb: { reason: 'container-metadata', perLine: true },
  crb: { reason: 'certificate', perLine: true },
  cat: { reason: 'certificate', perLine: false },
  pwdb: { reason: 'archive-password', perLine: true },
  yar: { reason: 'yara', perLine: false },
  yara: { reason: 'yara', perLine: false },
  info: { reason: 'database-info', perLine: false },
  cfg: { reason: 'dynamic-config', perLine: false },
};

/** Collects what was loaded and skipped, then freezes into DatabaseStats. */
class StatsCollector {
  readonly loaded: Record<string, number> = {};
  readonly skipped: Record<string, number> = {};
  readonly examples: Record<string, string[]> = {};
  readonly files: { name: string; signatures: number }[] = [];
  newestBuildTime: number | undefined;

  load(kind: string, n = 1): void {
    if (n > 0) this.loaded[kind] = (this.loaded[kind] ?? 0) + n;
  }

  /** Takes back a signature counted as loaded (its pattern failed to compile). */
  unload(kind: string, file: number): void {
    this.loaded[kind] = (this.loaded[kind] ?? 1) - 1;
    if (this.loaded[kind] === 0) delete this.loaded[kind];
    const row = this.files[file];
    if (row !== undefined) row.signatures--;
  }

  skip(reason: string, where: string, line: string, n = 1): void {
    this.skipped[reason] = (this.skipped[reason] ?? 0) + n;
    const list = (this.examples[reason] ??= []);
    if (list.length < EXAMPLES_PER_REASON) {
      const text = line.length > EXAMPLE_CHARS ? `${line.slice(0, EXAMPLE_CHARS)}…` : line;
      list.push(`${where}: ${text}`);
    }
  }

  freeze(): DatabaseStats {
    const detections = ['md5', 'sha1', 'sha256', 'body', 'logical'];
    const total = detections.reduce((sum, k) => sum + (this.loaded[k] ?? 0), 0);
    return {
      loaded: { ...this.loaded },
      skipped: { ...this.skipped },
      skippedExamples: Object.fromEntries(Object.entries(this.examples).map(([k, v]) => [k, [...v]])),
      files: this.files.map((f) => ({ ...f })),
      ...(this.newestBuildTime !== undefined ? { newestBuildTime: this.newestBuildTime } : {}),
      total,
    };
  }
}

/** Text lines of a signature file with their 1-based numbers; blank and `#` lines left out. */
function* textLines(data: Uint8Array): Generator<[number, string]> {
  const text = latin1(data, 0, data.length);
  let n = 0;
  for (const raw of text.split('\n')) {
    n++;
    // The same blanks as hashdb.ts trims, so every file kind counts lines alike.
    const line = raw.replace(/^[ \t\r]+|[ \t\r]+$/g, '');
    if (line !== '' && !line.startsWith('#')) yield [n, line];
  }
}

function isBlank(b: number): boolean { return b === 0x20 || b === 0x09 || b === 0x0d; }

function isDigits(data: Uint8Array, start: number, end: number): boolean {
  for (let p = start; p < end; p++) if ((data[p] as number) < 0x30 || (data[p] as number) > 0x39) return false;
  return true;
}

function digitsValue(data: Uint8Array, start: number, end: number): number {
  let v = 0;
  for (let p = start; p < end; p++) v = v * 10 + (data[p] as number) - 0x30;
  return v;
}

function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot < 0 ? '' : base.slice(dot + 1).toLowerCase();
}

/** Parses an offset, or says why it cannot be used. */
type Usable<T> = T | { readonly problem: string; readonly detail: string };

function readOffset(text: string): Usable<OffsetSpec> {
  try {
    const offset = parseOffset(text);
    return offset.kind === 'unsupported' ? { problem: 'ep-offset', detail: `offset ${text}` } : offset;
  } catch (e) {
    if (e instanceof PatternSyntaxError) return { problem: 'bad-pattern', detail: e.reason };
    throw e;
  }
}

/** Whether the matcher can parse this input in every form it will search (plain and/or wide). */
function patternParses(p: PatternInput): boolean {
  try {
    const nocase = p.nocase ?? false;
    if (p.wide !== true || p.ascii === true) parsePattern(p.pattern, { nocase });
    if (p.wide === true) parsePattern(p.pattern, { nocase, wide: true });
    return true;
  } catch (e) {
    if (e instanceof PatternSyntaxError) return false;
    throw e;
  }
}

/**
 * A plain .ndb line's matcher input: its hex text stays bytes in a pool and
 * becomes a string only while the matcher reads it (compile, and re-parsing
 * on first verification). 100k kept pattern strings were ~8 MB of old heap,
 * and their surviving the young generation made V8 grow it by far more.
 */
class PooledInput implements PatternInput {
  readonly #pool: NamePool;
  readonly #ref: number;

  constructor(readonly id: number, readonly target: number, ref: number, pool: NamePool) {
    this.#ref = ref;
    this.#pool = pool;
  }

  get pattern(): string { return this.#pool.getLatin1(this.#ref); }
  get offset(): OffsetSpec { return ANY_OFFSET; }
}

/** The signature (an .ndb line or a whole .ldb line) a matcher input belongs to. */
interface Owner {
  readonly kind: 'body' | 'logical';
  readonly where: string;
  readonly line: string;
  /** Index of its file's row in stats.files. */
  readonly file: number;
  /** For a logical signature: its index in Builder.logical. */
  readonly logical?: number;
}

interface CompiledLogical {
  readonly sig: LogicalSignature;
  /** First matcher id of its body subsigs; subsig i has id base + i (PCRE subsigs leave their id unused). */
  readonly base: number;
  /** Counts above this change no comparison, so matching stops there. */
  readonly countCap: number;
  /** By subsig index: the PCRE and byte-compare subsigs, run at end of scan in index order. */
  readonly late: readonly (PcreSubsig | ByteCompareSubsig | undefined)[];
  /** By subsig index: 1 when a byte-compare reads from its last match, so matching it never stops early. */
  readonly uncapped: Uint8Array;
}

function maxConstant(e: Expr): number {
  if (e.t === 'sub') return 0;
  if (e.t === 'cmp') return Math.max(e.x, e.y ?? 0, maxConstant(e.of));
  return e.items.reduce((max, item) => Math.max(max, maxConstant(item)), 0);
}

class Builder {
  readonly stats = new StatsCollector();
  readonly hashes = new HashSet();
  readonly allow = new HashSet();
  readonly ignored = new Set<string>();
  readonly inputs: PatternInput[] = [];
  /**
   * By input index: the signature it belongs to, an index into `owners`, or
   * for a plain .ndb line (the common `Name:T:*:Hex`) -1 - its matcher id:
   * 100k Owner objects with their strings were a large part of the load's
   * peak, and they are only read when a pattern fails to compile.
   */
  readonly inputOwner: number[] = [];
  readonly owners: Owner[] = [];
  /** By matcher id: the name of an ndb signature in `bodyNames`, -1 for a logical subsig. */
  readonly bodyName: number[] = [];
  /** By matcher id of a plain .ndb line: its stats.files row and line number, to describe it if its pattern fails. */
  readonly bodyFile: number[] = [];
  readonly bodyLine: number[] = [];
  readonly bodyNames = new NamePool();
  /** Hex patterns of plain .ndb lines (see PooledInput). */
  readonly bodyHex = new NamePool();
  readonly logicalById: number[] = [];
  readonly logical: CompiledLogical[] = [];
  /** Logical signatures dropped after loading because a subsig pattern did not compile. */
  readonly disabledLogical = new Set<number>();

  /** Reads `source.data` once (a lazy source may read it from disk on each ask) and keeps nothing of the bytes. */
  add(source: DbFile): void {
    const file: DbFile = { name: source.name, data: source.data };
    const ext = extensionOf(file.name);
    if (isCvdName(file.name)) {
      const { header, files } = unpackCvd(file);
      if (header.buildTimeMs !== undefined) {
        this.stats.newestBuildTime = Math.max(this.stats.newestBuildTime ?? 0, header.buildTimeMs);
      }
      for (const inner of files) this.add(inner);
      return;
    }
    const before = this.#detections();
    switch (ext) {
      case 'hdb': case 'hdu': case 'hsb': case 'hsu':
        this.#hashes(file, this.hashes, 'hash');
        break;
      case 'fp': case 'sfp':
        this.#hashes(file, this.allow, 'fp');
        return;
      case 'ndb': case 'ndu':
        this.#ndb(file);
        break;
      case 'db':
        this.#oldDb(file);
        break;
      case 'ldb': case 'ldu':
        this.#ldb(file);
        break;
      case 'ign2': case 'ign':
        this.#ignore(file, ext);
        return;
      default:
        this.#skippedKind(file, ext);
        return;
    }
    this.stats.files.push({ name: file.name, signatures: this.#detections() - before });
  }

  #detections(): number {
    const l = this.stats.loaded;
    return (l['md5'] ?? 0) + (l['sha1'] ?? 0) + (l['sha256'] ?? 0) + (l['body'] ?? 0) + (l['logical'] ?? 0);
  }

  #hashes(file: DbFile, set: HashSet, role: 'hash' | 'fp'): void {
    const counts = HASH_KINDS.map((k) => set.count(k));
    const loaded = set.addLines(file.data, (reason, line, n) => this.stats.skip(reason, `${file.name}:${n}`, line));
    HASH_KINDS.forEach((kind, i) => this.stats.load(role === 'fp' ? 'fp' : kind, set.count(kind) - (counts[i] as number)));
    if (role === 'fp') this.stats.files.push({ name: file.name, signatures: loaded });
  }

  #addBody(name: string, target: number, offsetText: string, hex: string, where: string, line: string, malformed: string): void {
    const offset = readOffset(offsetText);
    if ('problem' in offset) {
      this.stats.skip(offset.problem, where, line);
      return;
    }
    const nameBytes = Buffer.from(name, 'latin1');
    if (nameBytes.length > 0xffff) {
      // The name pool stores a 2-byte length; no real signature name comes near it.
      this.stats.skip(malformed, where, line);
      return;
    }
    this.inputOwner.push(this.owners.length);
    this.owners.push({ kind: 'body', where, line, file: this.stats.files.length });
    this.#pushBody(this.bodyNames.add(nameBytes, 0, nameBytes.length), target, offset, hex, -1);
  }

  /** `hex` is the pattern text, or a reference into bodyHex for a plain line. */
  #pushBody(nameRef: number, target: number, offset: OffsetSpec, hex: string | number, line: number): void {
    const id = this.bodyName.length;
    this.bodyName.push(nameRef);
    this.bodyFile.push(line < 0 ? -1 : this.stats.files.length);
    this.bodyLine.push(line);
    this.logicalById.push(-1);
    this.inputs.push(typeof hex === 'number' ? new PooledInput(id, target, hex, this.bodyHex) : { id, pattern: hex, offset, target });
    this.stats.load('body');
  }

  /**
   * Lines are cut from the bytes; a plain `Name:Target:*:Hex` line (nearly
   * all of a large database) becomes a name in the pool and one hex string,
   * with no line string, field strings or Owner object. Any other line takes
   * parseNdbLine's path.
   */
  #ndb(file: DbFile): void {
    const data = file.data;
    const colons = new Int32Array(4);
    let p = 0;
    let n = 0;
    while (p < data.length) {
      n++;
      let start = p;
      let ncolons = 0;
      let b = 0;
      while (p < data.length && (b = data[p] as number) !== 0x0a) {
        if (b === 0x3a && ncolons < 4) colons[ncolons++] = p;
        p++;
      }
      let end = p;
      p++;
      while (end > start && isBlank(data[end - 1] as number)) end--;
      while (start < end && isBlank(data[start] as number)) start++;
      if (end === start || data[start] === 0x23 /* '#' */) continue;
      const [c1, c2, c3] = colons as unknown as [number, number, number];
      if (ncolons === 3 && c1 > start && c3 === c2 + 2 && data[c2 + 1] === 0x2a /* '*' */ && end > c3 + 1
        && c2 - c1 >= 2 && c2 - c1 <= 4 && isDigits(data, c1 + 1, c2) && end - c3 <= 0xffff && c1 - start <= 0xffff) {
        this.inputOwner.push(-1 - this.bodyName.length);
        this.#pushBody(this.bodyNames.add(data, start, c1), digitsValue(data, c1 + 1, c2), ANY_OFFSET, this.bodyHex.add(data, c3 + 1, end), n);
        continue;
      }
      const line = latin1(data, start, end);
      const r = parseNdbLine(line);
      if (!r.ok) this.stats.skip(r.reason, `${file.name}:${n}`, line);
      else this.#addBody(r.sig.name, r.sig.target, r.sig.offset, r.sig.hex, `${file.name}:${n}`, line, 'malformed-ndb');
    }
  }

  /** Who owns input `i` (see inputOwner), built on demand for the compact .ndb lines. */
  ownerOf(i: number): Owner {
    const code = this.inputOwner[i] as number;
    if (code >= 0) return this.owners[code] as Owner;
    const input = this.inputs[i] as PatternInput;
    const file = this.bodyFile[input.id] as number;
    const name = this.bodyNames.getLatin1(this.bodyName[input.id] as number);
    return {
      kind: 'body', file, where: `${this.stats.files[file]?.name ?? ''}:${this.bodyLine[input.id] as number}`,
      line: `${name}:${input.target ?? 0}:*:${input.pattern}`,
    };
  }

  /** The pre-0.96 `.db` format: `Name=HexSignature`, any file type, any offset. */
  #oldDb(file: DbFile): void {
    for (const [n, line] of textLines(file.data)) {
      const eq = line.lastIndexOf('=');
      if (eq <= 0 || eq === line.length - 1) this.stats.skip('malformed-db', `${file.name}:${n}`, line);
      else this.#addBody(line.slice(0, eq), 0, '*', line.slice(eq + 1), `${file.name}:${n}`, line, 'malformed-db');
    }
  }

  #ldb(file: DbFile): void {
    for (const [n, line] of textLines(file.data)) {
      const where = `${file.name}:${n}`;
      const r = parseLdbLine(line);
      if (!r.ok) {
        this.stats.skip(r.reason, where, line);
        continue;
      }
      const sig = r.sig;
      const offsets: (OffsetSpec | undefined)[] = [];
      let problem: string | undefined;
      for (const sub of sig.subsigs) {
        const offset = sub.kind === 'body' ? readOffset(sub.offset) : undefined;
        if (offset !== undefined && 'problem' in offset) problem ??= offset.problem;
        else offsets.push(offset);
      }
      if (problem !== undefined) {
        this.stats.skip(problem, where, line);
        continue;
      }
      const index = this.logical.length;
      const base = this.bodyName.length;
      const owner = this.owners.length;
      this.owners.push({ kind: 'logical', where, line, file: this.stats.files.length, logical: index });
      const constants = [sig.expr, ...sig.subsigs.flatMap((s) => (s.kind === 'pcre' ? [s.trigger] : []))].map(maxConstant);
      this.logical.push({
        sig, base, countCap: Math.max(1, ...constants) + 1,
        late: sig.subsigs.map((s) => (s.kind === 'body' ? undefined : s)),
        uncapped: Uint8Array.from(sig.subsigs, (_, i) => (sig.subsigs.some((s) => s.kind === 'bytecmp' && s.trigger === i) ? 1 : 0)),
      });
      sig.subsigs.forEach((sub, i) => {
        this.bodyName.push(-1);
        this.bodyFile.push(-1);
        this.bodyLine.push(-1);
        this.logicalById.push(index);
        if (sub.kind !== 'body') return;
        const m = sub.modifiers;
        this.inputOwner.push(owner);
        this.inputs.push({
          id: base + i, pattern: sub.hex, offset: offsets[i] as OffsetSpec, target: sig.target,
          nocase: m.nocase, wide: m.wide, ascii: m.ascii, fullword: m.fullword,
        });
      });
      this.stats.load('logical');
    }
  }

  #ignore(file: DbFile, ext: string): void {
    let count = 0;
    for (const [n, line] of textLines(file.data)) {
      // .ign2: `Name[:md5-of-entry]`; old .ign: `db:line:Name`.
      const fields = line.split(':');
      // Names copied from clamscan output carry its ".UNOFFICIAL" suffix; findings never do.
      const name = (ext === 'ign' && fields.length >= 3 ? fields[2] : fields[0])?.replace(/\.UNOFFICIAL$/, '');
      if (name === undefined || name === '') {
        this.stats.skip('malformed-ign', `${file.name}:${n}`, line);
        continue;
      }
      this.ignored.add(name);
      count++;
    }
    this.stats.load('ign', count);
    this.stats.files.push({ name: file.name, signatures: count });
  }

  #skippedKind(file: DbFile, ext: string): void {
    // sigtool puts the licence in every container.
    const licence = file.name.endsWith('/COPYING') || file.name === 'COPYING';
    const kind = (licence ? SKIPPED_KINDS['info'] : SKIPPED_KINDS[ext]) ?? { reason: ext === '' ? 'unknown-file' : `unknown-file-kind-${ext}`, perLine: false };
    const lines = [...textLines(file.data)];
    const first = lines[0]?.[1] ?? '';
    this.stats.skip(kind.reason, file.name, first, kind.perLine ? lines.length : 1);
    this.stats.files.push({ name: file.name, signatures: 0 });
  }
}

/**
 * Compiles the body patterns. Patterns are not checked one by one first: that
 * would parse 100k patterns twice on every load. Only when the compiler refuses
 * one are all checked, the signatures owning a bad one skipped ("bad-pattern",
 * the whole .ldb line for a bad subsig) and the rest compiled again.
 */
function compilePatterns(b: Builder): PatternSet {
  try {
    return PatternSet.compile(b.inputs);
  } catch (e) {
    if (!(e instanceof PatternSyntaxError)) throw e;
  }
  // Owner codes in input order, which is file and line order.
  const bad = new Map<number, Owner>();
  b.inputs.forEach((input, i) => {
    const code = b.inputOwner[i] as number;
    if (!bad.has(code) && !patternParses(input)) bad.set(code, b.ownerOf(i));
  });
  for (const owner of bad.values()) {
    b.stats.unload(owner.kind, owner.file);
    b.stats.skip('bad-pattern', owner.where, owner.line);
    // A bad subsig silences its whole logical signature (its other subsigs left with `kept`).
    if (owner.logical !== undefined) b.disabledLogical.add(owner.logical);
  }
  const kept = b.inputs.filter((_, i) => !bad.has(b.inputOwner[i] as number));
  try {
    return PatternSet.compile(kept);
  } catch (e) {
    throw new PortcullisError('PC_ERR_DB_BUILD', `Cannot compile body signatures: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Compiles database files into a shared, immutable database. Throws
 * PortcullisError(PC_ERR_DB_BUILD). Each file's `data` is read once, in order,
 * and not kept: a caller that produces the bytes on demand (a lazy iterable,
 * or `data` getters as dbload.ts makes) lets each file's buffer go as soon
 * as it is parsed, which is what bounds the load's peak memory.
 */
export function compileDatabase(files: Iterable<DbFile>): CompiledDatabase {
  const b = new Builder();
  for (const f of files) b.add(f);
  // The matcher first: what freeze() adds (bucket index and sorted sizes,
  // ~9 MB at a million hashes) is then not allocated while the matcher's
  // compile lists are live.
  const patterns = compilePatterns(b);
  b.hashes.freeze();
  b.allow.freeze();
  return new Database(b, patterns);
}

class Database implements CompiledDatabase {
  readonly stats: DatabaseStats;
  readonly #hashes: HashSet;
  readonly #allow: HashSet;
  readonly #ignored: ReadonlySet<string>;
  readonly #patterns: PatternSet;
  readonly #bodyName: readonly number[];
  readonly #bodyNames: NamePool;
  readonly #logicalById: readonly number[];
  readonly #logical: readonly CompiledLogical[];
  /** Logical signatures whose expression holds with no match at all (`0=0` forms): checked on every scan. */
  readonly #alwaysCheck: readonly number[];
  /** Some PCRE or byte-compare subsig must see the whole object at end of scan. */
  readonly #needsBytes: boolean;

  constructor(b: Builder, patterns: PatternSet) {
    this.stats = b.stats.freeze();
    this.#hashes = b.hashes;
    this.#allow = b.allow;
    this.#ignored = b.ignored;
    this.#patterns = patterns;
    this.#bodyName = b.bodyName;
    this.#bodyNames = b.bodyNames;
    this.#logicalById = b.logicalById;
    this.#logical = b.logical;
    const none = new Uint32Array(64);
    this.#alwaysCheck = b.logical.flatMap((l, i) => !b.disabledLogical.has(i) && (
      evaluate(l.sig.expr, none) || l.late.some((p) => p?.kind === 'pcre' && evaluate(p.trigger, none))) ? [i] : []);
    this.#needsBytes = b.logical.some((l) => l.late.some((p) => p !== undefined));
  }

  scan(options: ScanOptions): EngineScan {
    return new Scan(this, options.size, options.target ?? 0);
  }

  scanBuffer(data: Uint8Array, target?: TargetType): EngineFinding[] {
    const s = this.scan({ size: data.length, ...(target !== undefined ? { target } : {}) });
    s.write(data);
    return s.end();
  }

  /** Internal to Scan: the parts a scan reads. */
  get parts() {
    return {
      hashes: this.#hashes, allow: this.#allow, ignored: this.#ignored, patterns: this.#patterns,
      bodyName: this.#bodyName, bodyNames: this.#bodyNames, logicalById: this.#logicalById, logical: this.#logical,
      alwaysCheck: this.#alwaysCheck, needsBytes: this.#needsBytes,
    };
  }
}

interface LogicalState {
  readonly counts: Uint32Array;
  /** By subsig: start of its last (highest) match, -1 when none; kept for byte-compare triggers. */
  readonly last: Float64Array;
  first: number;
}

function newState(subsigs: number, first: number): LogicalState {
  return { counts: new Uint32Array(subsigs), last: new Float64Array(subsigs).fill(-1), first };
}

class Scan implements EngineScan {
  readonly #db: Database['parts'];
  readonly #size: number;
  readonly #target: number;
  readonly #hashers: { kind: HashKind; hash: Hash }[] = [];
  readonly #patternScan: PatternScan;
  readonly #body: EngineFinding[] = [];
  readonly #logicalStates = new Map<number, LogicalState>();
  readonly #buffered: Uint8Array[] | undefined;
  #written = 0;
  #ended = false;

  constructor(db: Database, size: number, target: number) {
    this.#db = db.parts;
    this.#size = size;
    this.#target = target;
    for (const kind of HASH_KINDS) {
      if (this.#db.hashes.wants(kind, size) || this.#db.allow.wants(kind, size)) {
        this.#hashers.push({ kind, hash: createHash(kind) });
      }
    }
    this.#buffered = this.#db.needsBytes && size <= PCRE_MAX_BYTES ? [] : undefined;
    this.#patternScan = this.#db.patterns.newScan({ size, target, onMatch: (id, offset) => this.#onMatch(id, offset) });
  }

  write(chunk: Uint8Array): void {
    if (this.#ended || chunk.length === 0) return;
    this.#written += chunk.length;
    for (const h of this.#hashers) h.hash.update(chunk);
    this.#buffered?.push(chunk.slice());
    this.#patternScan.write(chunk);
  }

  end(): EngineFinding[] {
    if (this.#ended) return [];
    this.#ended = true;
    this.#patternScan.end();
    const hashHits: EngineFinding[] = [];
    for (const { kind, hash } of this.#hashers) {
      const digest = hash.digest();
      if (this.#db.allow.lookup(kind, digest, this.#written) !== undefined) return [];
      const name = this.#db.hashes.lookup(kind, digest, this.#written);
      if (name !== undefined) hashHits.push({ name, kind: 'hash' });
    }
    const findings = [...hashHits, ...this.#body.sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0)), ...this.#logicalHits()];
    const seen = new Set<string>();
    return findings.filter((f) => {
      if (this.#db.ignored.has(f.name) || seen.has(f.name)) return false;
      seen.add(f.name);
      return true;
    });
  }

  #onMatch(id: number, offset: number): boolean {
    const nameRef = this.#db.bodyName[id] ?? -1;
    if (nameRef >= 0) {
      this.#body.push({ name: this.#db.bodyNames.getLatin1(nameRef), kind: 'body', offset });
      return false;
    }
    const index = this.#db.logicalById[id];
    if (index === undefined || index < 0) return false;
    const l = this.#db.logical[index] as CompiledLogical;
    let state = this.#logicalStates.get(index);
    if (state === undefined) {
      state = newState(l.sig.subsigs.length, offset);
      this.#logicalStates.set(index, state);
    }
    const sub = id - l.base;
    state.counts[sub] = (state.counts[sub] as number) + 1;
    if (offset > (state.last[sub] as number)) state.last[sub] = offset;
    if (offset < state.first) state.first = offset;
    return l.uncapped[sub] === 1 || (state.counts[sub] as number) < l.countCap;
  }

  #logicalHits(): EngineFinding[] {
    const candidates = new Set<number>([...this.#logicalStates.keys(), ...this.#db.alwaysCheck]);
    if (candidates.size === 0) return [];
    let bytes: Buffer | undefined;
    let text: string | undefined;
    const hits: EngineFinding[] = [];
    for (const index of [...candidates].sort((a, b) => a - b)) {
      const l = this.#db.logical[index] as CompiledLogical;
      const sig = l.sig;
      if (sig.target !== 0 && this.#target !== 0 && sig.target !== this.#target) continue;
      if (sig.fileSize !== undefined && (this.#written < sig.fileSize[0] || this.#written > sig.fileSize[1])) continue;
      const state = this.#logicalStates.get(index) ?? newState(sig.subsigs.length, -1);
      // Objects too large to hold leave PCRE and byte-compare subsigs unmatched (ClamAV's PCREMaxFileSize does the same).
      for (let i = 0; i < l.late.length && this.#buffered !== undefined; i++) {
        const late = l.late[i];
        if (late === undefined) continue;
        bytes ??= Buffer.concat(this.#buffered);
        if (late.kind === 'bytecmp') {
          if ((state.counts[late.trigger] as number) > 0) state.counts[i] = runByteCompare(late, bytes, state.last[late.trigger] as number) ? 1 : 0;
          continue;
        }
        if (!evaluate(late.trigger, state.counts)) continue;
        text ??= bytes.toString('latin1');
        const r = runPcre(late, text, l.countCap);
        state.counts[i] = r.count;
        if (r.first >= 0 && (state.first < 0 || r.first < state.first)) state.first = r.first;
      }
      if (evaluate(sig.expr, state.counts)) {
        hits.push({ name: sig.name, kind: 'logical', ...(state.first >= 0 ? { offset: state.first } : {}) });
      }
    }
    return hits;
  }
}
