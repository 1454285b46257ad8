// The builtin scanner's plumbing (reading, streaming, walking, limits) with a
// recording stand-in database, so these tests fail only for the scanner's own
// faults; the real engine is exercised by the CLI and interop tests.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync, zipSync } from 'fflate';
import type { CompiledDatabase, EngineFinding, EngineScan, ScanOptions } from '../engine/types.js';
import { BuiltinScanner } from './builtin.js';
import { filler } from './testing.js';

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');

/** Finds EICAR anywhere (also across chunks) and records every scan and write. */
class RecordingDb implements CompiledDatabase {
  readonly stats = { loaded: { body: 1 }, skipped: {}, skippedExamples: {}, files: [], total: 1 };
  readonly scans: { options: ScanOptions; writes: number[] }[] = [];
  scan(options: ScanOptions): EngineScan {
    const record = { options, writes: [] as number[] };
    this.scans.push(record);
    let tail = Buffer.alloc(0);
    let found = false;
    return {
      write: (chunk) => {
        record.writes.push(chunk.byteLength);
        const joined = Buffer.concat([tail, chunk]);
        if (joined.includes(EICAR)) found = true;
        tail = joined.subarray(Math.max(0, joined.length - EICAR.length + 1));
      },
      end: (): EngineFinding[] => (found ? [{ name: 'Eicar-Test-Signature', kind: 'body' }] : []),
    };
  }
  scanBuffer(data: Uint8Array, target?: number): EngineFinding[] {
    const s = this.scan({ size: data.byteLength, target: target ?? 0 });
    s.write(data);
    return s.end();
  }
}

/** ELF-looking bytes (a type with no extractor) with EICAR at `at`. */
function elfWithEicar(size: number, at: number): Buffer {
  const b = filler(size);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(b, 0);
  EICAR.copy(b, at);
  return b;
}

