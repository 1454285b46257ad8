import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_7Z, collect, dec, enc, gzip, tar, zip } from './testing.js';
import { walk } from './walker.js';
import type { Extractor } from './types.js';
import type { Limits } from './limits.js';

const PAYLOAD = enc('payload bytes for the walker tests\n');

/** zip nested `levels` deep around the payload. */
function nested(levels: number): Uint8Array {
  let data = PAYLOAD;
  let name = 'payload.txt';
  for (let i = levels; i > 0; i--) {
    data = zip({ [name]: data });
    name = `level${i}.zip`;
  }
  return data;
}

interface LimitCase {
  readonly name: string;
  readonly input: () => Uint8Array;
  readonly limits: Partial<Limits>;
  readonly finding: string;
  /** Checks on what was yielded. */
  readonly check?: (objects: { path: string; data: Uint8Array; depth: number }[]) => void;
}

const LIMIT_CASES: readonly LimitCase[] = [
  {
    name: 'MaxRecursion stops opening containers deeper than the limit',
    input: () => nested(5), limits: { MaxRecursion: 3 }, finding: 'Heuristics.Limits.Exceeded.MaxRecursion',
    check: (objects) => {
      assert.equal(Math.max(...objects.map((o) => o.depth)), 3);
      assert.ok(!objects.some((o) => dec(o.data) === dec(PAYLOAD)), 'the payload below the limit is not reached');
    },
  },
  {
    name: 'MaxFiles counts members across all levels',
    input: () => zip(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.txt`, enc(`file ${i}`)]))),
    limits: { MaxFiles: 5 }, finding: 'Heuristics.Limits.Exceeded.MaxFiles',
    check: (objects) => assert.equal(objects.length, 1 + 5),
  },
  {
    name: 'MaxFileSize scans a too-big member as its prefix only',
    input: () => zip({ 'big.bin': new Uint8Array(5000).fill(0x41) }), limits: { MaxFileSize: 1024 },
    finding: 'Heuristics.Limits.Exceeded.MaxFileSize',
    check: (objects) => assert.equal(objects.find((o) => o.path.endsWith('big.bin'))?.data.length, 1024),
  },
  {
    name: 'MaxFileSize on the root scans its prefix and does not open it',
    input: () => zip({ 'a.txt': new Uint8Array(4000).fill(0x42) }, 0), limits: { MaxFileSize: 1024 },
    finding: 'Heuristics.Limits.Exceeded.MaxFileSize',
    check: (objects) => { assert.equal(objects.length, 1); assert.equal(objects[0]?.data.length, 1024); },
  },
  {
    name: 'MaxScanSize bounds the bytes unpacked from one object',
    input: () => zip(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}.bin`, new Uint8Array(1000).fill(i)]))),
    limits: { MaxScanSize: 3500 }, finding: 'Heuristics.Limits.Exceeded.MaxScanSize',
    check: (objects) => assert.ok(objects.slice(1).reduce((n, o) => n + o.data.length, 0) <= 3500),
  },
  {
    name: 'MaxCompressionRatio catches a deflate bomb without inflating it fully',
    input: () => zip({ 'zeros.bin': new Uint8Array(8 * 1024 * 1024) }), limits: { MaxCompressionRatio: 100 },
    finding: 'Heuristics.Limits.Exceeded.MaxCompressionRatio',
    check: (objects) => {
      const member = objects.find((o) => o.path.endsWith('zeros.bin'));
      assert.ok(member !== undefined && member.data.length <= 1024 * 1024, `unpacked ${member?.data.length}`);
    },
  },
  {
    name: 'MaxCompressionRatio in gzip',
    input: () => gzip(new Uint8Array(4 * 1024 * 1024)), limits: { MaxCompressionRatio: 50 },
    finding: 'Heuristics.Limits.Exceeded.MaxCompressionRatio',
  },
];

for (const c of LIMIT_CASES) {
  test(`limit: ${c.name}`, async () => {
    const { objects, findings } = await collect('root.zip', c.input(), { limits: c.limits });
    assert.ok(findings.some((f) => f.name === c.finding), `expected ${c.finding}, got ${JSON.stringify(findings)}`);
    c.check?.(objects);
  });
}

