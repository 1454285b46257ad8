/**
 * The shape every byte-level decoder here shares: a push-driven state machine
 * fed chunks in order (`write`) and closed with `end`. Decoders keep only the
 * state they need across chunks (a partial quantum, a partial line capped in
 * length), so memory stays bounded whatever the input. They never throw for
 * bad bytes: they note a problem and go on, because an attacker chooses the
 * bytes. Used by the content walker now and by the SMTP proxy later.
 */

/** A decoder of one encoded stream (base64, quoted-printable) into bytes. */
export interface StreamDecoder {
  write(chunk: Uint8Array): void;
  end(): void;
}

/** What a block finder (uuencode, yEnc, BinHex, TNEF) knows when a block starts. */
export interface BlockInfo {
  /** File name the encoding carries ("" when it has none). */
  readonly name: string;
  /** Declared size of the decoded block, when the encoding states one. */
  readonly size?: number;
}

/** How a block ended. */
export interface BlockEnd {
  /** False when the block was cut off (input ended, or its end marker was missing). */
  readonly complete: boolean;
  /** Short stable words for what was wrong ("crc", "size", "truncated" …); empty when nothing. */
  readonly problems: readonly string[];
  /** A name learned only after the data (TNEF may put attAttachTitle after attAttachData). */
  readonly name?: string;
}

/** Receives the blocks a block finder decodes, in order, never interleaved. */
export interface BlockSink {
  begin(info: BlockInfo): void;
  data(bytes: Uint8Array): void;
  end(result: BlockEnd): void;
}

/** One decoded block gathered in memory by `collectBlocks`. */
export interface CollectedBlock {
  readonly name: string;
  readonly data: Uint8Array;
  readonly complete: boolean;
  readonly problems: readonly string[];
  /** True when the block was longer than the byte cap and was cut at it. */
  readonly capped: boolean;
}

/** Gathers bytes up to a cap; the rest is counted, not kept. */
export class CappedBuffer {
  readonly #cap: number;
  #parts: Uint8Array[] = [];
  #kept = 0;
  #seen = 0;

  constructor(cap: number) {
    this.#cap = Math.max(0, cap);
  }

  push(bytes: Uint8Array): void {
    this.#seen += bytes.length;
    const room = this.#cap - this.#kept;
    if (room <= 0 || bytes.length === 0) return;
    const take = bytes.length <= room ? bytes : bytes.subarray(0, room);
    this.#parts.push(take.slice());
    this.#kept += take.length;
  }

  get capped(): boolean {
    return this.#seen > this.#kept;
  }

  get seen(): number {
    return this.#seen;
  }

  bytes(): Uint8Array {
    if (this.#parts.length === 1) return this.#parts[0] as Uint8Array;
    const out = new Uint8Array(this.#kept);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** Runs a block finder over whole input and returns what it found, each block capped at `maxBytes`. */
export function collectBlocks(
  make: (sink: BlockSink) => StreamDecoder,
  input: Uint8Array | readonly Uint8Array[],
  maxBytes: number,
  maxBlocks = 10_000,
): CollectedBlock[] {
  const out: CollectedBlock[] = [];
  let current: { name: string; buf: CappedBuffer } | undefined;
  const sink: BlockSink = {
    begin(info) {
      current = { name: info.name, buf: new CappedBuffer(out.length < maxBlocks ? maxBytes : 0) };
    },
    data(bytes) {
      current?.buf.push(bytes);
    },
    end(result) {
      if (current && out.length < maxBlocks) {
        out.push({ name: result.name ?? current.name, data: current.buf.bytes(), complete: result.complete, problems: result.problems, capped: current.buf.capped });
      }
      current = undefined;
    },
  };
  const dec = make(sink);
  const chunks = input instanceof Uint8Array ? [input] : input;
  for (const c of chunks) dec.write(c);
  dec.end();
  return out;
}

/** Runs a stream decoder over whole input and returns its bytes, capped at `maxBytes`. */
export function decodeAll(
  make: (onData: (bytes: Uint8Array) => void) => StreamDecoder,
  input: Uint8Array | readonly Uint8Array[],
  maxBytes: number,
): { data: Uint8Array; capped: boolean; decoder: StreamDecoder } {
  const buf = new CappedBuffer(maxBytes);
  const dec = make((b) => buf.push(b));
  const chunks = input instanceof Uint8Array ? [input] : input;
  for (const c of chunks) dec.write(c);
  dec.end();
  return { data: buf.bytes(), capped: buf.capped, decoder: dec };
}
