// Scan admission by bytes: who runs at once, who waits, in which order, and
// what a wait that ends badly turns into at the inspection (tempfail).
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compilePolicy } from '../policy/index.js';
import { Semaphore } from '../scanners/report.js';
import type { ScanReport, Scanner, ScanTarget } from '../scanners/types.js';
import { ByteBudget, ScanAdmission } from './admission.js';
import { createInspect, scanCost, type WholeReaders } from './inspect.js';
import type { Snapshot, SnapshotSource } from './snapshot.js';
import { captureLog, testConfig } from './testing.js';

const MiB = 1024 * 1024;

/** Starts acquires in order and reports which were granted once the event loop has settled. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

interface Step {
  /** acquire(bytes) as request number i, or release request i. */
  readonly op: 'take' | 'release';
  readonly n: number;
  readonly bytes?: number;
}

const cases: readonly { name: string; capacity: number; steps: readonly Step[]; granted: readonly number[] }[] = [
  { name: 'objects that fit together all run', capacity: 100, steps: [{ op: 'take', n: 0, bytes: 40 }, { op: 'take', n: 1, bytes: 60 }], granted: [0, 1] },
  { name: 'one that does not fit waits', capacity: 100, steps: [{ op: 'take', n: 0, bytes: 60 }, { op: 'take', n: 1, bytes: 60 }], granted: [0] },
  { name: 'it runs once the first is released', capacity: 100, steps: [{ op: 'take', n: 0, bytes: 60 }, { op: 'take', n: 1, bytes: 60 }, { op: 'release', n: 0 }], granted: [0, 1] },
  { name: 'one bigger than the budget runs alone when nothing else does', capacity: 100, steps: [{ op: 'take', n: 0, bytes: 500 }], granted: [0] },
  { name: 'one bigger than the budget waits for the others', capacity: 100, steps: [{ op: 'take', n: 0, bytes: 10 }, { op: 'take', n: 1, bytes: 500 }], granted: [0] },
  { name: 'nothing runs beside one bigger than the budget', capacity: 100, steps: [{ op: 'take', n: 0, bytes: 500 }, { op: 'take', n: 1, bytes: 1 }], granted: [0] },
  { name: 'first come first served: a small one does not pass a waiting big one', capacity: 100, steps: [{ op: 'take', n: 0, bytes: 60 }, { op: 'take', n: 1, bytes: 60 }, { op: 'take', n: 2, bytes: 10 }], granted: [0] },
  { name: 'after the big one, those behind it that fit go in together', capacity: 100, steps: [
    { op: 'take', n: 0, bytes: 60 }, { op: 'take', n: 1, bytes: 60 }, { op: 'take', n: 2, bytes: 10 }, { op: 'take', n: 3, bytes: 40 }, { op: 'release', n: 0 },
  ], granted: [0, 1, 2] },
  { name: 'a release counts once', capacity: 100, steps: [
    { op: 'take', n: 0, bytes: 60 }, { op: 'take', n: 1, bytes: 60 }, { op: 'take', n: 2, bytes: 60 }, { op: 'release', n: 0 }, { op: 'release', n: 0 },
  ], granted: [0, 1] },
];

