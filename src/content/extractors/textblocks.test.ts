/**
 * hasTextBlock, the cheap "is there a uuencode / yEnc / BinHex marker?"
 * asked of every text and binary the walker meets: named cases, then a
 * comparison with a naive reading of the same rules (a regex over the whole
 * text) on seeded random texts with markers, near-markers and noise.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ascii, concatBytes, randomBytes, rng } from '../decoders/testkit.js';
import { hasTextBlock, TEXT_BLOCK_KINDS, type TextBlockKind } from './textblocks.js';

const CASES: readonly { readonly name: string; readonly kind: TextBlockKind; readonly text: string; readonly want: boolean }[] = [
  { name: 'uuencode at the very start', kind: 'uuencode', text: 'begin 644 a.exe\nM...', want: true },
  { name: 'uuencode after a line break', kind: 'uuencode', text: 'hello\r\nbegin 755 a.exe\r\n', want: true },
  { name: 'uuencode begin-base64', kind: 'uuencode', text: 'x\nbegin-base64 644 a\n', want: true },
  { name: 'uuencode in the middle of a line', kind: 'uuencode', text: 'we begin 644 now ', want: false },
  { name: 'uuencode without a mode', kind: 'uuencode', text: 'begin here\n', want: false },
  { name: 'yEnc at a line start', kind: 'yenc', text: 'x\n=ybegin line=128 size=3 name=a\n', want: true },
  { name: 'yEnc with no space after the keyword', kind: 'yenc', text: '=ybeginline=128\n', want: false },
  { name: 'yEnc in the middle of a line', kind: 'yenc', text: 'see =ybegin line=1\n', want: false },
  { name: 'BinHex header', kind: 'binhex', text: '(This file must be converted with BinHex 4.0)\r\n:', want: true },
  { name: 'BinHex header in capitals', kind: 'binhex', text: '(THIS FILE MUST BE CONVERTED WITH BINHEX 4.0)', want: true },
  { name: 'BinHex header without its first letter, at the start', kind: 'binhex', text: 'onverted with BinHex 4.0)', want: true },
  { name: 'BinHex header in mixed case (not a case-stable form)', kind: 'binhex', text: 'must be Converted With BinHex', want: false },
  { name: 'an ordinary "with"', kind: 'binhex', text: 'converted with care, not binhex', want: false },
];

describe('text block markers', () => {
  for (const c of CASES) {
    test(c.name, () => {
      assert.equal(hasTextBlock(c.kind, ascii(c.text)), c.want);
    });
  }
});

/** The rules read naively: a regex over the whole text. */
function naive(kind: TextBlockKind, data: Uint8Array): boolean {
  const t = Buffer.from(data).toString('latin1');
  if (kind === 'uuencode') return /(^|\n)begin(-base64)?[ \t]+[0-7]{1,4}[ \t]/.test(t);
  if (kind === 'yenc') return /(^|\n)=ybegin /.test(t);
  for (const m of t.matchAll(/onverted with |ONVERTED WITH /g)) {
    if (/^converted with binhex/i.test(`c${t.slice(m.index, m.index + 64)}`)) return true;
  }
  return false;
}

test('hasTextBlock agrees with the naive reading on seeded random texts', () => {
  const next = rng(77);
  const pieces = ['begin 644 a\n', 'begin', 'begin-base64 7 x ', '=ybegin ', '=ybegin', ' with ', 'onverted with binhex', 'ONVERTED WITH BINHEX', 'Converted With BinHex',
    '\n', '\r\n', ' ', 'word ', 'with', 'onverted with ', '0123'];
  let seen = 0;
  for (let round = 0; round < 3000; round++) {
    const parts: Uint8Array[] = [];
    for (let k = Math.floor(next() * 8); k >= 0; k--) {
      parts.push(next() < 0.7 ? ascii(pieces[Math.floor(next() * pieces.length)] as string) : randomBytes(next, Math.floor(next() * 20)));
    }
    const data = concatBytes(parts);
    for (const kind of TEXT_BLOCK_KINDS) {
      const want = naive(kind, data);
      if (want) seen++;
      assert.equal(hasTextBlock(kind, data), want, `${kind} in ${JSON.stringify(Buffer.from(data).toString('latin1'))}`);
    }
  }
  assert.ok(seen > 300, `enough texts hold a marker (${seen})`);
});
