/**
 * The streaming decoders on golden inputs built in code, each run on the
 * whole input, split in two at every byte boundary and fed one byte at a
 * time (the result must never change), then on truncated, corrupted and
 * random inputs (seeded), where they must return and never throw.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { Base64Decoder, decodeCleanBase64 } from './base64.js';
import { BinHexFinder } from './binhex.js';
import { LineSplitter } from './lines.js';
import { QuotedPrintableDecoder } from './qp.js';
import { binhexEncode, corrupt, ascii, randomBytes, rng, splits, tnefBuild, uuencode, yencode, concatBytes } from './testkit.js';
import { TnefDecoder } from './tnef.js';
import { collectBlocks, decodeAll, type BlockSink, type StreamDecoder } from './types.js';
import { UudecodeFinder } from './uuencode.js';
import { YencFinder } from './yenc.js';

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
const payload = (seed: number, n: number): Uint8Array => randomBytes(rng(seed), n);
/** Bytes with long runs and 0x90s, to exercise BinHex's RLE. */
const runs = concatBytes([ascii('MZ'), new Uint8Array(300), Uint8Array.from([0x90, 0x90, 0x90, 1, 0x90]), new Uint8Array(40).fill(0x41), payload(7, 100)]);

interface StreamCase {
  readonly name: string;
  readonly make: (onData: (b: Uint8Array) => void) => StreamDecoder;
  readonly input: Uint8Array;
  readonly want: Uint8Array;
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const wrap = (s: string, n = 76): string => (s.match(new RegExp(`.{1,${n}}`, 'g')) ?? []).join('\r\n');

const STREAM_CASES: readonly StreamCase[] = [
  { name: 'base64 wrapped at 76', make: (d) => new Base64Decoder(d), input: ascii(wrap(b64(payload(1, 300)))), want: payload(1, 300) },
  { name: 'base64 with junk between symbols', make: (d) => new Base64Decoder(d), input: ascii(wrap(b64(payload(2, 100)), 10).replace(/\r\n/g, ' !*\r\n\t')), want: payload(2, 100) },
  { name: 'base64 concatenated after padding', make: (d) => new Base64Decoder(d), input: ascii(`${b64(ascii('ab'))}\n${b64(ascii('cde'))}`), want: ascii('abcde') },
  { name: 'base64 cut-off quantum', make: (d) => new Base64Decoder(d), input: ascii('TWFuTWE'), want: ascii('ManMa') },
  { name: 'base64 url-safe alphabet', make: (d) => new Base64Decoder(d, { urlSafe: true }), input: ascii('-_-_'), want: Uint8Array.from([0xfb, 0xff, 0xbf]) },
  { name: 'qp escapes and soft breaks', make: (d) => new QuotedPrintableDecoder(d), input: ascii('a=3Db=\r\nc=3d=\nd=  \r\ne'), want: ascii('a=bc=de') },
  { name: 'qp invalid escapes kept', make: (d) => new QuotedPrintableDecoder(d), input: ascii('x=ZZy=4 z=\tq='), want: ascii('x=ZZy=4 z=\tq=') },
  { name: 'qp binary bytes', make: (d) => new QuotedPrintableDecoder(d), input: ascii('=4D=5A=90=00=FF'), want: Uint8Array.from([0x4d, 0x5a, 0x90, 0x00, 0xff]) },
];

describe('stream decoders give the same bytes however the input is cut', () => {
  for (const c of STREAM_CASES) {
    test(c.name, () => {
      for (const s of splits(c.input)) {
        const got = decodeAll(c.make, s.chunks, 1 << 20).data;
        assert.deepEqual(Buffer.from(got).toString('hex'), Buffer.from(c.want).toString('hex'), s.label);
      }
    });
  }
});

test('native decoding of clean base64 gives what the streaming decoder gives', () => {
  // Clean: symbols, white space (line breaks, spaces and tabs at line ends, blank lines), padding only at the end.
  const next = rng(2024);
  const space = [' ', '\t', '\r\n', '\n', '\r\n\r\n', ' \r\n\t'];
  for (let round = 0; round < 400; round++) {
    const data = payload(round + 1, Math.floor(next() * 300));
    let text = b64(data);
    if (next() < 0.3) text = text.replace(/=+$/, '');
    if (next() < 0.2) text = text.slice(0, Math.max(0, text.length - 1 - Math.floor(next() * 3)));
    const width = 4 + Math.floor(next() * 80);
    const lines = text.match(new RegExp(`.{1,${width}}`, 'g')) ?? [];
    const input = ascii(lines.map((l) => `${next() < 0.1 ? ' ' : ''}${l}`).join(space[Math.floor(next() * space.length)] as string) + (next() < 0.5 ? '\r\n' : ''));
    const want = decodeAll((d) => new Base64Decoder(d), input, 1 << 20).data;
    assert.equal(Buffer.from(decodeCleanBase64(input)).toString('hex'), Buffer.from(want).toString('hex'), `round ${round}: ${JSON.stringify(Buffer.from(input).toString('latin1'))}`);
  }
});

test('native decoding is not for padding inside: there it differs (so callers must check)', () => {
  const glued = ascii(`${b64(ascii('ab'))}\r\n${b64(ascii('cde'))}`);
  assert.equal(Buffer.from(decodeAll((d) => new Base64Decoder(d), glued, 1 << 20).data).toString('latin1'), 'abcde');
  assert.notEqual(Buffer.from(decodeCleanBase64(glued)).toString('latin1'), 'abcde');
});

interface BlockCase {
  readonly name: string;
  readonly make: (sink: BlockSink) => StreamDecoder;
  readonly input: Uint8Array;
  readonly want: readonly { name: string; md5: string; complete: boolean; problems: readonly string[] }[];
}

const block = (name: string, data: Uint8Array, complete = true, problems: readonly string[] = []): BlockCase['want'][number] => ({ name, md5: md5(data), complete, problems });
const uu = (s: BlockSink): StreamDecoder => new UudecodeFinder(s);
const ye = (s: BlockSink): StreamDecoder => new YencFinder(s);
const bh = (s: BlockSink): StreamDecoder => new BinHexFinder(s);
const tn = (s: BlockSink): StreamDecoder => new TnefDecoder(s);
const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);

