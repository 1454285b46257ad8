/**
 * The thread 7-Zip runs in. One worker, started on the first archive that
 * needs 7-Zip and kept (unreferenced, so it never holds the process open);
 * jobs go to it one at a time. A job that outlives what is left of
 * MaxScanTime ends the worker — the only way to stop wasm mid-call — and
 * becomes the finding `Heuristics.Limits.Exceeded.MaxScanTime`; the next
 * job starts a fresh worker.
 * A worker that dies (out of memory, a trap) fails only its own job.
 * After a job that moved many bytes, or left the worker holding much memory
 * (wasm memory only grows), the worker is ended and the next job starts a
 * fresh one (see RecyclePolicy).
 *
 * Reads no untrusted bytes itself: it carries them to the worker and the
 * members and findings back.
 */
import { Worker } from 'node:worker_threads';
import { limitFinding } from '../limits.js';
import type { ExtractContext, ExtractedChild } from '../types.js';
import type { SevenZipOptions } from './sevenzip.js';

/** What crosses to the worker: the job, with the context reduced to data. */
export interface JobRequest {
  readonly id: number;
  readonly data: Uint8Array;
  readonly limits: ExtractContext['limits'];
  readonly remaining: number;
  readonly containerName: string | undefined;
  readonly label: string;
  readonly only: readonly string[] | undefined;
  readonly sfxOnly: boolean;
  readonly type: string | undefined;
}

export interface JobReply {
  readonly id: number;
  readonly children: ExtractedChild[];
  readonly reports: { readonly name: string; readonly child?: string }[];
  /** Bytes the worker held outside its JS heap after the job (see sevenzip-worker.ts). */
  readonly memory: number;
  readonly error?: string;
}

/** When a worker is ended after a job rather than kept for the next one. */
export interface RecyclePolicy {
  /** The job's input plus its members exceeded this many bytes. */
  readonly jobBytes: number;
  /** The worker held more than this outside its JS heap (mostly wasm memory) after the job. */
  readonly heldBytes: number;
}

export const DEFAULT_RECYCLE: RecyclePolicy = { jobBytes: 8 * 1024 * 1024, heldBytes: 64 * 1024 * 1024 };

let recycle: RecyclePolicy = DEFAULT_RECYCLE;
/** Counters for tests and diagnostics. */
const stats = { started: 0, recycled: 0 };

/** Sets the recycling thresholds (tests use tiny ones); returns the previous policy. */
export function setRecyclePolicy(policy: RecyclePolicy): RecyclePolicy {
  const previous = recycle;
  recycle = policy;
  return previous;
}

/** Workers started and workers ended by the recycling policy since the process began. */
export function sevenZipPoolStats(): { readonly started: number; readonly recycled: number } {
  return { ...stats };
}

let worker: Worker | undefined;
let nextId = 0;
/** Jobs run one after another; this is the end of the queue. */
let tail: Promise<unknown> = Promise.resolve();
const waiting = new Map<number, { readonly worker: Worker; readonly resolve: (reply: JobReply) => void }>();

/** Fails the jobs of one worker only: a replacement may already be at work on the next job. */
function failAll(w: Worker, message: string): void {
  for (const [id, job] of waiting) {
    if (job.worker !== w) continue;
    waiting.delete(id);
    job.resolve({ id, children: [], reports: [], memory: 0, error: message });
  }
}

function start(): Worker {
  stats.started++;
  const w = new Worker(new URL('./sevenzip-worker.js', import.meta.url));
  w.on('message', (reply: JobReply) => {
    const job = waiting.get(reply.id);
    waiting.delete(reply.id);
    job?.resolve(reply);
  });
  w.on('error', (err) => { if (worker === w) worker = undefined; failAll(w, `7-Zip worker failed: ${err.message}`); });
  w.on('exit', (code) => { if (worker === w) worker = undefined; failAll(w, `7-Zip worker exited with ${code}`); });
  // After the listeners: attaching a 'message' listener references the worker again.
  w.unref();
  return w;
}

async function send(request: JobRequest, timeoutMs: number): Promise<JobReply | 'timeout'> {
  worker ??= start();
  const w = worker;
  return new Promise((resolve) => {
    // The timer is what keeps the process alive while the unreferenced worker works.
    const timer = setTimeout(() => {
      waiting.delete(request.id);
      if (worker === w) worker = undefined;
      void w.terminate();
      resolve('timeout');
    }, timeoutMs);
    waiting.set(request.id, { worker: w, resolve: (reply) => { clearTimeout(timer); recycleAfter(w, request, reply); resolve(reply); } });
    w.postMessage(request);
  });
}

/**
 * Ends the worker after a big job: its wasm memory grew to fit the job and
 * never shrinks, and the thread keeps the copied input until it collects.
 * The next job starts a fresh worker (tens of milliseconds), which is cheap
 * next to holding that memory for the rest of the process.
 */
function recycleAfter(w: Worker, request: JobRequest, reply: JobReply): void {
  // A worker already replaced died or timed out: there is nothing left to recycle.
  if (worker !== w) return;
  const moved = reply.children.reduce((n, c) => n + c.data.length, request.data.length);
  if (moved <= recycle.jobBytes && reply.memory <= recycle.heldBytes) return;
  stats.recycled++;
  if (worker === w) worker = undefined;
  void w.terminate();
}

/** Runs one 7-Zip job in the worker; findings are replayed on `ctx`, members returned. */
export async function runInWorker(data: Uint8Array, ctx: ExtractContext, opts: SevenZipOptions): Promise<ExtractedChild[]> {
  const request: JobRequest = {
    id: nextId++,
    data,
    limits: ctx.limits,
    remaining: ctx.remainingScanBytes(),
    containerName: ctx.containerName,
    label: opts.label,
    only: opts.only === undefined ? undefined : [...opts.only],
    sfxOnly: opts.sfxOnly === true,
    type: opts.type,
  };
  // The clock starts when the job reaches the worker, with what is left of the scan's time (all of it if unknown).
  const turn = tail.then(() => send(request, Math.max(1, ctx.remainingTimeMs?.() ?? ctx.limits.MaxScanTime)));
  tail = turn.catch(() => undefined);
  const reply = await turn;
  if (reply === 'timeout') {
    ctx.report(limitFinding('MaxScanTime'));
    return [];
  }
  for (const r of reply.reports) ctx.report(r.name, r.child);
  if (reply.error !== undefined) throw new Error(`Cannot unpack with 7-Zip: ${reply.error}`);
  return reply.children;
}
