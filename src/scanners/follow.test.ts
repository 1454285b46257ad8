// Scanning a file as it arrives (Scanner.follow) against scanning the
// finished file, with the real engine: every signature form whose match
// depends on the size (EOF-n offsets, whole-file hashes) or the position
// (absolute offsets), fed in many chunkings, must give the very report a
// scan of the spooled file gives; and wherever the follower cannot stand for
// the file (wrong size, a container it would have to unpack) it says so.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { builtinDbFiles, compileDatabase } from '../engine/index.js';
import type { Limits } from '../content/limits.js';
import { BuiltinScanner } from './builtin.js';
import { filler } from './testing.js';
import { CombinedScanner } from './combined.js';
import type { FileFollower, ScanReport, Scanner } from './types.js';

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');
const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
const SIZE = 300_000;


function withAt(base: Buffer, at: number, what: string | Buffer): Buffer {
  const b = Buffer.from(base);
  Buffer.from(what).copy(b, at);
  return b;
}

const plain = filler(SIZE, 7);
const wholeHashed = filler(SIZE, 11);
const db = compileDatabase([
  ...builtinDbFiles(),
  { name: 't.ndb', data: Buffer.from([
    `T.Tail:0:EOF-10:${hex('tail-mark!')}`,
    `T.At70k:0:70000:${hex('fixed-spot')}`,
    `T.Anywhere:0:*:${hex('free-roaming-needle')}`,
  ].join('\n') + '\n') },
  { name: 't.hdb', data: Buffer.from(`${createHash('md5').update(wholeHashed).digest('hex')}:${SIZE}:T.Whole\n`) },
]);

/** Files, the findings a scan of each must give, and (for the limits) the scanner's limits. */
const FILES: { name: string; data: Buffer; want: string[]; limits?: Partial<Limits> }[] = [
  { name: 'clean.bin', data: plain, want: [] },
  { name: 'eicar-middle.bin', data: withAt(plain, 150_000, EICAR), want: ['Eicar-Test-Signature'] },
  { name: 'eicar-across-head.bin', data: withAt(plain, 65_536 - 20, EICAR), want: ['Eicar-Test-Signature'] },
  { name: 'tail-at-eof.bin', data: withAt(plain, SIZE - 10, 'tail-mark!'), want: ['T.Tail'] },
  { name: 'tail-not-at-eof.bin', data: withAt(plain, SIZE - 30, 'tail-mark!'), want: [] },
  { name: 'fixed-spot.bin', data: withAt(plain, 70_000, 'fixed-spot'), want: ['T.At70k'] },
  { name: 'fixed-spot-moved.bin', data: withAt(plain, 70_001, 'fixed-spot'), want: [] },
  { name: 'anywhere-last-bytes.bin', data: withAt(plain, SIZE - 19, 'free-roaming-needle'), want: ['T.Anywhere'] },
  { name: 'whole-file-hash.bin', data: wholeHashed, want: ['T.Whole'] },
  {
    name: 'eicar-past-MaxScanSize.bin', data: withAt(plain, 200_000, EICAR),
    want: ['Heuristics.Limits.Exceeded.MaxScanSize'], limits: { MaxScanSize: 100_000 },
  },
  {
    name: 'zip-over-MaxFileSize.zip', data: Buffer.from(zipSync({ 'e.txt': [Buffer.concat([filler(200_000, 3), EICAR]), { level: 0 }] })),
    want: ['Eicar-Test-Signature', 'Heuristics.Limits.Exceeded.MaxFileSize'], limits: { MaxFileSize: 100_000 },
  },
];

/** Chunkings of a file: the whole at once, the head split, odd small pieces, seeded random sizes. */
const CHUNKINGS: { name: string; sizes: (n: number) => number[] }[] = [
  { name: 'one write', sizes: (n) => [n] },
  { name: 'head split after one byte', sizes: (n) => [1, 65_535, n - 65_536] },
  { name: 'pieces of 4,093 bytes', sizes: (n) => Array.from({ length: Math.ceil(n / 4093) }, (_, i) => Math.min(4093, n - i * 4093)) },
  {
    name: 'random pieces up to 100,000', sizes: (n) => {
      const out: number[] = [];
      let x = 99;
      for (let left = n; left > 0;) {
        x = (x * 1103515245 + 12345) % 2147483648;
        const k = Math.min(left, 1 + (x % 100_000));
        out.push(k);
        left -= k;
      }
      return out;
    },
  },
];

