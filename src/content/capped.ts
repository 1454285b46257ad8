/**
 * Bounded output for extractors: every member is unpacked into a CappedSink
 * whose cap is the smallest of MaxFileSize, the scan's remaining MaxScanSize
 * budget and (when the packed size is known) the compression-ratio bound. A
 * decoder is fed small input slices and stopped as soon as the sink is full,
 * so a bomb costs at most one slice's worth of output beyond the cap — it is
 * never inflated fully and checked afterwards.
 *
 * Reads no untrusted bytes itself; it bounds what decoders produce from them.
 */
import { BOMB_MIN_UNPACKED, limitFinding, type LimitName } from './limits.js';
import type { ExtractContext, ExtractedChild } from './types.js';

/** Input slice size fed to decoders between cap checks (deflate expands ≤ 1032×, so ≤ ~4 MiB of output per slice). */
export const FEED_SLICE = 4096;

export interface MemberCap {
  readonly bytes: number;
  /** The limit that set `bytes`, named in the finding if the member reaches it. */
  readonly reason: Extract<LimitName, 'MaxFileSize' | 'MaxScanSize' | 'MaxCompressionRatio'>;
}

/** The most bytes one member may unpack to, given its packed size when the format states it. */
export function memberCap(ctx: ExtractContext, packedSize?: number): MemberCap {
  let cap: MemberCap = { bytes: ctx.limits.MaxFileSize, reason: 'MaxFileSize' };
  const remaining = Math.max(0, ctx.remainingScanBytes());
  if (remaining < cap.bytes) cap = { bytes: remaining, reason: 'MaxScanSize' };
  if (packedSize !== undefined) {
    const ratioCap = Math.max(BOMB_MIN_UNPACKED, packedSize * ctx.limits.MaxCompressionRatio);
    if (ratioCap < cap.bytes) cap = { bytes: ratioCap, reason: 'MaxCompressionRatio' };
  }
  return cap;
}

/** Collects decoder output up to a cap; what goes beyond is dropped and remembered. */
export class CappedSink {
  readonly cap: MemberCap;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #overflow = false;

  constructor(cap: MemberCap) {
    this.cap = cap;
  }

  get length(): number { return this.#length; }
  get full(): boolean { return this.#overflow; }

  /** Adds a chunk; returns false once the cap is passed (the decoder should stop). */
  push(chunk: Uint8Array): boolean {
    if (this.#overflow) return false;
    const room = this.cap.bytes - this.#length;
    if (chunk.length > room) {
      if (room > 0) this.#chunks.push(chunk.slice(0, room));
      this.#length += Math.max(0, room);
      this.#overflow = true;
      return false;
    }
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
    return true;
  }

  bytes(): Uint8Array {
    // One chunk (a stored member, a view into the container) is handed on as is: no copy.
    const only = this.#chunks.length === 1 ? this.#chunks[0] : undefined;
    if (only !== undefined && only.length === this.#length) return only;
    if (this.#chunks.length === 0) return new Uint8Array(0);
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) {
      const n = Math.min(c.length, this.#length - at);
      out.set(n === c.length ? c : c.subarray(0, n), at);
      at += n;
    }
    this.#chunks = [out];
    return out;
  }

  /**
   * The child to yield: the whole member, or — when the cap was passed — its
   * prefix marked truncated, after reporting the limit that stopped it.
   */
  child(ctx: ExtractContext, name: string): ExtractedChild {
    const data = this.bytes();
    if (!this.#overflow) return { name, data };
    ctx.report(limitFinding(this.cap.reason), name);
    return { name, data, truncated: true };
  }
}

/** Thrown by byte-sink callbacks to stop a synchronous decoder at the cap; caught by the extractor. */
export class CapReached extends Error {
  constructor() { super('Cannot unpack further: member cap reached'); }
}

/** What a capped decode ended with: complete, stopped at the cap, or failed on bad bytes (sink holds what came before). */
export type DecodeEnd = { readonly ok: true } | { readonly ok: false; readonly error: string };

/** A push-style decoder (fflate's Inflate, Gunzip …). */
interface PushDecoder {
  ondata: (chunk: Uint8Array<ArrayBuffer>, final: boolean) => void;
  push(chunk: Uint8Array, final?: boolean): void;
}

/**
 * Feeds `input` to a push decoder in FEED_SLICE slices, stopping as soon as
 * the sink is full. A decode error leaves the output so far in the sink.
 */
export function feedCapped(decoder: PushDecoder, input: Uint8Array, sink: CappedSink): DecodeEnd {
  let ended = false;
  decoder.ondata = (chunk, final) => {
    sink.push(chunk);
    if (final) ended = true;
  };
  try {
    for (let at = 0; at < input.length && !sink.full && !ended; at += FEED_SLICE) {
      decoder.push(input.subarray(at, at + FEED_SLICE), at + FEED_SLICE >= input.length);
    }
    if (input.length === 0) decoder.push(input, true);
  } catch (err) {
    if (sink.full) return { ok: true };
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  return { ok: true };
}
