/**
 * The content walker: one object in, it and every object inside it out,
 * depth-first, each with its path (names root first) and true type.
 *
 * It reads untrusted bytes only through detectType and the extractors, and
 * guards both: an extractor that throws becomes a finding
 * (`Heuristics.Unscannable.<Type>`, with the error in `detail` and passed to
 * `onError` for the log) and never escapes. Every limit (limits.ts) that is
 * hit is yielded as `Heuristics.Limits.Exceeded.<Name>` — the walk stops or
 * skips, but never passes silently:
 *  - MaxScanTime is checked before every object; 7-Zip jobs are stopped
 *    at it (they run in a worker), our own synchronous decoders are not, so
 *    one member may overrun it by the time it takes to unpack (bounded by
 *    MaxFileSize);
 *  - MaxFiles counts objects taken out of the root, all levels together;
 *  - MaxScanSize counts the bytes of all extracted objects; extractors are
 *    given the remaining budget and cap their output to it;
 *  - MaxFileSize: a bigger object (root or member) is scanned as its first
 *    MaxFileSize bytes and not opened;
 *  - MaxRecursion: a container deeper than this is scanned but not opened.
 *
 * Broken containers: ClamAV scans a broken archive's raw bytes and says
 * nothing. We always scan the raw bytes too (the container itself is yielded
 * before its members), and an extractor that recognised its format by magic
 * but could not read members it knows of reports `Heuristics.Broken.<Type>`,
 * so a truncated archive whose members went unread does not pass silently;
 * policy decides what that finding leads to (class "unscannable").
 *
 * Cancellation: when `signal` aborts, the walk throws the signal's reason at
 * the next object (that is the caller's own decision, not bad input).
 */
import { detectType, findingLabel } from './filetype.js';
import { extractors as defaultExtractors } from './extractors/index.js';
import { DEFAULT_LIMITS, limitFinding, type LimitName, type Limits } from './limits.js';
import type { ExtractContext, Extractor, FileType, WalkItem, WalkerFinding } from './types.js';

export interface WalkRoot {
  readonly name: string;
  readonly data: Uint8Array;
}

export interface WalkOptions {
  /** Overrides of DEFAULT_LIMITS. */
  readonly limits?: Partial<Limits>;
  readonly signal?: AbortSignal;
  /** Clock in ms for MaxScanTime; default Date.now (tests inject their own). */
  readonly now?: () => number;
  /** Extractors to use, in order; default the registry in extractors/index.ts. */
  readonly extractors?: readonly Extractor[];
  /** Told about every extractor that threw (the walk itself goes on). */
  readonly onError?: (error: unknown, path: readonly string[]) => void;
}

/** Counters shared by every level of one walk. */
interface WalkState {
  readonly limits: Limits;
  readonly started: number;
  readonly now: () => number;
  readonly signal: AbortSignal | undefined;
  readonly extractors: readonly Extractor[];
  readonly onError: ((error: unknown, path: readonly string[]) => void) | undefined;
  files: number;
  produced: number;
  /** Set once a walk-wide limit is hit: nothing more is extracted. */
  stopped: boolean;
}

function finding(name: string, path: readonly string[], detail?: string): WalkItem {
  const f: WalkerFinding = detail === undefined ? { name, path } : { name, path, detail };
  return { kind: 'finding', finding: f };
}

/** Yields the root and everything inside it, with the walker's own findings. */
export async function* walk(root: WalkRoot, options: WalkOptions = {}): AsyncGenerator<WalkItem> {
  const now = options.now ?? Date.now;
  const state: WalkState = {
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    started: now(),
    now,
    signal: options.signal,
    extractors: options.extractors ?? defaultExtractors,
    onError: options.onError,
    files: 0,
    produced: 0,
    stopped: false,
  };
  let data = root.data;
  let truncated = false;
  if (data.length > state.limits.MaxFileSize) {
    yield finding(limitFinding('MaxFileSize'), [root.name]);
    data = data.subarray(0, state.limits.MaxFileSize);
    truncated = true;
  }
  yield* visit(state, root.name, data, [root.name], 0, truncated);
}

function limitHit(state: WalkState, name: LimitName, path: readonly string[]): WalkItem {
  state.stopped = true;
  return finding(limitFinding(name), path);
}

async function* visit(
  state: WalkState, name: string, data: Uint8Array, path: readonly string[], depth: number, truncated: boolean,
): AsyncGenerator<WalkItem> {
  state.signal?.throwIfAborted();
  if (state.now() - state.started > state.limits.MaxScanTime) {
    yield limitHit(state, 'MaxScanTime', path);
    return;
  }
  const type = detectType(data, name);
  yield { kind: 'object', node: { name, path, data, type, depth } };
  if (truncated || state.stopped) return;
  const extractor = state.extractors.find((e) => safeAccepts(e, type, data));
  if (extractor === undefined) return;
  if (depth >= state.limits.MaxRecursion) {
    yield finding(limitFinding('MaxRecursion'), path);
    return;
  }
  yield* extractFrom(state, extractor, type, data, path, depth);
}

function safeAccepts(e: Extractor, type: FileType, data: Uint8Array): boolean {
  try {
    return e.accepts(type, data);
  } catch {
    return false;
  }
}

async function* extractFrom(
  state: WalkState, extractor: Extractor, type: FileType, data: Uint8Array, path: readonly string[], depth: number,
): AsyncGenerator<WalkItem> {
  const pending: WalkItem[] = [];
  const ctx: ExtractContext = {
    limits: state.limits,
    remainingScanBytes: () => state.limits.MaxScanSize - state.produced,
    report: (findingName, childName) => {
      pending.push(finding(findingName, childName === undefined ? path : [...path, childName]));
    },
    containerName: path[path.length - 1] ?? '',
    remainingTimeMs: () => state.limits.MaxScanTime - (state.now() - state.started),
    ...(state.signal === undefined ? {} : { signal: state.signal }),
  };
  try {
    for await (const child of extractor.extract(data, ctx)) {
      yield* pending.splice(0);
      state.signal?.throwIfAborted();
      const childPath = [...path, child.name];
      state.files++;
      if (state.files > state.limits.MaxFiles) { yield limitHit(state, 'MaxFiles', childPath); break; }
      let childData = child.data;
      let truncated = child.truncated === true;
      const room = state.limits.MaxScanSize - state.produced;
      if (childData.length > room) {
        // An extractor that ignored its budget: scan what fits, then stop.
        childData = childData.subarray(0, Math.max(0, room));
        truncated = true;
        pending.push(limitHit(state, 'MaxScanSize', childPath));
      }
      if (childData.length > state.limits.MaxFileSize) {
        childData = childData.subarray(0, state.limits.MaxFileSize);
        truncated = true;
        pending.push(finding(limitFinding('MaxFileSize'), childPath));
      }
      state.produced += childData.length;
      // A member cut short with the whole budget spent: every further member would be cut to nothing.
      if (truncated && state.produced >= state.limits.MaxScanSize) state.stopped = true;
      yield* pending.splice(0);
      yield* visit(state, child.name, childData, childPath, depth + 1, truncated);
      if (state.stopped) break;
    }
  } catch (err) {
    if (state.signal?.aborted === true) throw err;
    const detail = `extractor ${extractor.name} failed: ${err instanceof Error ? err.message : String(err)}`;
    pending.push(finding(`Heuristics.Unscannable.${findingLabel(type.name)}`, path, detail));
    state.onError?.(err, path);
  }
  yield* pending.splice(0);
}