describe('ByteBudget', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const budget = new ByteBudget(c.capacity);
      const granted = new Set<number>();
      const releases = new Map<number, () => void>();
      for (const step of c.steps) {
        if (step.op === 'take') {
          void budget.acquire(step.bytes ?? 0).then((release) => { granted.add(step.n); releases.set(step.n, release); });
        } else {
          releases.get(step.n)?.();
        }
        await settle();
      }
      assert.deepEqual([...granted].sort((a, b) => a - b), c.granted);
      assert.ok(budget.inFlight <= Math.max(c.capacity, ...c.steps.map((s) => Math.min(s.bytes ?? 0, c.capacity))));
    });
  }

  it('an aborted wait leaves the queue and lets those behind it in', async () => {
    const budget = new ByteBudget(100);
    const first = await budget.acquire(60);
    const ac = new AbortController();
    const big = budget.acquire(100, ac.signal);
    let smallIn = false;
    void budget.acquire(30).then(() => { smallIn = true; });
    await settle();
    assert.equal(smallIn, false, 'queued behind the big one');
    ac.abort(new Error('gone'));
    await assert.rejects(big, /gone/);
    await settle();
    assert.equal(smallIn, true);
    assert.equal(budget.inFlight, 90);
    first();
    assert.equal(budget.inFlight, 30);
  });

  it('a larger capacity lets waiting ones in at once', async () => {
    const budget = new ByteBudget(100);
    await budget.acquire(80);
    let in2 = false;
    void budget.acquire(80).then(() => { in2 = true; });
    await settle();
    assert.equal(in2, false);
    budget.capacity = 200;
    await settle();
    assert.equal(in2, true);
  });

  it('tryAcquire takes room that is free now, and never passes one that waits', async () => {
    const budget = new ByteBudget(100);
    const a = budget.tryAcquire(60);
    assert.notEqual(a, undefined);
    assert.equal(budget.tryAcquire(60), undefined, 'does not fit');
    assert.equal(budget.inFlight, 60);
    void budget.acquire(60);
    await settle();
    assert.equal(budget.tryAcquire(10), undefined, 'fits, but one is waiting');
    a?.();
    await settle();
    assert.equal(budget.inFlight, 60, 'the waiting one got in');
  });

  it('refuses a capacity below one byte with PC_ERR_CONFIG', () => {
    assert.throws(() => new ByteBudget(0), { code: 'PC_ERR_CONFIG' });
  });
});

describe('ScanAdmission', () => {
  it('small objects keep flowing while big ones wait their turn', async () => {
    const adm = new ScanAdmission(32 * MiB);
    const bigA = await adm.admit(25 * MiB);
    let bigBIn = false;
    void adm.admit(25 * MiB).then(() => { bigBIn = true; });
    await settle();
    assert.equal(bigBIn, false, 'two big ones do not run at once');
    // 100 small ones of 64 KiB fit their lane (8 MiB) at once.
    const smalls = await Promise.all(Array.from({ length: 100 }, () => adm.admit(64 * 1024)));
    assert.equal(adm.waiting, 1);
    bigA();
    await settle();
    assert.equal(bigBIn, true);
    for (const s of smalls) s();
  });

  it('small objects beyond their lane wait, and never hold up a big one', async () => {
    const adm = new ScanAdmission(32 * MiB);
    const smalls = await Promise.all(Array.from({ length: 4 }, () => adm.admit(2 * MiB)));
    let fifthIn = false;
    void adm.admit(2 * MiB).then(() => { fifthIn = true; });
    const big = await adm.admit(30 * MiB);
    await settle();
    assert.equal(fifthIn, false);
    (smalls[0] as () => void)();
    await settle();
    assert.equal(fifthIn, true);
    big();
  });
});

