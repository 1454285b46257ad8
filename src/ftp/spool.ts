/**
 * The transfer spool: each file on its way through the proxy is received
 * whole into its own temporary file (mode 0600, created exclusively under a
 * random name, so concurrent sessions moving the same file name never
 * collide), scanned there, sent on from there (from an offset for REST), and
 * deleted. Receiving stops reading the socket while two staged 4 MiB
 * buffers wait for the disk, so memory stays bounded whatever the sender's
 * speed; a size cap stops the receive at the first byte over.
 *
 * Reads untrusted bytes: it stores them, it does not interpret them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { ChunkReader, READ_BUFFER } from './data.js';

export type ReceiveResult = 'complete' | 'tooBig';

/** The spool's own file could not be written (ENOSPC, EIO …): a local failure, never the peer's connection. */
export class SpoolError extends Error {}

function spoolError(cause: unknown): SpoolError {
  const why = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : String(cause);
  return new SpoolError(`Cannot write the spool: ${why}`, { cause });
}

/** Bytes staged between the socket and the disk per write. */
const STAGE = 4 * 1024 * 1024;
/** Bytes read from the spool per chunk when sending. */
const READ_CHUNK = 2 * 1024 * 1024;

/**
 * Large buffers kept between transfers (a few), so that a warm proxy
 * allocates none per transfer: each one allocated was memory outside the
 * JS heap that hastened a full garbage collection, which showed as added
 * time to first byte of small scanned files after big ones. A buffer from
 * here holds an earlier transfer's bytes: only the bytes just read or
 * received into it are ever written out.
 */
class BufferPool {
  readonly #size: number;
  readonly #keep: number;
  readonly #free: Buffer[] = [];

  constructor(size: number, keep: number) {
    this.#size = size;
    this.#keep = keep;
  }

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.#size);
  }

  /** Only a buffer no write uses any more. */
  give(b: Buffer): void {
    if (b.byteLength === this.#size && this.#free.length < this.#keep) this.#free.push(b);
  }
}

const stagePool = new BufferPool(STAGE, 6);
const readPool = new BufferPool(READ_CHUNK, 8);

/** Writes `parts` one after the other at `position`, all of them (a short write goes on from where it stopped). */
async function writevAll(fh: FileHandle, parts: Buffer[], position: number): Promise<void> {
  let done = (await fh.writev(parts, position)).bytesWritten;
  let at = position;
  for (const p of parts) {
    if (done >= p.byteLength) { done -= p.byteLength; at += p.byteLength; continue; }
    for (let off = done; off < p.byteLength;) off += (await fh.write(p, off, p.byteLength - off, at + off)).bytesWritten;
    done = 0;
    at += p.byteLength;
  }
}

/** Resolves when `sink` has taken `chunk` off our hands (written to the kernel, for a socket). */
function write(sink: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    sink.write(chunk, (err?: Error | null) => { if (err) reject(err); else resolve(); });
  });
}

export class Spool {
  readonly path: string;
  #fh: FileHandle | undefined;
  #size = 0;

  private constructor(path: string, fh: FileHandle) {
    this.path = path;
    this.#fh = fh;
  }

