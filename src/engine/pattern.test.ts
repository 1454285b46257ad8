import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePattern, PatternSyntaxError, testByte, type PatternNode } from './pattern.js';

/** A compact spelling of a node list, so cases read as one line each. */
function show(nodes: PatternNode[]): string {
  return nodes.map((n) => {
    switch (n.k) {
      case 'byte': return n.mask === 0xff ? n.value.toString(16).padStart(2, '0') : `${n.value.toString(16)}/${n.mask.toString(16)}`;
      case 'set': return `set${n.set.reduce((s, x) => s + x, 0)}`;
      case 'gap': return `{${n.lo}-${n.hi === Infinity ? '' : n.hi}}`;
      case 'alt': return `${n.negated ? '!' : ''}alt${n.alts.length}:${n.minLen}-${n.maxLen}`;
      case 'boundary': return 'B';
      case 'line': return 'L';
    }
  }).join(' ');
}

const good: { name: string; text: string; want: string; nocase?: boolean; wide?: boolean }[] = [
  { name: 'plain hex', text: '4142ff', want: '41 42 ff' },
  { name: 'upper-case hex', text: 'DEADbeef', want: 'de ad be ef' },
  { name: 'any byte', text: '41??42', want: '41 0/0 42' },
  { name: 'high nibble', text: '41a?42', want: '41 a0/f0 42' },
  { name: 'low nibble', text: '41?a42', want: '41 a/f 42' },
  { name: 'star', text: '41*42', want: '41 {0-} 42' },
  { name: 'exact gap', text: '41{3}42', want: '41 {3-3} 42' },
  { name: 'at most', text: '41{-3}42', want: '41 {0-3} 42' },
  { name: 'at least', text: '41{3-}42', want: '41 {3-} 42' },
  { name: 'range', text: '41{2-5}42', want: '41 {2-5} 42' },
  { name: 'adjacent gaps merge', text: '41{2}*42', want: '41 {2-} 42' },
  { name: 'single-byte alternatives become a set', text: '41(42|43)44', want: '41 set2 44' },
  { name: 'single-byte alternative with a nibble', text: '41(4?|61)44', want: '41 set17 44' },
  { name: 'multi-byte alternatives', text: '41(4243|4445)46', want: '41 alt2:2-2 46' },
  { name: 'variable-length alternatives', text: '41(42|434445)46', want: '41 alt2:1-3 46' },
  { name: 'negated single bytes', text: '41!(42|43)44', want: '41 set254 44' },
  { name: 'negated multi-byte', text: '41!(4243|4445)46', want: '41 !alt2:2-2 46' },
  { name: 'word boundary', text: '(B)4142', want: 'B 41 42' },
  { name: 'line boundary', text: '4142(L)', want: '41 42 L' },
  { name: 'non-alphanumeric', text: '41(W)42', want: '41 set194 42' },
  { name: 'jump', text: '4142[1-3]43', want: '41 42 {1-3} 43' },
  { name: 'jump on the other side', text: '41[0-32]4243', want: '41 {0-32} 42 43' },
  { name: 'nocase folds letters only', text: '41613f', want: '41/df 41/df 3f', nocase: true },
  { name: 'wide interleaves zero bytes', text: '41{2}42', want: '41 00 {4-4} 42 00', wide: true },
  { name: 'wide alternatives double', text: '41(4243|44)', want: '41 00 alt2:2-4', wide: true },
];

for (const c of good) {
  test(`parse: ${c.name}`, () => {
    assert.equal(show(parsePattern(c.text, { nocase: c.nocase ?? false, wide: c.wide ?? false })), c.want);
  });
}

const bad: { name: string; text: string; reason: RegExp }[] = [
  { name: 'empty', text: '', reason: /empty pattern/ },
  { name: 'odd digit count', text: '414', reason: /odd number/ },
  { name: 'not hex', text: '41g2', reason: /unexpected character/ },
  { name: 'space', text: '41 42', reason: /unexpected character/ },
  { name: 'leading gap', text: '{2}4142', reason: /begins or ends with a gap/ },
  { name: 'trailing star', text: '4142*', reason: /begins or ends with a gap|no bytes after/ },
  { name: 'reversed range', text: '41{5-2}42', reason: /lower bound above/ },
  { name: 'range without numbers', text: '41{-}42', reason: /without numbers/ },
  { name: 'unclosed brace', text: '41{2', reason: /expected '}'/ },
  { name: 'unbalanced parenthesis', text: '41(42|43', reason: /unbalanced/ },
  { name: 'single choice', text: '41(42)43', reason: /at least two choices/ },
  { name: 'empty choice', text: '41(42|)43', reason: /empty alternative/ },
  { name: 'gap inside alternative', text: '41(42*|43)44', reason: /only bytes/ },
  { name: 'negated variable length', text: '41!(42|4344)45', reason: /same length/ },
  { name: 'bang without group', text: '41!42', reason: /not followed by/ },
  { name: 'jump too long', text: '4142[1-33]43', reason: /jump longer/ },
  { name: 'jump beside a wildcard', text: '41??[1-2]4243', reason: /between static bytes/ },
  { name: 'jump with one byte each side', text: '41[1-2]42', reason: /two static bytes/ },
  { name: 'open jump', text: '4142[1-]43', reason: /both bounds/ },
  { name: 'only a class', text: '(B)', reason: /matches no bytes/ },
  { name: 'nothing between stars', text: '41*(B)*42', reason: /between unbounded gaps/ },
  { name: 'huge number', text: '41{9999999999}42', reason: /too large/ },
];

for (const c of bad) {
  test(`parse error: ${c.name}`, () => {
    assert.throws(() => parsePattern(c.text), (e: unknown) => {
      assert.ok(e instanceof PatternSyntaxError, 'a PatternSyntaxError');
      assert.equal(e.code, 'PC_ERR_DB_BUILD');
      assert.match(e.reason, c.reason);
      return true;
    });
  });
}

test('nocase nibble wildcard widens to both cases', () => {
  const [n] = parsePattern('4?', { nocase: true });
  assert.ok(n && (n.k === 'set' || n.k === 'byte'));
  for (const b of [0x41, 0x4f, 0x61, 0x6f, 0x40]) assert.equal(testByte(n, b), true, `byte ${b.toString(16)}`);
  assert.equal(testByte(n, 0x70), false);
});

test('random text never throws anything but PatternSyntaxError', () => {
  let seed = 7;
  const alphabet = '0123456789abcdefABCDEF?*{}-[]()|!BLW,x';
  for (let i = 0; i < 5000; i++) {
    let s = '';
    const len = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 24;
    for (let j = 0; j < len; j++) s += alphabet[(seed = (seed * 1103515245 + 12345) & 0x7fffffff) % alphabet.length];
    try {
      parsePattern(s);
    } catch (e) {
      assert.ok(e instanceof PatternSyntaxError, `pattern ${JSON.stringify(s)} threw ${String(e)}`);
    }
  }
});