test('limits not reached: no findings, every level yielded with its depth', async () => {
  const { objects, findings } = await collect('root.zip', nested(3));
  assert.deepEqual(findings, []);
  assert.deepEqual(objects.map((o) => [o.path, o.depth]), [
    ['root.zip', 0],
    ['root.zip/level2.zip', 1],
    ['root.zip/level2.zip/level3.zip', 2],
    ['root.zip/level2.zip/level3.zip/payload.txt', 3],
  ]);
});

test('MaxScanTime is checked between objects with the injected clock', async () => {
  let t = 0;
  const { findings, objects } = await collect('t.tar', tar([{ name: 'a', data: PAYLOAD }, { name: 'b', data: PAYLOAD }, { name: 'c', data: PAYLOAD }]), {
    limits: { MaxScanTime: 1500 },
    now: () => (t += 1000),
  });
  assert.ok(findings.some((f) => f.name === 'Heuristics.Limits.Exceeded.MaxScanTime'));
  assert.ok(objects.length < 4);
});

test('an extractor that throws becomes a finding with detail and an onError call', async () => {
  const boom: Extractor = {
    name: 'boom',
    accepts: () => true,
    // eslint-disable-next-line require-yield
    extract: async function* () { throw new Error('kaput'); },
  };
  const errors: unknown[] = [];
  const { objects, findings } = await collect('x.bin', enc('anything'), { extractors: [boom], onError: (e) => errors.push(e) });
  assert.equal(objects.length, 1);
  assert.deepEqual(findings.map((f) => [f.name, f.path]), [['Heuristics.Unscannable.Text', 'x.bin']]);
  assert.match(findings[0]?.detail ?? '', /kaput/);
  assert.equal(errors.length, 1);
});

test('an extractor whose accepts throws is skipped', async () => {
  const bad: Extractor = { name: 'bad', accepts: () => { throw new Error('no'); }, extract: async function* () { /* never */ } };
  const { objects, findings } = await collect('x.bin', enc('anything'), { extractors: [bad] });
  assert.equal(objects.length, 1);
  assert.deepEqual(findings, []);
});

test('an extractor ignoring its budget is cut to MaxScanSize', async () => {
  const greedy: Extractor = {
    name: 'greedy',
    accepts: (t) => t.name === 'text',
    extract: async function* () { yield { name: 'huge', data: new Uint8Array(5000) }; yield { name: 'more', data: new Uint8Array(10) }; },
  };
  const { objects, findings } = await collect('x.txt', enc('text'), { extractors: [greedy], limits: { MaxScanSize: 2000 } });
  assert.equal(objects[1]?.data.length, 2000);
  assert.equal(objects.length, 2, 'the walk stops after the budget is spent');
  assert.ok(findings.some((f) => f.name === 'Heuristics.Limits.Exceeded.MaxScanSize'));
});

test('an aborted signal stops the walk with its reason', async () => {
  const controller = new AbortController();
  const items = walk({ name: 'n.zip', data: nested(3) }, { signal: controller.signal });
  const first = await items.next();
  assert.equal(first.done, false);
  controller.abort(new Error('client went away'));
  await assert.rejects(async () => { for await (const _ of items) { /* drain */ } }, /client went away/);
});

test('the root is yielded first with its true type, whatever its name', async () => {
  const { objects } = await collect('innocent.txt', zip({ 'a': PAYLOAD }));
  assert.equal(objects[0]?.type, 'zip');
  assert.equal(objects[1]?.type, 'text');
});

test('a 7-Zip job gets only what is left of MaxScanTime', async () => {
  let calls = 0;
  // Start at 0, then 1 ms before the limit: the root is still visited, the 7-Zip job has 1 ms.
  const { findings, objects } = await collect('p.7z', SAMPLE_7Z, { limits: { MaxScanTime: 1000 }, now: () => (calls++ === 0 ? 0 : 999) });
  assert.equal(objects.length, 1);
  assert.deepEqual(findings.map((f) => f.name), ['Heuristics.Limits.Exceeded.MaxScanTime']);
});
