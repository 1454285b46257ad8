import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInWorker } from './sevenzip-pool.js';
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
