import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RECYCLE, runInWorker, sevenZipPoolStats, setRecyclePolicy, type RecyclePolicy } from './sevenzip-pool.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { SAMPLE_7Z, SAMPLE_TEXT, dec } from '../testing.js';
import type { ExtractContext } from '../types.js';

function context(maxScanTime: number, reports: string[]): ExtractContext {
  return {
    limits: { ...DEFAULT_LIMITS, MaxScanTime: maxScanTime },
    remainingScanBytes: () => DEFAULT_LIMITS.MaxScanSize,
    report: (name, child) => { reports.push(child === undefined ? name : `${name}@${child}`); },
    containerName: 'p.7z',
  };
}

test('7-Zip pool: a job past MaxScanTime ends the worker and is a finding; the next job gets a fresh worker', async () => {
  const late: string[] = [];
  assert.deepEqual(await runInWorker(SAMPLE_7Z, context(1, late), { label: '7z' }), []);
  assert.deepEqual(late, ['Heuristics.Limits.Exceeded.MaxScanTime']);

  const ok: string[] = [];
  const children = await runInWorker(SAMPLE_7Z, context(60_000, ok), { label: '7z' });
  assert.deepEqual(children.map((c) => [c.name, dec(c.data)]), [['payload.txt', SAMPLE_TEXT]]);
  assert.deepEqual(ok, []);
});

test('7-Zip pool: jobs started together all complete, in order', async () => {
  const runs = Array.from({ length: 4 }, () => runInWorker(SAMPLE_7Z, context(60_000, []), { label: '7z' }));
  const results = await Promise.all(runs);
  assert.deepEqual(results.map((r) => r.length), [1, 1, 1, 1]);
});

/** Runs `jobs` SAMPLE_7Z jobs under `policy`; returns how many workers were started and recycled meanwhile. */
async function underPolicy(policy: RecyclePolicy, jobs: number, together = false): Promise<{ started: number; recycled: number; members: number[] }> {
  const previous = setRecyclePolicy(policy);
  const before = sevenZipPoolStats();
  try {
    const run = (): Promise<number> => runInWorker(SAMPLE_7Z, context(60_000, []), { label: '7z' }).then((c) => c.length);
    const members = together
      ? await Promise.all(Array.from({ length: jobs }, run))
      : await Array.from({ length: jobs }).reduce<Promise<number[]>>(async (acc) => [...await acc, await run()], Promise.resolve([]));
    const after = sevenZipPoolStats();
    return { started: after.started - before.started, recycled: after.recycled - before.recycled, members };
  } finally {
    setRecyclePolicy(previous);
  }
}

const RECYCLE_CASES: readonly { name: string; policy: RecyclePolicy; together?: boolean; started: number; recycled: number }[] = [
  // The warm-up job below leaves a live worker, so "keeps" starts none.
  { name: 'small jobs under both thresholds keep the one worker', policy: DEFAULT_RECYCLE, started: 0, recycled: 0 },
  { name: 'a job moving more bytes than jobBytes ends the worker; the next starts a fresh one', policy: { jobBytes: 10, heldBytes: Infinity }, started: 2, recycled: 3 },
  { name: 'a worker holding more than heldBytes after a job is ended', policy: { jobBytes: Infinity, heldBytes: 1 }, started: 2, recycled: 3 },
  { name: 'queued jobs all complete while workers are recycled under them', policy: { jobBytes: 10, heldBytes: Infinity }, together: true, started: 2, recycled: 3 },
];

for (const c of RECYCLE_CASES) {
  test(`7-Zip pool recycling: ${c.name}`, async () => {
    await underPolicy(DEFAULT_RECYCLE, 1);
    const got = await underPolicy(c.policy, 3, c.together);
    assert.deepEqual(got, { started: c.started, recycled: c.recycled, members: [1, 1, 1] });
  });
}
