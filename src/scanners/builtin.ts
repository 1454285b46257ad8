/**
 * The `builtin` scanner: the project's signature engine over the content
 * walker. The compiled database is shared and immutable (swapping it for a
 * new one is the caller's business: build a new scanner).
 *
 * An object in memory is walked; every object the walker yields (the root,
 * archive members, decoded mail parts …) is scanned with the engine for the
 * target type the walker detected, and the walker's own findings (limits,
 * encryption, broken containers) are kept. Findings carry their inner path,
 * root name first.
 *
 * A spooled file on disk is read once: its head decides the type; a
 * container within MaxFileSize is read whole (one buffer, no second read)
 * and walked; anything else is streamed through the engine in fresh chunks
 * (bounded memory, no copies). A file above MaxFileSize is streamed raw (up
 * to MaxScanSize) and gets `Heuristics.Limits.Exceeded.MaxFileSize`, so a
 * limit is never a silent pass. A stream that outlasts MaxScanTime stops
 * with that limit's finding (the walker keeps the time limit for the rest).
 * A file still arriving can be followed (follow()): the same stream scan,
 * fed chunk by chunk as it comes, given the size its sender announced.
 *
 * Reads untrusted bytes: every scanned object, but only through the walker
 * and the engine, which never throw because of content. Read errors of the
 * spooled file are PC_ERR_SCAN_INPUT.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { detectType, walk } from '../content/index.js';
import { DEFAULT_LIMITS, limitFinding, type Limits } from '../content/limits.js';
import type { FileType } from '../content/types.js';
import type { CompiledDatabase, EngineFinding, EngineScan, TargetType } from '../engine/types.js';
import { PortcullisError } from '../errors.js';
import { failedReport, finishedReport } from './report.js';
import type { FileFollower, Finding, ScanCallOptions, ScanReport, Scanner, ScanTarget } from './types.js';

export interface BuiltinOptions {
  /** The compiled database every scan uses. */
  readonly db: CompiledDatabase;
  /** Limits overriding DEFAULT_LIMITS (content/limits.ts). */
  readonly limits?: Partial<Limits>;
  /** Bytes per read when streaming a file from disk. Default 1 MiB. */
  readonly chunkSize?: number;
  /** Scanner name used in findings. Default "builtin". */
  readonly name?: string;
}

/** The head read first from a file: enough for every magic the type table looks at (ISO's is at 32769). */
const HEAD_BYTES = 64 * 1024;

/** Bytes handed to the engine per write for an object in memory (its window then stays about twice this). */
const ENGINE_SLICE = 64 * 1024;

/** Read buffers kept for reuse: one per file in flight (the CLI scans two at a time, the gateway a few). */
const SPARE_BUFFERS = 4;

export class BuiltinScanner implements Scanner {
  readonly name: string;
  readonly db: CompiledDatabase;
  readonly limits: Limits;
  readonly #chunkSize: number;
  /** Read buffers of #chunkSize kept between files, so reading a file allocates nothing the GC must later find. */
  readonly #spare: Buffer[] = [];

  constructor(options: BuiltinOptions) {
    this.name = options.name ?? 'builtin';
    this.db = options.db;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#chunkSize = Math.max(HEAD_BYTES, options.chunkSize ?? 1024 * 1024);
  }

  async scan(target: ScanTarget, options: ScanCallOptions = {}): Promise<ScanReport> {
    const started = performance.now();
    const found = new Findings(this.name);
    try {
      options.signal?.throwIfAborted();
      const bytes = 'data' in target
        ? await this.#walk(target.name, target.data, found, options.signal)
        : await this.#scanFile(target, found, options.signal);
      return finishedReport(found.list, started, bytes);
    } catch (e) {
      return failedReport(this.name, e, started);
    }
  }

  async close(): Promise<void> {
    // Nothing to release: the database is shared and owned by whoever compiled it.
  }

  /** Walks one object in memory and scans everything in it; returns the bytes scanned. */
  async #walk(name: string, data: Uint8Array, found: Findings, signal: AbortSignal | undefined): Promise<number> {
    let bytes = 0;
    for await (const item of walk({ name, data }, signal === undefined ? { limits: this.limits } : { limits: this.limits, signal })) {
      if (item.kind === 'finding') {
        found.add(item.finding.name, item.finding.path);
        continue;
      }
      const node = item.node;
      bytes += node.data.byteLength;
      found.addEngine(this.#scanInSlices(node.data, node.type.target), node.path);
    }
    return bytes;
  }

