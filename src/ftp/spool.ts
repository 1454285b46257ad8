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
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export type ReceiveResult = 'complete' | 'tooBig';

/** Bytes buffered between the socket and the disk. */
const WRITE_BUFFER = 4 * 1024 * 1024;
/** Bytes read from the spool per chunk when sending. */
const READ_CHUNK = 1024 * 1024;

class SpoolFull extends Error {}

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

  /** Writes bytes already read (a head) at the end of the file. */
  async append(data: Buffer): Promise<void> {
    const fh = this.#fh;
    if (fh === undefined) throw new Error('Cannot append to the spool: it is closed');
    let off = 0;
    while (off < data.byteLength) off += (await fh.write(data, off, data.byteLength - off)).bytesWritten;
    this.#size += data.byteLength;
  }

  /**
   * Reads `source` to its end into the file (after what is there); stops (without draining it) at
   * the first byte past `maxBytes`. A write stream with a large buffer keeps
   * the socket read while earlier chunks are written (writev), so the disk's
   * latency does not stall the network.
   */
  async receive(source: Readable, maxBytes: number): Promise<ReceiveResult> {
    const fh = this.#fh;
    if (fh === undefined) throw new Error('Cannot receive into the spool: it is closed');
    this.#fh = undefined;
    let tooBig = false;
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, done) => {
        this.#size += chunk.byteLength;
        if (this.#size > maxBytes) {
          tooBig = true;
          done(new SpoolFull());
          return;
        }
        done(null, chunk);
      },
    });
    const sink = createWriteStream('', { fd: fh, highWaterMark: WRITE_BUFFER, autoClose: true });
    try {
      await pipeline(source, counter, sink);
    } catch (err) {
      if (tooBig) return 'tooBig';
      throw err;
    } finally {
      if (!sink.closed) await new Promise<void>((resolve) => { sink.once('close', () => resolve()); sink.destroy(); });
    }
    return 'complete';
  }

  /** Sends the file from `offset` to `sink` and ends it. */
  async send(sink: Writable, offset = 0): Promise<void> {
    const stream: Readable = createReadStream(this.path, { start: Math.min(offset, this.#size), highWaterMark: READ_CHUNK });
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
