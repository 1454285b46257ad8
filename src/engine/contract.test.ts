// The EngineScan contract callers build on: write() keeps no reference to the
// chunk it was given, so a caller may refill the same buffer for the next write.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtinDbFiles, compileDatabase, eicarString } from './index.js';

const db = compileDatabase(builtinDbFiles());
const eicar = Buffer.from(eicarString(), 'latin1');

for (const split of [1, 17, 34, 67]) {
  test(`a match across a reused buffer is found (EICAR split at ${split})`, () => {
    const data = Buffer.concat([Buffer.alloc(100, 0x20), eicar, Buffer.alloc(100, 0x20)]);
    const cut = 100 + split;
    const buf = Buffer.alloc(data.length);
    const scan = db.scan({ size: data.length });
    data.copy(buf, 0, 0, cut);
    scan.write(buf.subarray(0, cut));
    buf.fill(0xff); // the caller reuses its buffer: nothing the scan still needs may live there
    data.copy(buf, 0, cut);
    scan.write(buf.subarray(0, data.length - cut));
    const names = scan.end().map((f) => f.name);
    assert.ok(names.includes('Eicar-Test-Signature'), JSON.stringify(names));
  });
}
