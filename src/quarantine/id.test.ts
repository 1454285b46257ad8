import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newQuarantineId, parseQuarantineId } from './id.js';

describe('quarantine ids', () => {
  it('are 12 Crockford symbols in three groups, and differ each time', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = newQuarantineId();
      assert.match(id, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      ids.add(id);
    }
    assert.equal(ids.size, 1000);
  });

  const cases: { name: string; input: string; want: string | undefined }[] = [
    { name: 'canonical', input: '7KQM-2XWD-91TB', want: '7KQM-2XWD-91TB' },
    { name: 'lower case', input: '7kqm-2xwd-91tb', want: '7KQM-2XWD-91TB' },
    { name: 'no dashes', input: '7KQM2XWD91TB', want: '7KQM-2XWD-91TB' },
    { name: 'spaces', input: '7KQM 2XWD 91TB', want: '7KQM-2XWD-91TB' },
    { name: 'O read as 0, I and L as 1', input: 'OILo-0000-0000', want: '0110-0000-0000' },
    { name: 'too short', input: '7KQM-2XWD-91T', want: undefined },
    { name: 'too long', input: '7KQM-2XWD-91TBB', want: undefined },
    { name: 'U is not a symbol', input: 'UUUU-UUUU-UUUU', want: undefined },
    { name: 'path traversal', input: '../../etc/passwd', want: undefined },
    { name: 'dots that would fit the length', input: '../........./', want: undefined },
    { name: 'slash inside', input: '7KQM/2XWD/91TB', want: undefined },
    { name: 'NUL byte', input: '7KQM-2XWD-91T\u0000', want: undefined },
    { name: 'percent-encoded', input: '%2e%2e%2f%2e%2e%2f', want: undefined },
    { name: 'empty', input: '', want: undefined },
    { name: 'very long', input: 'A'.repeat(10_000), want: undefined },
  ];
  for (const c of cases) {
    it(`parses: ${c.name}`, () => assert.equal(parseQuarantineId(c.input), c.want));
  }
});
