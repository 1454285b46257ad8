/**
 * One scan worker of WorkerScanner (pool.ts): it compiles its own copy of
 * the signature databases it is given, then runs the builtin scanner on
 * every object the main thread posts, one message per object, and answers
 * with the report. An abort message stops that object's scan at its next
 * await (the scanner checks its signal between chunks and walked objects).
 *
 * Reads untrusted bytes: every posted object, through the builtin scanner
 * (the walker and the engine, which never throw because of content).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { compileDatabase } from '../engine/index.js';
import type { DbFile } from '../engine/types.js';
import type { Limits } from '../content/limits.js';
import { BuiltinScanner } from './builtin.js';
import { diskDbFile } from './dbload.js';
import { failedReport } from './report.js';
import type { ScanTarget } from './types.js';

/** A database file as it crosses to a worker: by path when it is on disk (read there), else its bytes. */
export type PortableDbFile = { readonly name: string; readonly path: string } | { readonly name: string; readonly data: Uint8Array };

export interface WorkerInit {
  readonly files: readonly PortableDbFile[];
  readonly limits: Limits;
  readonly name: string;
}

export type ToWorker =
  | { readonly type: 'scan'; readonly id: number; readonly target: ScanTarget }
  | { readonly type: 'abort'; readonly id: number };

const port = parentPort;
if (port !== null) {
  const init = workerData as WorkerInit;
  const started = performance.now();
  let scanner: BuiltinScanner;
  try {
    const files: DbFile[] = init.files.map((f) => ('path' in f ? diskDbFile(f.name, f.path) : f));
    scanner = new BuiltinScanner({ db: compileDatabase(files), limits: init.limits, name: init.name });
    port.postMessage({ type: 'ready', compileMs: performance.now() - started });
  } catch (err) {
    port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  const running = new Map<number, AbortController>();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'abort') {
      running.get(m.id)?.abort(new Error('aborted by the caller'));
      return;
    }
    const controller = new AbortController();
    running.set(m.id, controller);
    const t0 = performance.now();
    scanner.scan(m.target, { signal: controller.signal })
      .catch((err: unknown) => failedReport(init.name, err, t0))
      .then((report) => {
        running.delete(m.id);
        port.postMessage({ type: 'done', id: m.id, report });
      });
  });
}
