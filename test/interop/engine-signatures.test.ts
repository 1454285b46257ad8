// The signature engine and Debian's clamscan must read the same database
// lines the same way: for each case both load the same files and scan the
// same bytes, and must report the same names (clamscan with --allmatch, its
// ".UNOFFICIAL" suffix stripped). Cases aim at what the documentation leaves
// open: operator grouping, counts, PCRE offsets and flags, modifiers,
// allow-lists and ignore lists. Objects are at least a dozen bytes because
// clamscan passes over tiny files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { builtinDbFiles, compileDatabase, eicarString, testStrings } from '../../src/engine/index.js';
import type { DbFile } from '../../src/engine/index.js';

const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
const md5 = (s: string): string => createHash('md5').update(s, 'latin1').digest('hex');
const sha256 = (s: string): string => createHash('sha256').update(s, 'latin1').digest('hex');
const pad = (s: string): string => `xxxx ${s} xxxx`;

interface Case { readonly name: string; readonly files: Record<string, string>; readonly data: string }

const ldb = (expr: string, subsigs: string[], block = 'Engine:81-255,Target:0'): Record<string, string> =>
  ({ 't.ldb': `T.L;${block};${expr};${subsigs.join(';')}\n` });
const S4 = ['aa1', 'bb2', 'cc3', 'dd4'].map(hex);

