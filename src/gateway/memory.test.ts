// collectGarbage really runs a full collection in a process started without
// --expose-gc (as the portcullis binary is): an unreachable object is gone
// right after it.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { collectGarbage } from './memory.js';

/** A WeakRef to an object nothing else holds (made in its own function so no local keeps it). */
function orphan(bytes: number): WeakRef<object> {
  return new WeakRef({ payload: new Uint8Array(bytes) });
}

describe('collectGarbage', () => {
  const sizes = [{ name: 'a small object', bytes: 16 }, { name: 'an object holding 8 MiB off the heap', bytes: 8 * 1024 * 1024 }];
  for (const s of sizes) {
    it(`frees ${s.name} at once`, async () => {
      const ref = orphan(s.bytes);
      // WeakRef targets live at least until the current job ends.
      await new Promise((r) => setImmediate(r));
      assert.equal(collectGarbage(), true);
      assert.equal(ref.deref(), undefined);
    });
  }

  it('is not exposed as a global by doing so', () => {
    collectGarbage();
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, process.execArgv.includes('--expose-gc') ? 'function' : 'undefined');
  });
});
