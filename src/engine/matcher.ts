/**
 * The body-signature matcher: many ClamAV hex patterns searched at once in a
 * stream of bytes. DESIGN.md in this folder explains the choices; in short:
 * every pattern is cut at its unbounded gaps into segments, every segment
 * gets one static anchor (4 bytes when it has them), a q-gram filter with a
 * bitmap finds anchor positions, and a small position-set verifier confirms
 * the whole segment left and right of the anchor. Segments of one pattern
 * are chained with a little per-scan state, never with an unbounded buffer.
 *
 * Reads untrusted bytes (the scanned object). Compiling may throw
 * PatternSyntaxError (a build error); scanning never throws because of the
 * bytes scanned. Limits: a gap wider than MAX_INLINE_GAP is handled as a
 * chain link, and a chained pattern tracks at most CHAIN_ITEM_CAP partial
 * matches per segment (beyond that, later starts of that pattern in the same
 * object go unreported; earlier ones are kept).
 */
import { IS_ALNUM, IS_BOUNDARY, PatternSyntaxError, nodeSpan, patternForms, testByte, type ByteLike, type PatternNode } from './pattern.js';
import { offsetWindow, type OffsetSpec } from './offset.js';

/** One pattern to compile. */
export interface PatternInput {
  /** Caller's number for the pattern, passed back in onMatch. Should be unique in a set. */
  readonly id: number;
  /** ClamAV hex pattern text (pattern.ts lists the syntax). */
  readonly pattern: string;
  /** Where a match may start; default `*`. An `unsupported` offset is a build error. */
  readonly offset?: OffsetSpec;
  /** ClamAV target type; 0 or absent = any. Honoured only when the scan's target is known (not 0). */
  readonly target?: number;
  /** ::i — ASCII letters match either case. */
  readonly nocase?: boolean;
  /** ::w — search the UTF-16LE form (every byte followed by 00). */
  readonly wide?: boolean;
  /** ::a — with ::w, search the plain form as well. Alone it changes nothing. */
  readonly ascii?: boolean;
  /** ::f — the match may not be bordered by an ASCII letter or digit. */
  readonly fullword?: boolean;
}

export interface ScanSetup {
  /** Total size of the object in bytes: decides EOF-n offsets and where the object ends. */
  readonly size: number;
  /** ClamAV target type of the object when known; 0 = unknown (every pattern applies). */
  readonly target: number;
  /**
   * Called for every start offset where a pattern matches, each start once
   * per id, during write() or end(). Offsets of one id are not promised to
   * arrive in increasing order. Return false to hear
   * no more about this id in this scan (ndb signatures need only one match).
   */
  onMatch(id: number, offset: number): boolean;
}

/** One streaming scan: feed chunks in order, then end(). Neither throws because of the bytes. */
export interface PatternScan {
  write(chunk: Uint8Array): void;
  end(): void;
  /** Bytes of earlier chunks still held (a diagnostic): bounded by pattern spans, never by the object. */
  readonly heldBytes: number;
}

/** Gaps up to this width stay inside a segment; wider ones become chain links. */
export const MAX_INLINE_GAP = 512;
/** Largest span of one segment when gaps allow a cut there. */
export const MAX_SEGMENT_SPAN = 4096;
/** Partial matches kept per segment of a chained pattern in one scan. */
export const CHAIN_ITEM_CAP = 256;
/** Parsed segments kept for verification; re-parsed from the text when evicted. */
const NODE_CACHE_CAP = 8192;
/** Byte tests checked right of an anchor before the verifier runs. */
const CHECK_MAX = 16;
/** Bytes a ::f check may look beyond a match (two for the wide form). */
const FULLWORD_SLACK = 2;

interface Segment {
  readonly nodes: PatternNode[];
  /** Every match of the segment has the same length. */
  readonly fixed: boolean;
}
interface Link { readonly lo: number; readonly hi: number }
interface ProgShape { readonly segs: Segment[]; readonly links: Link[] }

function segment(nodes: PatternNode[]): Segment {
  const span = spanOf(nodes, 0, nodes.length);
  return { nodes, fixed: span.min === span.max };
}

/**
 * Cuts a node list at unbounded and very wide gaps, and at any gap that would
 * make a segment span more than MAX_SEGMENT_SPAN (the window a scan keeps and
 * the size of the verifier's position sets follow from segment spans). Both
 * sides of a cut must consume bytes.
 */
function splitSegments(nodes: PatternNode[]): ProgShape {
  const segs: Segment[] = [];
  const links: Link[] = [];
  let cur: PatternNode[] = [];
  let span = 0;
  const consumes = (ns: PatternNode[]): boolean => ns.some((n) => n.k === 'byte' || n.k === 'set' || n.k === 'alt');
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i] as PatternNode;
    const wide = n.k === 'gap' && (n.hi > MAX_INLINE_GAP || span + n.hi > MAX_SEGMENT_SPAN);
    if (wide && consumes(cur) && consumes(nodes.slice(i + 1))) {
      segs.push(segment(cur));
      links.push({ lo: n.lo, hi: n.hi });
      cur = [];
      span = 0;
    } else {
      cur.push(n);
      span += nodeSpan(n).max;
    }
  }
  segs.push(segment(cur));
  return { segs, links };
}

/** How common a byte is in executables and documents; anchors avoid common bytes. */
const BYTE_COST = new Float64Array(256);
for (let b = 0; b < 256; b++) {
  BYTE_COST[b] = b === 0 ? 8 : b === 0xff ? 6 : b === 0x20 ? 5 : IS_ALNUM[b] ? 3 : b < 0x80 ? 2.5 : 1;
}

const EXACT: number[][] = Array.from({ length: 256 }, (_, b) => [b]);

/** Values a node may take when it can serve in an anchor (an exact byte, or a ::i letter), else null. */
function anchorValues(n: PatternNode): readonly number[] | null {
  if (n.k !== 'byte') return null;
  if (n.mask === 0xff) return EXACT[n.value] as number[];
  if (n.mask === 0xdf && n.value >= 0x41 && n.value <= 0x5a) return [n.value, n.value | 0x20];
  return null;
}

/**
 * How a segment is found. `q`-byte grams are looked up at every `stride`-th
 * offset of the object; the anchor window holds stride + q - 1 static bytes,
 * so exactly one of its grams falls on a looked-up offset wherever it occurs.
 * Fewer lookups per byte is what makes the filter fast (DESIGN.md).
 */
interface AnchorChoice {
  /** Index into PLANS, or -1 for the slow path. */
  readonly plan: number;
  /** Node index where the anchor window starts (the verifier pivots there). */
  readonly node: number;
  /** Gram keys (little-endian) and, at the same index, their distance from the window start. */
  readonly keys: number[];
  readonly deltas: number[];
  /** Slow path only: bytes the pivot node accepts. */
  readonly test: Uint8Array | null;
}

/**
 * A pattern with an absolute offset (and a small shift) is not looked up at
 * all: it is verified at its few possible starts once their bytes arrive.
 * Offset-0 signatures with short anchors (`4d5a…`) then cost nothing per byte.
 */