const cases: Case[] = [
  { name: 'grouping 0&1|2 with 2', files: ldb('0&1|2', S4.slice(0, 3)), data: pad('cc3') },
  { name: 'grouping 0|1&2 with 0', files: ldb('0|1&2', S4.slice(0, 3)), data: pad('aa1') },
  { name: 'grouping 0&1|2&3 with 2,3', files: ldb('0&1|2&3', S4), data: pad('cc3 dd4') },
  { name: 'grouping 0&1|2&3 with 0,1', files: ldb('0&1|2&3', S4), data: pad('aa1 bb2') },
  { name: 'grouping 0|1&2|3 with 3', files: ldb('0|1&2|3', S4), data: pad('dd4') },
  { name: 'grouping 0|1&2|3 with 1,3', files: ldb('0|1&2|3', S4), data: pad('bb2 dd4') },
  { name: 'count =2 exact', files: ldb('0=2', [hex('ab')]), data: pad('ab ab') },
  { name: 'count =2 with three', files: ldb('0=2', [hex('ab')]), data: pad('ab ab ab') },
  { name: 'count >100 with 150', files: ldb('0>100', [hex('ab')]), data: pad('ab'.repeat(150)) },
  { name: 'negation holds', files: ldb('0&1=0', [hex('one'), hex('two')]), data: pad('one') },
  { name: 'negation fails', files: ldb('0&1=0', [hex('one'), hex('two')]), data: pad('one two') },
  { name: 'negation alone, nothing matched', files: ldb('1=0', [hex('ab'), hex('cd')]), data: pad('zz') },
  { name: 'block >2,2 distinct', files: ldb('(0|1|2)>2,2', S4.slice(0, 3)), data: pad('aa1 aa1 bb2') },
  { name: 'block >2,2 one kind', files: ldb('(0|1|2)>2,2', S4.slice(0, 3)), data: pad('aa1 aa1 aa1 aa1') },
  { name: 'block =2,2 one kind twice', files: ldb('(0|1|2|3)=2,2', S4), data: pad('aa1 aa1') },
  { name: 'block <4,2 holds', files: ldb('(0|1)<4,2', S4.slice(0, 2)), data: pad('aa1 bb2 bb2') },
  { name: 'single =2,5 ignores Y', files: ldb('0=2,5', [hex('ab')]), data: pad('ab ab') },
  { name: 'and-block count', files: ldb('(0&1)>2', [hex('ab'), hex('cd')]), data: pad('ab cd ab') },
  { name: 'nested comparison', files: ldb('((0|1)>1)&2', [hex('ab'), hex('cd'), hex('ef')]), data: pad('ab cd ef') },
  { name: 'file size in range', files: ldb('0', [hex('one')], 'Engine:51-255,Target:0,FileSize:10-20'), data: pad('one') },
  { name: 'file size out of range', files: ldb('0', [hex('one')], 'Engine:51-255,Target:0,FileSize:10-12'), data: pad('one') },
  { name: 'subsig absolute offset', files: ldb('0', [`5:${hex('one')}`]), data: pad('one') },
  { name: 'subsig wrong offset', files: ldb('0', [`4:${hex('one')}`]), data: pad('one') },
  { name: 'subsig EOF offset', files: ldb('0', [`EOF-8:${hex('one')}`]), data: pad('one') },
  { name: 'nocase', files: ldb('0', [`${hex('hello')}::i`]), data: pad('HeLLo') },
  { name: 'fullword miss', files: ldb('0', [`${hex('cat')}::f`]), data: pad('concatenate') },
  { name: 'fullword hit', files: ldb('0', [`${hex('cat')}::f`]), data: pad('a cat.') },
  { name: 'wide', files: ldb('0', [`${hex('hi')}::w`]), data: pad('h\0i\0') },
  { name: 'wide misses ascii', files: ldb('0', [`${hex('hi')}::w`]), data: pad('hi') },
  { name: 'wide+ascii', files: ldb('0', [`${hex('hi')}::wa`]), data: pad('hi') },
  { name: 'pcre after trigger, caseless', files: ldb('0&1', [hex('eval'), '0/eval\\s*\\(\\s*unescape/i']), data: pad('x=eval ( UNESCAPE("%41")') },
  { name: 'pcre exact offset hit', files: ldb('0&1', [hex('xxxx'), '5:0/ab/']), data: pad('ab') },
  { name: 'pcre exact offset miss', files: ldb('0&1', [hex('xxxx'), '4:0/ab/']), data: pad('ab') },
  { name: 'pcre rolling', files: ldb('0&1', [hex('xxxx'), '4:0/ab/r']), data: pad('ab') },
  { name: 'pcre maxshift hit', files: ldb('0&1', [hex('xxxx'), '2,3:0/ab/']), data: pad('ab') },
  { name: 'pcre maxshift miss', files: ldb('0&1', [hex('xxxx'), '2,2:0/ab/']), data: pad('ab') },
  { name: 'pcre encompass miss', files: ldb('0&1', [hex('xxxx'), '2,4:0/ab/e']), data: pad('ab') },
  { name: 'pcre encompass hit', files: ldb('0&1', [hex('xxxx'), '2,5:0/ab/e']), data: pad('ab') },
  { name: 'pcre dot matches CR', files: ldb('0&1', [hex('xxxx'), '0/a.b/']), data: pad('a\rb') },
  { name: 'pcre $ before final newline', files: ldb('0&1', [hex('xxxx'), '0/end$/']), data: 'xxxx the end\n' },
  { name: 'byte compare binary at last trigger', files: ldb('0&1', [hex('MARK'), '0(>>4#ib1#=65)'], 'Engine:101-255,Target:0'), data: pad('MARKB MARKA') },
  { name: 'byte compare binary not at first trigger', files: ldb('0&1', [hex('MARK'), '0(>>4#ib1#=66)'], 'Engine:101-255,Target:0'), data: pad('MARKB MARKA') },
  { name: 'byte compare counts in the expression', files: ldb('0&1&2', [hex('MARK'), '0(>>4#ib1#=65)', hex('zzzz')], 'Engine:101-255,Target:0'), data: pad('MARKA') },
  { name: 'byte compare decimal partial', files: ldb('0&1', [hex('MARK'), '0(>>4#db3#=12)'], 'Engine:101-255,Target:0'), data: pad('MARK12x') },
  { name: 'byte compare decimal exact', files: ldb('0&1', [hex('MARK'), '0(>>4#dbe3#=12)'], 'Engine:101-255,Target:0'), data: pad('MARK12x') },
  { name: 'byte compare hex little-endian', files: ldb('0&1', [hex('MARK'), '0(>>4#hl4#=0x2b1a)'], 'Engine:101-255,Target:0'), data: pad('MARK1a2b') },
  { name: 'byte compare auto hex', files: ldb('0&1', [hex('MARK'), '0(>>4#ab6#=0x1a2b)'], 'Engine:101-255,Target:0'), data: pad('MARK0x1a2b') },
  { name: 'byte compare backwards', files: ldb('0&1', [hex('MARK'), '0(<<2#ib1#=120)'], 'Engine:101-255,Target:0'), data: pad('MARKAB') },
  { name: 'byte compare signed 8 bytes', files: ldb('0&1', [hex('MARK'), '0(>>4#ib8#>1)'], 'Engine:101-255,Target:0'), data: pad('MARK\xff\xff\xff\xff\xff\xff\xff\xff') },
  { name: 'ndb floating offset hit', files: { 't.ndb': `T.N:0:3,4:${hex('needle')}\n` }, data: pad('needle') },
  { name: 'ndb floating offset miss', files: { 't.ndb': `T.N:0:1,2:${hex('needle')}\n` }, data: pad('needle') },
  { name: 'ndb EOF offset', files: { 't.ndb': `T.N:0:EOF-11:${hex('needle')}\n` }, data: pad('needle') },
  { name: 'ndb alternatives and gaps', files: { 't.ndb': `T.N:0:*:${hex('ne')}(65|45){1-3}${hex('le')}\n` }, data: pad('neEdle') },
  { name: 'hdb md5', files: { 't.hdb': `${md5(pad('hashed'))}:${pad('hashed').length}:T.H\n` }, data: pad('hashed') },
  { name: 'hsb sha256 any size', files: { 't.hsb': `${sha256(pad('hashed'))}:*:T.H:73\n` }, data: pad('hashed') },
  { name: 'fp clears a body hit', files: { 't.ndb': `T.N:0:*:${hex('needle')}\n`, 't.fp': `${md5(pad('needle'))}:${pad('needle').length}:Ok\n` }, data: pad('needle') },
  { name: 'ign2 drops a name', files: { 't.ndb': `T.N:0:*:${hex('needle')}\nT.M:0:*:${hex('xxxx')}\n`, 't.ign2': 'T.N\n' }, data: pad('needle') },
];

