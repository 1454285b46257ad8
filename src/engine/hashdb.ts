/**
 * Whole-object hash signatures: ClamAV's .hdb/.hsb (and the .fp/.sfp
 * allow-lists, which share the format) as compact lookup tables.
 *
 * Format (ClamAV "File hash signatures"): `HashString:FileSize:MalwareName[:MinFL[:MaxFL]]`,
 * the hash kind (MD5, SHA1, SHA256) decided by the length of HashString,
 * FileSize a decimal number or `*` (any size). Lines are parsed straight
 * from the file's bytes: a database of a million lines must not become a
 * million JS strings. Each hash kind is typed arrays (digests, sizes, name
 * references, entries grouped by digest bucket) plus a sorted array of the sizes
 * it lists, so a scan asks "could any signature of this kind match an object
 * of this size?" before it spends time hashing.
 *
 * Limits: sizes up to 2^32-2 bytes; names up to 65535 bytes; the functional
 * level fields are read but not enforced (we load every line). Reads
 * untrusted bytes (signature files): malformed lines are reported, never thrown.
 */

import { PortcullisError } from '../errors.js';

export type HashKind = 'md5' | 'sha1' | 'sha256';
export const HASH_KINDS: readonly HashKind[] = ['md5', 'sha1', 'sha256'];
const DIGEST_BYTES: Readonly<Record<HashKind, number>> = { md5: 16, sha1: 20, sha256: 32 };

/** Size value meaning "any size" (`*` in the file). */
const ANY_SIZE = 0xffffffff;

/** Reports one line that could not be used: why, the line itself, and its 1-based number. */
export type SkipReporter = (reason: string, line: string, lineNumber: number) => void;

const HEX = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) { t[0x41 + i] = 10 + i; t[0x61 + i] = 10 + i; }
  return t;
})();

export function hashKindOfHexLength(length: number): HashKind | undefined {
  return length === 32 ? 'md5' : length === 40 ? 'sha1' : length === 64 ? 'sha256' : undefined;
}

const CHUNK_BITS = 20;
const CHUNK = 1 << CHUNK_BITS;

/**
 * Bytes appended in 1 MiB chunks: growing never copies what is stored, and
 * nothing need be sized up front (guessing a million names' bytes and
 * trimming the guess afterwards cost a 22 MB copy at the load's peak).
 * Subclasses keep their records inside one chunk.
 */
class ChunkedBytes {
  protected readonly chunks: Uint8Array[] = [new Uint8Array(1 << 12)];
  /** Bytes used in the last chunk. */
  protected used = 0;

  /** Gives back the unused tail of the last chunk once loading is over. */
  trim(): void {
    const last = this.chunks.length - 1;
    const bytes = this.chunks[last] as Uint8Array;
    if (bytes.length - this.used > bytes.length / 8) this.chunks[last] = bytes.slice(0, this.used);
  }

  get byteLength(): number { return this.chunks.reduce((sum, c) => sum + c.byteLength, 0); }

  /** The last chunk, with room for `need` more bytes: the small first chunk doubles, then whole chunks are added. */
  protected room(need: number, maxChunks = Infinity): Uint8Array {
    const last = this.chunks.length - 1;
    const bytes = this.chunks[last] as Uint8Array;
    if (this.used + need <= bytes.length) return bytes;
    if (bytes.length < CHUNK) {
      const grown = new Uint8Array(Math.min(CHUNK, Math.max(bytes.length * 2, this.used + need)));
      grown.set(bytes.subarray(0, this.used));
      this.chunks[last] = grown;
      if (this.used + need <= grown.length) return grown;
    }
    if (this.chunks.length >= maxChunks) {
      throw new PortcullisError('PC_ERR_DB_BUILD', `Cannot load signatures: their names exceed ${maxChunks} MiB`);
    }
    const next = new Uint8Array(CHUNK);
    this.chunks.push(next);
    this.used = 0;
    return next;
  }
}

/** Names (or other short texts) stored whole with a 2-byte length prefix; a reference is chunk << 20 | offset. */
export class NamePool extends ChunkedBytes {
  static readonly #decoder = new TextDecoder('utf-8');