export const MAX_PINNED_SHIFT = 64;
const PINNED: AnchorChoice = { plan: -2, node: 0, keys: [], deltas: [], test: null };

/** Longest stride: longer means more table entries per pattern for fewer lookups. */
export const MAX_STRIDE = 8;

/**
 * The four gram tables, by the longest static run of a segment. The long
 * loop reads a 4-byte gram at every 8th offset (q4/8); the short loop reads
 * 4 bytes at every 4th offset and looks them up in q4/4 and both 2-byte
 * halves in q2/2; the q2/1 table needs its own pass over every offset and is
 * empty for most databases. A loop whose tables are empty does not run.
 */
const PLAN_Q4S8 = 0;
const PLAN_Q4S4 = 1;
const PLAN_Q2S2 = 2;
const PLAN_Q2S1 = 3;
const PLANS = [{ q: 4, stride: 8 }, { q: 4, stride: 4 }, { q: 2, stride: 2 }, { q: 2, stride: 1 }] as const;

function gramPlan(run: number): number {
  if (run >= 11) return PLAN_Q4S8;
  if (run >= 7) return PLAN_Q4S4;
  if (run >= 3) return PLAN_Q2S2;
  if (run === 2) return PLAN_Q2S1;
  return -1;
}

function anchorCost(v: readonly number[]): number {
  return (BYTE_COST[v[0] as number] as number) + (v.length - 1) * 0.5;
}

/** Adds the key(s) of the q-byte gram at node `at` (one per spelling for ::i letters). */
function pushGram(vals: readonly (readonly number[] | null)[], at: number, q: number, delta: number, keys: number[], deltas: number[]): void {
  let spelled = [0];
  for (let j = 0; j < q; j++) {
    const choices = vals[at + j] as readonly number[];
    if (choices.length === 1) { for (let k = 0; k < spelled.length; k++) spelled[k] = (spelled[k] as number) | ((choices[0] as number) << (8 * j)); continue; }
    const next: number[] = [];
    for (const k of spelled) for (const c of choices) next.push(k | (c << (8 * j)));
    spelled = next;
  }
  for (const k of spelled) { keys.push(k | 0); deltas.push(delta); }
}

/**
 * Stride 8 without 11 static bytes in a row: inside a run of single-byte
 * nodes (a block with fixed offsets), 4-byte grams at offsets that cover
 * every remainder modulo 8 meet a looked-up offset exactly once wherever the
 * block occurs, just as the 8 grams of one 11-byte window do. Wildcard-rich
 * patterns (`aabbccdd??eeff0011??2233…`) get the fast loop this way.
 */
function spreadAnchor(nodes: PatternNode[], vals: readonly (readonly number[] | null)[]): AnchorChoice | null {
  let best: { node: number; picks: number[] } | null = null;
  let bestCost = Infinity;
  for (let start = 0; start < nodes.length;) {
    let end = start;
    while (end < nodes.length && ((nodes[end] as PatternNode).k === 'byte' || (nodes[end] as PatternNode).k === 'set')) end++;
    if (end === start) { start++; continue; }
    // Cheapest usable gram for each remainder of its offset in the block.
    const picks: number[] = new Array<number>(MAX_STRIDE).fill(-1);
    const costs: number[] = new Array<number>(MAX_STRIDE).fill(Infinity);
    for (let j = 0; start + j + 4 <= end && j <= 255; j++) {
      let cost = 0;
      for (let t = 0; t < 4 && cost < Infinity; t++) {
        const v = vals[start + j + t];
        cost = v ? cost + anchorCost(v) : Infinity;
      }
      const r = j % MAX_STRIDE;
      if (cost < (costs[r] as number)) { costs[r] = cost; picks[r] = j; }
    }
    const total = costs.reduce((a, b) => a + b, 0);
    if (total < bestCost) { bestCost = total; best = { node: start, picks }; }
    start = end;
  }
  if (best === null) return null;
  const keys: number[] = [];
  const deltas: number[] = [];
  for (const j of best.picks) pushGram(vals, best.node + j, 4, j, keys, deltas);
  return { plan: PLAN_Q4S8, node: best.node, keys, deltas, test: null };
}

function chooseAnchor(nodes: PatternNode[]): AnchorChoice {
  const vals = nodes.map(anchorValues);
  let run = 0;
  let longest = 0;
  for (const v of vals) { run = v === null ? 0 : run + 1; longest = Math.max(longest, run); }
  const planIndex = gramPlan(longest);
  if (planIndex >= 0) {
    const plan = PLANS[planIndex] as { q: number; stride: number };
    // The cheapest window of `width` static bytes, by a sliding sum.
    const width = plan.stride + plan.q - 1;
    let best = -1;
    let bestCost = Infinity;
    let cost = 0;
    run = 0;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v === null || v === undefined) { run = 0; cost = 0; continue; }
      run++;
      cost += anchorCost(v);
      if (run > width) cost -= anchorCost(vals[i - width] as readonly number[]);
      if (run >= width && cost < bestCost - 1e-9) { bestCost = cost; best = i - width + 1; }
    }
    if (planIndex !== PLAN_Q4S8 && longest >= 4) {
      const spread = spreadAnchor(nodes, vals);
      if (spread !== null) return spread;
    }
    const keys: number[] = [];
    const deltas: number[] = [];
    for (let d = 0; d < plan.stride; d++) pushGram(vals, best + d, plan.q, d, keys, deltas);
    return { plan: planIndex, node: best, keys, deltas, test: null };
  }
  // No two static bytes in a row: test one node at every offset. Prefer the
  // node accepting the fewest bytes; alternatives test their first bytes.
  let best = -1;
  let bestTest: Uint8Array | null = null;
  let bestCount = Infinity;
  nodes.forEach((n, i) => {
    const test = new Uint8Array(256);
    if (n.k === 'byte' || n.k === 'set') {
      for (let b = 0; b < 256; b++) if (testByte(n, b)) test[b] = 1;
    } else if (n.k === 'alt' && !n.negated) {
      for (const a of n.alts) for (let b = 0; b < 256; b++) if (testByte(a[0] as ByteLike, b)) test[b] = 1;
    } else if (n.k === 'alt') {
      test.fill(1);
    } else {
      return;
    }
    const count = test.reduce((s, x) => s + x, 0);
    if (count < bestCount) { bestCount = count; best = i; bestTest = test; }
  });
  return { plan: -1, node: best, keys: [], deltas: [], test: bestTest };
}

function spanOf(nodes: PatternNode[], from: number, to: number): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (let i = from; i < to; i++) {
    const n = nodes[i] as PatternNode;
    if (n.k === 'byte' || n.k === 'set') { min++; max++; continue; }
    const s = nodeSpan(n);
    min += s.min;
    max += s.max;
  }
  return { min, max };
}

/** All anchors with one gram size and stride: a bitmap, then buckets by hash. */
interface GramTable {
  /** Bit per hash (4-byte grams) or per gram (2-byte grams); a set bit means "maybe". */
  readonly bitmap: Int32Array;
  readonly bitShift: number;
  readonly bucketShift: number;
  readonly bucketStart: Uint32Array;
  readonly key: Int32Array;
  readonly seg: Int32Array;
  readonly delta: Uint8Array;
}