function clamscan(dir: string, files: Record<string, string>, data: string): string[] {
  const db = join(dir, 'db');
  rmSync(db, { recursive: true, force: true });
  mkdirSync(db);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(db, name), text, 'latin1');
  const target = join(dir, 'object.bin');
  writeFileSync(target, data, 'latin1');
  const r = spawnSync('clamscan', ['--no-summary', '--allmatch', '-d', db, target], { encoding: 'latin1' });
  assert.ok(r.status === 0 || r.status === 1, `clamscan failed (${r.status}): ${r.stderr}`);
  // --allmatch may report one signature more than once (once per match).
  return [...new Set(r.stdout.split('\n').flatMap((line) => {
    const m = / (\S+) FOUND$/.exec(line);
    return m === null ? [] : [(m[1] as string).replace(/\.UNOFFICIAL$/, '')];
  }))].sort();
}

function ours(files: DbFile[], data: string): string[] {
  return compileDatabase(files).scanBuffer(Buffer.from(data, 'latin1')).map((f) => f.name).sort();
}

describe('engine and clamscan read signatures alike', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pc-engine-sigs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const c of cases) {
    it(c.name, () => {
      const files = Object.entries(c.files).map(([name, text]) => ({ name, data: Buffer.from(text, 'latin1') }));
      assert.deepEqual(ours(files, c.data), clamscan(dir, c.files, c.data));
    });
  }

  it('a .cud built by sigtool loads, passes the MD5 check and detects', () => {
    const src = join(dir, 'cud');
    mkdirSync(src);
    writeFileSync(join(src, 'test.ndb'), `T.Cud.Body:0:*:${hex('needle-in-cud')}\n`);
    writeFileSync(join(src, 'test.hdb'), `${md5(pad('hashed'))}:${pad('hashed').length}:T.Cud.Hash\n`);
    writeFileSync(join(src, 'COPYING'), 'test database\n');
    const r = spawnSync('sigtool', ['--build=test.cud', '--unsigned', '--cvd-version=7', '--max-bad-sigs=0', `--datadir=${src}`],
      { cwd: src, input: 'tester\n', encoding: 'latin1' });
    assert.equal(r.status, 0, r.stderr);
    const data = readFileSync(join(src, 'test.cud'));
    const db = compileDatabase([{ name: 'test.cud', data }]);
    assert.deepEqual(db.stats.loaded, { body: 1, md5: 1 });
    assert.ok((db.stats.newestBuildTime ?? 0) > Date.UTC(2020, 0, 1));
    assert.deepEqual(db.scanBuffer(Buffer.from(pad('needle-in-cud'))).map((f) => f.name), ['T.Cud.Body']);
    assert.deepEqual(db.scanBuffer(Buffer.from(pad('hashed'))).map((f) => f.name), ['T.Cud.Hash']);
    const damaged = Buffer.from(data);
    damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0xff;
    assert.throws(() => compileDatabase([{ name: 'test.cud', data: damaged }]), /does not match|corrupt/);
  });

  it('built-in database: Debian\'s clamav-testfiles clam.exe is Clamav.Test.File-6', () => {
    const exe = readFileSync('/usr/share/clamav-testfiles/clam.exe');
    assert.deepEqual(compileDatabase(builtinDbFiles()).scanBuffer(exe).map((f) => f.name), ['Clamav.Test.File-6']);
  });

  const builtinText = Object.fromEntries(builtinDbFiles().map((f) => [f.name, Buffer.from(f.data).toString('latin1')]));
  const [one, two, repeat] = testStrings.logicalParts();
  const builtinCases: [string, string][] = [
    ['EICAR', eicarString()],
    ['EICAR inside text', pad(eicarString())],
    ['wildcard test string', pad(testStrings.wildcard('12345'))],
    ['logical test, both parts', pad(`${one} ${two}`)],
    ['logical test, repeated part', pad(`${repeat}${repeat}`)],
    ['logical test, one part', pad(one)],
  ];
  for (const [name, data] of builtinCases) {
    it(`built-in database: ${name}`, () => {
      assert.deepEqual(ours(builtinDbFiles(), data), clamscan(dir, builtinText, data));
    });
  }
});
