/**
 * The naive reference matcher: simple, slow and obviously correct, used only
 * by tests to check the fast matcher (matcher.ts). It holds the whole object
 * in memory and tries every start position with a memoised backtracking
 * walk over the pattern's nodes. It shares only the parser with the engine.
 * Limits: the whole object in memory and a memo of nodes × bytes per form,
 * so it is for test-sized inputs only. Reads untrusted bytes only in tests.
 *
 * Match semantics (the engine must agree): a pattern matches at start `s`
 * when some end `e` exists such that the bytes [s, e) follow the pattern,
 * the offset allows `s`, and — for ::f — neither neighbour of [s, e) is an
 * ASCII letter or digit (for wide forms: a letter or digit followed by 00).
 * Every such `s` is reported once, per pattern id, in increasing order.
 */
import { IS_ALNUM, IS_BOUNDARY, patternForms, testByte, type ByteLike, type PatternNode } from './pattern.js';
import { offsetAllows } from './offset.js';
import type { PatternInput } from './matcher.js';

/** Whether a word character sits just before `s` (::f). */
export function wordBefore(data: Uint8Array, s: number, wide: boolean): boolean {
  if (!wide) return s > 0 && IS_ALNUM[data[s - 1] as number] === 1;
  return s > 1 && data[s - 1] === 0 && IS_ALNUM[data[s - 2] as number] === 1;
}

/** Whether a word character starts at `e` (::f). */
export function wordAfter(data: Uint8Array, e: number, wide: boolean): boolean {
  if (!wide) return e < data.length && IS_ALNUM[data[e] as number] === 1;
  return e + 1 < data.length && data[e + 1] === 0 && IS_ALNUM[data[e] as number] === 1;
}

function seqAt(seq: readonly ByteLike[], data: Uint8Array, p: number): boolean {
  if (p + seq.length > data.length) return false;
  for (let j = 0; j < seq.length; j++) if (!testByte(seq[j] as ByteLike, data[p + j] as number)) return false;
  return true;
}

/** All start offsets where one pattern matches in `data`, in increasing order. */
export function naiveStarts(p: PatternInput, data: Uint8Array, target = 0): number[] {
  if (p.target && target && p.target !== target) return [];
  const n = data.length;
  const starts = new Set<number>();
  for (const form of patternForms(p)) {
    const nodes = form.nodes;
    const full = p.fullword === true;
    const memo = new Uint8Array((nodes.length + 1) * (n + 1));
    const from = (i: number, q: number): boolean => {
      if (i === nodes.length) return !(full && wordAfter(data, q, form.wide));
      const key = i * (n + 1) + q;
      const m = memo[key];
      if (m !== 0) return m === 2;
      const ok = step(i, q);
      memo[key] = ok ? 2 : 1;
      return ok;
    };
    const step = (i: number, q: number): boolean => {
      const node = nodes[i] as PatternNode;
      switch (node.k) {
        case 'byte': case 'set':
          return q < n && testByte(node, data[q] as number) && from(i + 1, q + 1);
        case 'gap': {
          const last = Math.min(q + node.hi, n);
          for (let r = q + node.lo; r <= last; r++) if (from(i + 1, r)) return true;
          return false;
        }
        case 'alt':
          if (node.negated) {
            const len = node.minLen;
            if (q + len > n) return false;
            for (const a of node.alts) if (seqAt(a, data, q)) return false;
            return from(i + 1, q + len);
          }
          for (const a of node.alts) if (seqAt(a, data, q) && from(i + 1, q + a.length)) return true;
          return false;
        case 'boundary':
          if ((q === 0 || q === n) && from(i + 1, q)) return true;
          return q < n && IS_BOUNDARY[data[q] as number] === 1 && from(i + 1, q + 1);
        case 'line': {
          if ((q === 0 || q === n) && from(i + 1, q)) return true;
          const b = data[q];
          if (b === 0x0d && data[q + 1] === 0x0a && from(i + 1, q + 2)) return true;
          return (b === 0x0d || b === 0x0a) && from(i + 1, q + 1);
        }
      }
    };
    for (let s = 0; s <= n; s++) {
      if (p.offset && !offsetAllows(p.offset, s, n)) continue;
      if (full && wordBefore(data, s, form.wide)) continue;
      if (from(0, s)) starts.add(s);
    }
  }
  return [...starts].sort((a, b) => a - b);
}

/** Every (id, start) match of every pattern, sorted by id then start. */
export function naiveMatchAll(inputs: readonly PatternInput[], data: Uint8Array, target = 0): [number, number][] {
  const out: [number, number][] = [];
  for (const p of inputs) for (const s of naiveStarts(p, data, target)) out.push([p.id, s]);
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}
