/**
 * Parser for ClamAV body-signature hex patterns (the 4th field of .ndb lines
 * and the subsignatures of .ldb lines), as documented in ClamAV's
 * "Body-based Signature Content Format".
 *
 * Reads untrusted text (signature databases). It never evaluates anything;
 * a pattern it cannot understand is a build error (PatternSyntaxError), not a
 * crash. Supported: hex bytes, `??`, nibbles `a?` `?a`, `*`, `{n}` `{-n}`
 * `{n-}` `{n-m}`, `[n-m]` jumps (n ≤ m ≤ 32, only between static bytes),
 * alternatives `(aa|bbcc|d?)` including variable-length and wildcard
 * alternatives, negated fixed-length alternatives `!(aa|bb)`, and the
 * generic classes `(B)`, `(L)`, `(W)`. Per-pattern options `nocase` (::i)
 * and `wide` (::w, UTF-16LE) are applied here, so the matcher only ever sees
 * plain byte tests.
 *
 * Semantics chosen where ClamAV's documentation leaves room (the naive
 * reference matcher and the engine share them):
 * - `(B)` consumes one ASCII non-alphanumeric byte, or nothing at the very
 *   start or end of the object.
 * - `(L)` consumes CR LF, CR or LF, or nothing at the start or end of the object.
 * - `(W)` consumes one byte that is not an ASCII letter or digit.
 * - A pattern may not begin or end with a gap (it would not change what
 *   matches, only blur where), and must consume at least one byte between
 *   any two unbounded gaps.
 */
import { PortcullisError } from '../errors.js';

/** A single byte `b` matches when `(b & mask) === value`. Covers exact bytes, `??`, nibbles and ::i letters. */
export interface ByteNode { readonly k: 'byte'; readonly value: number; readonly mask: number }
/** A single byte matches when `set[b] === 1` (classes and single-byte alternatives). */
export interface SetNode { readonly k: 'set'; readonly set: Uint8Array }
/** Skip between lo and hi bytes (hi may be Infinity for `*` and `{n-}`). */
export interface GapNode { readonly k: 'gap'; readonly lo: number; readonly hi: number }
/** One of several byte sequences; negated: any `len` bytes that equal none of them. */
export interface AltNode {
  readonly k: 'alt';
  readonly alts: readonly (readonly ByteLike[])[];
  readonly negated: boolean;
  readonly minLen: number;
  readonly maxLen: number;
}
/** `(B)`: word boundary byte, or nothing at either end of the object. */
export interface BoundaryNode { readonly k: 'boundary' }
/** `(L)`: CR LF, CR, LF, or nothing at either end of the object. */
export interface LineNode { readonly k: 'line' }

export type ByteLike = ByteNode | SetNode;
export type PatternNode = ByteNode | SetNode | GapNode | AltNode | BoundaryNode | LineNode;

export interface PatternOptions {
  /** ::i — ASCII letters match either case. */
  readonly nocase?: boolean;
  /** ::w — the pattern describes UTF-16LE text: every byte is followed by 00. */
  readonly wide?: boolean;
}

/** A pattern that cannot be compiled. A build error, never raised while scanning. */
export class PatternSyntaxError extends PortcullisError {
  /** Why, in a few words ("unbalanced parenthesis"). */
  readonly reason: string;
  /** Character index in the pattern text where the problem was seen. */
  readonly position: number;
  /** The PatternInput id, when the error came out of PatternSet.compile. */
  readonly patternId: number | undefined;
  constructor(reason: string, position: number, patternId?: number) {
    super('PC_ERR_DB_BUILD',
      `Cannot compile pattern${patternId === undefined ? '' : ` ${patternId}`}: ${reason} at character ${position}`);
    this.name = 'PatternSyntaxError';
    this.reason = reason;
    this.position = position;
    this.patternId = patternId;
  }
}

/** Largest `[n-m]` jump ClamAV accepts. */
export const MAX_JUMP = 32;
/** Longest pattern text accepted, a guard against absurd database lines. */
export const MAX_PATTERN_CHARS = 1 << 16;

