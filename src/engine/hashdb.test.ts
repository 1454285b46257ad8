import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { FrontCodedNames, HashSet, type HashKind } from './hashdb.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const digest = (kind: HashKind, data: string): Buffer => createHash(kind).update(data, 'latin1').digest();

function load(text: string): { set: HashSet; loaded: number; skipped: [string, string][] } {
  const skipped: [string, string][] = [];
  const set = new HashSet();
  const loaded = set.addLines(enc(text), (reason, line) => skipped.push([reason, line]));
  set.freeze();
  return { set, loaded, skipped };
}

const md5abc = digest('md5', 'abc').toString('hex');
const sha1abc = digest('sha1', 'abc').toString('hex');
const sha256abc = digest('sha256', 'abc').toString('hex');

const lineCases: { name: string; line: string; kind?: HashKind; skip?: string }[] = [
  { name: 'md5 with size', line: `${md5abc}:3:T.Md5`, kind: 'md5' },
  { name: 'md5 upper-case hex', line: `${md5abc.toUpperCase()}:3:T.Md5`, kind: 'md5' },
  { name: 'sha1 by length', line: `${sha1abc}:3:T.Sha1`, kind: 'sha1' },
  { name: 'sha256 by length', line: `${sha256abc}:3:T.Sha256`, kind: 'sha256' },
  { name: 'any size', line: `${sha256abc}:*:T.Any:73`, kind: 'sha256' },
  { name: 'min flevel', line: `${md5abc}:3:T.Md5:20`, kind: 'md5' },
  { name: 'min and max flevel', line: `${md5abc}:3:T.Md5:20:255`, kind: 'md5' },
  { name: 'CRLF line end', line: `${md5abc}:3:T.Md5\r`, kind: 'md5' },
  { name: 'hash of 31 digits', line: `${md5abc.slice(1)}:3:T.Bad`, skip: 'malformed-hash' },
  { name: 'non-hex digit', line: `${md5abc.slice(1)}g:3:T.Bad`, skip: 'malformed-hash' },
  { name: 'no size field', line: `${md5abc}`, skip: 'malformed-hash' },
  { name: 'no name', line: `${md5abc}:3`, skip: 'malformed-hash' },
  { name: 'empty name', line: `${md5abc}:3:`, skip: 'malformed-hash' },
  { name: 'size not a number', line: `${md5abc}:3x:T.Bad`, skip: 'malformed-hash' },
  { name: 'size beyond 32 bits', line: `${md5abc}:99999999999:T.Bad`, skip: 'malformed-hash' },
  { name: 'flevel not a number', line: `${md5abc}:3:T.Bad:abc`, skip: 'malformed-hash' },
  { name: 'too many fields', line: `${md5abc}:3:T.Bad:1:2:3`, skip: 'malformed-hash' },
  { name: 'section-hash order (size first)', line: `3:${md5abc}:T.Bad`, skip: 'malformed-hash' },
];

for (const c of lineCases) {
  test(`hash line: ${c.name}`, () => {
    const r = load(`${c.line}\n`);
    if (c.skip !== undefined) {
      assert.equal(r.loaded, 0);
      assert.deepEqual(r.skipped.map((s) => s[0]), [c.skip]);
      assert.equal(r.skipped[0]?.[1], c.line.trimEnd());
    } else {
      assert.equal(r.loaded, 1);
      assert.deepEqual(r.skipped, []);
      assert.equal(r.set.count(c.kind as HashKind), 1);
      assert.ok(r.set.lookup(c.kind as HashKind, digest(c.kind as HashKind, 'abc'), 3)?.startsWith('T.'));
    }
  });
}

test('hash lines: blank lines and # comments are not signatures and not skips', () => {
  const r = load(`\n# a comment\n   \n${md5abc}:3:T.Md5\n`);
  assert.equal(r.loaded, 1);
  assert.deepEqual(r.skipped, []);
});

test('hash lines: last line without newline loads', () => {
  const r = load(`${md5abc}:3:T.One\n${sha1abc}:3:T.Two`);
  assert.equal(r.loaded, 2);
  assert.equal(r.set.lookup('sha1', digest('sha1', 'abc'), 3), 'T.Two');
});

const lookupCases: { name: string; db: string; kind: HashKind; size: number; want: string | undefined }[] = [
  { name: 'exact size hits', db: `${md5abc}:3:T.A`, kind: 'md5', size: 3, want: 'T.A' },
  { name: 'other size misses', db: `${md5abc}:3:T.A`, kind: 'md5', size: 4, want: undefined },
  { name: 'any size hits every size', db: `${md5abc}:*:T.Any`, kind: 'md5', size: 12345, want: 'T.Any' },
  { name: 'same digest, second size', db: `${md5abc}:9:T.Nine\n${md5abc}:3:T.Three`, kind: 'md5', size: 3, want: 'T.Three' },
  { name: 'other kind misses', db: `${md5abc}:3:T.A`, kind: 'sha1', size: 3, want: undefined },
  { name: 'utf-8 name survives', db: `${md5abc}:3:T.Ünïcode`, kind: 'md5', size: 3, want: 'T.Ünïcode' },
];

for (const c of lookupCases) {
  test(`hash lookup: ${c.name}`, () => {
    const set = new HashSet();
    set.addLines(Buffer.from(c.db, 'utf8'), () => assert.fail('no skips expected'));
    set.freeze();
    assert.equal(set.lookup(c.kind, digest(c.kind, 'abc'), c.size), c.want);
  });
}

