/**
 * Several scanners as one: every scanner sees the object (in parallel), the
 * findings are merged (each keeps the name of the scanner that made it).
 * Verdict: `infected` if any scanner found something; otherwise `error` if
 * any failed, unless `failOpen` is set, in which case failures are still
 * listed in `errors` but the verdict is `clean`. A finding wins over a
 * failure because the object is known to be bad whatever the others say.
 * Reads no bytes itself.
 */
import type { FileFollower, ScanCallOptions, ScanReport, Scanner, ScanTarget } from './types.js';

export interface CombinedOptions {
  /** Treat a failed member as clean (its errors stay in the report). Default false: fail closed. */
  readonly failOpen?: boolean;
  readonly name?: string;
}

export class CombinedScanner implements Scanner {
  readonly name: string;
  readonly #scanners: readonly Scanner[];
  readonly #failOpen: boolean;

  constructor(scanners: readonly Scanner[], options: CombinedOptions = {}) {
    this.#scanners = scanners;
    this.#failOpen = options.failOpen ?? false;
    this.name = options.name ?? scanners.map((s) => s.name).join('+');
  }

  get members(): readonly Scanner[] {
    return this.#scanners;
  }

  async scan(target: ScanTarget, options: ScanCallOptions = {}): Promise<ScanReport> {
    const started = performance.now();
    const reports = await Promise.all(this.#scanners.map((s) => s.scan(target, options)));
    return mergeReports(reports, { failOpen: this.#failOpen, started });
  }

  async close(): Promise<void> {
    await Promise.all(this.#scanners.map((s) => s.close()));
  }

  /** Follows a file only when every member can: a report that left one out would not be this scanner's. */
  follow(name: string, size: number): FileFollower | undefined {
    const followers: FileFollower[] = [];
    for (const s of this.#scanners) {
      const f = s.follow?.(name, size);
      if (f === undefined) return undefined;
      followers.push(f);
    }
    return {
      write: (chunk) => { for (const f of followers) f.write(chunk); },
      end: () => {
        const reports = followers.map((f) => f.end());
        if (reports.some((r) => r === undefined)) return undefined;
        const done = reports as ScanReport[];
        // The members scanned side by side with the network: the time is the longest one's scanning, not the transfer's.
        return { ...mergeReports(done, { failOpen: this.#failOpen, started: 0 }), durationMs: Math.max(...done.map((r) => r.durationMs)) };
      },
    };
  }
}

export function mergeReports(reports: readonly ScanReport[], options: { failOpen: boolean; started: number }): ScanReport {
  const findings = reports.flatMap((r) => r.findings);
  const errors = reports.flatMap((r) => r.errors);
  const outputs = reports.map((r) => r.output).filter((o): o is string => o !== undefined && o.length > 0);
  const verdict = findings.length > 0 ? 'infected' : errors.length > 0 && !options.failOpen ? 'error' : 'clean';
  return {
    verdict,
    findings,
    errors,
    bytesScanned: Math.max(0, ...reports.map((r) => r.bytesScanned)),
    durationMs: performance.now() - options.started,
    ...(outputs.length > 0 ? { output: outputs.join('\n') } : {}),
  };
}
