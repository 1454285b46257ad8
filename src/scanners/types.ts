/**
 * One interface over every scanner: the built-in engine + walker, clamd, and
 * an external command. Protocol code sees only this.
 */

/** What to scan: a spooled file on disk, or bytes in memory. `name` is for display and findings only. */
export type ScanTarget =
  | { readonly name: string; readonly path: string; readonly size: number }
  | { readonly name: string; readonly data: Uint8Array };

export interface Finding {
  /** Signature or heuristic name, e.g. "Eicar-Test-Signature", "Heuristics.Limits.Exceeded.MaxFileSize". */
  readonly name: string;
  /** Where inside the object, root name first: ["mail.eml", "part 2 invoice.zip", "payload.exe"]. */
  readonly path: readonly string[];
  /** Which scanner found it ("builtin", "clamd", "command"). */
  readonly scanner: string;
}

export type Verdict = 'clean' | 'infected' | 'error';

export interface ScanReport {
  readonly verdict: Verdict;
  readonly findings: readonly Finding[];
  /** Scanner failures, each with a stable code (PC_ERR_SCAN_TIMEOUT, PC_ERR_SCANNER …). */
  readonly errors: readonly { readonly scanner: string; readonly code: string; readonly message: string }[];
  /** Bytes the scanner looked at, decoded objects included. */
  readonly bytesScanned: number;
  readonly durationMs: number;
  /** Raw scanner output worth showing a user (command scanners). */
  readonly output?: string;
}

export interface ScanCallOptions {
  readonly signal?: AbortSignal;
}

export interface Scanner {
  readonly name: string;
  scan(target: ScanTarget, options?: ScanCallOptions): Promise<ScanReport>;
  close(): Promise<void>;
  /**
   * Starts scanning a file of `size` bytes (as its sender announced it)
   * while it is still arriving, so that the scan runs beside the network
   * instead of after it. Undefined when this scanner cannot (it needs the
   * whole file, or scanning as it arrives would gain nothing for this size).
   */
  follow?(name: string, size: number): FileFollower | undefined;
}

/**
 * A scan fed the bytes of a file as they arrive. Its report stands for the
 * file only when exactly the announced bytes arrived; otherwise end() says
 * undefined and the file is scanned as usual, so a wrong announcement costs
 * time, never a verdict.
 */
export interface FileFollower {
  /** The file's next bytes, in order; scanned before it returns (the chunk may be reused afterwards). Never throws. */
  write(chunk: Uint8Array): void;
  /** The report for the whole file, or undefined when this scan cannot stand for it (other size, gave up). Call once. */
  end(): ScanReport | undefined;
}

/** Finding classes the policy maps to actions. */
export type FindingClass = 'virus' | 'limits' | 'encrypted' | 'unscannable' | 'banned';

export function classifyFinding(name: string): FindingClass {
  if (name.startsWith('Heuristics.Limits.Exceeded')) return 'limits';
  if (name.startsWith('Heuristics.Encrypted')) return 'encrypted';
  if (name.startsWith('Heuristics.Broken') || name.startsWith('Heuristics.Unscannable')) return 'unscannable';
  if (name.startsWith('Banned.')) return 'banned';
  return 'virus';
}