  /** `openFile` is node's open; tests hand in one whose file fails, as a full disk would. */
  static async create(dir: string, label: string, openFile: typeof open = open): Promise<Spool> {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const safe = label.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32);
      const path = join(dir, `${safe}-${randomBytes(12).toString('hex')}.part`);
      return new Spool(path, await openFile(path, 'wx', 0o600));
    } catch (err) {
      throw spoolError(err);
    }
  }

  get size(): number {
    return this.#size;
  }

  /** Writes bytes already read (a head) at the end of the file. */
  async append(data: Buffer): Promise<void> {
    const fh = this.#fh;
    if (fh === undefined) throw new Error('Cannot append to the spool: it is closed');
    try {
      let off = 0;
      while (off < data.byteLength) off += (await fh.write(data, off, data.byteLength - off)).bytesWritten;
    } catch (err) {
      throw spoolError(err);
    }
    this.#size += data.byteLength;
  }

  /**
   * Reads `source` (through its ChunkReader) to its end into the file
   * (after what is there); stops (without draining it, and destroying it)
   * at the first byte past `maxBytes`. Chunks are gathered into batches of
   * about 3 MiB, each written with one writev while the next gathers, so the
   * disk's latency does not stall the network; chunks of a reused read
   * buffer are copied into a pooled staging buffer first. While two batches
   * wait for the disk the socket stops reading. `tap`, when given, is shown
   * each chunk first, in order, before anything may reuse its memory (a scan
   * that follows the file as it arrives).
   */
  receive(source: Socket, maxBytes: number, tap?: (chunk: Buffer) => void): Promise<ReceiveResult> {
    const fh = this.#fh;
    if (fh === undefined) return Promise.reject(new Error('Cannot receive into the spool: it is closed'));
    this.#fh = undefined;
    const reader = ChunkReader.of(source);
    // A batch is written at once (writev): ordinary chunks as they are, a
    // reused buffer's chunks copied into a staging buffer. Three staging
    // buffers at most: one filling, two being written.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let stage: Buffer | undefined;
    let fill = 0;
    let position = this.#size;
    let inFlight = 0;
    let stopped = false;
    let written: Promise<void> = Promise.resolve();
    return new Promise<ReceiveResult>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: ReceiveResult | Error): void => {
        if (settled) return;
        settled = true;
        reader.set(undefined);
        source.off('end', onEnd);
        source.off('close', onClose);
        source.off('error', onError);
        if (outcome !== 'complete') source.destroy();
        // The file is closed only when no write is running on it.
        void written.catch(() => undefined).then(() => fh.close()).catch(() => undefined).then(() => {
          if (stage !== undefined) stagePool.give(stage);
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        });
      };
      const hand = (): void => {
        if (batchBytes === 0) return;
        const parts = batch;
        const owned = stage;
        const at = position;
        position += batchBytes;
        inFlight++;
        batch = [];
        batchBytes = 0;
        stage = undefined;
        fill = 0;
        written = written.then(() => writevAll(fh, parts, at)).then(() => {
          inFlight--;
          if (owned !== undefined) stagePool.give(owned);
          if (stopped && inFlight < 2 && !settled) { stopped = false; reader.resume(); }
        });
        written.catch((err: unknown) => settle(spoolError(err)));
      };
      const onChunk = (chunk: Buffer, reused: boolean): boolean => {
        if (settled) return false;
        this.#size += chunk.byteLength;
        if (this.#size > maxBytes) { settle('tooBig'); return false; }
        tap?.(chunk);
        if (!reused) {
          batch.push(chunk);
        } else if (chunk.byteLength > STAGE) {
          // Larger than a stage (no socket reads that much at once): kept as a copy of its own.
          batch.push(Buffer.from(chunk));
        } else {
          if (stage !== undefined && chunk.byteLength > STAGE - fill) hand();
          stage ??= stagePool.take();
          batch.push(stage.subarray(fill, fill + chunk.byteLength));
          chunk.copy(stage, fill);
          fill += chunk.byteLength;
        }
        batchBytes += chunk.byteLength;
        if (batchBytes >= STAGE - READ_BUFFER || (stage !== undefined && STAGE - fill < READ_BUFFER)) hand();
        if (inFlight < 2) return true;
        stopped = true;
        return false;
      };
      const onEnd = (): void => {
        hand();
        written.then(() => settle('complete'), () => undefined);
      };
      const onClose = (): void => { if (!source.readableEnded) settle(new Error('the data connection closed before its end')); };
      const onError = (err: Error): void => settle(err);
      source.once('end', onEnd);
      source.once('close', onClose);
      source.once('error', onError);
      reader.set(onChunk);
      reader.resume();
    });
  }

  /**
   * Sends the file from `offset` to `sink` and ends it. Two buffers
   * from the pool take turns: the next chunk is read from the file while
   * the previous one is being written, and a buffer is refilled only after
   * the socket has handed its bytes to the kernel. A read stream allocated a
   * new buffer per chunk instead (200 MB of short-lived memory per 200 MB
   * file, most of the garbage collector's work during a delivery).
   */
  async send(sink: Writable, offset = 0): Promise<void> {
    const fh = await open(this.path, 'r');
    try {
      const buffers = [readPool.take(), readPool.take()];
      let position = Math.min(offset, this.#size);
      let writing: Promise<void> | undefined;
      for (let turn = 0; ; turn ^= 1) {
        const buffer = buffers[turn] as Buffer;
        const { bytesRead } = await fh.read(buffer, 0, buffer.byteLength, position);
        await writing;
        if (bytesRead === 0) break;
        position += bytesRead;
        writing = write(sink, buffer.subarray(0, bytesRead));
        // A failure while the next chunk is read is seen at the next await; until then it must not go unhandled.
        writing.catch(() => undefined);
      }
      // Back to the pool only here, with no write running; after a failure they are left to the collector.
      for (const b of buffers) readPool.give(b);
      await new Promise<void>((resolve, reject) => { sink.end((err?: Error | null) => { if (err) reject(err); else resolve(); }); });
    } catch (err) {
      sink.destroy();
      throw err;
    } finally {
      await fh.close();
    }
  }

  /** Deletes the file (idempotent, never throws). */
  async remove(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close().catch(() => undefined);
    await rm(this.path, { force: true }).catch(() => undefined);
  }
}