const BLOCK_CASES: readonly BlockCase[] = [
  { name: 'uuencode in a text', make: uu, input: ascii(`Hello,\nsee below.\n\n${uuencode(payload(3, 200), 'a.exe')}bye\n`), want: [block('a.exe', payload(3, 200))] },
  { name: 'uuencode with trailing spaces stripped and CRLF', make: uu, input: ascii(uuencode(new Uint8Array(90), 'zeros.bin').replace(/`/g, ' ').replace(/ +\n/g, '\n').replace(/\n/g, '\r\n').replace('begin 644 zeros.bin\r\n\r\n', 'begin 644 zeros.bin\r\n')), want: [block('zeros.bin', new Uint8Array(90))] },
  { name: 'uuencode without end line', make: uu, input: ascii(uuencode(payload(4, 50), 'cut.bin').replace(/end\n$/, '')), want: [block('cut.bin', payload(4, 50), false, ['truncated'])] },
  { name: 'uuencode with junk lines inside', make: uu, input: ascii(uuencode(payload(5, 100), 'j.bin').replace(/\n(?=[^\n]*\n`)/, '\n-- junk line --\n')), want: [block('j.bin', payload(5, 100))] },
  { name: 'uuencode begin-base64 form and two blocks', make: uu, input: ascii(`begin-base64 600 b.bin\n${wrap(b64(payload(6, 80)), 60).replace(/\r/g, '')}\n====\n${uuencode(ascii('second'), 'c.txt')}`), want: [block('b.bin', payload(6, 80)), block('c.txt', ascii('second'))] },
  { name: 'yEnc with all byte values and a good CRC', make: ye, input: ascii(`text before\n${yencode(allBytes, 'all bytes.bin')}after\n`), want: [block('all bytes.bin', allBytes)] },
  { name: 'yEnc with a wrong CRC', make: ye, input: ascii(yencode(payload(8, 64), 'bad.bin', 20, 0x12345678)), want: [block('bad.bin', payload(8, 64), true, ['crc'])] },
  { name: 'yEnc without =yend', make: ye, input: ascii(yencode(payload(9, 64), 'open.bin').replace(/=yend[^\n]*\n$/, '')), want: [block('open.bin', payload(9, 64), false, ['truncated'])] },
  { name: 'BinHex with RLE and a resource fork', make: bh, input: ascii(`From: x\n\n${binhexEncode(runs, 'runs.exe', ascii('RSRC'))}`), want: [block('runs.exe', runs), block('runs.exe (resource fork)', ascii('RSRC'))] },
  { name: 'TNEF with two attachments, one titled after its data', make: tn, input: tnefBuild([{ name: 'one.exe', data: payload(10, 100) }, { name: 'two.doc', data: payload(11, 33), titleAfter: true }]), want: [block('one.exe', payload(10, 100)), block('two.doc', payload(11, 33))] },
  { name: 'TNEF cut short inside the data', make: tn, input: tnefBuild([{ name: 'cut.exe', data: payload(12, 100) }]).subarray(0, 80), want: [] },
];

