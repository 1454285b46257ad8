/**
 * Compiled AutoIt v3 scripts ("AU3!EA05" / "AU3!EA06" in a PE's overlay):
 * the members — the compiled script and every file it carries for
 * FileInstall — are a run of "FILE" records. Each field is XORed with a
 * keystream seeded by a per-field constant: MT19937 (each byte = the low
 * byte of genrand_int32 >> 1) for EA05, a lagged-Fibonacci generator read
 * through a double for EA06; a record holds a subtype and a name (bytes for
 * EA05, UTF-16 for EA06), a compressed flag, sizes, a checksum, two
 * timestamps and the content. Compressed content is "EA05"/"EA06", a
 * big-endian output size and an MSB-first LZSS bit stream. Format learnt
 * from public descriptions (AutoIt-Ripper, MIT); no official spec. The
 * script member is yielded as its token stream (not turned back into text).
 *
 * Reads untrusted bytes. Every length is checked against the input, output
 * is capped (capped.ts) and the decoder ends when its input bits run out,
 * so a hostile size can neither over-allocate nor loop. A member that ends
 * early is `Heuristics.Broken.AutoIt`; what decoded is scanned.
 */
import { CappedSink, memberCap } from '../capped.js';
import { LeBytes } from '../bytes.js';
import { peOverlay } from '../pe.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';

export interface Version {
  readonly marker: string;
  readonly cipher: 'mt' | 'lame';
  readonly unicode: boolean;
  /** EA05 adds the byte sum of the 16 bytes after the marker to the content key. */
  readonly checksum: boolean;
  readonly tag: number;
  readonly subtype: readonly [number, number];
  readonly name: readonly [number, number];
  readonly size: number;
  readonly content: number;
}

export const EA05: Version = {
  marker: 'AU3!EA05', cipher: 'mt', unicode: false, checksum: true,
  tag: 0x16fa, subtype: [0x29bc, 0xa25e], name: [0x29ac, 0xf25e], size: 0x45aa, content: 0x22af,
};
export const EA06: Version = {
  marker: 'AU3!EA06', cipher: 'lame', unicode: true, checksum: false,
  tag: 0x18ee, subtype: [0xadbc, 0xb33f], name: [0xf820, 0xf479], size: 0x87bc, content: 0x2477,
};

/** MT19937, standard seeding and twist; AutoIt keys with the low byte of each output shifted right by one. */
export class Mt {
  readonly #s = new Uint32Array(624);
  #i = 624;
  constructor(seed: number) {
    this.#s[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.#s[i - 1] ?? 0;
      this.#s[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
  }
  #twist(): void {
    const s = this.#s;
    for (let k = 0; k < 624; k++) {
      const y = ((s[k] ?? 0) & 0x80000000) | ((s[(k + 1) % 624] ?? 0) & 0x7fffffff);
      s[k] = ((s[(k + 397) % 624] ?? 0) ^ (y >>> 1) ^ ((y & 1) !== 0 ? 0x9908b0df : 0)) >>> 0;
    }
    this.#i = 0;
  }
  nextByte(): number {
    if (this.#i >= 624) this.#twist();
    let y = this.#s[this.#i++] ?? 0;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return ((y >>> 0) >>> 1) & 0xff;
  }
}

