import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arExtractor } from './ar.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { concat, dec, enc, seeded } from '../testing.js';
import type { ExtractContext } from '../types.js';

/** One raw member: header fields exactly as given (the name field is not interpreted), data, and the pad byte when odd. */
function member(nameField: string, data: Uint8Array, opts: { size?: number; pad?: boolean; terminator?: string } = {}): Uint8Array {
  const f = (v: string, w: number): string => v.padEnd(w, ' ').slice(0, w);
  const header = `${f(nameField, 16)}${f('1676086491', 12)}${f('0', 6)}${f('0', 6)}${f('100644', 8)}${f(String(opts.size ?? data.length), 10)}${opts.terminator ?? '`\n'}`;
  const pad = (opts.pad ?? true) && data.length % 2 === 1 ? enc('\n') : new Uint8Array(0);
  return concat(enc(header), data, pad);
}

const archive = (...members: Uint8Array[]): Uint8Array => concat(enc('!<arch>\n'), ...members);

async function run(data: Uint8Array, limits: Partial<Limits> = {}): Promise<{ children: [string, string, boolean][]; reports: string[] }> {
  const reports: string[] = [];
  let remaining = limits.MaxScanSize ?? DEFAULT_LIMITS.MaxScanSize;
  const ctx: ExtractContext = {
    limits: { ...DEFAULT_LIMITS, ...limits },
    remainingScanBytes: () => remaining,
    report: (name, child) => { reports.push(child === undefined ? name : `${name}@${child}`); },
  };
  const children: [string, string, boolean][] = [];
  for await (const c of arExtractor.extract(data, ctx)) {
    remaining -= c.data.length;
    children.push([c.name, dec(c.data), c.truncated === true]);
  }
  return { children, reports };
}

const SYMTAB = new Uint8Array([0, 0, 0, 1, 0, 0, 0, 0x50, 0x6d, 0x61, 0x69, 0x6e, 0]);
const LONG1 = 'a-very-long-object-file-name.o';
const LONG2 = 'another_long_member_name_here.o';

interface Case {
  readonly name: string;
  readonly input: () => Uint8Array;
  readonly children: readonly [string, string, boolean][];
  readonly reports?: readonly string[];
  readonly limits?: Partial<Limits>;
}

const CASES: readonly Case[] = [
  {
    name: 'GNU: symbol table skipped, long names from the // table, short names lose their /',
    input: () => archive(
      member('/', SYMTAB),
      member('//', enc(`${LONG1}/\n${LONG2}/\n`)),
      member('/0', enc('one')),
      member(`/${LONG1.length + 2}`, enc('two!')),
      member('short.o/', enc('three')),
    ),
    children: [[LONG1, 'one', false], [LONG2, 'two!', false], ['short.o', 'three', false]],
  },
  {
    name: 'GNU: 64-bit symbol table skipped; a /N past the table keeps its raw name',
    input: () => archive(member('/SYM64/', SYMTAB), member('//', enc('x.o/\n')), member('/99', enc('data'))),
    children: [['/99', 'data', false]],
  },
  {
    name: 'System V: long-name table entries ended by newline only',
    input: () => archive(member('//', enc(`${LONG1}\n${LONG2}\n`)), member(`/${LONG1.length + 1}`, enc('sysv'))),
    children: [[LONG2, 'sysv', false]],
  },
  {
    name: 'BSD: #1/N names read from the data, __.SYMDEF SORTED skipped, NUL padding dropped',
    input: () => archive(
      member('#1/20', concat(enc('__.SYMDEF SORTED\0\0\0\0'), SYMTAB)),
      member('#1/36', concat(enc(`${LONG1}\0\0\0\0\0\0`), enc('bsd body'))),
      member('plain.o', enc('plain')),
    ),
    children: [[LONG1, 'bsd body', false], ['plain.o', 'plain', false]],
  },
  {
    name: 'odd sizes: the pad byte is skipped, not read as the next header',
    input: () => archive(member('a/', enc('abc')), member('b/', enc('defgh')), member('c/', enc('ij'))),
    children: [['a', 'abc', false], ['b', 'defgh', false], ['c', 'ij', false]],
  },
  {
    name: 'odd last member without its pad byte is complete',
    input: () => archive(member('a/', enc('ab')), member('b/', enc('xyz'), { pad: false })),
    children: [['a', 'ab', false], ['b', 'xyz', false]],
  },
  {
    name: 'deb: members come out as they are, for the gzip/xz/tar extractors',
    input: () => archive(member('debian-binary', enc('2.0\n')), member('control.tar.gz', enc('ctl')), member('data.tar.xz', enc('dat'))),
    children: [['debian-binary', '2.0\n', false], ['control.tar.gz', 'ctl', false], ['data.tar.xz', 'dat', false]],
  },
  {
    name: 'truncated: a member cut short is scanned and the archive broken',
    input: () => archive(member('a/', enc('whole')), member('b/', enc('cut he'), { size: 100 })),
    children: [['a', 'whole', false], ['b', 'cut he', false]],
    reports: ['Heuristics.Broken.Ar@b'],
  },
  {
    name: 'truncated: a header cut short ends the archive as broken',
    input: () => archive(member('a/', enc('ok')), enc('b/              1676')),
    children: [['a', 'ok', false]],
    reports: ['Heuristics.Broken.Ar'],
  },
  {
    name: 'bad header terminator is broken',
    input: () => archive(member('a/', enc('ok')), member('b/', enc('no'), { terminator: 'XX' })),
    children: [['a', 'ok', false]],
    reports: ['Heuristics.Broken.Ar'],
  },
  {
    name: 'non-numeric size is broken',
    input: () => archive(member('a/', enc('ok'), { size: -5 })),
    children: [],
    reports: ['Heuristics.Broken.Ar'],
  },
  {
    name: 'control characters and an empty name are cleaned',
    input: () => archive(member('ev\x01il/', enc('x')), member('/', enc('s')), member('#1/2', enc('\0\0body'))),
    children: [['evil', 'x', false], ['member 3', 'body', false]],
  },
  {
    name: 'MaxFileSize: a big member is cut to the cap and marked truncated',
    input: () => archive(member('big/', enc('0123456789'))),
    limits: { MaxFileSize: 4 },
    children: [['big', '0123', true]],
    reports: ['Heuristics.Limits.Exceeded.MaxFileSize@big'],
  },
  {
    name: 'empty archive has no members and is not broken',
    input: () => archive(),
    children: [],
  },
];

for (const c of CASES) {
  test(`ar: ${c.name}`, async () => {
    const { children, reports } = await run(c.input(), c.limits);
    assert.deepEqual(children, c.children);
    assert.deepEqual(reports, c.reports ?? []);
  });
}

test('ar: random bytes after the magic end as broken or as members inside the input, never a throw or a hang', async () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rnd = seeded(seed);
    const body = new Uint8Array(Math.floor(rnd() * 400));
    for (let i = 0; i < body.length; i++) body[i] = Math.floor(rnd() * 256);
    // Every third input gets a valid first header so the random part lands in later headers and names.
    const data = seed % 3 === 0 ? archive(member('#1/40', body.subarray(0, Math.min(body.length, 40))), body) : archive(body);
    const { children, reports } = await run(data);
    for (const [, text] of children) assert.ok(text.length <= data.length, `seed ${seed}`);
    if (body.length > 0 && seed % 3 !== 0) assert.ok(reports.includes('Heuristics.Broken.Ar') || children.length > 0, `seed ${seed}: silent pass`);
  }
});
