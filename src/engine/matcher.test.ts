import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHAIN_ITEM_CAP, MAX_INLINE_GAP, PatternSet, type PatternInput } from './matcher.js';
import { naiveMatchAll, naiveStarts } from './naive.js';
import { parseOffset } from './offset.js';
import { parsePattern, PatternSyntaxError } from './pattern.js';

const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');
type Match = [number, number];

/** Runs one scan, cutting the data at the given offsets; matches sorted by id, then offset. */
function scan(set: PatternSet, data: Uint8Array, cuts: readonly number[], target = 0): Match[] {
  const out: Match[] = [];
  const s = set.newScan({ size: data.length, target, onMatch: (id, at) => { out.push([id, at]); return true; } });
  let prev = 0;
  for (const c of cuts) { s.write(data.subarray(prev, c)); prev = c; }
  s.write(data.subarray(prev));
  s.end();
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/** Every way of feeding a small input the tests care about: whole, split at each boundary, one byte at a time. */
function feeds(length: number): { name: string; cuts: number[] }[] {
  const out = [{ name: 'whole', cuts: [] as number[] }];
  for (let i = 1; i < length; i++) out.push({ name: `split at ${i}`, cuts: [i] });
  out.push({ name: '1-byte chunks', cuts: Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1) });
  return out;
}

interface Case {
  name: string;
  pattern: string;
  data: string;
  want: number[];
  options?: Omit<PatternInput, 'id' | 'pattern'>;
  target?: number;
}