/** Everything compile() produces; shared read-only by all scans. */
interface Compiled {
  readonly inputs: readonly PatternInput[];
  // Per prog (one search form of one input):
  readonly progInput: Int32Array;
  readonly progWide: Uint8Array;
  readonly progTarget: Int32Array;
  readonly progFirstSeg: Int32Array;
  readonly progSegs: Int32Array;
  /** 1 when one start may be found twice (variable left part, or two forms of one input). */
  readonly progDedupe: Uint8Array;
  readonly progMaxLeft: Int32Array;
  // Per segment:
  readonly segProg: Int32Array;
  readonly segAnchor: Int32Array;
  /**
   * Quick check before verification: byte tests in checkValue/checkMask from
   * segCheckAt, starting segCheckLead bytes before the pivot. For a segment of
   * plain byte tests only (segFull) they are the whole segment and the check
   * is the verification; otherwise up to CHECK_MAX tests from the pivot on.
   */
  readonly segCheckAt: Int32Array;
  readonly segCheckLen: Uint8Array;
  readonly segCheckLead: Uint8Array;
  readonly segFull: Uint8Array;
  readonly checkValue: Uint8Array;
  readonly checkMask: Uint8Array;
  readonly segMinLeft: Int32Array;
  readonly segMaxLeft: Int32Array;
  readonly segMaxRight: Int32Array;
  /** Gram tables by plan (PLAN_Q4S8 …); empty tables have an all-zero bitmap. */
  readonly tables: readonly [GramTable, GramTable, GramTable, GramTable];
  // Slow path: one byte test per offset.
  readonly scanSeg: Int32Array;
  readonly scanTest: Uint8Array;
  /** Patterns pinned to an absolute offset: candidate starts sorted, with their segment. */
  readonly pinStart: Float64Array;
  readonly pinSeg: Int32Array;
  /** Some id is used by more than one input (muting must then look at all of them). */
  readonly sharedIds: boolean;
  /** Bytes before an anchor a scan must keep (largest left part and ::f slack). */
  readonly keepLeft: number;
  /** Largest distance from a looked-up gram back to its anchor (the pivot). */
  readonly maxDelta: number;
}

const HASH_MUL = 0x9e3779b1 | 0;

/** A growable Int32Array: gram keys do not fit V8's small integers, and a plain array would box each one. */
class IntList {
  data: Int32Array;
  length = 0;
  constructor(capacity = 1024) { this.data = new Int32Array(capacity); }
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
  /** The values pushed; see listDone. */
  done(): Int32Array { return listDone(this.data, this.length); }
}

/** A growable Uint8Array, for the millions of check bytes and gram distances (a quarter of an IntList's memory). */
class ByteList {
  data: Uint8Array;
  length = 0;
  constructor(capacity = 4096) { this.data = new Uint8Array(capacity); }
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Uint8Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
  /** The bytes pushed; see listDone. */
  done(): Uint8Array { return listDone(this.data, this.length); }
}

/**
 * A list's values as an array of their length. The lists are presized from
 * the input count, so usually little is unused: then a view saves the copy,
 * which at 100k patterns was megabytes of extra peak memory while compiling.
 */
function listDone<T extends Int32Array | Uint8Array>(data: T, length: number): T {
  return (length >= data.length * 0.75 ? data.subarray(0, length) : data.slice(0, length)) as T;
}

function buildTable(q: number, keyList: IntList, segList: IntList, deltaList: ByteList): GramTable {
  const n = keyList.length;
  const keys = keyList.data;
  const segs = segList.data;
  const deltas = deltaList.data;
  // About 3% of the bitmap set, and about one entry per bucket. 2-byte grams
  // get an exact 65536-bit bitmap indexed by the gram itself: no hashing.
  const bitBits = q === 2 ? 16 : Math.min(26, Math.max(6, Math.ceil(Math.log2(n + 1)) + 5));
  const bucketBits = Math.max(1, Math.min(bitBits - 5, Math.ceil(Math.log2(n + 1))));
  const bitmap = new Int32Array((1 << bitBits) >>> 5);
  const buckets = 1 << bucketBits;
  const bucketStart = new Uint32Array(buckets + 1);
  for (let e = 0; e < n; e++) {
    const h = Math.imul(keys[e]!, HASH_MUL);
    const bi = q === 2 ? keys[e]! : h >>> (32 - bitBits);
    bitmap[bi >>> 5] = bitmap[bi >>> 5]! | (1 << (bi & 31));
    const b = h >>> (32 - bucketBits);
    bucketStart[b] = bucketStart[b]! + 1;
  }
  // Bucket starts by prefix sum, then the entries sorted by bucket in the
  // lists' own arrays (American flag sort: each entry is swapped straight
  // into its bucket's next free place). Sorting into new arrays would hold
  // the entries twice, 7 MB more peak memory at 100k patterns.
  let sum = 0;
  for (let b = 0; b < buckets; b++) {
    const count = bucketStart[b]!;
    bucketStart[b] = sum;
    sum += count;
  }
  bucketStart[buckets] = n;
  const next = bucketStart.slice(0, buckets);
  for (let b = 0; b < buckets; b++) {
    const end = bucketStart[b + 1]!;
    for (let at = next[b]!; at < end; at = next[b]!) {
      let k = keys[at]!;
      let s = segs[at]!;
      let d = deltas[at]!;
      // Carry the entry at `at` to its bucket, taking the one there along, until one belongs in b.
      for (let home = Math.imul(k, HASH_MUL) >>> (32 - bucketBits); home !== b; home = Math.imul(k, HASH_MUL) >>> (32 - bucketBits)) {
        const to = next[home]!;
        next[home] = to + 1;
        const k2 = keys[to]!; const s2 = segs[to]!; const d2 = deltas[to]!;
        keys[to] = k; segs[to] = s; deltas[to] = d;
        k = k2; s = s2; d = d2;
      }
      keys[at] = k; segs[at] = s; deltas[at] = d;
      next[b] = at + 1;
    }
  }
  return {
    bitmap, bitShift: 32 - bitBits, bucketShift: 32 - bucketBits, bucketStart,
    key: keyList.done(), seg: segList.done(), delta: deltaList.done(),
  };
}

