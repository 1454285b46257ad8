import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRetention } from './retention.js';

describe('retention timer', () => {
  it('runs every task at start, logs a failing one and carries on with the rest', async () => {
    const calls: string[] = [];
    const logs: { level: string; msg: string; obj: object }[] = [];
    const timer = startRetention({
      tasks: {
        broken: () => { calls.push('broken'); throw new Error('disk gone'); },
        events: () => { calls.push('events'); return 3; },
        quarantine: async () => { calls.push('quarantine'); return 0; },
      },
      logger: { info: (obj, msg) => logs.push({ level: 'info', msg, obj }), error: (obj, msg) => logs.push({ level: 'error', msg, obj }) },
    });
    try {
      const result = await timer.runNow();
      assert.deepEqual(result, { events: 3, quarantine: 0 });
      assert.ok(calls.filter((c) => c === 'events').length >= 1);
      assert.ok(logs.some((l) => l.level === 'error' && (l.obj as { task?: string }).task === 'broken'));
      assert.ok(logs.some((l) => l.level === 'info' && JSON.stringify(l.obj).includes('"events":3')));
    } finally {
      timer.stop();
    }
  });

  it('never runs two passes at once', async () => {
    let running = 0;
    let most = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => { release = r; });
    const timer = startRetention({
      tasks: { slow: async () => { running++; most = Math.max(most, running); await gate; running--; return 1; } },
    });
    try {
      const a = timer.runNow();
      const b = timer.runNow();
      assert.equal(a, b, 'a second call joins the pass under way');
      release();
      assert.deepEqual(await a, { slow: 1 });
      assert.equal(most, 1);
    } finally {
      timer.stop();
    }
  });

  it('runs again on its interval', async () => {
    let n = 0;
    const timer = startRetention({ tasks: { count: () => ++n }, intervalMs: 1000 });
    try {
      await new Promise((r) => setTimeout(r, 2300));
      assert.ok(n >= 3, `ran ${n} times`);
    } finally {
      timer.stop();
    }
  });
});
