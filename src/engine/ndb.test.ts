import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNdbLine } from './ndb.js';

const cases: { name: string; line: string; want?: { name: string; target: number; offset: string; hex: string }; skip?: string }[] = [
  { name: 'any offset', line: 'T.A:0:*:414243', want: { name: 'T.A', target: 0, offset: '*', hex: '414243' } },
  { name: 'absolute offset', line: 'T.A:0:10:414243', want: { name: 'T.A', target: 0, offset: '10', hex: '414243' } },
  { name: 'EOF-n offset', line: 'T.A:7:EOF-20:414243', want: { name: 'T.A', target: 7, offset: 'EOF-20', hex: '414243' } },
  { name: 'floating offset', line: 'T.A:0:10,50:41??43', want: { name: 'T.A', target: 0, offset: '10,50', hex: '41??43' } },
  { name: 'min flevel within ours', line: 'T.A:0:*:414243:20', want: { name: 'T.A', target: 0, offset: '*', hex: '414243' } },
  { name: 'flevel range with empty max', line: 'T.A:0:*:414243:20:', want: { name: 'T.A', target: 0, offset: '*', hex: '414243' } },
  { name: 'entry point offset', line: 'T.A:1:EP+0:414243', skip: 'ep-offset' },
  { name: 'entry point minus', line: 'T.A:1:EP-10,20:414243', skip: 'ep-offset' },
  { name: 'section offset', line: 'T.A:1:S2+78:414243', skip: 'ep-offset' },
  { name: 'whole section', line: 'T.A:1:SE1:414243', skip: 'ep-offset' },
  { name: 'last section', line: 'T.A:1:SL+550:414243', skip: 'ep-offset' },
  { name: 'version info', line: 'T.A:1:VI:414243', skip: 'ep-offset' },
  { name: 'macro member', line: 'T.A:0:$12:414243', skip: 'macro' },
  { name: 'needs a newer engine', line: 'T.A:0:*:414243:9999', skip: 'flevel' },
  { name: 'only for old engines', line: 'T.A:0:*:414243:1:50', skip: 'flevel' },
  { name: 'three fields', line: 'T.A:0:414243', skip: 'malformed-ndb' },
  { name: 'seven fields', line: 'T.A:0:*:41:1:2:3', skip: 'malformed-ndb' },
  { name: 'empty name', line: ':0:*:414243', skip: 'malformed-ndb' },
  { name: 'target not a number', line: 'T.A:x:*:414243', skip: 'malformed-ndb' },
  { name: 'empty hex', line: 'T.A:0:*:', skip: 'malformed-ndb' },
  { name: 'flevel not a number', line: 'T.A:0:*:414243:x', skip: 'malformed-ndb' },
];

for (const c of cases) {
  test(`ndb line: ${c.name}`, () => {
    const r = parseNdbLine(c.line);
    if (c.skip !== undefined) {
      assert.equal(r.ok, false);
      if (!r.ok) assert.equal(r.reason, c.skip);
    } else {
      assert.deepEqual(r, { ok: true, sig: c.want });
    }
  });
}
