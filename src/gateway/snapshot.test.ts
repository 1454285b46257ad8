// Snapshot leases: a replaced scanner closes only when its last session ends.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Scanner } from '../scanners/types.js';
import { buildSnapshot, SnapshotHolder, type Snapshot } from './snapshot.js';
import { testConfig } from './testing.js';

function fakeSnapshot(generation: number, closed: number[]): Snapshot {
  const scanner: Scanner = {
    name: 'fake',
    scan: async () => ({ verdict: 'clean', findings: [], errors: [], bytesScanned: 0, durationMs: 0 }),
    close: async () => { closed.push(generation); },
  };
  return { generation, scanner } as unknown as Snapshot;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SnapshotHolder', () => {
  it('closes a replaced snapshot at once when nobody holds it', async () => {
    const closed: number[] = [];
    const h = new SnapshotHolder(fakeSnapshot(1, closed));
    h.swap(fakeSnapshot(2, closed));
    await tick();
    assert.deepEqual(closed, [1]);
    assert.equal(h.current().generation, 2);
  });

  it('keeps a replaced snapshot open until its last lease is released, once', async () => {
    const closed: number[] = [];
    const h = new SnapshotHolder(fakeSnapshot(1, closed));
    const a = h.acquire();
    const b = h.acquire();
    h.swap(fakeSnapshot(2, closed));
    const c = h.acquire();
    assert.deepEqual([a.snapshot.generation, b.snapshot.generation, c.snapshot.generation], [1, 1, 2]);
    assert.deepEqual(h.leases(), { 1: 2, 2: 1 });
    a.release();
    a.release();
    await tick();
    assert.deepEqual(closed, [], 'b still holds generation 1 (a double release counts once)');
    b.release();
    await tick();
    assert.deepEqual(closed, [1]);
    c.release();
    await tick();
    assert.deepEqual(closed, [1], 'the current snapshot stays open without leases');
    await h.closeAll();
    assert.deepEqual(closed, [1, 2]);
  });

  it('three generations in flight at once each close when their sessions end', async () => {
    const closed: number[] = [];
    const h = new SnapshotHolder(fakeSnapshot(1, closed));
    const l1 = h.acquire();
    h.swap(fakeSnapshot(2, closed));
    const l2 = h.acquire();
    h.swap(fakeSnapshot(3, closed));
    l2.release();
    await tick();
    assert.deepEqual(closed, [2]);
    l1.release();
    await tick();
    assert.deepEqual(closed, [2, 1]);
  });
});

describe('buildSnapshot', () => {
  it('compiles the built-in signatures, describes the scanners, and is frozen', async () => {
    const s = await buildSnapshot(testConfig('/tmp/unused'), 7);
    try {
      assert.equal(s.generation, 7);
      assert.ok(s.signatures.total > 0);
      assert.deepEqual(s.signatures.scanners, ['builtin']);
      assert.ok(Object.isFrozen(s));
    } finally {
      await s.scanner.close();
    }
  });

  it('refuses a builtin scanner with no signatures at all', async () => {
    await assert.rejects(buildSnapshot(testConfig('/tmp/unused', { engine: { builtinSignatures: false } }), 1), /PC_ERR_CONFIG|no usable|builtinSignatures/);
  });

  it('engine.scanWorkers: the builtin scanner runs on that many workers, finds what it finds on the main thread, and still follows downloads', async () => {
    const s = await buildSnapshot(testConfig('/tmp/unused', { engine: { scanWorkers: 2 } }), 1);
    try {
      assert.equal((s.scanner as { workers?: number }).workers, 2);
      const eicar = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');
      const r = await s.scanner.scan({ name: 'e.com', data: eicar });
      assert.deepEqual([r.verdict, r.findings.map((f) => f.name)], ['infected', ['Eicar-Test-Signature']]);
      assert.ok(s.scanner.follow?.('big.bin', 8 * 1024 * 1024) !== undefined);
    } finally {
      await s.scanner.close();
    }
  });

  it('needs no database for a clamd-only setup', async () => {
    const s = await buildSnapshot(testConfig('/tmp/unused', { engine: { builtinSignatures: false }, scanners: [{ clamd: '127.0.0.1:3310' }] }), 1);
    try {
      assert.equal(s.signatures.total, 0);
      assert.deepEqual(s.signatures.scanners, ['clamd 127.0.0.1:3310']);
    } finally {
      await s.scanner.close();
    }
  });
});
