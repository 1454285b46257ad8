/**
 * The transfer spool: each file on its way through the proxy is received
 * whole into its own temporary file (mode 0600, created exclusively under a
 * random name, so concurrent sessions moving the same file name never
 * collide), scanned there, sent on from there (from an offset for REST), and
 * deleted. Reading is pull-based (one chunk written before the next is read),
 * so memory stays bounded whatever the sender's speed; a size cap stops the
 * receive at the first byte over.
 *
 * Reads untrusted bytes: it stores them, it does not interpret them.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export type ReceiveResult = 'complete' | 'tooBig';

export class Spool {
  readonly path: string;
  #fh: FileHandle | undefined;
  #size = 0;

  private constructor(path: string, fh: FileHandle) {
    this.path = path;
    this.#fh = fh;
  }

  static async create(dir: string, label: string): Promise<Spool> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const safe = label.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32);
    const path = join(dir, `${safe}-${randomBytes(12).toString('hex')}.part`);
    const fh = await open(path, 'wx', 0o600);
    return new Spool(path, fh);
  }

  get size(): number {
    return this.#size;
  }

  /** Reads `source` to its end into the file; stops (without draining it) at the first byte past `maxBytes`. */
  async receive(source: AsyncIterable<Buffer>, maxBytes: number, onBytes?: (total: number) => void): Promise<ReceiveResult> {
    const fh = this.#fh;
    if (fh === undefined) throw new Error('Cannot receive into the spool: it is closed');
    for await (const chunk of source) {
      this.#size += chunk.byteLength;
      if (this.#size > maxBytes) return 'tooBig';
      let off = 0;
      while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
      onBytes?.(this.#size);
    }
    await fh.close();
    this.#fh = undefined;
    return 'complete';
  }

  /** Sends the file from `offset` to `sink` and ends it. */
  async send(sink: Writable, offset = 0): Promise<void> {
    const stream: Readable = createReadStream(this.path, { start: Math.min(offset, this.#size), highWaterMark: 256 * 1024 });
    await pipeline(stream, sink);
  }

  /** Deletes the file (idempotent, never throws). */
  async remove(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close().catch(() => undefined);
    await rm(this.path, { force: true }).catch(() => undefined);
  }
}