describe('inspect under the scan memory budget', () => {
  const report: ScanReport = { verdict: 'clean', findings: [], errors: [], bytesScanned: 0, durationMs: 0 };

  function setup(scanMemory: number, maxScanTime: number) {
    const running = { now: 0, most: 0 };
    const gates: (() => void)[] = [];
    const scanner: Scanner = {
      name: 'fake',
      close: async () => undefined,
      scan: async () => {
        running.now++;
        running.most = Math.max(running.most, running.now);
        await new Promise<void>((r) => gates.push(r));
        running.now--;
        return report;
      },
    };
    const config = testConfig('/tmp/unused', { engine: { scanMemory: scanMemory }, limits: { MaxScanTime: maxScanTime } });
    const snapshot = { generation: 1, config, policy: compilePolicy(config), scanner } as unknown as Snapshot;
    const snapshots: SnapshotSource = { current: () => snapshot, acquire: () => ({ snapshot, release: () => undefined }) };
    const logs = captureLog();
    const inspect = createInspect({ snapshots, log: logs.log });
    // Text: a type the scanner opens, so it is read whole and charged its size.
    const target = (mb: number): ScanTarget => ({ name: 'm.txt', data: new Uint8Array(mb * MiB).fill(0x61) });
    const snapshotWith = (bytes: number): Snapshot => {
      const c = testConfig('/tmp/unused', { engine: { scanMemory: bytes }, limits: { MaxScanTime: maxScanTime } });
      return { generation: 2, config: c, policy: compilePolicy(c), scanner } as unknown as Snapshot;
    };
    /** Lets every scan finish, one after the other, including those let in meanwhile. */
    const finishAll = async (): Promise<void> => {
      while (gates.length > 0 || running.now > 0) {
        gates.shift()?.();
        await settle();
      }
    };
    return { running, gates, inspect, target, snapshotWith, logs, finishAll };
  }

  it('a reload that raises engine.scanMemory lets two big ones run together', async () => {
    const { running, inspect, target, snapshotWith, finishAll } = setup(4 * MiB, 60_000);
    const a = inspect({ protocol: 'smtp', direction: 'inbound', name: 'a', target: target(3) });
    const b = inspect({ protocol: 'smtp', direction: 'inbound', name: 'b', target: target(3) });
    await settle();
    assert.equal(running.now, 1);
    const bigger = snapshotWith(64 * MiB);
    const c = inspect({ protocol: 'smtp', direction: 'inbound', name: 'c', target: target(3), snapshot: bigger });
    await settle();
    assert.equal(running.now, 3, 'the waiting one and the new one both got in');
    await finishAll();
    assert.deepEqual((await Promise.all([a, b, c])).map((r) => r.decision.action), ['pass', 'pass', 'pass']);
  });

  it('two messages bigger than half the budget are scanned one after the other; a small one runs beside them', async () => {
    const { running, inspect, target, logs, finishAll } = setup(4 * MiB, 60_000);
    const a = inspect({ protocol: 'smtp', direction: 'inbound', name: 'a', target: target(3) });
    const b = inspect({ protocol: 'smtp', direction: 'inbound', name: 'b', target: target(3) });
    await settle();
    assert.equal(running.now, 1, 'the second big one waits');
    const small = inspect({ protocol: 'smtp', direction: 'inbound', name: 'c', target: { name: 'c', data: new Uint8Array(1024) } });
    await settle();
    assert.equal(running.now, 2, 'the small one is not held up');
    await finishAll();
    const results = await Promise.all([a, b, small]);
    assert.deepEqual(results.map((r) => r.decision.action), ['pass', 'pass', 'pass']);
    assert.equal(running.most, 2);
    const waited = logs.lines.filter((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('inspection waited for scan memory'));
    assert.deepEqual(waited.map((l) => [l['object'], l['bytes']]), [['b', 3 * MiB]], 'only the one that waited is logged');
  });

  it('a big message waiting for scan memory holds no gate slot: with one slot, a small one gets it and the big ones follow in turn', async () => {
    const { running, gates, inspect, target, finishAll } = setup(4 * MiB, 60_000);
    const gate = new Semaphore(1);
    const a = inspect({ protocol: 'smtp', direction: 'inbound', name: 'a', target: target(3), gate });
    await settle();
    const b = inspect({ protocol: 'smtp', direction: 'inbound', name: 'b', target: target(3), gate });
    const small = inspect({ protocol: 'smtp', direction: 'inbound', name: 'c', target: { name: 'c', data: new Uint8Array(1024) }, gate });
    await settle();
    assert.equal(running.now, 1, 'one slot: only a runs');
    gates.shift()?.();
    await settle();
    assert.equal(running.now, 1, 'a is done; the small one has the slot while b waits for memory or the slot');
    await finishAll();
    assert.deepEqual((await Promise.all([a, b, small])).map((r) => r.decision.action), ['pass', 'pass', 'pass']);
    assert.equal(running.most, 1, 'the gate held: never two scans at once');
  });

  it('an abort while waiting for the gate is a scanner failure (tempfail) and gives back the memory it was admitted', async () => {
    const { running, gates, inspect, target } = setup(4 * MiB, 60_000);
    const gate = new Semaphore(1);
    const a = inspect({ protocol: 'smtp', direction: 'inbound', name: 'a', target: { name: 'a', data: new Uint8Array(1024) }, gate });
    await settle();
    const ac = new AbortController();
    const b = inspect({ protocol: 'smtp', direction: 'inbound', name: 'b', target: target(3), gate, signal: ac.signal });
    await settle();
    ac.abort();
    const rb = await b;
    assert.deepEqual([rb.report.verdict, rb.decision.action], ['error', 'tempfail']);
    // The 3 MiB it was admitted are free again: another 3 MiB object is let in at once (it waits only for the gate).
    gates.shift()?.();
    const c = inspect({ protocol: 'smtp', direction: 'inbound', name: 'c', target: target(3), gate });
    await settle();
    assert.equal(running.now, 1, 'c runs: b gave its memory back');
    gates.shift()?.();
    assert.deepEqual([(await a).decision.action, (await c).decision.action], ['pass', 'pass']);
  });

  it('a wait longer than MaxScanTime is a scanner timeout: tempfail, never a pass', async () => {
    const { gates, inspect, target } = setup(4 * MiB, 150);
    const a = inspect({ protocol: 'smtp', direction: 'inbound', name: 'a', target: target(3) });
    await settle();
    const b = await inspect({ protocol: 'smtp', direction: 'inbound', name: 'b', target: target(3) });
    assert.deepEqual([b.report.verdict, b.decision.action, b.decision.class], ['error', 'tempfail', 'scannerFailure']);
    assert.deepEqual(b.report.errors.map((e) => e.code), ['PC_ERR_SCAN_TIMEOUT']);
    assert.match(b.report.errors[0]?.message ?? '', /scan memory/);
    gates.shift()?.();
    assert.equal((await a).decision.action, 'pass');
  });

  const container = { container: true };
  const plain = { container: false };
  const builtin = { builtin: true, banned: false };
  const costs: readonly { name: string; target: ScanTarget; type: { container: boolean }; readers: WholeReaders; cost: number }[] = [
    { name: 'a container in memory costs its size', target: { name: 'x', data: new Uint8Array(5000) }, type: container, readers: builtin, cost: 5000 },
    { name: 'a spooled container within MaxFileSize costs its size', target: { name: 'x', path: '/nonexistent', size: 10 * MiB }, type: container, readers: builtin, cost: 10 * MiB },
    { name: 'a container above MaxFileSize is streamed: one read buffer', target: { name: 'x', path: '/nonexistent', size: 200 * MiB }, type: container, readers: builtin, cost: MiB },
    { name: 'a type with nothing inside is streamed', target: { name: 'x', path: '/nonexistent', size: 10 * MiB }, type: plain, readers: builtin, cost: MiB },
    { name: 'a small streamed one costs no more than its size', target: { name: 'x', path: '/nonexistent', size: 1000 }, type: plain, readers: builtin, cost: 1000 },
    { name: 'banned rules open every object within MaxFileSize', target: { name: 'x', path: '/nonexistent', size: 10 * MiB }, type: plain, readers: { builtin: false, banned: true }, cost: 10 * MiB },
    { name: 'clamd or a command alone read a container as a stream', target: { name: 'x', path: '/nonexistent', size: 10 * MiB }, type: container, readers: { builtin: false, banned: false }, cost: MiB },
  ];
  for (const c of costs) {
    it(`scanCost: ${c.name}`, () => {
      assert.equal(scanCost(c.target, c.type, { MaxFileSize: 100 * MiB }, c.readers), c.cost);
    });
  }
});