  add(src: Uint8Array, start: number, end: number): number {
    const length = end - start;
    const bytes = this.room(length + 2);
    const at = this.used;
    bytes[at] = length & 0xff;
    bytes[at + 1] = length >>> 8;
    // A loop, not set(subarray()): a view object per name costs more than copying ~25 bytes.
    for (let i = 0; i < length; i++) bytes[at + 2 + i] = src[start + i] as number;
    this.used += length + 2;
    return ((this.chunks.length - 1) << CHUNK_BITS) | at;
  }

  get(ref: number): string {
    const [bytes, at, length] = this.#locate(ref);
    return NamePool.#decoder.decode(bytes.subarray(at, at + length));
  }

  /** The bytes as Latin-1 text (for formats read as Latin-1, like .ndb). */
  getLatin1(ref: number): string {
    const [bytes, at, length] = this.#locate(ref);
    return latin1(bytes, at, at + length);
  }

  #locate(ref: number): [Uint8Array, number, number] {
    const bytes = this.chunks[ref >>> CHUNK_BITS] ?? new Uint8Array(2);
    const at = ref & (CHUNK - 1);
    return [bytes, at + 2, (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8)];
  }
}

const GROUP_BITS = 3;
const GROUP = 1 << GROUP_BITS;
/** Chunks a FrontCodedNames may hold: its references are 32-bit (chunk, offset, index in group). */
const MAX_FRONT_CODED_CHUNKS = 2 ** (32 - CHUNK_BITS - GROUP_BITS);

/**
 * Hash signature names, front-coded: each name is stored as the length of
 * the prefix it shares with the name added before it (at most 255) plus the
 * rest, in groups of GROUP names whose first is stored whole. Neighbouring
 * lines of a hash database mostly share a family prefix
 * (`Win.Trojan.Agent-…`, `Rig.Synth.Hdb-…`): a million names take a quarter
 * of the bytes (22 MB → 6 MB on the rig set). A lookup decodes at most GROUP
 * names, and only when a hash has matched. Records never straddle chunks; a
 * reference is (chunk << CHUNK_BITS | group start) << GROUP_BITS | index.
 * Record: shared prefix length (1 byte), rest length (2 bytes), rest.
 */
export class FrontCodedNames extends ChunkedBytes {
  static readonly #decoder = new TextDecoder('utf-8');
  /** Start of the current group in the last chunk, and names in it so far (GROUP = start a new one). */
  #group = 0;
  #inGroup = GROUP;
  /** The name added last, whole. */
  #prev = new Uint8Array(256);
  #prevLength = 0;
  #scratch = new Uint8Array(256);