const gap700 = 'x'.repeat(700);
// 32 bytes '0'…'O' with '??' at 10 and 21: no 11 static bytes in a row, yet every remainder mod 8 has a gram.
const spreadText = Array.from({ length: 32 }, (_, i) => String.fromCharCode(0x30 + i)).join('');
const spreadHex = Array.from(spreadText, (ch, i) => (i === 10 || i === 21 ? '??' : ch.charCodeAt(0).toString(16))).join('');
// (B) and (L) consume the boundary byte when there is one, so such a match starts on it.
const cases: Case[] = [
  { name: 'plain hex', pattern: '414243', data: 'xxABCxxABCx', want: [2, 7] },
  { name: 'plain hex, no match', pattern: '414243', data: 'xxABxCxxAB', want: [] },
  { name: 'overlapping occurrences', pattern: '616161', data: 'aaaaa', want: [0, 1, 2] },
  { name: 'long static pattern (8-stride anchor)', pattern: '000102030405060708090a0b0c0d', data: 'z\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0dz', want: [1] },
  { name: 'long repeated pattern', pattern: '41'.repeat(12), data: 'A'.repeat(15), want: [0, 1, 2, 3] },
  { name: '7-byte static run (4-stride anchor)', pattern: '4142434445464748', data: '..ABCDEFGH..ABCDEFGx', want: [2] },
  { name: 'wildcard every 11 bytes (grams spread over the block)', pattern: spreadHex, data: `zz${spreadText}zz${spreadText.slice(0, 31)}`, want: [2] },
  { name: 'two static bytes only', pattern: '4142', data: 'ABxAB', want: [0, 3] },
  { name: 'pattern at the very end', pattern: '414243', data: 'xxxxABC', want: [4] },
  { name: 'object shorter than the pattern', pattern: '41424344', data: 'ABC', want: [] },
  { name: 'any byte', pattern: '41??43', data: 'AxC AC A\x00C', want: [0, 7] },
  { name: 'high nibble', pattern: '4?42', data: 'AB CB aB', want: [0, 3] },
  { name: 'low nibble', pattern: '?142', data: 'AB aB BB', want: [0, 3] },
  { name: 'no two static bytes in a row (slow path)', pattern: '41??42??43', data: 'AxBxC AxBxD', want: [0] },
  { name: 'star', pattern: '4142*4344', data: 'AB....CD', want: [0] },
  { name: 'star needs order', pattern: '4142*4344', data: 'CD....AB', want: [] },
  { name: 'star, adjacent parts', pattern: '4142*4344', data: 'ABCD', want: [0] },
  { name: 'star reports every start', pattern: '4142*4344', data: 'AB AB CD', want: [0, 3] },
  { name: 'two stars', pattern: '4142*4344*4546', data: 'AB-CD-EF AB-EF', want: [0] },
  { name: 'exact gap', pattern: '41{2}42', data: 'AxxB AxB AxxxB', want: [0] },
  { name: 'at most', pattern: '41{-2}42', data: 'AB AxB AxxB AxxxB', want: [0, 3, 7] },
  { name: 'at least', pattern: '41{2-}42', data: 'AxB AxxB', want: [0, 4] },
  { name: 'range', pattern: '41{1-2}42', data: 'AB AxB AxxB AxxxB', want: [3, 7] },
  { name: 'gap wider than the inline limit', pattern: `414243{${MAX_INLINE_GAP + 1}-800}444546`, data: `ABC${gap700}DEF`, want: [0] },
  { name: 'wide gap too short', pattern: `414243{${MAX_INLINE_GAP + 1}-600}444546`, data: `ABC${gap700}DEF`, want: [] },
  { name: 'many inline gaps cut into a chain', pattern: '4142' + '{0-400}43'.repeat(12), data: 'AB' + 'xC'.repeat(12) + ' AB' + 'C'.repeat(11), want: [0] },
  { name: 'alternative', pattern: '41(42|43)44', data: 'ABD ACD AED', want: [0, 4] },
  { name: 'multi-byte alternative', pattern: '41(4243|44)45', data: 'ABCE ADE ABE', want: [0, 5] },
  { name: 'alternative with a wildcard', pattern: '41(4?|61)42', data: 'AFB AaB AbB', want: [0, 4] },
  { name: 'alternative first', pattern: '(4142|43)4445', data: 'ABDE CDE BDE', want: [0, 5] },
  { name: 'negated alternative', pattern: '41!(42|43)44', data: 'AED ABD ACD', want: [0] },
  { name: 'negated multi-byte alternative', pattern: '41!(4243|4445)46', data: 'AXYF ABCF ADEF', want: [0] },
  { name: 'word boundary', pattern: '(B)616263(B)', data: 'abc abc. xabc abcx', want: [0, 3] },
  { name: 'word boundary at end of object', pattern: '(B)616263(B)', data: 'x abc', want: [1] },
  { name: 'line boundary', pattern: '(L)6162', data: 'ab\nab\r\nab xab', want: [0, 2, 5, 6] },
  { name: 'line boundary after', pattern: '6162(L)', data: 'ab\r\nab\rabx ab', want: [0, 4, 11] },
  { name: 'non-alphanumeric', pattern: '61(W)62', data: 'a-b axb a b', want: [0, 8] },
  { name: 'jump', pattern: '4142[1-2]43', data: 'ABxC ABxxC ABC ABxxxC', want: [0, 5] },
  { name: 'absolute offset', pattern: '4142', data: 'xxABAB', want: [2], options: { offset: parseOffset('2') } },
  { name: 'absolute offset misses', pattern: '4142', data: 'xABxAB', want: [], options: { offset: parseOffset('2') } },
  { name: 'floating offset', pattern: '4142', data: 'ABABABAB', want: [2, 4], options: { offset: parseOffset('1,3') } },
  { name: 'pinned offset beyond the object', pattern: '41424344', data: 'ABCD', want: [], options: { offset: parseOffset('10') } },
  { name: 'pinned offset with a gap', pattern: '41{1-3}42', data: 'xAxxB AxB', want: [1], options: { offset: parseOffset('1,1') } },
  { name: 'floating offset too wide to pin', pattern: '4142', data: 'xxAB AB', want: [2, 5], options: { offset: parseOffset('1,100') } },
  { name: 'offset from the end', pattern: '4142', data: 'ABxxAB', want: [4], options: { offset: parseOffset('EOF-2') } },
  { name: 'floating offset from the end', pattern: '4142', data: 'ABABABAB', want: [4, 6], options: { offset: parseOffset('EOF-4,2') } },
  { name: 'offset applies to the start of a star pattern', pattern: '4142*4344', data: 'xAB CD', want: [1], options: { offset: parseOffset('1') } },
  { name: 'case-insensitive', pattern: '616263', data: 'ABC aBc abd', want: [0, 4], options: { nocase: true } },
  { name: 'case-insensitive long', pattern: '68656c6c6f20776f726c64', data: 'HeLLo WoRLD', want: [0], options: { nocase: true } },
  { name: 'case-sensitive by default', pattern: '616263', data: 'ABC abc', want: [4] },
  { name: 'wide', pattern: '616263', data: 'abc a\x00b\x00c\x00', want: [4], options: { wide: true } },
  { name: 'wide and ascii', pattern: '616263', data: 'abc a\x00b\x00c\x00', want: [0, 4], options: { wide: true, ascii: true } },
  { name: 'wide case-insensitive', pattern: '616263', data: 'A\x00b\x00C\x00', want: [0], options: { wide: true, nocase: true } },
  { name: 'fullword', pattern: '616263', data: 'abc xabc abcx (abc)', want: [0, 15], options: { fullword: true } },
  { name: 'fullword wide', pattern: '6162', data: 'a\x00b\x00 x\x00a\x00b\x00', want: [0], options: { fullword: true, wide: true } },
  { name: 'target honoured when known', pattern: '4142', data: 'AB', want: [], options: { target: 7 }, target: 1 },
  { name: 'target matches', pattern: '4142', data: 'AB', want: [0], options: { target: 7 }, target: 7 },
  { name: 'target ignored when the object type is unknown', pattern: '4142', data: 'AB', want: [0], options: { target: 7 }, target: 0 },
];

