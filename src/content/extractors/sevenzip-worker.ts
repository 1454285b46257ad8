/**
 * Worker-thread entry for 7-Zip jobs (see sevenzip-pool.ts): each message is
 * one job; the reply carries the members (their buffers transferred, not
 * copied), the findings and how much memory the thread now holds, so the
 * pool can recycle it. Reads untrusted bytes only through sevenZipJob.
 */
import { parentPort } from 'node:worker_threads';
import { sevenZipJob } from './sevenzip.js';
import type { JobReply, JobRequest } from './sevenzip-pool.js';

/**
 * Bytes this thread holds outside its JS heap: the wasm memory (which only
 * grows) and file buffers of the in-memory file system not yet collected.
 * `external` is per isolate, so it is this worker's alone.
 */
function heldMemory(): number {
  return process.memoryUsage().external;
}

parentPort?.on('message', (job: JobRequest) => {
  const reports: { name: string; child?: string }[] = [];
  sevenZipJob(job.data, {
    limits: job.limits,
    remainingScanBytes: () => job.remaining,
    report: (name, child) => { reports.push(child === undefined ? { name } : { name, child }); },
    ...(job.containerName === undefined ? {} : { containerName: job.containerName }),
  }, {
    label: job.label,
    sfxOnly: job.sfxOnly,
    ...(job.only === undefined ? {} : { only: job.only }),
    ...(job.type === undefined ? {} : { type: job.type }),
  }).then(
    (children) => {
      const reply: JobReply = { id: job.id, children, reports, memory: heldMemory() };
      const buffers = [...new Set(children.map((c) => c.data.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
      try {
        parentPort?.postMessage(reply, buffers);
      } catch {
        // A buffer that cannot be transferred (shared with the wasm heap) is copied instead.
        parentPort?.postMessage(reply);
      }
    },
    (err: unknown) => {
      const reply: JobReply = { id: job.id, children: [], reports, memory: heldMemory(), error: err instanceof Error ? err.message : String(err) };
      parentPort?.postMessage(reply);
    },
  );
});
