/**
 * Small helpers the mail and document extractors share: the byte budget of
 * one child (MaxFileSize and what is left of MaxScanSize), a set that drops a
 * child whose bytes were already produced by another reading, and text views
 * of bytes. Pure; no I/O.
 */
import { createHash } from 'node:crypto';
import type { ExtractContext, ExtractedChild } from '../types.js';

/** Most bytes one child may have now. */
export function childBudget(ctx: ExtractContext): number {
  return Math.max(0, Math.min(ctx.limits.MaxFileSize, ctx.remainingScanBytes()));
}

/**
 * Remembers which byte strings were produced, so a second reading that finds
 * the same bytes adds nothing. SHA-256, not MD5: an MD5 collision is made in
 * seconds, and a sender could then have a harmless reading stand in for a
 * hostile one of the same length; SHA-256 is also the faster of the two here
 * (SHA extensions: ~1.1 GB/s against MD5's ~0.5).
 */
export class SeenSet {
  readonly #seen = new Set<string>();

  /** True when these bytes are new (and remembers them). */
  add(data: Uint8Array): boolean {
    const key = `${data.length}:${createHash('sha256').update(data).digest('base64')}`;
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    return true;
  }
}

/** Bytes as a string, one char per byte (no decoding can fail). WHATWG's "latin1" is windows-1252, so Buffer's is used. */
export function latin1Text(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
}

/**
 * True when one of `needles` occurs in the bytes at a place `confirm` accepts
 * (given the bytes from that place on, at most `window` of them as latin1
 * text). A native search finds candidates, so asking "is there a marker?" of a
 * large binary costs a memchr, not a string of the whole object.
 */
export function hasMarker(data: Uint8Array, needles: readonly string[], confirm: (at: number, head: string) => boolean, window = 64): boolean {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  for (const needle of needles) {
    for (let i = buf.indexOf(needle, 0, 'latin1'); i >= 0; i = buf.indexOf(needle, i + 1, 'latin1')) {
      if (confirm(i, buf.toString('latin1', i, Math.min(buf.length, i + window)))) return true;
    }
  }
  return false;
}

/** True when `at` starts a line of `data`. */
export function atLineStart(data: Uint8Array, at: number): boolean {
  return at === 0 || data[at - 1] === 0x0a;
}

export function latin1Bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

/** A display name made safe: no control characters, no path separators in the way, bounded length. */
export function cleanName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const s = name.replace(/[\x00-\x1f\x7f]/g, '').trim();
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** "part 2 invoice.zip" / "part 2". */
export function labelled(label: string, name: string): string {
  const n = cleanName(name);
  return n === '' ? label : `${label} ${n}`;
}

/**
 * Hands children on while the budget lasts: a child over budget is cut and
 * reported as a limit finding; once MaxScanSize is spent nothing more goes out.
 */
export function fitChild(ctx: ExtractContext, child: ExtractedChild, capped = false): ExtractedChild | undefined {
  if (ctx.remainingScanBytes() <= 0) {
    ctx.report('Heuristics.Limits.Exceeded.MaxScanSize', child.name);
    return undefined;
  }
  if (capped || child.data.length > childBudget(ctx)) {
    const which = child.data.length > ctx.limits.MaxFileSize || capped ? 'MaxFileSize' : 'MaxScanSize';
    ctx.report(`Heuristics.Limits.Exceeded.${which}`, child.name);
    return { name: child.name, data: child.data.subarray(0, childBudget(ctx)) };
  }
  return child;
}
