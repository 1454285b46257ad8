/**
 * The content walker's contract: one object in, the objects inside it out
 * (MIME parts, uuencoded blocks, archive members …), with limits.
 * It knows nothing of protocols or scanners.
 */
import type { TargetType } from '../engine/types.js';

export interface FileType {
  /** Short stable name: "zip", "gzip", "pe", "elf", "mail", "pdf", "text", "binary" … */
  readonly name: string;
  readonly mime?: string;
  /** ClamAV target type for signature filtering (0 when unknown). */
  readonly target: TargetType;
  /** True when the walker has an extractor for this type. */
  readonly container: boolean;
}

/** One object found by the walker: the root itself, or something inside it. */
export interface ContentNode {
  /** Display name of this object alone ("invoice.zip", "part 2", "payload.exe"). */
  readonly name: string;
  /** Names from the root down to this object, root first; join with " › " to display. */
  readonly path: readonly string[];
  readonly data: Uint8Array;
  readonly type: FileType;
  readonly depth: number;
}

/** A finding the walker itself makes (limits, encryption, bombs, broken containers). */
export interface WalkerFinding {
  /** e.g. "Heuristics.Limits.Exceeded.MaxRecursion", "Heuristics.Encrypted.Zip". */
  readonly name: string;
  readonly path: readonly string[];
  /** Why, for logs (e.g. the message of an extractor that failed); never needed to act on the finding. */
  readonly detail?: string;
}

export type WalkItem =
  | { readonly kind: 'object'; readonly node: ContentNode }
  | { readonly kind: 'finding'; readonly finding: WalkerFinding };

/** A child produced by an extractor: its name inside the parent and its bytes. */
export interface ExtractedChild {
  readonly name: string;
  readonly data: Uint8Array;
  /**
   * True when `data` is only a prefix of the member because a limit stopped
   * the extractor (it has reported the limit finding itself): the walker scans
   * the prefix but does not look inside it.
   */
  readonly truncated?: boolean;
}

export const PATH_SEPARATOR = ' › ';

/** What an extractor may use while it works. */
export interface ExtractContext {
  /** The limits in force (see limits.ts). Extractors stop early when a budget runs out. */
  readonly limits: import('./limits.js').Limits;
  /** Bytes still allowed to be produced for this whole scan (MaxScanSize budget). */
  remainingScanBytes(): number;
  /**
   * Report a finding about this container (e.g. "Heuristics.Encrypted.Zip",
   * "Heuristics.Limits.Exceeded.MaxFiles", "Heuristics.Broken.Zip"), optionally
   * naming the child it concerns.
   */
  report(name: string, childName?: string): void;
  readonly signal?: AbortSignal;
  /** The container's own name ("clam.exe.bz2"), so single-stream formats can name their child ("clam.exe"). */
  readonly containerName?: string;
  /** Milliseconds left of MaxScanTime for this scan, for extractors that can stop long work (7-Zip's worker). */
  remainingTimeMs?(): number;
}

/**
 * Turns one container into its children. `extract` yields children lazily so
 * the walker can stop at a limit; it must not throw for bad bytes: report a
 * finding ("Heuristics.Broken.<Type>") and return what it could read.
 */
export interface Extractor {
  readonly name: string;
  accepts(type: FileType, data: Uint8Array): boolean;
  extract(data: Uint8Array, ctx: ExtractContext): AsyncIterable<ExtractedChild>;
}