const ALNUM = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  ALNUM[b] = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ? 1 : 0;
}
/** 1 for ASCII letters and digits; exported for ::f (fullword) checks. */
export const IS_ALNUM: Readonly<Uint8Array> = ALNUM;
/** Bytes `(B)` consumes: ASCII, not a letter or digit. */
export const IS_BOUNDARY: Readonly<Uint8Array> = Uint8Array.from(ALNUM, (a, b) => (a === 0 && b < 0x80 ? 1 : 0));
const NON_ALNUM = Uint8Array.from(ALNUM, (a) => 1 - a);

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Parses one hex pattern into its node list. Throws PatternSyntaxError. */
export function parsePattern(text: string, options: PatternOptions = {}): PatternNode[] {
  const nodes = new Parser(text).parse();
  const shaped = applyOptions(nodes, options);
  return shaped;
}

class Parser {
  readonly #t: string;
  #i = 0;
  constructor(text: string) { this.#t = text; }

  #fail(reason: string, at = this.#i): never { throw new PatternSyntaxError(reason, at); }

  parse(): PatternNode[] {
    const t = this.#t;
    if (t.length === 0) this.#fail('empty pattern');
    if (t.length > MAX_PATTERN_CHARS) this.#fail('pattern too long', 0);
    const out: PatternNode[] = [];
    // Jumps are checked after parsing because they constrain both neighbours.
    const jumps: { index: number; at: number }[] = [];
    while (this.#i < t.length) {
      const c = t.charCodeAt(this.#i);
      if (c === 0x2a /* * */) {
        this.#i++;
        pushGap(out, 0, Infinity);
      } else if (c === 0x7b /* { */) {
        const at = this.#i;
        const { lo, hi } = this.#range(0x7d /* } */, true);
        if (hi === 0) this.#fail('empty gap', at);
        pushGap(out, lo, hi);
      } else if (c === 0x5b /* [ */) {
        const at = this.#i;
        const { lo, hi } = this.#range(0x5d /* ] */, false);
        if (hi > MAX_JUMP) this.#fail(`jump longer than ${MAX_JUMP}`, at);
        jumps.push({ index: out.length, at });
        out.push({ k: 'gap', lo, hi });
      } else if (c === 0x21 /* ! */) {
        if (t.charCodeAt(this.#i + 1) !== 0x28) this.#fail("'!' not followed by '('");
        this.#i++;
        out.push(this.#group(true));
      } else if (c === 0x28 /* ( */) {
        out.push(this.#group(false));
      } else {
        out.push(this.#byte());
      }
    }
    for (const j of jumps) {
      const before = out[j.index - 1];
      const after = out[j.index + 1];
      if (before?.k !== 'byte' || before.mask !== 0xff || after?.k !== 'byte' || after.mask !== 0xff) {
        this.#fail('[n-m] jump must sit between static bytes', j.at);
      }
      if (staticRun(out, j.index - 1, -1) < 2 && staticRun(out, j.index + 1, 1) < 2) {
        this.#fail('[n-m] jump needs at least two static bytes on one side', j.at);
      }
    }
    if (out[0]?.k === 'gap' || out[out.length - 1]?.k === 'gap') this.#fail('pattern begins or ends with a gap', 0);
    let consumed = false;
    for (const n of out) {
      if (n.k === 'gap' && n.hi === Infinity) {
        if (!consumed) this.#fail('no bytes between unbounded gaps', 0);
        consumed = false;
      } else if (n.k === 'byte' || n.k === 'set' || n.k === 'alt') {
        consumed = true;
      }
    }
    if (!consumed) this.#fail(out.some((n) => n.k === 'gap' && n.hi === Infinity) ? 'no bytes after the last unbounded gap' : 'pattern matches no bytes', 0);
    return out;
  }

  #byte(): ByteNode {
    const t = this.#t;
    const at = this.#i;
    if (at + 1 >= t.length) this.#fail('odd number of hex digits', at);
    const a = t.charCodeAt(at);
    const b = t.charCodeAt(at + 1);
    this.#i += 2;
    const hi = a === 0x3f ? -2 : hexValue(a);
    const lo = b === 0x3f ? -2 : hexValue(b);
    if (hi === -1 || lo === -1) this.#fail(`unexpected character '${t[hi === -1 ? at : at + 1]}'`, hi === -1 ? at : at + 1);
    return byteNode((hi < 0 ? 0 : hi << 4) | (lo < 0 ? 0 : lo), (hi < 0 ? 0 : 0xf0) | (lo < 0 ? 0 : 0x0f));
  }

  #number(): number {
    const t = this.#t;
    const start = this.#i;
    while (this.#i < t.length && t.charCodeAt(this.#i) >= 0x30 && t.charCodeAt(this.#i) <= 0x39) this.#i++;
    if (this.#i === start) return -1;
    if (this.#i - start > 9) this.#fail('number too large', start);
    return Number(t.slice(start, this.#i));
  }

  /** `{n}` `{-n}` `{n-}` `{n-m}` (open ends only when allowed) and `[n-m]`. */
  #range(close: number, openEnds: boolean): { lo: number; hi: number } {
    const t = this.#t;
    const at = this.#i;
    this.#i++;
    const a = this.#number();
    let lo: number;
    let hi: number;
    if (t.charCodeAt(this.#i) === 0x2d /* - */) {
      this.#i++;
      const b = this.#number();
      if (a < 0 && b < 0) this.#fail('range without numbers', at);
      if (!openEnds && (a < 0 || b < 0)) this.#fail('jump needs both bounds', at);
      lo = a < 0 ? 0 : a;
      hi = b < 0 ? Infinity : b;
    } else {
      if (a < 0 || !openEnds) this.#fail('malformed range', at);
      lo = a;
      hi = a;
    }
    if (t.charCodeAt(this.#i) !== close) this.#fail(`expected '${String.fromCharCode(close)}'`);
    this.#i++;
    if (lo > hi) this.#fail('range lower bound above upper bound', at);
    return { lo, hi };
  }

  #group(negated: boolean): PatternNode {
    const t = this.#t;
    const at = this.#i;
    this.#i++;
    if (!negated && t.charCodeAt(this.#i + 1) === 0x29 /* ) */) {
      const cls = t[this.#i];
      if (cls === 'B' || cls === 'L' || cls === 'W') {
        this.#i += 2;
        if (cls === 'B') return { k: 'boundary' };
        if (cls === 'L') return { k: 'line' };
        return { k: 'set', set: NON_ALNUM };
      }
    }
    const alts: ByteLike[][] = [[]];
    for (;;) {
      if (this.#i >= t.length) this.#fail('unbalanced parenthesis', at);
      const c = t.charCodeAt(this.#i);
      if (c === 0x29) { this.#i++; break; }
      if (c === 0x7c /* | */) { this.#i++; alts.push([]); continue; }
      if (c === 0x28 || c === 0x2a || c === 0x7b || c === 0x5b || c === 0x21) this.#fail('only bytes may appear inside an alternative');
      (alts[alts.length - 1] as ByteLike[]).push(this.#byte());
    }
    if (alts.length < 2) this.#fail('alternative needs at least two choices', at);
    let minLen = Infinity;
    let maxLen = 0;
    for (const a of alts) {
      if (a.length === 0) this.#fail('empty alternative', at);
      minLen = Math.min(minLen, a.length);
      maxLen = Math.max(maxLen, a.length);
    }
    if (negated && minLen !== maxLen) this.#fail('negated alternatives must all have the same length', at);
    if (maxLen === 1) {
      // Single-byte choices collapse into one byte set: cheaper to test.
      const set = new Uint8Array(256);
      for (const a of alts) for (let b = 0; b < 256; b++) if (testByte(a[0] as ByteLike, b)) set[b] = 1;
      if (negated) for (let b = 0; b < 256; b++) set[b] = 1 - (set[b] as number);
      return { k: 'set', set };
    }
    return { k: 'alt', alts, negated, minLen, maxLen };
  }
}

function staticRun(nodes: PatternNode[], from: number, step: number): number {
  let n = 0;
  for (let i = from; i >= 0 && i < nodes.length; i += step) {
    const x = nodes[i] as PatternNode;
    if (x.k !== 'byte' || x.mask !== 0xff) break;
    n++;
  }
  return n;
}

function pushGap(out: PatternNode[], lo: number, hi: number): void {
  const last = out[out.length - 1];
  // Adjacent gaps are one gap: `{2}*` is `{2-}`.
  if (last?.k === 'gap') out[out.length - 1] = { k: 'gap', lo: last.lo + lo, hi: last.hi + hi };
  else out.push({ k: 'gap', lo, hi });
}

/** Byte nodes are immutable, so one object per (value, mask) serves every pattern: 100k patterns compile without millions of allocations. */
const BYTE_NODES: (ByteNode | undefined)[] = new Array(1 << 16);
function byteNode(value: number, mask: number): ByteNode {
  const key = (value << 8) | mask;
  return BYTE_NODES[key] ??= { k: 'byte', value, mask };
}

/** Whether byte `b` passes a single-byte test. */
export function testByte(n: ByteLike, b: number): boolean {
  return n.k === 'byte' ? (b & n.mask) === n.value : n.set[b] === 1;
}

function isLetter(b: number): boolean { return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a); }

function foldByte(n: ByteLike): ByteLike {
  if (n.k === 'byte') {
    if (n.mask === 0xff && isLetter(n.value)) return byteNode(n.value & 0xdf, 0xdf);
    if (n.mask === 0xff) return n;
    // A nibble test on a letter: widen to a set holding both cases of every matching byte.
    const set = new Uint8Array(256);
    for (let b = 0; b < 256; b++) if ((b & n.mask) === n.value) { set[b] = 1; if (isLetter(b)) set[b ^ 0x20] = 1; }
    return { k: 'set', set };
  }
  const set = Uint8Array.from(n.set);
  for (let b = 0; b < 256; b++) if (n.set[b] === 1 && isLetter(b)) set[b ^ 0x20] = 1;
  return { k: 'set', set };
}

const ZERO = byteNode(0, 0xff);

function applyOptions(nodes: PatternNode[], o: PatternOptions): PatternNode[] {
  if (!o.nocase && !o.wide) return nodes;
  const byteLike = (n: ByteLike): ByteLike[] => {
    const f = o.nocase ? foldByte(n) : n;
    return o.wide ? [f, ZERO] : [f];
  };
  const out: PatternNode[] = [];
  for (const n of nodes) {
    switch (n.k) {
      case 'byte': case 'set': out.push(...byteLike(n)); break;
      case 'gap': out.push(o.wide ? { k: 'gap', lo: n.lo * 2, hi: n.hi * 2 } : n); break;
      case 'alt': {
        const alts = n.alts.map((a) => a.flatMap(byteLike));
        const f = o.wide ? 2 : 1;
        out.push({ k: 'alt', alts, negated: n.negated, minLen: n.minLen * f, maxLen: n.maxLen * f });
        break;
      }
      default: out.push(n);
    }
  }
  return out;
}

/** The options of one pattern that decide the byte forms it is searched in (::i ::w ::a). */
export interface FormOptions {
  readonly pattern: string;
  readonly nocase?: boolean;
  readonly wide?: boolean;
  readonly ascii?: boolean;
}

/** The byte forms a pattern is searched in: ascii and/or wide (::w, ::a). */
export function patternForms(p: FormOptions): { nodes: PatternNode[]; wide: boolean }[] {
  const forms: { nodes: PatternNode[]; wide: boolean }[] = [];
  const wantWide = p.wide === true;
  const wantAscii = !wantWide || p.ascii === true;
  if (wantAscii) forms.push({ nodes: parsePattern(p.pattern, { nocase: p.nocase ?? false }), wide: false });
  if (wantWide) forms.push({ nodes: parsePattern(p.pattern, { nocase: p.nocase ?? false, wide: true }), wide: true });
  return forms;
}

/** Fewest and most bytes a node consumes. */
export function nodeSpan(n: PatternNode): { min: number; max: number } {
  switch (n.k) {
    case 'byte': case 'set': return { min: 1, max: 1 };
    case 'gap': return { min: n.lo, max: n.hi };
    case 'alt': return { min: n.minLen, max: n.maxLen };
    case 'boundary': return { min: 0, max: 1 };
    case 'line': return { min: 0, max: 2 };
  }
}