  add(src: Uint8Array, start: number, end: number): number {
    const length = end - start;
    // Room for the record stored whole; a new chunk starts a new group.
    const chunks = this.chunks.length;
    const bytes = this.room(3 + length, MAX_FRONT_CODED_CHUNKS);
    if (this.chunks.length !== chunks) this.#inGroup = GROUP;
    if (this.#inGroup === GROUP) {
      this.#group = this.used;
      this.#inGroup = 0;
    }
    let shared = 0;
    if (this.#inGroup > 0) {
      const limit = Math.min(255, length, this.#prevLength);
      while (shared < limit && this.#prev[shared] === src[start + shared]) shared++;
    }
    const at = this.used;
    bytes[at] = shared;
    bytes[at + 1] = (length - shared) & 0xff;
    bytes[at + 2] = (length - shared) >>> 8;
    if (length > this.#prev.length) {
      const grown = new Uint8Array(length);
      grown.set(this.#prev);
      this.#prev = grown;
    }
    // Loops, not set(subarray()) (see NamePool.add); #prev already holds the shared prefix.
    const prev = this.#prev;
    for (let i = shared; i < length; i++) {
      const b = src[start + i] as number;
      bytes[at + 3 + i - shared] = b;
      prev[i] = b;
    }
    this.used += 3 + length - shared;
    this.#prevLength = length;
    // Multiplication, not shifts: the reference uses all 32 bits.
    const ref = (((this.chunks.length - 1) << CHUNK_BITS) | this.#group) * GROUP + this.#inGroup;
    this.#inGroup++;
    return ref;
  }

  get(ref: number): string {
    const k = ref % GROUP;
    const group = Math.floor(ref / GROUP);
    const bytes = this.chunks[group >>> CHUNK_BITS];
    if (bytes === undefined) return '';
    let at = group & (CHUNK - 1);
    let length = 0;
    for (let i = 0; i <= k; i++) {
      const shared = bytes[at] ?? 0;
      const rest = (bytes[at + 1] ?? 0) | ((bytes[at + 2] ?? 0) << 8);
      length = shared + rest;
      if (length > this.#scratch.length) {
        const grown = new Uint8Array(length);
        grown.set(this.#scratch);
        this.#scratch = grown;
      }
      this.#scratch.set(bytes.subarray(at + 3, at + 3 + rest), shared);
      at += 3 + rest;
    }
    return FrontCodedNames.#decoder.decode(this.#scratch.subarray(0, length));
  }
}

/** One hash kind's signatures: grown while loading, then frozen into buckets by digest. */
class DigestTable {
  readonly width: number;
  count = 0;
  #digests: Uint8Array;
  #sizes: Uint32Array;
  #names: Uint32Array;
  /** After freeze: entry numbers grouped by bucket (a hash of the digest), in loading order within a bucket; bucket b is byBucket[bucketStart[b] … bucketStart[b+1]-1]. */
  #bucketStart = new Uint32Array(2);
  #byBucket = new Uint32Array(0);
  #mask = 0;
  #sortedSizes = new Uint32Array(0);
  #anySize = false;

  constructor(width: number) {
    this.width = width;
    this.#digests = new Uint8Array(width * 1024);
    this.#sizes = new Uint32Array(1024);
    this.#names = new Uint32Array(1024);
  }

  /**
   * Decodes the hex digest at `src[at…]` into the next entry's place; false
   * when a digit is not hex. Call `commit` once the rest of the line is valid.
   */
  decodeNext(src: Uint8Array, at: number): boolean {
    if (this.count === this.#sizes.length) this.#grow();
    const digests = this.#digests;
    const base = this.count * this.width;
    for (let k = 0, p = at; k < this.width; k++, p += 2) {
      const hi = HEX[src[p] as number] as number;
      const lo = HEX[src[p + 1] as number] as number;
      if (hi < 0 || lo < 0) return false;
      digests[base + k] = (hi << 4) | lo;
    }
    return true;
  }

  commit(size: number, nameRef: number): void {
    this.#sizes[this.count] = size;
    this.#names[this.count] = nameRef;
    this.count++;
  }

  /** Room for `extra` more entries in one step (a whole file's lines), so loading never copies twice. */
  reserve(extra: number): void {
    if (this.count + extra > this.#sizes.length) this.#resize(this.count + extra);
  }

  freeze(): void {
    const n = this.count;
    // Copy only when much is unused: copying 16 MB of digests costs more peak memory than a short tail.
    if (this.#sizes.length - n > this.#sizes.length / 8) this.#resize(n);
    this.#groupByBucket(n);
    const sizes = this.#sizes.slice().sort();
    let unique = 0;
    for (let i = 0; i < sizes.length; i++) {
      const s = sizes[i] as number;
      if (s === ANY_SIZE) { this.#anySize = true; continue; }
      if (unique === 0 || sizes[unique - 1] !== s) sizes[unique++] = s;
    }
    // Mostly distinct sizes: a view of the sorted copy, not a second 4 MB copy at the load's peak.
    this.#sortedSizes = unique >= sizes.length * 0.75 ? sizes.subarray(0, unique) : sizes.slice(0, unique);
  }

  /** Could an object of this size match? (false only when certainly not) */
  wants(size: number): boolean {
    if (this.count === 0) return false;
    if (this.#anySize) return true;
    const a = this.#sortedSizes;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid] as number;
      if (v === size) return true;
      if (v < size) lo = mid + 1; else hi = mid - 1;
    }
    return false;
  }

  /** Index of an entry with this digest whose size is `size` or any, or -1; of several, the one loaded first. */
  find(digest: Uint8Array, size: number): number {
    if (this.count === 0 || digest.length !== this.width) return -1;
    const b = this.#home(digest, 0);
    for (let j = this.#bucketStart[b] as number, end = this.#bucketStart[b + 1] as number; j < end; j++) {
      const i = this.#byBucket[j] as number;
      const s = this.#sizes[i] as number;
      if ((s === size || s === ANY_SIZE) && this.#digestEquals(i, digest)) return i;
    }
    return -1;
  }

  nameRef(i: number): number { return this.#names[i] as number; }

  get byteLength(): number {
    return this.#digests.byteLength + this.#sizes.byteLength + this.#names.byteLength
      + this.#bucketStart.byteLength + this.#byBucket.byteLength + this.#sortedSizes.byteLength;
  }

  #digestEquals(i: number, digest: Uint8Array): boolean {
    const base = i * this.width;
    for (let k = 0; k < this.width; k++) if (this.#digests[base + k] !== digest[k]) return false;
    return true;
  }

  /** Digests are uniformly random already; the multiply only guards hand-made test digests against clustering. */
  #home(bytes: Uint8Array, at: number): number {
    const word = ((bytes[at] as number) | ((bytes[at + 1] as number) << 8)
      | ((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 24)) ^ ((bytes[at + 4] as number) << 5);
    return (Math.imul(word, 0x9e3779b1) >>> 0) & this.#mask;
  }

  /**
   * Entry numbers sorted by bucket (a counting sort, about 8 entries a
   * bucket): 4 bytes an entry plus 4 per bucket, where an open-addressing
   * table at load ½ cost 8 bytes an entry (8 MB at a million hashes, at the
   * moment the load's memory peaks). Moving the entries themselves instead
   * would save the 4 bytes too, but swapping them about cost 40% more time.
   */
  #groupByBucket(n: number): void {
    let buckets = 16;
    while (buckets * 8 < n) buckets *= 2;
    this.#mask = buckets - 1;
    const start = new Uint32Array(buckets + 1);
    const digests = this.#digests;
    const w = this.width;
    for (let i = 0; i < n; i++) {
      const b = this.#home(digests, i * w);
      start[b + 1] = (start[b + 1] as number) + 1;
    }
    for (let b = 0; b < buckets; b++) start[b + 1] = (start[b + 1] as number) + (start[b] as number);
    const next = start.slice(0, buckets);
    const byBucket = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const b = this.#home(digests, i * w);
      byBucket[next[b] as number] = i;
      next[b] = (next[b] as number) + 1;
    }
    this.#bucketStart = start;
    this.#byBucket = byBucket;
  }

  #grow(): void {
    this.#resize(this.#sizes.length * 2);
  }

  #resize(capacity: number): void {
    const n = this.count;
    const digests = new Uint8Array(capacity * this.width);
    digests.set(this.#digests.subarray(0, n * this.width));
    this.#digests = digests;
    const sizes = new Uint32Array(capacity);
    sizes.set(this.#sizes.subarray(0, n));
    this.#sizes = sizes;
    const names = new Uint32Array(capacity);
    names.set(this.#names.subarray(0, n));
    this.#names = names;
  }

}

/** A set of hash signatures of all three kinds (one for detections, another for the allow-list). */
export class HashSet {
  readonly #tables: Record<HashKind, DigestTable> = {
    md5: new DigestTable(16), sha1: new DigestTable(20), sha256: new DigestTable(32),
  };
  readonly #names = new FrontCodedNames();
  #frozen = false;

  /**
   * Adds every `hash:size:name[...]` line of a file. Returns the number of
   * signatures loaded; each unusable line goes to `skip`.
   */
  addLines(data: Uint8Array, skip: SkipReporter): number {
    if (this.#frozen) throw new Error('Cannot add hash lines: the set is frozen');
    let loaded = 0;
    const n = data.length;
    this.#reserveFor(data);
    // Colon positions of the current line; a sixth colon already makes it malformed.
    const colons = new Int32Array(6);
    let p = 0;
    let lineNumber = 0;
    while (p < n) {
      lineNumber++;
      let start = p;
      let ncolons = 0;
      let b = 0;
      while (p < n && (b = data[p] as number) !== 0x0a) {
        if (b === 0x3a && ncolons < 6) colons[ncolons++] = p;
        p++;
      }
      let end = p;
      p++;
      while (end > start && isSpace(data[end - 1] as number)) end--;
      while (start < end && isSpace(data[start] as number)) start++;
      if (end === start || data[start] === 0x23 /* '#' */) continue;
      if (this.#addLine(data, start, end, colons, ncolons)) loaded++;
      else skip('malformed-hash', latin1(data, start, end), lineNumber);
    }
    return loaded;
  }

  /**
   * Sizes the digest table for a whole file up front: a line count bounds
   * the entries. The kind of the first line is the likely kind of all.
   */
  #reserveFor(data: Uint8Array): void {
    let lines = 1;
    for (let i = 0; i < data.length; i++) if (data[i] === 0x0a) lines++;
    const firstColon = data.indexOf(0x3a);
    const kind = firstColon > 0 ? hashKindOfHexLength(firstColon) : undefined;
    if (kind !== undefined) this.#tables[kind].reserve(lines);
  }

  /** Ends loading: trims buffers and groups the entries by digest bucket. */
  freeze(): this {
    if (this.#frozen) return this;
    for (const kind of HASH_KINDS) this.#tables[kind].freeze();
    this.#names.trim();
    this.#frozen = true;
    return this;
  }

  count(kind: HashKind): number { return this.#tables[kind].count; }

  get size(): number { return HASH_KINDS.reduce((sum, k) => sum + this.#tables[k].count, 0); }

  /** False only when no signature of this kind can match an object of this size. */
  wants(kind: HashKind, size: number): boolean { return this.#tables[kind].wants(size); }

  /** The name of a signature with this digest and size, if any. */
  lookup(kind: HashKind, digest: Uint8Array, size: number): string | undefined {
    const table = this.#tables[kind];
    const i = table.find(digest, size);
    return i < 0 ? undefined : this.#names.get(table.nameRef(i));
  }

  /** Bytes held by the tables, for `sigs info` and the load benchmark. */
  get byteLength(): number {
    return HASH_KINDS.reduce((sum, k) => sum + this.#tables[k].byteLength, 0) + this.#names.byteLength;
  }

  /** Loads one `hash:size:name[:minfl[:maxfl]]` line; false when it is malformed. */
  #addLine(data: Uint8Array, start: number, end: number, colons: Int32Array, ncolons: number): boolean {
    if (ncolons < 2 || ncolons > 4) return false;
    const c1 = colons[0] as number;
    const c2 = colons[1] as number;
    const kind = hashKindOfHexLength(c1 - start);
    if (kind === undefined) return false;
    const size = parseSize(data, c1 + 1, c2);
    if (size < 0) return false;
    const nameEnd = ncolons > 2 ? colons[2] as number : end;
    if (nameEnd === c2 + 1 || nameEnd - c2 - 1 > 0xffff) return false;
    for (let q = nameEnd + 1; q < end; q++) {
      const d = data[q] as number;
      if (d !== 0x3a && (d < 0x30 || d > 0x39)) return false;
    }
    const table = this.#tables[kind];
    if (!table.decodeNext(data, start)) return false;
    table.commit(size, this.#names.add(data, c2 + 1, nameEnd));
    return true;
  }
}

/** Parses a decimal size or `*`; -1 when malformed or too large. */
function parseSize(data: Uint8Array, start: number, end: number): number {
  if (end - start === 1 && data[start] === 0x2a) return ANY_SIZE;
  if (end <= start || end - start > 10) return -1;
  let v = 0;
  for (let p = start; p < end; p++) {
    const d = (data[p] as number) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v >= ANY_SIZE ? -1 : v;
}

function isSpace(b: number): boolean { return b === 0x20 || b === 0x09 || b === 0x0d; }

export function latin1(data: Uint8Array, start: number, end: number): string {
  return Buffer.from(data.buffer, data.byteOffset + start, end - start).toString('latin1');
}

export function digestBytes(kind: HashKind): number { return DIGEST_BYTES[kind]; }