  /**
   * Scans one object in memory in ENGINE_SLICE slices: the engine copies
   * what it is given into a window of its own, so handing it a whole 20 MB
   * member at once (scanBuffer) would make a second copy of it, and the
   * members of a big archive would each leave one behind for the GC.
   */
  #scanInSlices(data: Uint8Array, target: TargetType): EngineFinding[] {
    const scan = this.db.scan({ size: data.byteLength, target });
    for (let at = 0; at < data.byteLength; at += ENGINE_SLICE) scan.write(data.subarray(at, at + ENGINE_SLICE));
    return scan.end();
  }

  async #scanFile(target: { name: string; path: string; size: number }, found: Findings, signal: AbortSignal | undefined): Promise<number> {
    const file = await open(target.path, 'r').catch((cause: unknown) => {
      throw inputError(target.path, cause);
    });
    const buffer = this.#spare.pop() ?? Buffer.allocUnsafeSlow(this.#chunkSize);
    try {
      const size = target.size;
      const headLength = Math.min(size, size <= this.#chunkSize ? size : HEAD_BYTES);
      const head = await readExactly(file, target.path, buffer.subarray(0, headLength), 0);
      const type = detectType(head, target.name);
      if (size <= this.limits.MaxFileSize && head.byteLength === size) return await this.#walk(target.name, head, found, signal);
      if (type.container && size <= this.limits.MaxFileSize) {
        const whole = Buffer.allocUnsafeSlow(size);
        whole.set(head, 0);
        const data = await readExactly(file, target.path, whole.subarray(head.byteLength), head.byteLength);
        return await this.#walk(target.name, whole.subarray(0, head.byteLength + data.byteLength), found, signal);
      }
      return await this.#stream(file, target, buffer, head.byteLength, type, found, signal);
    } finally {
      // Only now is nothing reading the buffer any more: the walk and the engine are done with it.
      if (this.#spare.length < SPARE_BUFFERS) this.#spare.push(buffer);
      await file.close();
    }
  }

  /**
   * Streams a file through the engine without unpacking it: types with no
   * extractor, or objects over MaxFileSize. `buffer` holds the head (its
   * first `headLength` bytes) and is then refilled chunk by chunk: the engine
   * copies what it keeps of each chunk, so one buffer serves the whole file.
   */
  async #stream(
    file: FileHandle, target: { name: string; path: string; size: number }, buffer: Buffer, headLength: number,
    type: FileType, found: Findings, signal: AbortSignal | undefined,
  ): Promise<number> {
    const started = performance.now();
    const stream = new StreamScan(this, { name: target.name, size: target.size, target: type.target }, found, () => performance.now() - started);
    stream.write(buffer.subarray(0, headLength));
    let bytes = headLength;
    while (stream.wantsMore) {
      signal?.throwIfAborted();
      const want = Math.min(buffer.byteLength, this.limits.MaxScanSize - bytes);
      const { bytesRead } = await file.read(buffer, 0, want, bytes).catch((cause: unknown) => {
        throw inputError(target.path, cause);
      });
      if (bytesRead === 0) break;
      stream.write(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
    return stream.end();
  }

  /**
   * Follows a file that is still arriving (see Scanner.follow): the same
   * scan #scanFile would make of it, fed as it comes. Only for files it
   * would stream: one of at most a chunk is read whole and walked, and a
   * container within MaxFileSize is unpacked, so for those it declines.
   */
  follow(name: string, size: number): FileFollower | undefined {
    if (!Number.isSafeInteger(size) || size <= this.#chunkSize) return undefined;
    return new Follower(this, name, size);
  }
}

/**
 * One object streamed through the engine, with the limits applied as
 * #stream always did: bytes past MaxScanSize are not scanned, time past
 * MaxScanTime (as `elapsed` counts it) stops the scan, and each limit met
 * is a finding, never a silent pass.
 */
class StreamScan {
  readonly #scan: EngineScan;
  readonly #budget: number;
  readonly #maxTime: number;
  readonly #object: { readonly name: string; readonly size: number };
  readonly #found: Findings;
  readonly #elapsed: () => number;
  readonly #limits: Limits;
  #bytes = 0;
  #outOfTime = false;

  constructor(scanner: BuiltinScanner, object: { name: string; size: number; target: TargetType }, found: Findings, elapsed: () => number) {
    this.#scan = scanner.db.scan({ size: object.size, target: object.target });
    this.#limits = scanner.limits;
    this.#budget = scanner.limits.MaxScanSize;
    this.#maxTime = scanner.limits.MaxScanTime;
    this.#object = object;
    this.#found = found;
    this.#elapsed = elapsed;
  }

  get wantsMore(): boolean {
    return this.#bytes < this.#budget && !this.#outOfTime;
  }

  /** Scans the next bytes, as far as the limits let it. */
  write(chunk: Uint8Array): void {
    if (!this.wantsMore) return;
    if (this.#bytes > 0 && this.#elapsed() > this.#maxTime) {
      this.#outOfTime = true;
      return;
    }
    const part = chunk.byteLength <= this.#budget - this.#bytes ? chunk : chunk.subarray(0, this.#budget - this.#bytes);
    this.#scan.write(part);
    this.#bytes += part.byteLength;
  }

  /** Adds the engine's findings and the limits met; returns the bytes scanned. */
  end(): number {
    const { name, size } = this.#object;
    this.#found.addEngine(this.#scan.end(), [name]);
    if (this.#outOfTime) this.#found.add(limitFinding('MaxScanTime'), [name]);
    if (size > this.#limits.MaxFileSize) this.#found.add(limitFinding('MaxFileSize'), [name]);
    if (this.#bytes >= this.#budget && size > this.#budget) this.#found.add(limitFinding('MaxScanSize'), [name]);
    return this.#bytes;
  }
}

/**
 * The builtin scanner's FileFollower. It gathers the head first, as
 * #scanFile reads it, and decides from it: a container within MaxFileSize
 * would be unpacked from the whole file, so it gives up; anything else is
 * streamed through a StreamScan as it arrives. MaxScanTime counts the time
 * spent scanning, not the time spent waiting for the network.
 */
class Follower implements FileFollower {
  readonly #scanner: BuiltinScanner;
  readonly #name: string;
  readonly #size: number;
  readonly #found: Findings;
  #head: Buffer | undefined;
  #headFill = 0;
  #stream: StreamScan | undefined;
  /** Every byte written, scanned or not (the size check at the end). */
  #seen = 0;
  #spentMs = 0;
  #off = false;

  constructor(scanner: BuiltinScanner, name: string, size: number) {
    this.#scanner = scanner;
    this.#name = name;
    this.#size = size;
    this.#found = new Findings(scanner.name);
    this.#head = Buffer.allocUnsafe(HEAD_BYTES);
  }

  write(chunk: Uint8Array): void {
    this.#seen += chunk.byteLength;
    if (this.#off) return;
    const started = performance.now();
    try {
      let rest = chunk;
      const head = this.#head;
      if (head !== undefined) {
        const n = Math.min(rest.byteLength, HEAD_BYTES - this.#headFill);
        head.set(rest.subarray(0, n), this.#headFill);
        this.#headFill += n;
        rest = rest.subarray(n);
        if (this.#headFill < HEAD_BYTES) return;
        this.#head = undefined;
        const type = detectType(head, this.#name);
        if (type.container && this.#size <= this.#scanner.limits.MaxFileSize) {
          this.#off = true;
          return;
        }
        this.#stream = new StreamScan(this.#scanner, { name: this.#name, size: this.#size, target: type.target }, this.#found, () => this.#spentMs);
        this.#stream.write(head);
      }
      if (rest.byteLength > 0) this.#stream?.write(rest);
    } catch {
      // The engine does not throw on content; should it anyway, the file is scanned again from the spool.
      this.#off = true;
    } finally {
      this.#spentMs += performance.now() - started;
    }
  }

  end(): ScanReport | undefined {
    const stream = this.#stream;
    this.#off = true;
    if (stream === undefined || this.#seen !== this.#size) return undefined;
    try {
      const bytes = stream.end();
      return { ...finishedReport(this.#found.list, 0, bytes), durationMs: this.#spentMs };
    } catch {
      return undefined;
    }
  }
}

/** Findings of one scan, without repeats (a hash and a body signature of the same name on the same object count once). */
class Findings {
  readonly list: Finding[] = [];
  readonly #seen = new Set<string>();
  constructor(readonly scanner: string) {}

  add(name: string, path: readonly string[]): void {
    const key = `${name}\0${path.join('\0')}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.list.push({ name, path, scanner: this.scanner });
  }

  addEngine(findings: readonly EngineFinding[], path: readonly string[]): void {
    for (const f of findings) this.add(f.name, path);
  }
}

/** Fills `into` from `position` on (or until end of file) and returns the filled part. */
async function readExactly(file: FileHandle, path: string, into: Buffer, position: number): Promise<Buffer> {
  let filled = 0;
  while (filled < into.byteLength) {
    const { bytesRead } = await file.read(into, filled, into.byteLength - filled, position + filled).catch((cause: unknown) => {
      throw inputError(path, cause);
    });
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === into.byteLength ? into : into.subarray(0, filled);
}

function inputError(path: string, cause: unknown): PortcullisError {
  const why = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : String(cause);
  return new PortcullisError('PC_ERR_SCAN_INPUT', `Cannot read ${path}: ${why}`, { cause });
}
