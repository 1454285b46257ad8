/**
 * Giving memory back between big scans. Scanning a big object leaves
 * buffers of a few times its size behind (the object read whole, decoded
 * parts, readings of a mail); V8 frees them only at its next full GC, which
 * it runs when its own heap, not the off-heap buffers, calls for it. Scans
 * that follow each other then stack their garbage: measured with 20 × 25 MB
 * messages scanned one after the other, RSS climbed ~100–180 MB above the
 * live set before V8 collected. A full collection costs ~5 ms here (the
 * compiled database lives in typed arrays the GC does not trace), so the
 * gateway runs one after each big inspection and after a database load.
 *
 * `gc` is not exposed to a normal process and node flags cannot reach the
 * `portcullis` binary, so it is exposed at run time and taken from a fresh
 * context (the flag applies to contexts made after it is set). Should that
 * ever fail, collecting is skipped: V8 still collects on its own, later.
 *
 * The young generation is kept at its starting size, as `scan` does
 * (cli/scan.ts): a database load otherwise grows it to 16 MiB semi-spaces
 * that stay committed and let short-lived buffers pile up between GCs.
 * No untrusted bytes.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** An inspection of at least this many bytes is followed by a full collection. */
export const COLLECT_AFTER_BYTES = 4 * 1024 * 1024;

let collector: (() => void) | null | undefined;

function findCollector(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/** Runs a full garbage collection now; false when the process cannot (nothing else changes). */
export function collectGarbage(): boolean {
  if (collector === undefined) collector = findCollector();
  if (collector === null) return false;
  collector();
  return true;
}

/**
 * Once per process, before the database is compiled: a young generation
 * that stays small. Loading a big database allocates fast enough that V8
 * grows it to 16 MiB semi-spaces, which stay committed; and short-lived
 * buffers (external memory) are freed only when a GC runs, so a bigger young
 * generation lets more of them pile up. Measured with `portcullis scan` on
 * the benchmark corpus (1.1 M signatures): peak RSS 233-270 -> 207-215 MB,
 * time unchanged. V8 reads the flag whenever it would grow the space, so
 * setting it at run time takes effect. Used by `start` and `scan`.
 */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
