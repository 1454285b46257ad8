/**
 * The message spool: DATA is kept in memory up to a threshold, then moved
 * to a temporary file (mode 0600, created exclusively under a random name)
 * and written there as it arrives. Memory per session is therefore at most
 * the threshold plus one chunk, whatever the message size.
 *
 * The spool is the message as received (after the DATA guard), the exact
 * bytes that are scanned, quarantined and forwarded. `dispose()` removes
 * the file; it is safe to call more than once.
 *
 * Reads untrusted bytes (the message) but only stores them.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ScanTarget } from '../scanners/types.js';

export interface SpoolOptions {
  /** Bytes kept in memory before spilling to disk. */
  readonly memoryLimit: number;
  /** Folder for spilled messages (created 0700 if missing). */
  readonly dir: string;
}

export class Spool {
  readonly #opts: SpoolOptions;
  #chunks: Buffer[] = [];
  #size = 0;
  #file: FileHandle | undefined;
  #path: string | undefined;
  #closed = false;

  constructor(opts: SpoolOptions) {
    this.#opts = opts;
  }

  get size(): number {
    return this.#size;
  }

  /** True once the message went to disk. */
  get onDisk(): boolean {
    return this.#path !== undefined;
  }

  get path(): string | undefined {
    return this.#path;
  }

  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.#size += chunk.length;
    if (this.#file === undefined && this.#size <= this.#opts.memoryLimit) {
      this.#chunks.push(chunk);
      return;
    }
    if (this.#file === undefined) await this.#spill();
    await (this.#file as FileHandle).write(chunk);
  }

  async #spill(): Promise<void> {
    await mkdir(this.#opts.dir, { recursive: true, mode: 0o700 });
    const path = join(this.#opts.dir, `smtp-${randomBytes(12).toString('hex')}.eml`);
    this.#file = await open(path, 'wx', 0o600);
    this.#path = path;
    const held = this.#chunks;
    this.#chunks = [];
    for (const c of held) await this.#file.write(c);
  }

  /** Flushes the file (if any); the spool is then read-only. */
  async finish(): Promise<void> {
    if (this.#file !== undefined && !this.#closed) {
      this.#closed = true;
      await this.#file.close();
    }
  }

  /** The bytes in memory (only when not on disk). */
  bytes(): Buffer {
    if (this.#path !== undefined) throw new Error('Cannot read the spool from memory: it is on disk');
    if (this.#chunks.length > 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] ?? Buffer.alloc(0);
  }

  /** The message as a scanner target. */
  target(name: string): ScanTarget {
    return this.#path !== undefined ? { name, path: this.#path, size: this.#size } : { name, data: this.bytes() };
  }

  /** A fresh stream of the whole message (64 KiB chunks from disk). */
  stream(): Readable {
    if (this.#path !== undefined) return createReadStream(this.#path, { highWaterMark: 64 * 1024 });
    return Readable.from([this.bytes()]);
  }

  async dispose(): Promise<void> {
    this.#chunks = [];
    if (this.#file !== undefined && !this.#closed) {
      this.#closed = true;
      await this.#file.close().catch(() => undefined);
    }
    const path = this.#path;
    this.#path = undefined;
    if (path !== undefined) await unlink(path).catch(() => undefined);
  }
}
