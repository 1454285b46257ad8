/**
 * Small helpers every scanner uses to build a ScanReport, and a counting
 * semaphore for scanners that bound how many scans run at once.
 * No I/O; reads no untrusted bytes.
 */
import { isPortcullisError } from '../errors.js';
import type { Finding, ScanReport, ScanTarget } from './types.js';

export function targetSize(target: ScanTarget): number {
  return 'data' in target ? target.data.byteLength : target.size;
}

/** A report for a scan that failed: verdict `error`, with the stable code of the failure. */
export function failedReport(scanner: string, error: unknown, started: number, bytesScanned = 0, output?: string): ScanReport {
  const code = isPortcullisError(error) ? error.code : 'PC_ERR_SCANNER';
  const message = error instanceof Error ? error.message : String(error);
  return {
    verdict: 'error', findings: [], errors: [{ scanner, code, message }], bytesScanned,
    durationMs: performance.now() - started, ...(output !== undefined ? { output } : {}),
  };
}

/** A report for a scan that finished: infected when anything was found. */
export function finishedReport(findings: readonly Finding[], started: number, bytesScanned: number, output?: string): ScanReport {
  return {
    verdict: findings.length > 0 ? 'infected' : 'clean', findings, errors: [], bytesScanned,
    durationMs: performance.now() - started, ...(output !== undefined ? { output } : {}),
  };
}

/** FIFO counting semaphore. `acquire` honours an AbortSignal so a queued scan can still time out. */
export class Semaphore {
  #free: number;
  readonly #waiters: { grant: () => void; reject: (e: unknown) => void }[] = [];

  constructor(permits: number) {
    this.#free = Math.max(1, Math.floor(permits));
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return this.#releaser();
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.#releaser());
        },
        reject,
      };
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiters.shift();
      if (next !== undefined) next.grant();
      else this.#free++;
    };
  }
}