describe('BuiltinScanner', () => {
  let dir: string;
  const write = async (name: string, data: Uint8Array): Promise<{ name: string; path: string; size: number }> => {
    const path = join(dir, name);
    await writeFile(path, data);
    return { name, path, size: data.byteLength };
  };
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'pc-builtin-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  const chunk = 64 * 1024;
  const plain: [string, () => Buffer, string[][]][] = [
    ['eicar alone', () => EICAR, [['x']]],
    ['clean bytes', () => filler(1000), []],
    ['eicar across a chunk boundary', () => elfWithEicar(3 * chunk + 100, chunk - 30), [['x']]],
    ['eicar in the last bytes', () => elfWithEicar(2 * chunk + 500, 2 * chunk + 500 - EICAR.length), [['x']]],
    ['near miss: last byte changed', () => Buffer.concat([EICAR.subarray(0, 67), Buffer.from('#')]), []],
  ];
  for (const [name, make, paths] of plain) {
    for (const source of ['data', 'path'] as const) {
      it(`${name} (${source})`, async () => {
        const db = new RecordingDb();
        const scanner = new BuiltinScanner({ db, chunkSize: chunk });
        const bytes = make();
        const target = source === 'data' ? { name: 'x', data: bytes } : await write('x', bytes);
        const report = await scanner.scan(target);
        assert.deepEqual(report.findings.map((f) => f.path), paths);
        assert.equal(report.verdict, paths.length > 0 ? 'infected' : 'clean');
        assert.equal(report.bytesScanned, bytes.byteLength);
        const rootScans = db.scans.filter((s) => s.options.size === bytes.byteLength);
        assert.equal(rootScans.length, 1, 'the root is scanned once');
        if (source === 'path') for (const w of rootScans[0]?.writes ?? []) assert.ok(w <= chunk, `chunks stay within ${chunk} bytes`);
      });
    }
  }

  it('a big non-container file is streamed in chunks, not read whole', async () => {
    const db = new RecordingDb();
    const bytes = elfWithEicar(5 * chunk + 7, 4 * chunk + 3);
    const report = await new BuiltinScanner({ db, chunkSize: chunk }).scan(await write('big.elf', bytes));
    assert.equal(report.verdict, 'infected');
    assert.equal(db.scans.length, 1);
    assert.equal(db.scans[0]?.options.target, 6, 'ELF target type from the head');
    assert.ok((db.scans[0]?.writes.length ?? 0) >= 6);
  });

  it('an object in memory reaches the engine in slices of at most 64 KiB, whatever the read chunk size', async () => {
    const db = new RecordingDb();
    const bytes = elfWithEicar(5 * chunk + 7, 4 * chunk + 3);
    const report = await new BuiltinScanner({ db, chunkSize: 8 * chunk }).scan({ name: 'm', data: bytes });
    assert.equal(report.verdict, 'infected');
    const writes = db.scans[0]?.writes ?? [];
    assert.equal(writes.reduce((n, w) => n + w, 0), bytes.byteLength);
    assert.ok(writes.length >= 6 && writes.every((w) => w <= 64 * 1024), JSON.stringify(writes));
  });

  it('files scanned one after another through one scanner (its read buffers reused) keep their own verdicts', async () => {
    const scanner = new BuiltinScanner({ db: new RecordingDb(), chunkSize: chunk });
    const files: [string, Buffer, string][] = [
      ['big-infected.elf', elfWithEicar(3 * chunk + 9, 2 * chunk + 1), 'infected'],
      ['small-clean', filler(500, 3), 'clean'],
      ['shorter-than-the-eicar-before-it', filler(2 * chunk, 4), 'clean'],
      ['small-infected', Buffer.concat([filler(100, 5), EICAR]), 'infected'],
      ['after-it-clean', filler(90, 6), 'clean'],
    ];
    const targets = await Promise.all(files.map(([name, data]) => write(name, data)));
    const sequential = [];
    for (const t of targets) sequential.push((await scanner.scan(t)).verdict);
    assert.deepEqual(sequential, files.map(([, , v]) => v));
    const concurrent = await Promise.all(targets.map((t) => scanner.scan(t)));
    assert.deepEqual(concurrent.map((r) => r.verdict), files.map(([, , v]) => v));
  });

  const containers: [string, () => Uint8Array, string[]][] = [
    ['zip member', () => zipSync({ 'pad.bin': [filler(3 * chunk), { level: 0 }], 'docs/eicar.txt': [EICAR, { level: 0 }] }), ['c', 'docs/eicar.txt']],
    ['gzip content', () => gzipSync(Buffer.concat([filler(2 * chunk), EICAR]), { level: 1 }), ['c']],
  ];
  for (const [name, make, innerPath] of containers) {
    for (const source of ['data', 'path'] as const) {
      it(`finds EICAR in a ${name} bigger than a chunk (${source}), with its inner path`, async () => {
        const db = new RecordingDb();
        const data = make();
        assert.ok(data.byteLength > chunk);
        const target = source === 'data' ? { name: 'c', data } : await write('c', data);
        const report = await new BuiltinScanner({ db, chunkSize: chunk }).scan(target);
        assert.equal(report.verdict, 'infected');
        const paths = report.findings.map((f) => f.path);
        assert.ok(paths.some((p) => p[0] === 'c' && p.join('/').startsWith(innerPath.join('/'))), JSON.stringify(paths));
        assert.ok(report.bytesScanned > data.byteLength, 'decoded objects are counted');
      });
    }
  }

  it('over MaxFileSize: scans the raw bytes and reports the limit', async () => {
    const db = new RecordingDb();
    const bytes = zipSync({ 'e.txt': [Buffer.concat([filler(5000), EICAR]), { level: 0 }] });
    const report = await new BuiltinScanner({ db, limits: { MaxFileSize: 2048 } }).scan(await write('over.zip', bytes));
    assert.deepEqual(report.findings.map((f) => [f.name, f.path]).sort(), [
      ['Eicar-Test-Signature', ['over.zip']],
      ['Heuristics.Limits.Exceeded.MaxFileSize', ['over.zip']],
    ]);
  });

  it('a stream that outlasts MaxScanTime stops with that finding', async () => {
    const db = new RecordingDb();
    const bytes = elfWithEicar(8 * chunk, 7 * chunk);
    const report = await new BuiltinScanner({ db, chunkSize: chunk, limits: { MaxScanTime: -1 } }).scan(await write('slow.elf', bytes));
    assert.deepEqual(report.findings.map((f) => f.name), ['Heuristics.Limits.Exceeded.MaxScanTime']);
    assert.ok(report.bytesScanned < bytes.byteLength);
  });

  it('a file that cannot be read is PC_ERR_SCAN_INPUT', async () => {
    const report = await new BuiltinScanner({ db: new RecordingDb() }).scan({ name: 'gone', path: join(dir, 'gone'), size: 10 });
    assert.deepEqual([report.verdict, report.errors[0]?.code], ['error', 'PC_ERR_SCAN_INPUT']);
  });
});