/** EA06's generator: 17 words, two taps rotated and added; each value is read as a double in [0, 1). */
class Lame {
  readonly #g = new Uint32Array(17);
  #c0 = 0;
  #c1 = 10;
  readonly #f = new DataView(new ArrayBuffer(8));
  constructor(seed: number) {
    let s = seed >>> 0;
    for (let i = 0; i < 17; i++) {
      s = (1 - Math.imul(s, 0x53a9b4fb)) >>> 0;
      this.#g[i] = s;
    }
    for (let i = 0; i < 9; i++) this.#step();
  }
  #step(): number {
    const rotl = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;
    const r = (rotl(this.#g[this.#c0] ?? 0, 9) + rotl(this.#g[this.#c1] ?? 0, 13)) >>> 0;
    this.#g[this.#c0] = r;
    this.#c0 = this.#c0 === 0 ? 16 : this.#c0 - 1;
    this.#c1 = this.#c1 === 0 ? 16 : this.#c1 - 1;
    this.#f.setUint32(0, ((r >>> 12) | 0x3ff00000) >>> 0);
    this.#f.setUint32(4, (r << 20) >>> 0);
    return this.#f.getFloat64(0) - 1;
  }
  nextByte(): number {
    this.#step();
    return Math.floor(this.#step() * 256) & 0xff;
  }
}

/** XORs `bytes` with the version's keystream from `seed` (its own inverse). */
export function unmask(bytes: Uint8Array, seed: number, v: Version): Uint8Array {
  const gen = v.cipher === 'mt' ? new Mt(seed) : new Lame(seed);
  return bytes.map((b) => b ^ gen.nextByte());
}

/** MSB-first bits; reading past the end sets `ended` and yields zeros. */
class Bits {
  readonly #d: Uint8Array;
  #bit = 0;
  ended = false;
  constructor(d: Uint8Array) { this.#d = d; }
  get(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.#d[this.#bit >>> 3];
      if (byte === undefined) { this.ended = true; return 0; }
      v = (v << 1) | ((byte >>> (7 - (this.#bit & 7))) & 1);
      this.#bit++;
    }
    return v;
  }
}

/** Match length: a ladder of widths (2, 3, 5, 8, 8 bits), each all-ones value meaning "read the next rung", then 8-bit steps. */
function matchLength(bits: Bits): number {
  const ladder: readonly [number, number][] = [[3, 2], [6, 3], [13, 5], [44, 8], [299, 8]];
  for (const [base, width] of ladder) {
    const all = (1 << width) - 1;
    const add = bits.get(width);
    if (add !== all || bits.ended) return base + add;
  }
  let total = 299;
  for (;;) {
    total += 255;
    const add = bits.get(8);
    if (add !== 255 || bits.ended) return total + add;
  }
}

/** LZSS decode into the sink; false when the stream ended before its declared size. */
function decompress(content: Uint8Array, sink: CappedSink): boolean {
  const magic = String.fromCharCode(...content.subarray(0, 4));
  if (magic !== 'EA05' && magic !== 'EA06') return false;
  const literal = magic === 'EA05' ? 0 : 1;
  const want = new DataView(content.buffer, content.byteOffset).getUint32(4, false) || content.length;
  const limit = Math.min(want, sink.cap.bytes + 1);
  const out = new Uint8Array(Math.min(limit, 64 * 1024 * 1024));
  let n = 0;
  const bits = new Bits(content.subarray(8));
  while (!bits.ended && n < limit && n < out.length) {
    if (bits.get(1) === literal) {
      const b = bits.get(8);
      if (bits.ended) break;
      out[n++] = b;
    } else {
      const offset = bits.get(15);
      const len = matchLength(bits);
      if (bits.ended || offset === 0 || offset > n || n + len > out.length) break;
      for (let i = 0; i < len; i++, n++) out[n] = out[n - offset] ?? 0;
    }
  }
  sink.push(out.subarray(0, n));
  return n >= want || sink.full;
}

function findMarker(d: Uint8Array, from: number): { at: number; version: Version } | undefined {
  const buf = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  const candidates = [EA05, EA06].map((v) => ({ at: buf.indexOf(v.marker, from, 'latin1'), version: v })).filter((c) => c.at >= 0);
  candidates.sort((a, b) => a.at - b.at);
  return candidates[0];
}

async function* extractAutoIt(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const found = findMarker(data, peOverlay(data).start);
  if (found === undefined) return;
  const v = found.version;
  const body = data.subarray(found.at + 8);
  const b = new LeBytes(body);
  if (body.length < 16) { ctx.report('Heuristics.Broken.AutoIt'); return; }
  const checksum = v.checksum ? body.subarray(0, 16).reduce((a, x) => a + x, 0) : 0;
  let pos = 16;
  let count = 0;
  const readString = (keys: readonly [number, number]): string | undefined => {
    const chars = (b.u32(pos) ^ keys[0]) >>> 0;
    const len = v.unicode ? chars * 2 : chars;
    if (!b.fits(pos + 4, len)) return undefined;
    const bytes = unmask(body.subarray(pos + 4, pos + 4 + len), (chars + keys[1]) >>> 0, v);
    pos += 4 + len;
    return new TextDecoder(v.unicode ? 'utf-16le' : 'latin1').decode(bytes);
  };
  while (b.fits(pos, 4)) {
    const tag = unmask(body.subarray(pos, pos + 4), v.tag, v);
    if (String.fromCharCode(...tag) !== 'FILE') break;
    pos += 4;
    const subtype = readString(v.subtype);
    const name = subtype === undefined ? undefined : readString(v.name);
    if (subtype === undefined || name === undefined || !b.fits(pos, 29)) { ctx.report('Heuristics.Broken.AutoIt'); return; }
    const compressed = body[pos] === 1;
    const size = (b.u32(pos + 1) ^ v.size) >>> 0;
    pos += 1 + 12 + 16;
    if (!b.fits(pos, size)) { ctx.report('Heuristics.Broken.AutoIt'); return; }
    const content = unmask(body.subarray(pos, pos + size), (checksum + v.content) >>> 0, v);
    pos += size;
    const sink = new CappedSink(memberCap(ctx, compressed ? size : undefined));
    const complete = compressed ? decompress(content, sink) : (sink.push(content), true);
    if (!complete) ctx.report('Heuristics.Broken.AutoIt', name);
    count++;
    const label = subtype.includes('SCRIPT') ? `autoit script ${count}` : (name.slice(Math.max(name.lastIndexOf('\\'), name.lastIndexOf('/')) + 1) || `autoit file ${count}`);
    yield sink.child(ctx, label);
  }
}

/** A PE whose overlay holds a compiled AutoIt script. */
export const autoItExtractor: Extractor = {
  name: 'autoit',
  accepts: (type, data) => type.name === 'pe' && peOverlay(data).payload > 0 && findMarker(data, peOverlay(data).start) !== undefined,
  extract: extractAutoIt,
};