for (const c of cases) {
  test(`match: ${c.name}`, () => {
    const input: PatternInput = { id: 1, pattern: c.pattern, ...c.options };
    const data = bytes(c.data);
    assert.deepEqual(naiveStarts(input, data, c.target ?? 0), c.want, 'the naive matcher agrees with the table');
    const set = PatternSet.compile([input]);
    const want = c.want.map((s): Match => [1, s]);
    const all = data.length > 200 ? feeds(data.length).filter((_, i) => i % 37 === 0 || i === data.length) : feeds(data.length);
    for (const f of all) assert.deepEqual(scan(set, data, f.cuts, c.target ?? 0), want, f.name);
  });
}

test('all table cases compiled together find the same matches', () => {
  // One set, so the cases share tables and strides; the object is all case inputs joined.
  const inputs = cases.filter((c) => !c.options?.offset && !c.options?.target).map((c, i) => ({ id: i + 1, pattern: c.pattern, ...c.options }));
  const data = bytes(cases.map((c) => c.data).join('|'));
  const set = PatternSet.compile(inputs);
  const want = naiveMatchAll(inputs, data);
  assert.ok(want.length > 50);
  assert.deepEqual(scan(set, data, []), want);
  assert.deepEqual(scan(set, data, Array.from({ length: 40 }, (_, i) => Math.floor((i + 1) * data.length / 41))), want);
});

// ---- random signatures against the naive matcher ------------------------------

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [0x41, 0x42, 0x61, 0x0a, 0x0d, 0x20, 0x00, 0x43];
const hex = (b: number): string => b.toString(16).padStart(2, '0');