function buildSet(inputs: readonly PatternInput[]): Compiled {
  // Typed lists sized for one form and one segment per input: plain arrays
  // would leave megabytes of promoted garbage behind at 100k patterns.
  const expected = inputs.length + 16;
  const progInput = new IntList(expected);
  const progWide = new ByteList(expected);
  const progTarget = new IntList(expected);
  const progFirstSeg = new IntList(expected);
  const progSegs = new IntList(expected);
  const progDedupe = new ByteList(expected);
  const progMaxLeft = new IntList(expected);
  const segProg = new IntList(expected);
  const segAnchor = new IntList(expected);
  const segCheckAt = new IntList(expected);
  const segCheckLen = new ByteList(expected);
  const segCheckLead = new ByteList(expected);
  const segFull = new ByteList(expected);
  const checkValue = new ByteList(inputs.length * 32 + 4096);
  const checkMask = new ByteList(inputs.length * 32 + 4096);
  const segMinLeft = new IntList(expected);
  const segMaxLeft = new IntList(expected);
  const segMaxRight = new IntList(expected);
  // Sized for the common case (most patterns in q4/8, about 8 grams each) so the lists rarely regrow.
  const tableParts = PLANS.map((_, plan) => {
    const capacity = plan === PLAN_Q4S8 ? inputs.length * MAX_STRIDE + 1024 : 1024;
    return { keys: new IntList(capacity), segs: new IntList(capacity), deltas: new ByteList(capacity) };
  });
  const scanSeg: number[] = [];
  const scanTests: Uint8Array[] = [];
  const pins: [number, number][] = [];
  let maxDelta = 0;
  let keepLeft = 0;

  inputs.forEach((input, index) => {
    try {
      if (input.offset?.kind === 'unsupported') {
        throw new PatternSyntaxError(`unsupported offset '${input.offset.text}'`, 0);
      }
      const forms = patternForms(input);
      for (const form of forms) {
        const prog = progInput.length;
        const shape = splitSegments(form.nodes);
        progInput.push(index);
        progWide.push(form.wide ? 1 : 0);
        progTarget.push(input.target ?? 0);
        progFirstSeg.push(segProg.length);
        progSegs.push(shape.segs.length);
        let dedupe = forms.length > 1;
        let progLeft = 0;
        shape.segs.forEach((seg, k) => {
          const s = segProg.length;
          const off = input.offset;
          const pinned = shape.segs.length === 1 && off?.kind === 'absolute' && off.shift <= MAX_PINNED_SHIFT;
          const a = pinned ? PINNED : chooseAnchor(seg.nodes);
          const left = spanOf(seg.nodes, 0, a.node);
          const right = spanOf(seg.nodes, a.node, seg.nodes.length);
          const last = k === shape.segs.length - 1;
          if (left.min !== left.max) dedupe = true;
          segProg.push(prog);
          segAnchor.push(a.node);
          segCheckAt.push(checkValue.length);
          const full = seg.nodes.length <= 255 && seg.nodes.every((n) => n.k === 'byte');
          let len = 0;
          for (let i = full ? 0 : a.node; i < seg.nodes.length && (full || len < CHECK_MAX); i++, len++) {
            const n = seg.nodes[i] as PatternNode;
            if (n.k !== 'byte') break;
            checkValue.push(n.value);
            checkMask.push(n.mask);
          }
          segCheckLen.push(len);
          segCheckLead.push(full ? a.node : 0);
          segFull.push(full ? 1 : 0);
          segMinLeft.push(left.min);
          segMaxLeft.push(left.max);
          segMaxRight.push(right.max + (last && input.fullword ? FULLWORD_SLACK : 0));
          progLeft = Math.max(progLeft, left.max);
          keepLeft = Math.max(keepLeft, left.max);
          if (pinned) {
            for (let k = 0; k <= off.shift; k++) pins.push([off.offset + k, s]);
            return;
          }
          if (a.test !== null) {
            scanSeg.push(s);
            scanTests.push(a.test);
            return;
          }
          const part = tableParts[a.plan] as (typeof tableParts)[number];
          for (let j = 0; j < a.keys.length; j++) {
            maxDelta = Math.max(maxDelta, a.deltas[j] as number);
            part.keys.push(a.keys[j] as number);
            part.segs.push(s);
            part.deltas.push(a.deltas[j] as number);
          }
        });
        progDedupe.push(dedupe ? 1 : 0);
        progMaxLeft.push(progLeft);
      }
    } catch (e) {
      if (e instanceof PatternSyntaxError) throw new PatternSyntaxError(e.reason, e.position, input.id);
      throw e;
    }
  });

  const table = (plan: number): GramTable => {
    const t = tableParts[plan] as (typeof tableParts)[number];
    return buildTable((PLANS[plan] as { q: number }).q, t.keys, t.segs, t.deltas);
  };
  const tables = [table(0), table(1), table(2), table(3)] as const;
  const scanTest = new Uint8Array(256 * scanTests.length);
  scanTests.forEach((t, i) => scanTest.set(t, i * 256));

  return {
    inputs,
    progInput: progInput.done(),
    progWide: progWide.done(),
    progTarget: progTarget.done(),
    progFirstSeg: progFirstSeg.done(),
    progSegs: progSegs.done(),
    progDedupe: progDedupe.done(),
    progMaxLeft: progMaxLeft.done(),
    segProg: segProg.done(),
    segAnchor: segAnchor.done(),
    segCheckAt: segCheckAt.done(),
    segCheckLen: segCheckLen.done(),
    segCheckLead: segCheckLead.done(),
    segFull: segFull.done(),
    checkValue: checkValue.done(),
    checkMask: checkMask.done(),
    segMinLeft: segMinLeft.done(),
    segMaxLeft: segMaxLeft.done(),
    segMaxRight: segMaxRight.done(),
    tables,
    scanSeg: Int32Array.from(scanSeg),
    pinStart: Float64Array.from(pins.sort((x, y) => x[0] - y[0]), (x) => x[0]),
    pinSeg: Int32Array.from(pins, (x) => x[1]),
    scanTest,
    keepLeft: keepLeft + FULLWORD_SLACK,
    maxDelta,
    sharedIds: new Set(inputs.map((i) => i.id)).size !== inputs.length,
  };
}

/** A compiled, immutable set of patterns, shared by any number of concurrent scans. */
export class PatternSet {
  readonly #c: Compiled;
  /** Parsed shapes of recently verified progs: a memo, so sharing it between scans is safe. */
  readonly #shapes = new Map<number, ProgShape>();

  private constructor(c: Compiled) {
    this.#c = c;
  }

  /** Compiles the patterns. Throws PatternSyntaxError naming the id of the first bad pattern. */
  static compile(inputs: readonly PatternInput[]): PatternSet {
    return new PatternSet(buildSet([...inputs]));
  }