describe('block finders give the same blocks however the input is cut', () => {
  for (const c of BLOCK_CASES) {
    test(c.name, () => {
      const whole = collectBlocks(c.make, c.input, 1 << 20).map((b) => ({ name: b.name, md5: md5(b.data), complete: b.complete, problems: b.problems }));
      if (c.want.length > 0) assert.deepEqual(whole, c.want);
      else assert.ok(whole.length <= 1, 'a damaged block gives at most one block');
      for (const s of splits(c.input)) {
        const got = collectBlocks(c.make, s.chunks, 1 << 20).map((b) => ({ name: b.name, md5: md5(b.data), complete: b.complete, problems: b.problems }));
        assert.deepEqual(got, whole, s.label);
      }
    });
  }
});

test('BinHex damage is reported as a problem, not hidden', () => {
  const good = binhexEncode(ascii('hello world, hello world'), 'h.txt');
  const colon = good.indexOf(':');
  // Symbol 45 lies in the data fork (the header of "h.txt" takes 27 bytes = 36 symbols).
  const at = colon + 1 + 45;
  const bad = good.slice(0, at) + (good[at] === 'A' ? 'B' : 'A') + good.slice(at + 1);
  const blocks = collectBlocks(bh, ascii(bad), 1 << 20);
  assert.equal(blocks[0]?.name, 'h.txt');
  assert.deepEqual(blocks[0]?.problems, ['crc']);
});

test('TNEF cut inside the data hands on what came, marked incomplete', () => {
  const full = tnefBuild([{ name: 'cut.exe', data: payload(12, 100) }]);
  const blocks = collectBlocks(tn, full.subarray(0, full.length - 30), 1 << 20);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0]?.complete, false);
  assert.deepEqual(blocks[0]?.problems, ['truncated']);
});

test('a byte cap keeps at most that many bytes and says so', () => {
  const blocks = collectBlocks(uu, ascii(uuencode(payload(13, 500), 'big.bin')), 100);
  assert.equal(blocks[0]?.data.length, 100);
  assert.equal(blocks[0]?.capped, true);
});

test('the line splitter bounds an endless line and keeps the pieces in order', () => {
  for (const s of splits(ascii(`${'x'.repeat(40)}\r\nshort\r\n\nend`))) {
    const got: string[] = [];
    const ls = new LineSplitter((l, piece) => got.push(`${piece}:${l.length}`), 16);
    for (const c of s.chunks) ls.write(c);
    ls.end();
    assert.equal(got.join(' '), 'first:16 more:16 last:8 whole:5 whole:0 whole:3', s.label);
  }
});

describe('damaged and random input never throws and always returns', () => {
  const makers: readonly [string, (s: BlockSink) => StreamDecoder][] = [['uuencode', uu], ['yEnc', ye], ['BinHex', bh], ['TNEF', tn]];
  const golden = BLOCK_CASES.map((c) => c.input);
  for (const [name, make] of makers) {
    test(name, { timeout: 30_000 }, () => {
      const next = rng(0xc0ffee);
      for (const g of golden) {
        for (let cut = 0; cut < g.length; cut += 13) collectBlocks(make, g.subarray(0, cut), 1 << 16);
        for (let i = 0; i < 30; i++) collectBlocks(make, corrupt(next, g, 1 + Math.floor(next() * 8)), 1 << 16);
      }
      for (let i = 0; i < 200; i++) collectBlocks(make, randomBytes(next, Math.floor(next() * 2000)), 1 << 16);
      // Random bytes behind each encoding's start marker reach the decoding states.
      for (const head of ['begin 644 r\n', '=ybegin size=9 name=r\n', '(This file must be converted with BinHex 4.0)\n:']) {
        for (let i = 0; i < 100; i++) collectBlocks(make, concatBytes([ascii(head), randomBytes(next, Math.floor(next() * 600))]), 1 << 16);
      }
      for (let i = 0; i < 100; i++) collectBlocks(make, concatBytes([tnefBuild([]), randomBytes(next, Math.floor(next() * 600))]), 1 << 16);
    });
  }
  for (const [name, make] of [['base64', (d: (b: Uint8Array) => void) => new Base64Decoder(d)], ['qp', (d: (b: Uint8Array) => void) => new QuotedPrintableDecoder(d)]] as const) {
    test(name, () => {
      const next = rng(42);
      for (let i = 0; i < 300; i++) decodeAll(make, randomBytes(next, Math.floor(next() * 3000)), 1 << 16);
    });
  }
});