function randomInputs(rnd: () => number, hay: Uint8Array, count: number): PatternInput[] {
  const int = (a: number, b: number): number => a + Math.floor(rnd() * (b - a + 1));
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)] as T;
  const stat = (n: number): string => Array.from({ length: n }, () => hex(pick(ALPHABET))).join('');
  const synthetic = (): string => {
    const parts = [stat(int(1, 5))];
    for (let i = int(0, 4); i > 0; i--) {
      const r = rnd();
      if (r < 0.12) parts.push('??');
      else if (r < 0.2) parts.push(pick(['4?', '?1', '6?', '?a']));
      else if (r < 0.3) { const lo = int(0, 3); parts.push(pick([`{${lo}-${lo + int(0, 4)}}`, `{${lo}}`, `{-${int(1, 4)}}`])); }
      else if (r < 0.35) parts.push(pick(['*', '{2-}', `{${int(0, 5)}-${int(MAX_INLINE_GAP + 1, 900)}}`]));
      else if (r < 0.45) parts.push(`(${stat(int(1, 2))}|${stat(int(1, 3))}|${pick(['??', '4?', stat(1)])})`);
      else if (r < 0.5) { const l = int(1, 2); parts.push(`!(${stat(l)}|${stat(l)})`); }
      else if (r < 0.57) parts.push(pick(['(B)', '(L)', '(W)']));
      else if (r < 0.62) parts.push(stat(int(2, 3)) + `[${int(0, 2)}-${int(2, 4)}]` + stat(1));
      parts.push(stat(int(1, 4)));
    }
    return parts.join('');
  };
  // A slice of the haystack written as a pattern, with wildcards, gaps and alternatives sprinkled in.
  const planted = (): string => {
    if (hay.length < 40) return synthetic();
    const len = int(6, 30);
    const at = int(0, hay.length - len);
    let s = '';
    for (let i = 0; i < len; i++) {
      const b = hay[at + i] as number;
      const inner = i > 1 && i < len - 2;
      const r = rnd();
      if (inner && r < 0.05) s += '??';
      else if (inner && r < 0.08) s += hex(b)[0] + '?';
      else if (inner && r < 0.1) s += `{0-${int(1, 4)}}` + hex(b);
      else if (inner && r < 0.11) s += '*' + hex(b);
      else if (inner && r < 0.13) s += `(${hex(b)}|${hex(int(0, 255))})`;
      else s += hex(b);
    }
    return s;
  };
  const out: PatternInput[] = [];
  while (out.length < count) {
    const pattern = rnd() < 0.4 ? planted() : synthetic();
    try { parsePattern(pattern); } catch { continue; }
    const r = rnd();
    const offset = r < 0.7 ? undefined
      : r < 0.8 ? parseOffset(`${int(0, 50)}${rnd() < 0.5 ? '' : `,${int(0, 100)}`}`)
        : r < 0.9 ? parseOffset(`EOF-${int(0, 100)}${rnd() < 0.5 ? '' : `,${int(0, 50)}`}`) : undefined;
    const wide = rnd() < 0.1;
    out.push({
      id: out.length + 1, pattern,
      ...(offset ? { offset } : {}),
      ...(rnd() < 0.15 ? { nocase: true } : {}),
      ...(wide ? { wide: true, ascii: rnd() < 0.5 } : {}),
      ...(rnd() < 0.15 ? { fullword: true } : {}),
      ...(rnd() < 0.1 ? { target: int(1, 2) } : {}),
    });
  }
  return out;
}

test('random signatures and haystacks: engine equals the naive matcher, whole and in chunks', () => {
  const rnd = prng(20261126);
  const int = (a: number, b: number): number => a + Math.floor(rnd() * (b - a + 1));
  let matches = 0;
  for (let round = 0; round < 250; round++) {
    const hay = new Uint8Array(rnd() < 0.2 ? int(600, 2500) : int(0, 300));
    const noisy = rnd() < 0.5;
    for (let i = 0; i < hay.length; i++) {
      hay[i] = rnd() < (noisy ? 0.45 : 0.9) ? ALPHABET[int(0, ALPHABET.length - 1)] as number : int(0, 255);
    }
    const inputs = randomInputs(rnd, hay, int(1, 30));
    const target = [0, 0, 1, 2][int(0, 3)] as number;
    const set = PatternSet.compile(inputs);
    const want = naiveMatchAll(inputs, hay, target);
    matches += want.length;
    const cutSets = [[], [int(0, hay.length)], Array.from({ length: 6 }, () => int(0, hay.length)).sort((a, b) => a - b)];
    if (hay.length <= 300) cutSets.push(Array.from({ length: hay.length }, (_, i) => i));
    for (const cuts of cutSets) {
      assert.deepEqual(scan(set, hay, cuts, target), want, `round ${round}, ${cuts.length} cuts, patterns ${JSON.stringify(inputs.map((p) => p.pattern))}`);
    }
  }
  assert.ok(matches > 3000, `the random cases match often enough to mean something (${matches})`);
});

