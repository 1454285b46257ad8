import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatOffset, offsetAllows, offsetWindow, parseOffset, type OffsetSpec } from './offset.js';
import { PatternSyntaxError } from './pattern.js';

const parses: { name: string; text: string; want: OffsetSpec }[] = [
  { name: 'any', text: '*', want: { kind: 'any' } },
  { name: 'absolute', text: '12', want: { kind: 'absolute', offset: 12, shift: 0 } },
  { name: 'absolute zero', text: '0', want: { kind: 'absolute', offset: 0, shift: 0 } },
  { name: 'floating absolute', text: '12,30', want: { kind: 'absolute', offset: 12, shift: 30 } },
  { name: 'from the end', text: 'EOF-5', want: { kind: 'eof', back: 5, shift: 0 } },
  { name: 'floating from the end', text: 'EOF-50,20', want: { kind: 'eof', back: 50, shift: 20 } },
  { name: 'entry point plus', text: 'EP+10', want: { kind: 'unsupported', reason: 'executable-offset', text: 'EP+10' } },
  { name: 'entry point minus, floating', text: 'EP-10,5', want: { kind: 'unsupported', reason: 'executable-offset', text: 'EP-10,5' } },
  { name: 'section start', text: 'S2+4', want: { kind: 'unsupported', reason: 'executable-offset', text: 'S2+4' } },
  { name: 'whole section', text: 'SE1', want: { kind: 'unsupported', reason: 'executable-offset', text: 'SE1' } },
  { name: 'last section', text: 'SL+0', want: { kind: 'unsupported', reason: 'executable-offset', text: 'SL+0' } },
  { name: 'version info', text: 'VI', want: { kind: 'unsupported', reason: 'special-offset', text: 'VI' } },
];

for (const c of parses) {
  test(`offset parse: ${c.name}`, () => {
    const got = parseOffset(c.text);
    assert.deepEqual(got, c.want);
    if (got.kind !== 'unsupported') assert.equal(formatOffset(got), c.text);
  });
}

for (const text of ['', 'x', '-1', '12,', ',5', '1.5', 'EOF-', 'EOF+5', 'EOF-x', '12,x', '*,5', '99999999999999999']) {
  test(`offset parse error: ${JSON.stringify(text)}`, () => {
    assert.throws(() => parseOffset(text), PatternSyntaxError);
  });
}

const windows: { name: string; text: string; size: number; allowed: number[]; denied: number[] }[] = [
  { name: 'any allows everything', text: '*', size: 100, allowed: [0, 50, 99], denied: [] },
  { name: 'absolute is exact', text: '10', size: 100, allowed: [10], denied: [9, 11] },
  { name: 'shift widens to the right', text: '10,5', size: 100, allowed: [10, 12, 15], denied: [9, 16] },
  { name: 'eof counts back from the size', text: 'EOF-4', size: 100, allowed: [96], denied: [95, 97] },
  { name: 'eof with shift', text: 'EOF-10,3', size: 100, allowed: [90, 93], denied: [89, 94] },
  { name: 'eof beyond the start never matches', text: 'EOF-200', size: 100, allowed: [], denied: [0, 1] },
  { name: 'unsupported never matches', text: 'EP+0', size: 100, allowed: [], denied: [0, 10] },
];

for (const c of windows) {
  test(`offset window: ${c.name}`, () => {
    const spec = parseOffset(c.text);
    for (const s of c.allowed) assert.equal(offsetAllows(spec, s, c.size), true, `start ${s}`);
    for (const s of c.denied) assert.equal(offsetAllows(spec, s, c.size), false, `start ${s}`);
    if (c.allowed.length === 0) assert.equal(offsetWindow(spec, c.size), null);
  });
}
