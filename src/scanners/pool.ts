/**
 * The builtin scanner on worker threads (engine.scanWorkers): each worker
 * compiles its own copy of the signature databases and scans the objects
 * it is handed, so scanning uses more cores than the one the proxies'
 * event loop runs on. An object goes to the worker with the fewest scans
 * in hand; its bytes are copied to it once (a file on disk goes by path).
 *
 * Fail closed: a worker that dies answers every scan it held with
 * PC_ERR_SCANNER (a scanner failure, tempfail by default) and is replaced;
 * with no worker running a scan fails the same way, never passes. Memory:
 * every worker holds a whole compiled database, so N workers cost N times
 * its size on top of the main thread's copy (which follow() uses: a scan
 * fed as an FTP download arrives runs chunk by chunk on the main thread).
 * Database files on disk are handed over by path and read by each worker
 * (and again by a replacement), so a file changed on disk in between is
 * read as it is then; a reload brings every copy to the same files.
 *
 * Reads no bytes itself: the workers do (pool-worker.ts).
 */
import { Worker } from 'node:worker_threads';
import { PortcullisError } from '../errors.js';
import type { DbFile } from '../engine/types.js';
import type { Limits } from '../content/limits.js';
import type { PortableDbFile, ToWorker, WorkerInit } from './pool-worker.js';
import { failedReport } from './report.js';
import type { FileFollower, ScanCallOptions, ScanReport, Scanner, ScanTarget } from './types.js';

export interface WorkerScannerOptions {
  /** The databases every worker compiles. */
  readonly files: readonly DbFile[];
  readonly limits: Limits;
  /** How many workers (at least 1). */
  readonly workers: number;
  /** Scanner name in findings; default "builtin". */
  readonly name?: string;
  /** A scanner on this thread over the same database, for follow(). */
  readonly local?: Scanner;
}

type FromWorker =
  | { readonly type: 'ready'; readonly compileMs: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'done'; readonly id: number; readonly report: ScanReport };

interface Slot {
  readonly worker: Worker;
  readonly pending: Map<number, (report: ScanReport) => void>;
  ready: boolean;
  dead: boolean;
}

export class WorkerScanner implements Scanner {
  readonly name: string;
  readonly #init: WorkerInit;
  readonly #local: Scanner | undefined;
  readonly #slots: Slot[] = [];
  #nextId = 1;
  #closed = false;
  /** Workers being started (compiling their databases). */
  readonly #starting = new Set<Promise<void>>();

  private constructor(options: WorkerScannerOptions) {
    this.name = options.name ?? 'builtin';
    this.#init = { files: options.files.map(portable), limits: options.limits, name: this.name };
    this.#local = options.local;
  }

  /** Starts the workers and resolves once every one has compiled its database. */
  static async start(options: WorkerScannerOptions): Promise<WorkerScanner> {
    const s = new WorkerScanner(options);
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.floor(options.workers)) }, () => s.#spawn()));
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  /** Workers running and ready. */
  get workers(): number {
    return this.#slots.length;
  }

  async scan(target: ScanTarget, options: ScanCallOptions = {}): Promise<ScanReport> {
    const started = performance.now();
    if (this.#closed) return failedReport(this.name, new PortcullisError('PC_ERR_SCANNER', 'Cannot scan: the scanner is closed'), started);
    // With every worker gone, one being started (a replacement) is waited for; with none coming, the scan fails closed.
    if (this.#slots.length === 0 && this.#starting.size > 0) await Promise.race([...this.#starting]).catch(() => undefined);
    let slot: Slot | undefined;
    for (const s of this.#slots) if (slot === undefined || s.pending.size < slot.pending.size) slot = s;
    if (slot === undefined) return failedReport(this.name, new PortcullisError('PC_ERR_SCANNER', 'Cannot scan: no scan worker is running'), started);
    const id = this.#nextId++;
    const chosen = slot;
    const signal = options.signal;
    return new Promise<ScanReport>((resolve) => {
      const onAbort = (): void => { if (!chosen.dead) chosen.worker.postMessage({ type: 'abort', id } satisfies ToWorker); };
      chosen.pending.set(id, (report) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(report);
      });
      try {
        const sent = own(target);
        chosen.worker.postMessage({ type: 'scan', id, target: sent } satisfies ToWorker, 'data' in sent ? [sent.data.buffer as ArrayBuffer] : []);
      } catch (err) {
        chosen.pending.delete(id);
        resolve(failedReport(this.name, new PortcullisError('PC_ERR_SCANNER', `Cannot scan: the object could not be handed to a scan worker (${err instanceof Error ? err.message : String(err)})`), started));
        return;
      }
      if (signal?.aborted === true) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Stops one worker as if it had died (fault drills and tests): the scans
   * it held fail closed and a new worker takes its place.
   */
  async stopWorker(index: number): Promise<void> {
    await this.#slots[index]?.worker.terminate();
  }

  follow(name: string, size: number): FileFollower | undefined {
    return this.#local?.follow?.(name, size);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const slots = this.#slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate().catch(() => undefined)));
    await this.#local?.close();
  }

  #spawn(): Promise<void> {
    const started = this.#start();
    this.#starting.add(started);
    const done = (): void => { this.#starting.delete(started); };
    started.then(done, done);
    return started;
  }

  #start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL('./pool-worker.js', import.meta.url), { workerData: this.#init });
      const slot: Slot = { worker, pending: new Map(), ready: false, dead: false };
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          slot.ready = true;
          if (this.#closed) { void worker.terminate(); resolve(); return; }
          this.#slots.push(slot);
          resolve();
        } else if (m.type === 'failed') {
          reject(new PortcullisError('PC_ERR_DB_BUILD', `Cannot start a scan worker: ${m.message}`));
        } else {
          const done = slot.pending.get(m.id);
          slot.pending.delete(m.id);
          done?.(m.report);
        }
      });
      const lost = (why: string): void => {
        if (slot.dead) return;
        slot.dead = true;
        const i = this.#slots.indexOf(slot);
        if (i >= 0) this.#slots.splice(i, 1);
        const err = new PortcullisError('PC_ERR_SCANNER', `Cannot scan: the scan worker stopped (${why})`);
        for (const done of slot.pending.values()) done(failedReport(this.name, err, performance.now()));
        slot.pending.clear();
        if (!slot.ready) { reject(err); return; }
        // A worker that was serving is replaced; until then the others take its share.
        if (!this.#closed) this.#spawn().catch(() => undefined);
      };
      worker.on('error', (err) => lost(err.message));
      worker.on('exit', (code) => lost(`exit code ${code}`));
    });
  }
}

/** A file on disk goes by path (the worker reads it, and nothing here holds its bytes); the built-in ones by their bytes. */
function portable(f: DbFile): PortableDbFile {
  const path = (f as { path?: unknown }).path;
  return typeof path === 'string' ? { name: f.name, path } : { name: f.name, data: f.data };
}

/**
 * The target as it goes to the worker: bytes in memory are copied once into
 * a buffer of their own (a view into a bigger buffer would otherwise carry
 * all of it along), which is then moved, not copied again.
 */
function own(target: ScanTarget): ScanTarget {
  if (!('data' in target)) return target;
  // new Uint8Array(view) copies; Buffer#slice would not (it is subarray), and moving its memory would take the caller's.
  return { name: target.name, data: new Uint8Array(target.data) };
}