test('wildcard-rich planted signatures: engine equals the naive matcher', () => {
  const rnd = prng(314);
  const int = (a: number, b: number): number => a + Math.floor(rnd() * (b - a + 1));
  for (let round = 0; round < 150; round++) {
    const hay = Uint8Array.from({ length: int(100, 3000) }, () => (rnd() < 0.3 ? 0x41 : int(0, 255)));
    const inputs: PatternInput[] = [];
    for (let id = 1; id <= int(1, 20); id++) {
      const len = int(12, 40);
      const at = int(0, Math.max(0, hay.length - len));
      const hx = Array.from(hay.subarray(at, at + len), hex);
      for (let w = int(1, 6); w > 0; w--) hx[int(1, hx.length - 2)] = rnd() < 0.7 ? '??' : `${(hx[0] as string)[0]}?`;
      inputs.push({ id, pattern: hx.join(''), ...(rnd() < 0.2 ? { nocase: true } : {}), ...(rnd() < 0.1 ? { fullword: true } : {}) });
    }
    const set = PatternSet.compile(inputs);
    const want = naiveMatchAll(inputs, hay);
    for (const cuts of [[], [int(0, hay.length)], Array.from({ length: 9 }, () => int(0, hay.length)).sort((a, b) => a - b)]) {
      assert.deepEqual(scan(set, hay, cuts), want, `round ${round}, patterns ${JSON.stringify(inputs.map((p) => p.pattern))}`);
    }
  }
});

test('rig-like signatures: planted matches found, random binary gives none', () => {
  const rnd = prng(42);
  const int = (a: number, b: number): number => a + Math.floor(rnd() * (b - a + 1));
  const inputs: PatternInput[] = [];
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) {
    const body = Uint8Array.from({ length: int(16, 40) }, () => int(0, 255));
    const hx = Array.from(body, hex);
    const r = rnd();
    if (r < 0.1) for (let k = int(1, 3); k > 0; k--) hx[int(4, body.length - 5)] = '??';
    let pattern = hx.join('');
    if (r >= 0.1 && r < 0.2) {
      const cut = int(6, body.length - 6);
      pattern = hx.slice(0, cut).join('') + '{0-16}' + hx.slice(cut).join('');
    }
    inputs.push({ id: i, pattern });
    bodies.push(body);
  }
  const set = PatternSet.compile(inputs);
  const hay = Uint8Array.from({ length: 200_000 }, () => int(0, 255));
  const planted = [3, 500, 1234, 1999];
  let at = 1000;
  const where = new Map<number, number>();
  for (const id of planted) { hay.set(bodies[id] as Uint8Array, at); where.set(id, at); at += 40_000; }
  const found = scan(set, hay, Array.from({ length: 50 }, (_, i) => (i + 1) * 3999));
  assert.deepEqual(found, planted.map((id): Match => [id, where.get(id) as number]));
});

test('EICAR as a body signature inside a binary, at every chunk alignment', () => {
  const eicar = bytes('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');
  assert.equal(eicar.length, 68);
  const set = PatternSet.compile([{ id: 1, pattern: Buffer.from(eicar).toString('hex') }]);
  const rnd = prng(5);
  const data = Uint8Array.from({ length: 5000 }, () => Math.floor(rnd() * 256));
  data.set(eicar, 3001);
  for (const chunk of [1, 7, 64, 100, 4096]) {
    const cuts = [];
    for (let at = chunk; at < data.length; at += chunk) cuts.push(at);
    assert.deepEqual(scan(set, data, cuts), [[1, 3001]], `chunks of ${chunk}`);
  }
  data[3001 + 67] = 0x2b; // '*' becomes '+'
  assert.deepEqual(scan(set, data, []), [], 'last byte changed');
});

// ---- streaming, muting, robustness -----------------------------------------------

test('a star pattern keeps state, not bytes, across a large object', () => {
  const set = PatternSet.compile([{ id: 9, pattern: '4142434445*464748494a' }]);
  const found: Match[] = [];
  const s = set.newScan({ size: 4_000_000, target: 0, onMatch: (id, at) => { found.push([id, at]); return true; } });
  const chunk = new Uint8Array(65536).fill(0x2e);
  s.write(bytes('ABCDE'));
  let maxHeld = 0;
  for (let sent = 5; sent + chunk.length <= 4_000_000 - 5; sent += chunk.length) {
    s.write(chunk);
    maxHeld = Math.max(maxHeld, s.heldBytes);
  }
  s.write(bytes('FGHIJ'));
  s.end();
  assert.ok(maxHeld < 1024, `held ${maxHeld} bytes`);
  assert.deepEqual(found, [[9, 0]]);
});