function feed(f: FileFollower, data: Buffer, sizes: number[]): void {
  let at = 0;
  for (const k of sizes) {
    // A reused read buffer: the follower must be done with a chunk when write returns.
    const chunk = Buffer.from(data.subarray(at, at + k));
    f.write(chunk);
    chunk.fill(0);
    at += k;
  }
}

const summary = (r: ScanReport | undefined): unknown => r && { verdict: r.verdict, findings: r.findings.map((f) => [f.name, f.path, f.scanner]).sort(), bytes: r.bytesScanned };

describe('Scanner.follow: scanning a file as it arrives', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-follow-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const file of FILES) {
    for (const chunking of CHUNKINGS) {
      it(`${file.name}, ${chunking.name}: the report a scan of the finished file gives`, async () => {
        const scanner = new BuiltinScanner({ db, chunkSize: 64 * 1024, ...(file.limits ? { limits: file.limits } : {}) });
        const path = join(dir, file.name);
        await writeFile(path, file.data);
        const scanned = await scanner.scan({ name: file.name, path, size: file.data.byteLength });
        assert.deepEqual(scanned.findings.map((f) => f.name).sort(), [...file.want].sort(), 'the file scan itself finds what the case says');
        const follower = scanner.follow(file.name, file.data.byteLength);
        assert.ok(follower !== undefined);
        feed(follower, file.data, chunking.sizes(file.data.byteLength));
        assert.deepEqual(summary(follower.end()), summary(scanned));
      });
    }
  }

  it('declines a file no bigger than one read chunk (it is read whole and walked)', () => {
    const scanner = new BuiltinScanner({ db, chunkSize: 256 * 1024 });
    assert.equal(scanner.follow('small.bin', 256 * 1024), undefined);
    assert.ok(scanner.follow('big.bin', 256 * 1024 + 1) !== undefined);
  });

  const wrongSizes: { name: string; announced: (n: number) => number; sent: (d: Buffer) => Buffer }[] = [
    { name: 'fewer bytes than announced', announced: (n) => n + 1, sent: (d) => d },
    { name: 'more bytes than announced', announced: (n) => n - 1, sent: (d) => d },
    { name: 'only part of the head', announced: (n) => n, sent: (d) => d.subarray(0, 1000) },
  ];
  for (const c of wrongSizes) {
    it(`${c.name}: no report (the file is scanned instead), even with a signature in it`, () => {
      const scanner = new BuiltinScanner({ db, chunkSize: 64 * 1024 });
      const data = withAt(plain, 1000, EICAR);
      const follower = scanner.follow('x.bin', c.announced(data.byteLength));
      assert.ok(follower !== undefined);
      feed(follower, c.sent(data), [c.sent(data).byteLength]);
      assert.equal(follower.end(), undefined);
    });
  }

  it('declines a container within MaxFileSize once its head shows it (the walker needs it whole)', () => {
    const scanner = new BuiltinScanner({ db, chunkSize: 64 * 1024 });
    const zip = Buffer.from(zipSync({ 'e.bin': [Buffer.concat([filler(200_000, 5), EICAR]), { level: 0 }] }));
    const follower = scanner.follow('a.zip', zip.byteLength);
    assert.ok(follower !== undefined);
    feed(follower, zip, [zip.byteLength]);
    assert.equal(follower.end(), undefined);
  });

  it('MaxScanTime counts time spent scanning, not time spent waiting for the network', async () => {
    const scanner = new BuiltinScanner({ db, chunkSize: 64 * 1024, limits: { MaxScanTime: 40 } });
    const data = withAt(plain, 250_000, EICAR);
    const follower = scanner.follow('slow-network.bin', data.byteLength) as FileFollower;
    follower.write(data.subarray(0, 100_000));
    await sleep(120);
    follower.write(data.subarray(100_000));
    assert.deepEqual(follower.end()?.findings.map((f) => f.name), ['Eicar-Test-Signature']);
    const spent = new BuiltinScanner({ db, chunkSize: 64 * 1024, limits: { MaxScanTime: -1 } }).follow('slow-scan.bin', data.byteLength) as FileFollower;
    feed(spent, data, [70_000, 70_000, data.byteLength - 140_000]);
    assert.deepEqual(spent.end()?.findings.map((f) => f.name), ['Heuristics.Limits.Exceeded.MaxScanTime']);
  });

  it('a combined scanner follows only when every member can, and merges their reports', () => {
    const a = new BuiltinScanner({ db, chunkSize: 64 * 1024, name: 'a' });
    const b = new BuiltinScanner({ db, chunkSize: 64 * 1024, name: 'b' });
    const data = withAt(plain, 100_000, EICAR);
    const both = new CombinedScanner([a, b]).follow('c.bin', data.byteLength);
    assert.ok(both !== undefined);
    feed(both, data, [data.byteLength]);
    const r = both.end();
    assert.deepEqual(r?.findings.map((f) => `${f.scanner}:${f.name}`).sort(), ['a:Eicar-Test-Signature', 'b:Eicar-Test-Signature']);
    const cannot: Scanner = { name: 'whole-only', scan: () => Promise.reject(new Error('unused')), close: async () => undefined };
    assert.equal(new CombinedScanner([a, cannot]).follow('c.bin', data.byteLength), undefined);
  });
});