test('hash wants: only the listed sizes, or every size once "*" appears', () => {
  const sized = load(`${md5abc}:3:A\n${md5abc.replace('9', '8')}:1000:B\n`).set;
  assert.deepEqual([0, 3, 4, 999, 1000, 1001].map((s) => sized.wants('md5', s)), [false, true, false, false, true, false]);
  assert.equal(sized.wants('sha1', 3), false);
  const any = load(`${sha1abc}:*:A\n`).set;
  assert.equal(any.wants('sha1', 77), true);
  assert.equal(any.wants('md5', 77), false);
});

test('hash set: many random digests all found, neighbours not', () => {
  const lines: string[] = [];
  const digests: Buffer[] = [];
  for (let i = 0; i < 5000; i++) {
    const d = digest('md5', `object ${i}`);
    digests.push(d);
    lines.push(`${d.toString('hex')}:${100 + (i % 50)}:T.N${i}`);
  }
  const { set, loaded } = load(lines.join('\n'));
  assert.equal(loaded, 5000);
  for (let i = 0; i < 5000; i++) {
    assert.equal(set.lookup('md5', digests[i] as Buffer, 100 + (i % 50)), `T.N${i}`);
    const other = Buffer.from(digests[i] as Buffer);
    other[15] = (other[15] as number) ^ 1;
    assert.equal(set.lookup('md5', other, 100 + (i % 50)), undefined);
  }
});

// Front-coded names: each case adds its names in order and reads every one back.
const nameCases: { name: string; names: string[] }[] = [
  { name: 'one name', names: ['Win.Trojan.Agent-1'] },
  { name: 'shared prefixes across several groups', names: Array.from({ length: 37 }, (_, i) => `Rig.Synth.Hdb-${String(i).padStart(7, '0')}`) },
  { name: 'nothing shared', names: ['Alpha', 'Beta', 'Gamma', 'Delta'] },
  { name: 'a name that is a prefix of the one before', names: ['Win.Trojan.Agent-12', 'Win.Trojan', 'Win.Trojan.Agent-12'] },
  { name: 'the same name repeated', names: Array.from({ length: 20 }, () => 'Same.Name') },
  { name: 'prefix longer than 255 bytes', names: [`${'x'.repeat(300)}a`, `${'x'.repeat(300)}b`, `${'x'.repeat(299)}`] },
  { name: 'UTF-8 names', names: ['Test.Caf\u00e9-1', 'Test.Caf\u00e9-2', 'Test.\u2603'] },
  { name: 'a name of 65535 bytes', names: ['A.B', 'y'.repeat(65535), 'A.C'] },
  // Past one 1 MiB chunk: records never straddle chunks and references still resolve.
  { name: 'many long names over several chunks', names: Array.from({ length: 40000 }, (_, i) => `Fam${i % 7}.Long.Name.${'z'.repeat(i % 90)}-${i}`) },
];

for (const c of nameCases) {
  test(`front-coded names: ${c.name}`, () => {
    const pool = new FrontCodedNames();
    const refs = c.names.map((n) => {
      const bytes = Buffer.from(n, 'utf8');
      return pool.add(bytes, 0, bytes.length);
    });
    pool.trim();
    assert.equal(new Set(refs).size, refs.length, 'references are distinct');
    c.names.forEach((n, i) => assert.equal(pool.get(refs[i] as number), n, `name ${i}`));
  });
}

test('front-coded names: shared prefixes make the pool smaller than the names', () => {
  const pool = new FrontCodedNames();
  let raw = 0;
  for (let i = 0; i < 100000; i++) {
    const bytes = Buffer.from(`Rig.Synth.Hdb-${String(i).padStart(7, '0')}`);
    raw += bytes.length;
    pool.add(bytes, 0, bytes.length);
  }
  pool.trim();
  assert.ok(pool.byteLength < raw / 3, `${pool.byteLength} bytes for ${raw} bytes of names`);
});

test('many hashes: every lookup agrees with a reference map, the first loaded of equal digests wins', () => {
  // Deterministic pseudo-random digests; every fifth line repeats an earlier digest with another size and name.
  let seed = 12345;
  const rand = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
  const lines: [string, string, string][] = [];
  for (let i = 0; i < 20000; i++) {
    const hex = i % 5 === 4 && lines.length > 0
      ? (lines[rand() % lines.length] as [string, string, string])[0]
      : Array.from({ length: 4 }, () => rand().toString(16).padStart(8, '0')).join('');
    lines.push([hex, i % 7 === 0 ? '*' : String(i % 50), `T.N${i}`]);
  }
  const { set, loaded } = load(`${lines.map((l) => l.join(':')).join('\n')}\n`);
  assert.equal(loaded, lines.length);
  // Reference: by digest, its lines in loading order; an object matches the first with its size or `*`.
  const byDigest = new Map<string, [string, string, string][]>();
  for (const l of lines) byDigest.set(l[0], [...(byDigest.get(l[0]) ?? []), l]);
  let checked = 0;
  for (const [hex, entries] of byDigest) {
    for (const objectSize of [...new Set(entries.map((e) => (e[1] === '*' ? 1000 : Number(e[1]))))]) {
      const want = entries.find((e) => e[1] === '*' || Number(e[1]) === objectSize)?.[2];
      assert.equal(set.lookup('md5', Buffer.from(hex, 'hex'), objectSize), want, `${hex} size ${objectSize}`);
      checked++;
    }
  }
  assert.ok(checked > 16000);
  assert.equal(set.lookup('md5', Buffer.alloc(16, 0xab), 3), undefined);
});