test('returning false from onMatch mutes that id only', () => {
  const set = PatternSet.compile([{ id: 1, pattern: '414243' }, { id: 2, pattern: '78797a' }]);
  const seen: Match[] = [];
  const data = bytes('ABC xyz ABC xyz ABC');
  const s = set.newScan({ size: data.length, target: 0, onMatch: (id, at) => { seen.push([id, at]); return id !== 1; } });
  s.write(data);
  s.end();
  assert.deepEqual(seen.sort((a, b) => a[0] - b[0] || a[1] - b[1]), [[1, 0], [2, 4], [2, 12]]);
});

test('muting covers every form of the pattern and every input sharing the id', () => {
  const set = PatternSet.compile([
    { id: 1, pattern: '616263', wide: true, ascii: true },
    { id: 2, pattern: '78797a' }, { id: 2, pattern: '717273' },
  ]);
  const seen: Match[] = [];
  const data = bytes('abc a\x00b\x00c\x00 xyz qrs xyz abc');
  const s = set.newScan({ size: data.length, target: 0, onMatch: (id, at) => { seen.push([id, at]); return false; } });
  for (const b of data) s.write(Uint8Array.of(b));
  s.end();
  assert.deepEqual(seen.map(([id]) => id).sort(), [1, 2]);
});

test('a throwing callback does not break the scan', () => {
  const set = PatternSet.compile([{ id: 1, pattern: '414243' }, { id: 2, pattern: '78797a' }]);
  const seen: number[] = [];
  const data = bytes('ABC xyz');
  const s = set.newScan({ size: data.length, target: 0, onMatch: (id) => { seen.push(id); if (id === 1) throw new Error('caller bug'); return true; } });
  assert.doesNotThrow(() => { s.write(data); s.end(); });
  assert.deepEqual(seen.sort(), [1, 2]);
});

test('writes after end are ignored, and end twice is harmless', () => {
  const set = PatternSet.compile([{ id: 1, pattern: '414243' }]);
  const seen: number[] = [];
  const s = set.newScan({ size: 6, target: 0, onMatch: (_id, at) => { seen.push(at); return true; } });
  s.write(bytes('ABC'));
  s.end();
  s.write(bytes('ABC'));
  s.end();
  assert.deepEqual(seen, [0]);
  assert.equal(s.heldBytes, 0);
});

test('random garbage never throws, whatever the chunking', () => {
  const rnd = prng(99);
  const inputs = randomInputs(rnd, new Uint8Array(0), 200);
  const set = PatternSet.compile(inputs);
  for (let round = 0; round < 20; round++) {
    const data = Uint8Array.from({ length: Math.floor(rnd() * 100_000) }, () => Math.floor(rnd() * 256));
    const s = set.newScan({ size: Math.floor(rnd() * 200_000), target: Math.floor(rnd() * 13), onMatch: () => rnd() < 0.5 });
    assert.doesNotThrow(() => {
      for (let at = 0; at < data.length;) {
        const n = Math.floor(rnd() * 5000);
        s.write(data.subarray(at, at + n));
        at += n;
      }
      s.end();
    });
  }
});

test('a chained pattern tracks at most CHAIN_ITEM_CAP partial matches', () => {
  const set = PatternSet.compile([{ id: 1, pattern: '4142*4344' }]);
  const data = bytes('AB'.repeat(CHAIN_ITEM_CAP + 50) + 'CD');
  const found = scan(set, data, [100]);
  assert.equal(found.length, CHAIN_ITEM_CAP);
  assert.deepEqual(found[0], [1, 0]);
});

test('compile errors name the bad pattern', () => {
  assert.throws(() => PatternSet.compile([{ id: 1, pattern: '414243' }, { id: 77, pattern: '41(42' }]), (e: unknown) => {
    assert.ok(e instanceof PatternSyntaxError);
    assert.equal(e.patternId, 77);
    assert.match(e.message, /^Cannot compile pattern 77: unbalanced parenthesis/);
    return true;
  });
  assert.throws(() => PatternSet.compile([{ id: 5, pattern: '4142', offset: parseOffset('EP+0') }]), /pattern 5: unsupported offset/);
});

test('scanBuffer and size', () => {
  const set = PatternSet.compile([{ id: 1, pattern: '414243' }, { id: 2, pattern: '4243' }]);
  assert.equal(set.size, 2);
  assert.deepEqual(set.scanBuffer(bytes('xABC')).sort(), [[1, 1], [2, 2]]);
  assert.deepEqual(PatternSet.compile([]).scanBuffer(bytes('anything')), []);
});