describe('Scanner.follow against the file scan: seeded random databases, files and chunkings', () => {
  /** A small LCG: the same cases on every run, so a failure replays. */
  const rng = (seed: number): (() => number) => {
    let x = seed >>> 0;
    return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; };
  };
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-follow-rand-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  const SIZE_MIN = 70_000;
  /** Finding names over all seeds, so the last case can tell the random ones were not all clean. */
  const seen = new Map<string, number>();
  for (let seed = 1; seed <= 40; seed++) {
    it(`seed ${seed}`, async () => {
      const r = rng(seed);
      const int = (n: number): number => Math.floor(r() * n);
      const size = SIZE_MIN + int(250_000);
      const data = filler(size, seed * 7919);
      const marks = Array.from({ length: 6 }, (_, i) => `mark-${seed}-${i}-${'x'.repeat(int(12))}`);
      // Offsets of every form, some placed to match and some one byte off.
      const ndb: string[] = [];
      const ldb: string[] = [];
      for (const [i, m] of marks.entries()) {
        const at = int(size - m.length);
        const hit = r() < 0.7;
        Buffer.from(m).copy(data, hit ? at : Math.min(size - m.length, at + 1 + int(3)));
        const back = size - at;
        const offsets = ['*', `${at}`, `${Math.max(0, at - int(5))},${5 + int(5)}`, `EOF-${back}`, `EOF-${back + int(4)},${4 + int(4)}`];
        const offset = offsets[int(offsets.length)] as string;
        ndb.push(`T.Rand.${i}:0:${offset}:${hex(m)}`);
        if (i % 2 === 1) ldb.push(`T.Rand.L${i};Target:0;0&1;${hex(marks[i - 1] as string)};EOF-${back}:${hex(m)}`);
      }
      const hashed = r() < 0.3 ? [`${createHash('md5').update(data).digest('hex')}:${size}:T.Rand.Whole`] : [];
      const randDb = compileDatabase([
        ...builtinDbFiles(),
        { name: 'r.ndb', data: Buffer.from(`${ndb.join('\n')}\n`) },
        { name: 'r.ldb', data: Buffer.from(`${ldb.join('\n')}\n`) },
        { name: 'r.hdb', data: Buffer.from(`${hashed.join('\n')}\n`) },
      ]);
      const scanner = new BuiltinScanner({ db: randDb, chunkSize: 64 * 1024 });
      const path = join(dir, `r${seed}.bin`);
      await writeFile(path, data);
      const scanned = await scanner.scan({ name: 'r.bin', path, size });
      const follower = scanner.follow('r.bin', size) as FileFollower;
      const sizes: number[] = [];
      for (let left = size; left > 0;) { const k = Math.min(left, 1 + int(r() < 0.2 ? 50 : 120_000)); sizes.push(k); left -= k; }
      feed(follower, data, sizes);
      assert.deepEqual(summary(follower.end()), summary(scanned));
      for (const f of scanned.findings) {
        const kind = f.name.replace(/^T\.Rand\.(L?)\d+$/, (_m, l: string) => (l === 'L' ? 'logical' : 'body'));
        seen.set(kind, (seen.get(kind) ?? 0) + 1);
      }
    });
  }

  it('the random cases were not all clean: body, logical and hash signatures matched', () => {
    assert.ok((seen.get('body') ?? 0) >= 40, JSON.stringify([...seen]));
    assert.ok((seen.get('logical') ?? 0) >= 3, JSON.stringify([...seen]));
    assert.ok((seen.get('T.Rand.Whole') ?? 0) >= 3, JSON.stringify([...seen]));
  });
});
