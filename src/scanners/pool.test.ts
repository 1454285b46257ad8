// WorkerScanner (engine.scanWorkers) against the builtin scanner on this
// thread: the same findings for objects in memory, containers and files on
// disk, many scans at once spread over the workers, and fail-closed answers
// when a worker dies mid-scan (then it is replaced) or the pool is closed.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { DEFAULT_LIMITS } from '../content/limits.js';
import { builtinDbFiles, compileDatabase } from '../engine/index.js';
import { BuiltinScanner } from './builtin.js';
import { WorkerScanner } from './pool.js';
import { filler } from './testing.js';
import type { ScanReport, ScanTarget } from './types.js';

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');
const files = builtinDbFiles();
const local = new BuiltinScanner({ db: compileDatabase(files) });
const summary = (r: ScanReport): unknown => ({ verdict: r.verdict, findings: r.findings.map((f) => [f.name, f.path, f.scanner]).sort(), errors: r.errors.map((e) => e.code) });

describe('WorkerScanner', () => {
  let pool: WorkerScanner;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-pool-'));
    pool = await WorkerScanner.start({ files, limits: DEFAULT_LIMITS, workers: 2, local });
  });
  after(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  const objects: { name: string; data: () => Buffer; infected: boolean }[] = [
    { name: 'clean bytes', data: () => filler(50_000, 3), infected: false },
    { name: 'EICAR alone', data: () => Buffer.from(EICAR), infected: true },
    { name: 'EICAR in a zip', data: () => Buffer.from(zipSync({ 'a/e.com': EICAR })), infected: true },
    { name: 'EICAR in a view into a bigger buffer', data: () => Buffer.concat([filler(1000, 5), EICAR, filler(1000, 6)]).subarray(1000, 1000 + EICAR.length), infected: true },
  ];
  for (const o of objects) {
    it(`${o.name}: the builtin scanner's report, in memory and from a file`, async () => {
      const data = o.data();
      const before = Buffer.from(data);
      const inMemory: ScanTarget = { name: 'x', data };
      const viaPool = await pool.scan(inMemory);
      assert.deepEqual(summary(viaPool), summary(await local.scan(inMemory)));
      assert.equal(viaPool.verdict, o.infected ? 'infected' : 'clean');
      assert.ok(data.equals(before) && data.byteLength === before.byteLength, 'the caller keeps its bytes (copied, not moved)');
      const path = join(dir, `${o.name.replace(/\W+/g, '-')}.bin`);
      await writeFile(path, data);
      const onDisk: ScanTarget = { name: 'x', path, size: data.byteLength };
      assert.deepEqual(summary(await pool.scan(onDisk)), summary(await local.scan(onDisk)));
    });
  }

  it('100 objects at once, half infected: every answer is its own object\'s', async () => {
    const targets = Array.from({ length: 100 }, (_, i) => ({ name: `o${i}`, data: i % 2 === 0 ? Buffer.concat([filler(20_000, i + 1), EICAR]) : filler(20_000, i + 1) }));
    const reports = await Promise.all(targets.map((t) => pool.scan(t)));
    assert.deepEqual(reports.map((r) => r.verdict), targets.map((_, i) => (i % 2 === 0 ? 'infected' : 'clean')));
    assert.ok(reports.every((r, i) => r.findings.every((f) => f.path[0] === `o${i}`)));
  });

  it('a worker that dies mid-scan: its scans fail closed (PC_ERR_SCANNER), it is replaced, later scans work', async () => {
    const big = { name: 'big', data: filler(40 * 1024 * 1024, 9) };
    const inFlight = [pool.scan(big), pool.scan(big)];
    await pool.stopWorker(0);
    const reports = await Promise.all(inFlight);
    assert.ok(reports.some((r) => r.verdict === 'error' && r.errors[0]?.code === 'PC_ERR_SCANNER'), JSON.stringify(reports.map(summary)));
    assert.ok(reports.every((r) => r.verdict !== 'infected'));
    const deadline = Date.now() + 10_000;
    while (pool.workers < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(pool.workers, 2, 'the dead worker was replaced');
    assert.equal((await pool.scan({ name: 'e', data: EICAR })).verdict, 'infected');
  });

  it('with its only worker dead, a scan waits for the replacement instead of failing', async () => {
    const one = await WorkerScanner.start({ files, limits: DEFAULT_LIMITS, workers: 1 });
    try {
      await one.stopWorker(0);
      assert.equal(one.workers, 0);
      const r = await one.scan({ name: 'e', data: EICAR });
      assert.deepEqual([r.verdict, r.findings.map((f) => f.name)], ['infected', ['Eicar-Test-Signature']]);
      assert.equal(one.workers, 1);
    } finally {
      await one.close();
    }
  });

  it('follow() is the main thread\'s scanner\'s', () => {
    assert.ok(pool.follow('big.bin', 5 * 1024 * 1024) !== undefined);
    assert.equal(pool.follow('small.bin', 10), undefined);
  });

  it('after close every scan fails closed', async () => {
    const p = await WorkerScanner.start({ files, limits: DEFAULT_LIMITS, workers: 1 });
    await p.close();
    const r = await p.scan({ name: 'e', data: EICAR });
    assert.deepEqual([r.verdict, r.errors[0]?.code], ['error', 'PC_ERR_SCANNER']);
  });
});