  /** Number of inputs compiled. */
  get size(): number { return this.#c.inputs.length; }

  /** Starts one streaming scan of one object. */
  newScan(setup: ScanSetup): PatternScan {
    return new Scan(this.#c, setup, (prog) => this.#shape(prog));
  }

  /** Convenience: every (id, offset) match in one whole buffer, in the order found. */
  scanBuffer(data: Uint8Array, target = 0): [number, number][] {
    const out: [number, number][] = [];
    const scan = this.newScan({ size: data.length, target, onMatch: (id, at) => { out.push([id, at]); return true; } });
    scan.write(data);
    scan.end();
    return out;
  }

  #shape(prog: number): ProgShape {
    let s = this.#shapes.get(prog);
    if (s === undefined) {
      const c = this.#c;
      const input = c.inputs[c.progInput[prog] as number] as PatternInput;
      const wide = c.progWide[prog] === 1;
      const form = patternForms(input).find((f) => f.wide === wide) as { nodes: PatternNode[] };
      s = splitSegments(form.nodes);
      if (this.#shapes.size >= NODE_CACHE_CAP) this.#shapes.clear();
      this.#shapes.set(prog, s);
    }
    return s;
  }
}

/** Chain progress of one chained prog in one scan. */
interface ChainState {
  /** Segment matches waiting to be applied in start order: level, start, ends. */
  tuples: { level: number; start: number; ends: number[] }[];
  /** Per level, flat (start of the whole match, end of this segment) pairs. */
  items: number[][];
}

const EMPTY: number[] = [];

function sortUnique(a: number[]): number[] {
  if (a.length < 2) return a;
  a.sort((x, y) => x - y);
  let w = 1;
  for (let r = 1; r < a.length; r++) if (a[r] !== a[w - 1]) a[w++] = a[r] as number;
  a.length = w;
  return a;
}

class Scan implements PatternScan {
  readonly #c: Compiled;
  readonly #setup: ScanSetup;
  readonly #shape: (prog: number) => ProgShape;
  readonly #target: number;
  #buf = new Uint8Array(0);
  /** Absolute offset of #buf[0]. */
  #base = 0;
  /** Absolute offset just past the last byte received. */
  #avail = 0;
  #eof = false;
  #ended = false;
  /** Next offset (a multiple of 8) the q4/8 loop has not examined; Infinity when its table is empty. */
  #nextLong: number;
  /** Next offset (a multiple of 4) the q4/4 + q2/2 loop has not examined; Infinity when both are empty. */
  #nextShort: number;
  #view = new DataView(new ArrayBuffer(0));
  /** Next offset the q2/1 pass has not examined; Infinity when that table is empty. */
  #nextEvery: number;
  /** The slow path's next offset not yet examined. */
  #nextScan: number;
  /** Index of the first pinned start not yet verified. */
  #pin = 0;
  /** Candidates waiting for bytes right of their anchor: flat (segment, anchor offset) pairs. */
  #pending: number[] = [];
  /** Muted ids, and the same per prog for the hot path (allocated on the first mute). */
  #muted: Set<number> | null = null;
  #mutedProg: Uint8Array | null = null;
  #seen: Map<number, Set<number>> | null = null;
  #chains: Map<number, ChainState> | null = null;

  constructor(c: Compiled, setup: ScanSetup, shape: (prog: number) => ProgShape) {
    this.#c = c;
    this.#setup = setup;
    this.#shape = shape;
    this.#target = setup.target;
    this.#nextLong = c.tables[PLAN_Q4S8].key.length > 0 ? 0 : Infinity;
    this.#nextShort = c.tables[PLAN_Q4S4].key.length + c.tables[PLAN_Q2S2].key.length > 0 ? 0 : Infinity;
    this.#nextEvery = c.tables[PLAN_Q2S1].key.length > 0 ? 0 : Infinity;
    // Without slow-path patterns it never holds bytes back.
    this.#nextScan = c.scanSeg.length > 0 ? 0 : Infinity;
  }

  write(chunk: Uint8Array): void {
    if (this.#ended || chunk.length === 0) return;
    this.#append(chunk);
    this.#resolvePending();
    if (this.#pin < this.#c.pinStart.length) this.#runPins();
    if (this.#nextLong !== Infinity) this.#scanLong();
    if (this.#nextShort !== Infinity) this.#scanShort();
    if (this.#nextEvery !== Infinity) this.#scanEvery();
    if (this.#nextScan !== Infinity) this.#scanSlow();
    if (this.#chains !== null) this.#runChains(false);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#eof = true;
    // Grams shorter than 4 bytes may still sit in the last 3 bytes.
    this.#scanTail();
    this.#runPins();
    this.#resolvePending();
    if (this.#chains !== null) this.#runChains(true);
    this.#buf = new Uint8Array(0);
  }

  /** Lowest anchor offset a future candidate can have. */
  #frontier(): number {
    let f = this.#scanFloor();
    const p = this.#pending;
    for (let i = 1; i < p.length; i += 2) f = Math.min(f, p[i] as number);
    return f;
  }

  /** Lowest offset an anchor still to be looked up may start at. */
  #scanFloor(): number {
    let f = this.#nextScan;
    const back = this.#c.maxDelta;
    f = Math.min(f, this.#nextLong - back, this.#nextShort - back, this.#nextEvery);
    return f;
  }

  get heldBytes(): number { return this.#ended ? 0 : this.#avail - this.#keepFrom(); }

  /** The first offset a later verification may read. */
  #keepFrom(): number {
    const c = this.#c;
    let keep = this.#scanFloor() - c.keepLeft;
    if (this.#pin < c.pinStart.length) keep = Math.min(keep, c.pinStart[this.#pin]! - FULLWORD_SLACK);
    const p = this.#pending;
    for (let i = 0; i < p.length; i += 2) {
      keep = Math.min(keep, (p[i + 1] as number) - (c.segMaxLeft[p[i] as number] as number) - FULLWORD_SLACK);
    }
    return Math.min(Math.max(keep, this.#base), this.#avail);
  }

  /** Keeps the bytes future verifications may read, then adds the chunk. */
  #append(chunk: Uint8Array): void {
    const keep = this.#keepFrom();
    const tail = this.#avail - keep;
    const need = tail + chunk.length;
    let buf = this.#buf;
    if (buf.length < need) {
      const grown = new Uint8Array(Math.max(need, Math.min(buf.length * 2, need + (1 << 20))));
      grown.set(buf.subarray(keep - this.#base, this.#avail - this.#base));
      buf = grown;
    } else if (keep > this.#base) {
      buf.copyWithin(0, keep - this.#base, this.#avail - this.#base);
    }
    buf.set(chunk, tail);
    if (buf !== this.#buf) this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.#buf = buf;
    this.#base = keep;
    this.#avail += chunk.length;
  }

  /** Verifies pinned starts whose bytes have all arrived, in start order. */
  #runPins(): void {
    const c = this.#c;
    const starts = c.pinStart;
    let k = this.#pin;
    for (; k < starts.length; k++) {
      const at = starts[k]!;
      const seg = c.pinSeg[k]!;
      if (at >= this.#avail) {
        // A match consumes at least one byte, so nothing can start at or past the end.
        if (this.#eof) k = starts.length;
        break;
      }
      if (!this.#eof && this.#avail < at + c.segMaxRight[seg]!) break;
      this.#candidate(seg, at);
    }
    this.#pin = k;
  }

  /**
   * The hot loop for long anchors: a 4-byte gram at every 8th offset, looked
   * up in the q4/8 table. It runs alone, and reads grams in batches of four
   * before testing them, because its bitmap is large and its loads must
   * overlap to hide memory latency (DESIGN.md, "measured").
   */
  #scanLong(): void {
    const last = this.#avail - 4;
    let at = this.#nextLong;
    if (at > last) return;
    const g = this.#c.tables[PLAN_Q4S8];
    const bm = g.bitmap;
    const sh = g.bitShift;
    const view = this.#view;
    const base = this.#base;
    let i = at - base;
    const stop = last - base;
    for (const stop4 = stop - 24; i <= stop4; i += 32) {
      const h0 = Math.imul(view.getInt32(i, true), HASH_MUL);
      const h1 = Math.imul(view.getInt32(i + 8, true), HASH_MUL);
      const h2 = Math.imul(view.getInt32(i + 16, true), HASH_MUL);
      const h3 = Math.imul(view.getInt32(i + 24, true), HASH_MUL);
      const b0 = h0 >>> sh;
      const b1 = h1 >>> sh;
      const b2 = h2 >>> sh;
      const b3 = h3 >>> sh;
      const w0 = bm[b0 >>> 5]! >>> (b0 & 31);
      const w1 = bm[b1 >>> 5]! >>> (b1 & 31);
      const w2 = bm[b2 >>> 5]! >>> (b2 & 31);
      const w3 = bm[b3 >>> 5]! >>> (b3 & 31);
      if (((w0 | w1 | w2 | w3) & 1) === 0) continue;
      if ((w0 & 1) !== 0) this.#lookup(g, view.getInt32(i, true), h0, base + i);
      if ((w1 & 1) !== 0) this.#lookup(g, view.getInt32(i + 8, true), h1, base + i + 8);
      if ((w2 & 1) !== 0) this.#lookup(g, view.getInt32(i + 16, true), h2, base + i + 16);
      if ((w3 & 1) !== 0) this.#lookup(g, view.getInt32(i + 24, true), h3, base + i + 24);
    }
    for (; i <= stop; i += 8) {
      const v = view.getInt32(i, true);
      const h = Math.imul(v, HASH_MUL);
      const b = h >>> sh;
      if ((bm[b >>> 5]! & (1 << (b & 31))) !== 0) this.#lookup(g, v, h, base + i);
    }
    at = base + i;
    this.#nextLong = at;
  }

  /**
   * The loop for shorter anchors: at every 4th offset, the q4/4 table and
   * both 2-byte halves in the q2/2 table (an exact 65536-bit bitmap).
   */
  #scanShort(): void {
    const last = this.#avail - 4;
    const first = this.#nextShort;
    if (first > last) return;
    const t4 = this.#c.tables[PLAN_Q4S4];
    const t2 = this.#c.tables[PLAN_Q2S2];
    const view = this.#view;
    const base = this.#base;
    const bm4 = t4.bitmap;
    const bm2 = t2.bitmap;
    const sh4 = t4.bitShift;
    let i = first - base;
    const stop = last - base;
    // Four offsets at a time: all twelve bitmap words are loaded before a single branch.
    for (const stop4 = stop - 12; i <= stop4; i += 16) {
      const v0 = view.getInt32(i, true);
      const v1 = view.getInt32(i + 4, true);
      const v2 = view.getInt32(i + 8, true);
      const v3 = view.getInt32(i + 12, true);
      const b0 = Math.imul(v0, HASH_MUL) >>> sh4;
      const b1 = Math.imul(v1, HASH_MUL) >>> sh4;
      const b2 = Math.imul(v2, HASH_MUL) >>> sh4;
      const b3 = Math.imul(v3, HASH_MUL) >>> sh4;
      const any = (bm4[b0 >>> 5]! >>> (b0 & 31)) | (bm4[b1 >>> 5]! >>> (b1 & 31))
        | (bm4[b2 >>> 5]! >>> (b2 & 31)) | (bm4[b3 >>> 5]! >>> (b3 & 31))
        | (bm2[(v0 & 0xffff) >>> 5]! >>> (v0 & 31)) | (bm2[v0 >>> 21]! >>> ((v0 >>> 16) & 31))
        | (bm2[(v1 & 0xffff) >>> 5]! >>> (v1 & 31)) | (bm2[v1 >>> 21]! >>> ((v1 >>> 16) & 31))
        | (bm2[(v2 & 0xffff) >>> 5]! >>> (v2 & 31)) | (bm2[v2 >>> 21]! >>> ((v2 >>> 16) & 31))
        | (bm2[(v3 & 0xffff) >>> 5]! >>> (v3 & 31)) | (bm2[v3 >>> 21]! >>> ((v3 >>> 16) & 31));
      if ((any & 1) === 0) continue;
      this.#shortAt(i, base + i);
      this.#shortAt(i + 4, base + i + 4);
      this.#shortAt(i + 8, base + i + 8);
      this.#shortAt(i + 12, base + i + 12);
    }
    for (; i <= stop; i += 4) this.#shortAt(i, base + i);
    this.#nextShort = base + i;
  }

  /** The q4/4 and q2/2 lookups at one offset (buffer index `i`, object offset `at`). */
  #shortAt(i: number, at: number): void {
    const t4 = this.#c.tables[PLAN_Q4S4];
    const t2 = this.#c.tables[PLAN_Q2S2];
    const v = this.#view.getInt32(i, true);
    const h4 = Math.imul(v, HASH_MUL);
    const b4 = h4 >>> t4.bitShift;
    if ((t4.bitmap[b4 >>> 5]! & (1 << (b4 & 31))) !== 0) this.#lookup(t4, v, h4, at);
    const lo = v & 0xffff;
    if ((t2.bitmap[lo >>> 5]! & (1 << (lo & 31))) !== 0) this.#lookup(t2, lo, Math.imul(lo, HASH_MUL), at);
    const hi = v >>> 16;
    if ((t2.bitmap[hi >>> 5]! & (1 << (hi & 31))) !== 0) this.#lookup(t2, hi, Math.imul(hi, HASH_MUL), at + 2);
  }

  /** A bitmap hit: every entry of the gram's bucket with the same key is a candidate. */
  #lookup(g: GramTable, key: number, h: number, at: number): void {
    const b = h >>> g.bucketShift;
    for (let e = g.bucketStart[b]!, end = g.bucketStart[b + 1]!; e < end; e++) {
      if (g.key[e] === key) this.#candidate(g.seg[e]!, at - g.delta[e]!);
    }
  }

  /** The q2/1 table: 2-byte grams at every offset (segments with only 2 static bytes in a row). */
  #scanEvery(): void {
    const g = this.#c.tables[PLAN_Q2S1];
    const buf = this.#buf;
    const base = this.#base;
    let i = this.#nextEvery - base;
    for (const stop = this.#avail - 2 - base; i <= stop; i++) {
      const k = buf[i]! | (buf[i + 1]! << 8);
      if ((g.bitmap[k >>> 5]! & (1 << (k & 31))) !== 0) this.#lookup(g, k, Math.imul(k, HASH_MUL), base + i);
    }
    this.#nextEvery = base + i;
  }

  /** At the end of the object: q2/2 grams in the last 3 bytes, which the main loop cannot read 4 bytes at. */
  #scanTail(): void {
    const t2 = this.#c.tables[PLAN_Q2S2];
    if (this.#nextShort === Infinity) return;
    for (let i = this.#nextShort; i + 2 <= this.#avail; i += 2) {
      const k = this.#at(i) | (this.#at(i + 1) << 8);
      this.#lookup(t2, k, Math.imul(k, HASH_MUL), i);
    }
    this.#nextShort = Infinity;
  }

  #scanSlow(): void {
    const c = this.#c;
    const buf = this.#buf;
    const base = this.#base;
    const n = c.scanSeg.length;
    for (let i = this.#nextScan - base, stop = this.#avail - base; i < stop; i++) {
      const b = buf[i]!;
      for (let j = 0; j < n; j++) if (c.scanTest[j * 256 + b] === 1) this.#candidate(c.scanSeg[j]!, base + i);
    }
    this.#nextScan = this.#avail;
  }

  #isMuted(prog: number): boolean {
    const m = this.#mutedProg;
    return m !== null && m[prog] === 1;
  }

  #mute(id: number, prog: number): void {
    const c = this.#c;
    (this.#muted ??= new Set()).add(id);
    const m = (this.#mutedProg ??= new Uint8Array(c.progInput.length));
    if (c.sharedIds) {
      for (let q = 0; q < m.length; q++) if ((c.inputs[c.progInput[q]!] as PatternInput).id === id) m[q] = 1;
      return;
    }
    // Ids are unique: the input's progs (its ascii and wide forms) sit side by side.
    const input = c.progInput[prog]!;
    for (let q = prog; q >= 0 && c.progInput[q] === input; q--) m[q] = 1;
    for (let q = prog + 1; q < m.length && c.progInput[q] === input; q++) m[q] = 1;
  }

  #candidate(seg: number, p: number): void {
    const c = this.#c;
    const prog = c.segProg[seg]!;
    const t = c.progTarget[prog]!;
    if (t !== 0 && this.#target !== 0 && t !== this.#target) return;
    if (this.#isMuted(prog)) return;
    // The gram matched; the bytes around it usually tell a false start without the verifier.
    const from = p - c.segCheckLead[seg]!;
    const checked = from + c.segCheckLen[seg]! <= this.#avail;
    if (checked && !this.#check(seg, from)) return;
    if (c.progFirstSeg[prog] === seg) {
      // Cheap offset test before any verification: the start lies in [p - maxLeft, p - minLeft].
      const off = (c.inputs[c.progInput[prog]!] as PatternInput).offset;
      if (off !== undefined && off.kind !== 'any') {
        const w = offsetWindow(off, this.#setup.size);
        if (w === null || p - c.segMinLeft[seg]! < w.lo || p - c.segMaxLeft[seg]! > w.hi) return;
      }
    }
    if (!this.#eof && this.#avail < p + c.segMaxRight[seg]!) this.#pending.push(seg, p);
    else if (checked && c.segFull[seg] === 1) this.#settle(seg, [from], [from + c.segCheckLen[seg]!]);
    else this.#verify(seg, p);
  }

  /** The quick check at object offset `from` (which the caller knows is held). */
  #check(seg: number, from: number): boolean {
    const c = this.#c;
    const buf = this.#buf;
    const i = from - this.#base;
    const at = c.segCheckAt[seg]!;
    for (let j = 0, len = c.segCheckLen[seg]!; j < len; j++) {
      if ((buf[i + j]! & c.checkMask[at + j]!) !== c.checkValue[at + j]) return false;
    }
    return true;
  }

  #resolvePending(): void {
    const p = this.#pending;
    if (p.length === 0) return;
    const c = this.#c;
    const rest: number[] = [];
    for (let i = 0; i < p.length; i += 2) {
      const seg = p[i]!;
      const at = p[i + 1]!;
      if (this.#eof || this.#avail >= at + c.segMaxRight[seg]!) {
        if (!this.#isMuted(c.segProg[seg]!)) this.#verify(seg, at);
      } else {
        rest.push(seg, at);
      }
    }
    this.#pending = rest;
  }

  /** Confirms one anchor hit left and right, then reports it or feeds its chain. */
  #verify(seg: number, p: number): void {
    const c = this.#c;
    if (c.segFull[seg] === 1) {
      const from = p - c.segCheckLead[seg]!;
      const to = from + c.segCheckLen[seg]!;
      if (to <= this.#avail && this.#check(seg, from)) this.#settle(seg, [from], [to]);
      return;
    }
    const prog = c.segProg[seg]!;
    const nodes = (this.#shape(prog).segs[seg - c.progFirstSeg[prog]!] as Segment).nodes;
    const anchor = c.segAnchor[seg]!;
    let starts = [p];
    for (let i = anchor - 1; i >= 0 && starts.length > 0; i--) starts = this.#stepBack(nodes[i] as PatternNode, starts);
    if (starts.length === 0) return;
    let ends = [p];
    for (let i = anchor; i < nodes.length && ends.length > 0; i++) ends = this.#stepFwd(nodes[i] as PatternNode, ends);
    if (ends.length > 0) this.#settle(seg, starts, ends);
  }

  /** Applies offset and ::f to a segment match, then reports it or hands it to its chain. */
  #settle(seg: number, starts: number[], ends: number[]): void {
    const c = this.#c;
    const prog = c.segProg[seg]!;
    const input = c.inputs[c.progInput[prog]!] as PatternInput;
    const level = seg - c.progFirstSeg[prog]!;
    const levels = c.progSegs[prog]!;
    const wide = c.progWide[prog] === 1;
    if (level === 0) {
      const off = input.offset;
      const w = off === undefined ? null : offsetWindow(off, this.#setup.size);
      if (off !== undefined && off.kind !== 'any') starts = w === null ? EMPTY : starts.filter((s) => s >= w.lo && s <= w.hi);
      if (input.fullword) starts = starts.filter((s) => !this.#wordBefore(s, wide));
    }
    if (starts.length === 0) return;
    if (level === levels - 1 && input.fullword) ends = ends.filter((e) => !this.#wordAfter(e, wide));
    if (ends.length === 0) return;
    if (levels === 1) {
      for (const s of starts) this.#report(prog, s);
      return;
    }
    this.#chains ??= new Map();
    let st = this.#chains.get(prog);
    if (st === undefined) {
      st = { tuples: [], items: Array.from({ length: levels }, () => []) };
      this.#chains.set(prog, st);
    }
    for (const s of starts) st.tuples.push({ level, start: s, ends });
  }

  #report(prog: number, start: number): void {
    const c = this.#c;
    const id = (c.inputs[c.progInput[prog]!] as PatternInput).id;
    if (this.#muted?.has(id)) return;
    if (c.progDedupe[prog] === 1 || c.progSegs[prog]! > 1) {
      this.#seen ??= new Map();
      let seen = this.#seen.get(id);
      if (seen === undefined) { seen = new Set(); this.#seen.set(id, seen); }
      if (seen.has(start)) return;
      if (seen.size >= 1 << 16) seen.clear();
      seen.add(start);
    }
    let more: boolean;
    try {
      more = this.#setup.onMatch(id, start);
    } catch {
      // A throwing callback is the caller's bug; stop reporting that id rather than break the scan.
      more = false;
    }
    if (!more) this.#mute(id, prog);
  }

  /**
   * Applies buffered segment matches of chained progs in start order. A tuple
   * is safe to apply once no candidate still to come can start before it.
   */
  #runChains(final: boolean): void {
    const c = this.#c;
    const frontier = final ? Infinity : this.#frontier();
    for (const [prog, st] of this.#chains as Map<number, ChainState>) {
      if (st.tuples.length === 0) continue;
      const limit = frontier - c.progMaxLeft[prog]!;
      st.tuples.sort((a, b) => a.start - b.start);
      let n = 0;
      while (n < st.tuples.length && (st.tuples[n] as ChainState['tuples'][number]).start < limit) n++;
      if (n === 0) continue;
      const ready = st.tuples.splice(0, n);
      if (this.#isMuted(prog)) continue;
      const shape = this.#shape(prog);
      const levels = st.items.length;
      for (const t of ready) {
        if (t.level === 0) {
          for (const e of t.ends) this.#addItem(st, shape, 0, t.start, e);
          continue;
        }
        const link = shape.links[t.level - 1] as Link;
        const prev = st.items[t.level - 1] as number[];
        const last = t.level === levels - 1;
        // An item that moved on is done with when no later tuple could move it on better:
        // always at the last level; before it, when this segment has a fixed width (later
        // tuples end later) and an unbounded link follows (an earlier end serves every use).
        const done = last || ((shape.segs[t.level] as Segment).fixed && (shape.links[t.level] as Link).hi === Infinity);
        let w = 0;
        for (let r = 0; r < prev.length; r += 2) {
          const from = prev[r]!;
          const end = prev[r + 1]!;
          if (end + link.hi < t.start) continue; // expired: later tuples start later still
          const reaches = t.start >= end + link.lo;
          if (!reaches || !done) { prev[w++] = from; prev[w++] = end; }
          if (!reaches) continue;
          if (last) this.#report(prog, from);
          else for (const e of t.ends) this.#addItem(st, shape, t.level, from, e);
        }
        prev.length = w;
      }
    }
  }

  #addItem(st: ChainState, shape: ProgShape, level: number, from: number, end: number): void {
    const items = st.items[level] as number[];
    const unbounded = (shape.links[level] as Link).hi === Infinity;
    for (let r = 0; r < items.length; r += 2) {
      // With an unbounded link next, an earlier end from the same start serves every later use.
      if (items[r] === from && (items[r + 1] === end || (unbounded && items[r + 1]! <= end))) return;
    }
    if (items.length >= CHAIN_ITEM_CAP * 2) return;
    items.push(from, end);
  }

  #fileEnd(): number { return this.#eof ? this.#avail : this.#setup.size; }

  /** The byte at absolute offset q, or -1 when it is outside what is held. */
  #at(q: number): number {
    return q >= this.#base && q < this.#avail ? this.#buf[q - this.#base]! : -1;
  }

  #wordBefore(s: number, wide: boolean): boolean {
    const b = this.#at(wide ? s - 2 : s - 1);
    return b >= 0 && IS_ALNUM[b] === 1 && (!wide || this.#at(s - 1) === 0);
  }

  #wordAfter(e: number, wide: boolean): boolean {
    const b = this.#at(e);
    if (b < 0 || IS_ALNUM[b] !== 1) return false;
    return !wide || this.#at(e + 1) === 0;
  }

  #seqAt(seq: readonly ByteLike[], q: number): boolean {
    for (let j = 0; j < seq.length; j++) {
      const b = this.#at(q + j);
      if (b < 0 || !testByte(seq[j] as ByteLike, b)) return false;
    }
    return true;
  }

  /** Positions after `node` consumed from each position in `cur` (sorted, unique). */
  #stepFwd(node: PatternNode, cur: number[]): number[] {
    const out: number[] = [];
    const fileEnd = this.#fileEnd();
    switch (node.k) {
      case 'byte': case 'set':
        for (const q of cur) { const b = this.#at(q); if (b >= 0 && testByte(node, b)) out.push(q + 1); }
        return out;
      case 'gap': {
        let lastHi = -1;
        for (const q of cur) {
          const lo = Math.max(q + node.lo, lastHi + 1);
          const hi = Math.min(q + node.hi, fileEnd);
          for (let r = lo; r <= hi; r++) out.push(r);
          if (hi > lastHi) lastHi = hi;
        }
        return out;
      }
      case 'alt':
        for (const q of cur) {
          if (node.negated) {
            if (q + node.minLen > this.#avail) continue;
            if (!node.alts.some((a) => this.#seqAt(a, q))) out.push(q + node.minLen);
          } else {
            for (const a of node.alts) if (this.#seqAt(a, q)) out.push(q + a.length);
          }
        }
        return sortUnique(out);
      case 'boundary':
        for (const q of cur) {
          if (q === 0 || q === fileEnd) out.push(q);
          const b = this.#at(q);
          if (b >= 0 && IS_BOUNDARY[b] === 1) out.push(q + 1);
        }
        return sortUnique(out);
      case 'line':
        for (const q of cur) {
          if (q === 0 || q === fileEnd) out.push(q);
          const b = this.#at(q);
          if (b === 0x0d && this.#at(q + 1) === 0x0a) out.push(q + 2);
          if (b === 0x0d || b === 0x0a) out.push(q + 1);
        }
        return sortUnique(out);
    }
  }

  /** Positions before `node` consumed backwards from each position in `cur` (sorted, unique). */
  #stepBack(node: PatternNode, cur: number[]): number[] {
    const out: number[] = [];
    const fileEnd = this.#fileEnd();
    switch (node.k) {
      case 'byte': case 'set':
        for (const q of cur) { const b = this.#at(q - 1); if (b >= 0 && testByte(node, b)) out.push(q - 1); }
        return out;
      case 'gap': {
        let lastHi = -1;
        for (const q of cur) {
          const lo = Math.max(q - node.hi, lastHi + 1, 0);
          const hi = q - node.lo;
          for (let r = lo; r <= hi; r++) out.push(r);
          if (hi > lastHi) lastHi = hi;
        }
        return out;
      }
      case 'alt':
        for (const q of cur) {
          if (node.negated) {
            const s = q - node.minLen;
            if (s < 0 || s < this.#base) continue;
            if (!node.alts.some((a) => this.#seqAt(a, s))) out.push(s);
          } else {
            for (const a of node.alts) if (q - a.length >= 0 && this.#seqAt(a, q - a.length)) out.push(q - a.length);
          }
        }
        return sortUnique(out);
      case 'boundary':
        for (const q of cur) {
          if (q === 0 || q === fileEnd) out.push(q);
          const b = this.#at(q - 1);
          if (b >= 0 && IS_BOUNDARY[b] === 1) out.push(q - 1);
        }
        return sortUnique(out);
      case 'line':
        for (const q of cur) {
          if (q === 0 || q === fileEnd) out.push(q);
          const b = this.#at(q - 1);
          if (b === 0x0a && this.#at(q - 2) === 0x0d) out.push(q - 2);
          if (b === 0x0d || b === 0x0a) out.push(q - 1);
        }
        return sortUnique(out);
    }
  }
}
