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
}

export type WalkItem =
  | { readonly kind: 'object'; readonly node: ContentNode }
  | { readonly kind: 'finding'; readonly finding: WalkerFinding };

/** A child produced by an extractor: its name inside the parent and its bytes. */
export interface ExtractedChild {
  readonly name: string;
  readonly data: Uint8Array;
}

export const PATH_SEPARATOR = ' › ';
