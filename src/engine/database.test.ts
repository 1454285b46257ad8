import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isPortcullisError } from '../errors.js';
import { builtinDbFiles, eicarString, testStrings } from './builtin-db.js';
import { compileDatabase } from './database.js';
import { makeCvd } from './testing.js';
import type { CompiledDatabase, DbFile, EngineFinding } from './types.js';

const file = (name: string, text: string): DbFile => ({ name, data: Buffer.from(text, 'latin1') });
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const hex = (s: string): string => bytes(s).toString('hex');
const hashOf = (kind: string, s: string): string => createHash(kind).update(s, 'latin1').digest('hex');
const names = (f: EngineFinding[]): string[] => f.map((x) => x.name);
const EICAR = eicarString();

function scanChunks(db: CompiledDatabase, data: Uint8Array, cuts: number[], target?: number): EngineFinding[] {
  const s = db.scan({ size: data.length, ...(target !== undefined ? { target } : {}) });
  let at = 0;
  for (const cut of [...cuts, data.length]) {
    s.write(data.subarray(at, cut));
    at = cut;
  }
  return s.end();
}

const builtin = compileDatabase(builtinDbFiles());

const builtinCases: { name: string; data: string; want: string[] }[] = [
  { name: 'EICAR file (hash and body give one name)', data: EICAR, want: ['Eicar-Test-Signature'] },
  { name: 'EICAR inside other bytes (body only)', data: `head\n${EICAR}\ntail`, want: ['Eicar-Test-Signature'] },
  { name: 'EICAR missing its last byte', data: EICAR.slice(0, -1), want: [] },
  { name: 'EICAR with one byte changed', data: EICAR.replace('TEST', 'TEXT'), want: [] },
  { name: 'wildcard test string, short middle', data: testStrings.wildcard('x'), want: ['Portcullis.Test.Wildcard'] },
  { name: 'wildcard test string, 17-byte middle', data: testStrings.wildcard('a'.repeat(17)), want: ['Portcullis.Test.Wildcard'] },
  { name: 'wildcard test string, middle too long', data: testStrings.wildcard('a'.repeat(18)), want: [] },
  { name: 'wildcard test string, empty middle', data: testStrings.wildcard(''), want: [] },
  { name: 'logical: both parts', data: `${testStrings.logicalParts()[1]} and ${testStrings.logicalParts()[0]}`, want: ['Portcullis.Test.Logical'] },
  { name: 'logical: one part only', data: testStrings.logicalParts()[0], want: [] },
  { name: 'logical: repeat twice', data: testStrings.logicalParts()[2].repeat(2), want: ['Portcullis.Test.Logical'] },
  { name: 'logical: repeat once', data: testStrings.logicalParts()[2], want: [] },
  { name: 'clean text', data: 'hello world', want: [] },
  { name: 'empty object', data: '', want: [] },
];

for (const c of builtinCases) {
  test(`builtin db: ${c.name}`, () => {
    assert.deepEqual(names(builtin.scanBuffer(bytes(c.data))), c.want);
  });
}

test('builtin db: stats count every built-in signature', () => {
  assert.deepEqual(builtin.stats.loaded, { body: 2, md5: 2, logical: 1 });
  assert.equal(builtin.stats.total, 5);
  assert.deepEqual(builtin.stats.skipped, {});
});

test('builtin db: every byte split of the inputs gives the same findings as the whole', () => {
  for (const c of builtinCases) {
    const data = bytes(c.data);
    const whole = builtin.scanBuffer(data);
    for (let cut = 0; cut <= data.length; cut++) {
      assert.deepEqual(scanChunks(builtin, data, [cut]), whole, `${c.name} split at ${cut}`);
    }
    const ones = Array.from({ length: data.length }, (_, i) => i);
    assert.deepEqual(scanChunks(builtin, data, ones), whole, `${c.name} fed byte by byte`);
  }
});

test('hash signatures: every kind by length, "*" sizes, wrong size misses', () => {
  const db = compileDatabase([
    file('a.hdb', `${hashOf('md5', 'alpha')}:5:T.Md5\n`),
    file('b.hsb', `${hashOf('sha1', 'bravo')}:5:T.Sha1\n${hashOf('sha256', 'charlie')}:*:T.Sha256:73\n`),
  ]);
  assert.deepEqual(db.stats.loaded, { md5: 1, sha1: 1, sha256: 1 });
  assert.deepEqual(names(db.scanBuffer(bytes('alpha'))), ['T.Md5']);
  assert.deepEqual(names(db.scanBuffer(bytes('bravo'))), ['T.Sha1']);
  assert.deepEqual(names(db.scanBuffer(bytes('charlie'))), ['T.Sha256']);
  assert.deepEqual(names(db.scanBuffer(bytes('alphb'))), []);
  const s = db.scan({ size: 5 });
  s.write(bytes('al'));
  s.write(bytes('pha'));
  assert.deepEqual(names(s.end()), ['T.Md5']);
});

const allowCases: { name: string; files: DbFile[]; want: string[] }[] = [
  { name: '.fp md5 clears a body hit', files: [file('x.fp', `${hashOf('md5', EICAR)}:68:Allowed.File\n`)], want: [] },
  { name: '.sfp sha256 clears a body hit', files: [file('x.sfp', `${hashOf('sha256', EICAR)}:68:Allowed.File\n`)], want: [] },
  { name: '.sfp with "*" size', files: [file('x.sfp', `${hashOf('sha1', EICAR)}:*:Allowed.File\n`)], want: [] },
  { name: '.fp with another size does not clear', files: [file('x.fp', `${hashOf('md5', EICAR)}:69:Allowed.File\n`)], want: ['Eicar-Test-Signature'] },
  { name: '.ign2 drops the name', files: [file('x.ign2', 'Eicar-Test-Signature\n')], want: [] },
  { name: '.ign2 with an entry md5 drops the name', files: [file('x.ign2', 'Eicar-Test-Signature:bc356bae4c42f19a3de16e333ba3569c\n')], want: [] },
  { name: 'old .ign db:line:name', files: [file('x.ign', 'daily.ndb:12:Eicar-Test-Signature\n')], want: [] },
  { name: '.ign2 with clamscan\'s .UNOFFICIAL suffix', files: [file('x.ign2', 'Eicar-Test-Signature.UNOFFICIAL\n')], want: [] },
  { name: '.ign2 of another name keeps the hit', files: [file('x.ign2', 'Other.Name\n')], want: ['Eicar-Test-Signature'] },
];

for (const c of allowCases) {
  test(`allow and ignore lists: ${c.name}`, () => {
    const db = compileDatabase([...builtinDbFiles(), ...c.files]);
    assert.deepEqual(names(db.scanBuffer(bytes(EICAR))), c.want);
    assert.deepEqual(names(db.scanBuffer(bytes(testStrings.wildcard()))), ['Portcullis.Test.Wildcard'], 'other signatures still work');
  });
}

test('allow list: an allowed object is clean even when a logical signature matches too', () => {
  const [a, b] = testStrings.logicalParts();
  const data = `${a}${b}${EICAR}`;
  const db = compileDatabase([...builtinDbFiles(), file('x.fp', `${hashOf('md5', data)}:${data.length}:Allowed\n`)]);
  assert.deepEqual(db.scanBuffer(bytes(data)), []);
});

const skippedKinds: { name: string; file: DbFile; reason: string; count: number }[] = [
  { name: 'bytecode', file: file('x.cbc', 'ClamBC...\nmore\n'), reason: 'bytecode', count: 1 },
  { name: 'PE section hashes (.mdb)', file: file('x.mdb', `45056:${hashOf('md5', 'a')}:T.Sect\n1:${hashOf('md5', 'b')}:T.Sect2\n`), reason: 'pe-section-hash', count: 2 },
  { name: 'PE section hashes (.msb)', file: file('x.msb', `*:${hashOf('sha256', 'a')}:T.Sect:73\n`), reason: 'pe-section-hash', count: 1 },
  { name: 'phishing (.pdb)', file: file('x.pdb', 'R:.+\\.example\\.com\n'), reason: 'phishing', count: 1 },
  { name: 'phishing (.wdb)', file: file('x.wdb', 'X:.+:.+\nM:a:b\n'), reason: 'phishing', count: 2 },
  { name: 'file type magic', file: file('x.ftm', '0:0:504b0304:ZIP:CL_TYPE_ANY:CL_TYPE_ZIP\n'), reason: 'file-type-magic', count: 1 },
  { name: 'icons', file: file('x.idb', 'a:b:c\n'), reason: 'icon', count: 1 },
  { name: 'container metadata', file: file('x.cdb', 'a:b:c\n'), reason: 'container-metadata', count: 1 },
  { name: 'certificates', file: file('x.crb', 'a:b:c\n'), reason: 'certificate', count: 1 },
  { name: 'database info', file: file('main.info', 'ClamAV-VDB:...\n'), reason: 'database-info', count: 1 },
  { name: 'dynamic config', file: file('daily.cfg', 'DOCUMENT:0x1:1:99\n'), reason: 'dynamic-config', count: 1 },
  { name: 'yara', file: file('x.yar', 'rule a { condition: true }\n'), reason: 'yara', count: 1 },
  { name: 'licence in a container', file: file('COPYING', 'license text\n'), reason: 'database-info', count: 1 },
  { name: 'no extension', file: file('README', 'text\n'), reason: 'unknown-file', count: 1 },
  { name: 'unknown extension', file: file('notes.txt', 'hello\n'), reason: 'unknown-file-kind-txt', count: 1 },
];

for (const c of skippedKinds) {
  test(`skipped file kind: ${c.name}`, () => {
    const db = compileDatabase([c.file]);
    assert.deepEqual(db.stats.skipped, { [c.reason]: c.count });
    assert.equal(db.stats.skippedExamples[c.reason]?.length, 1);
    assert.ok(db.stats.skippedExamples[c.reason]?.[0]?.startsWith(c.file.name));
    assert.deepEqual(db.stats.files, [{ name: c.file.name, signatures: 0 }]);
    assert.equal(db.stats.total, 0);
  });
}

const ndbCases: { name: string; line: string; data: string; target?: number; want: string[]; skip?: string }[] = [
  { name: 'plain body', line: `T.B:0:*:${hex('needle')}`, data: 'haystack needle hay', want: ['T.B'] },
  { name: 'absolute offset hit', line: `T.B:0:4:${hex('needle')}`, data: 'abcdneedle', want: ['T.B'] },
  { name: 'absolute offset miss', line: `T.B:0:3:${hex('needle')}`, data: 'abcdneedle', want: [] },
  { name: 'EOF-n offset', line: `T.B:0:EOF-6:${hex('needle')}`, data: 'abcdneedle', want: ['T.B'] },
  { name: 'target 7 on an ascii object', line: `T.B:7:*:${hex('needle')}`, data: 'needle', target: 7, want: ['T.B'] },
  { name: 'target 7 on a PE object', line: `T.B:7:*:${hex('needle')}`, data: 'needle', target: 1, want: [] },
  { name: 'target 7 on an unknown type', line: `T.B:7:*:${hex('needle')}`, data: 'needle', target: 0, want: ['T.B'] },
  { name: 'bad hex', line: 'T.B:0:*:41zz', data: 'A', want: [], skip: 'bad-pattern' },
  { name: 'unbalanced alternative', line: 'T.B:0:*:41(42|43', data: 'AB', want: [], skip: 'bad-pattern' },
  { name: 'bad offset', line: 'T.B:0:abc:4142', data: 'AB', want: [], skip: 'bad-pattern' },
  { name: 'entry point offset', line: 'T.B:1:EP+0:4142', data: 'AB', want: [], skip: 'ep-offset' },
];

for (const c of ndbCases) {
  test(`ndb in the database: ${c.name}`, () => {
    const db = compileDatabase([file('t.ndb', `# comment\n${c.line}\n`)]);
    assert.deepEqual(names(db.scanBuffer(bytes(c.data), c.target)), c.want);
    if (c.skip !== undefined) {
      assert.deepEqual(db.stats.skipped, { [c.skip]: 1 });
      assert.deepEqual(db.stats.skippedExamples[c.skip], [`t.ndb:2: ${c.line}`]);
    } else {
      assert.deepEqual(db.stats.loaded, { body: 1 });
    }
  });
}

test('hash lines: skipped examples name the file and line', () => {
  const db = compileDatabase([file('x.hdb', `${hashOf('md5', 'a')}:1:T.A\n\nnot a hash line\n`)]);
  assert.deepEqual(db.stats.skippedExamples['malformed-hash'], ['x.hdb:3: not a hash line']);
});

test('old .db format: Name=Hex', () => {
  const db = compileDatabase([file('x.db', `T.Old=${hex('oldsig')}\nbroken line\n`)]);
  assert.deepEqual(names(db.scanBuffer(bytes('an oldsig here'))), ['T.Old']);
  assert.deepEqual(db.stats.skipped, { 'malformed-db': 1 });
});

const ldbCases: { name: string; line: string; data: string; target?: number; want: boolean }[] = [
  { name: 'and of two', line: `T.L;Target:0;0&1;${hex('one')};${hex('two')}`, data: 'two..one', want: true },
  { name: 'and of two, one missing', line: `T.L;Target:0;0&1;${hex('one')};${hex('two')}`, data: 'one', want: false },
  { name: 'count =2 holds', line: `T.L;Target:0;0=2;${hex('ab')}`, data: 'ab ab', want: true },
  { name: 'count =2 with three', line: `T.L;Target:0;0=2;${hex('ab')}`, data: 'ab ab ab', want: false },
  { name: 'count >3 with many', line: `T.L;Target:0;0>3;${hex('ab')}`, data: 'ab'.repeat(50), want: true },
  { name: 'negation', line: `T.L;Target:0;0&1=0;${hex('one')};${hex('two')}`, data: 'one', want: true },
  { name: 'negation fails', line: `T.L;Target:0;0&1=0;${hex('one')};${hex('two')}`, data: 'one two', want: false },
  { name: 'distinct count', line: `T.L;Target:0;(0|1|2)>2,2;${hex('a1')};${hex('b2')};${hex('c3')}`, data: 'a1 a1 b2', want: true },
  { name: 'distinct count, one kind only', line: `T.L;Target:0;(0|1|2)>2,2;${hex('a1')};${hex('b2')};${hex('c3')}`, data: 'a1 a1 a1 a1', want: false },
  { name: 'file size in range', line: `T.L;Target:0,FileSize:3-5;0;${hex('one')}`, data: 'one', want: true },
  { name: 'file size out of range', line: `T.L;Target:0,FileSize:3-5;0;${hex('one')}`, data: 'one two', want: false },
  { name: 'target matches', line: `T.L;Target:7;0;${hex('one')}`, data: 'one', target: 7, want: true },
  { name: 'target differs', line: `T.L;Target:7;0;${hex('one')}`, data: 'one', target: 1, want: false },
  { name: 'subsig offset', line: `T.L;Target:0;0&1;0:${hex('one')};EOF-3:${hex('two')}`, data: 'one..two', want: true },
  { name: 'subsig offset miss', line: `T.L;Target:0;0&1;1:${hex('one')};EOF-3:${hex('two')}`, data: 'one..two', want: false },
  { name: 'nocase modifier', line: `T.L;Engine:81-255,Target:0;0;${hex('hello')}::i`, data: 'HeLLo', want: true },
  { name: 'wide modifier', line: `T.L;Engine:81-255,Target:0;0;${hex('hi')}::w`, data: 'h\0i\0', want: true },
  { name: 'wide modifier misses ascii', line: `T.L;Engine:81-255,Target:0;0;${hex('hi')}::w`, data: 'hi', want: false },
  { name: 'wide+ascii matches ascii', line: `T.L;Engine:81-255,Target:0;0;${hex('hi')}::wa`, data: 'hi', want: true },
  { name: 'fullword modifier hit', line: `T.L;Engine:81-255,Target:0;0;${hex('cat')}::f`, data: 'a cat.', want: true },
  { name: 'fullword modifier miss', line: `T.L;Engine:81-255,Target:0;0;${hex('cat')}::f`, data: 'concatenate', want: false },
  { name: 'pcre after trigger', line: `T.L;Engine:81-255,Target:0;0&1;${hex('eval')};0/eval\\s*\\(\\s*unescape/i`, data: 'x=eval ( UNESCAPE("%41")', want: true },
  { name: 'pcre trigger not met', line: `T.L;Engine:81-255,Target:0;1;${hex('eval')};0/unescape/`, data: 'unescape', want: false },
  { name: 'pcre regex fails', line: `T.L;Engine:81-255,Target:0;0&1;${hex('eval')};0/eval\\(\\d+\\)/`, data: 'eval(x)', want: false },
  { name: 'byte compare at the last trigger', line: `T.L;Engine:101-255,Target:0;0&1;${hex('MARK')};0(>>4#ib1#=65)`, data: 'MARKB MARKA', want: true },
  { name: 'byte compare not at an earlier trigger', line: `T.L;Engine:101-255,Target:0;0&1;${hex('MARK')};0(>>4#ib1#=66)`, data: 'MARKB MARKA', want: false },
  { name: 'byte compare decimal text', line: `T.L;Engine:101-255,Target:0;0&1;${hex('len=')};0(>>4#dbe3#>100)`, data: 'len=512;', want: true },
  { name: 'byte compare many triggers past the count cap', line: `T.L;Engine:101-255,Target:0;0&1;${hex('MK')};0(>>2#ib1#=90)`, data: `${'MKA'.repeat(20)}MKZ`, want: true },
  { name: 'pcre count with g', line: `T.L;Engine:81-255,Target:0;0&1>2;${hex('<')};0/<[a-z]+>/g`, data: '<a><b><c>', want: true },
];

for (const c of ldbCases) {
  test(`ldb in the database: ${c.name}`, () => {
    const db = compileDatabase([file('t.ldb', `${c.line}\n`)]);
    assert.deepEqual(db.stats.skipped, {});
    const data = bytes(c.data);
    const want = c.want ? ['T.L'] : [];
    assert.deepEqual(names(db.scanBuffer(data, c.target)), want);
    for (let cut = 0; cut <= data.length; cut++) {
      assert.deepEqual(names(scanChunks(db, data, [cut], c.target)), want, `split at ${cut}`);
    }
  });
}

test('ldb in the database: a bad subsig pattern skips the whole signature with its line', () => {
  const line = 'T.L;Target:0;0&1;4142;41(42';
  const db = compileDatabase([file('t.ldb', `${line}\n`)]);
  assert.deepEqual(db.stats.skipped, { 'bad-pattern': 1 });
  assert.deepEqual(db.stats.skippedExamples['bad-pattern'], [`t.ldb:1: ${line}`]);
  assert.equal(db.stats.total, 0);
});

test('bad patterns among good ones: the good still detect, counts and per-file rows are exact', () => {
  const db = compileDatabase([
    file('a.ndb', `T.Good1:0:*:${hex('first')}\nT.Bad1:0:*:41(42\nT.Good2:0:*:${hex('second')}\nT.Bad2:0:*:4g\n`),
    file('b.ldb', `T.BadL;Target:0;0&1=0;${hex('first')};41{2\nT.GoodL;Target:0;0&1;${hex('first')};${hex('second')}\n`),
  ]);
  assert.deepEqual(db.stats.loaded, { body: 2, logical: 1 });
  assert.equal(db.stats.total, 3);
  assert.deepEqual(db.stats.skipped, { 'bad-pattern': 3 });
  assert.deepEqual(db.stats.files, [{ name: 'a.ndb', signatures: 2 }, { name: 'b.ldb', signatures: 1 }]);
  assert.deepEqual(db.stats.skippedExamples['bad-pattern']?.map((e) => e.split(': ')[0]), ['a.ndb:2', 'a.ndb:4', 'b.ldb:1']);
  assert.deepEqual(names(db.scanBuffer(bytes('first and second'))), ['T.Good1', 'T.Good2', 'T.GoodL']);
  assert.deepEqual(names(db.scanBuffer(bytes('first only'))), ['T.Good1'], 'the dropped "0&1=0" signature must not fire');
});

test('skipped examples: at most three per reason, counts keep going', () => {
  const lines = Array.from({ length: 10 }, (_, i) => `T.E${i}:1:EP+${i}:4142`).join('\n');
  const db = compileDatabase([file('t.ndb', lines)]);
  assert.equal(db.stats.skipped['ep-offset'], 10);
  assert.equal(db.stats.skippedExamples['ep-offset']?.length, 3);
});

test('cvd: files inside load, build time recorded, per-file counts listed', () => {
  const cvd = makeCvd({
    files: [
      { name: 'main.ndb', data: `T.Cvd.Body:0:*:${hex('cvd-body')}\n` },
      { name: 'main.hdb', data: `${hashOf('md5', 'cvd-hash')}:8:T.Cvd.Hash\n` },
      { name: 'main.info', data: 'ClamAV-VDB:info\n' },
    ],
  });
  const db = compileDatabase([{ name: 'main.cvd', data: cvd }]);
  assert.equal(db.stats.newestBuildTime, 1699533208000);
  assert.deepEqual(db.stats.loaded, { body: 1, md5: 1 });
  assert.deepEqual(db.stats.skipped, { 'database-info': 1 });
  assert.deepEqual(db.stats.files, [
    { name: 'main.cvd/main.ndb', signatures: 1 },
    { name: 'main.cvd/main.hdb', signatures: 1 },
    { name: 'main.cvd/main.info', signatures: 0 },
  ]);
  assert.deepEqual(names(db.scanBuffer(bytes('a cvd-body b'))), ['T.Cvd.Body']);
  assert.deepEqual(names(db.scanBuffer(bytes('cvd-hash'))), ['T.Cvd.Hash']);
});

test('cvd: newest build time over several containers', () => {
  const older = makeCvd({ files: [], stime: '1600000000' });
  const newer = makeCvd({ files: [], stime: '1700000000' });
  const db = compileDatabase([{ name: 'main.cvd', data: newer }, { name: 'daily.cvd', data: older }]);
  assert.equal(db.stats.newestBuildTime, 1700000000000);
});

test('cvd: an MD5 mismatch is a build error naming the file', () => {
  const bad = makeCvd({ files: [{ name: 'main.ndb', data: 'T:0:*:4142\n' }], md5: 'f'.repeat(32) });
  assert.throws(() => compileDatabase([...builtinDbFiles(), { name: 'main.cvd', data: bad }]),
    (e: unknown) => isPortcullisError(e, 'PC_ERR_DB_BUILD') && /main\.cvd/.test(e.message));
});

test('scanning never throws: random bytes, writes after end, size that lies', () => {
  let seed = 7;
  const rand = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed >>> 24; };
  for (let n = 0; n < 50; n++) {
    const data = Uint8Array.from({ length: rand() * 8 }, rand);
    builtin.scanBuffer(data);
    const s = builtin.scan({ size: 3 });
    s.write(data);
    s.end();
    s.write(data);
    assert.deepEqual(s.end(), []);
  }
  const s = builtin.scan({ size: 5 });
  s.write(bytes(EICAR));
  assert.deepEqual(names(s.end()), ['Eicar-Test-Signature'], 'a body hit does not depend on the size given');
});

test('a hash DB of 1,000,000 generated lines loads with exact counts', () => {
  // Lines written straight into one buffer (as a 61 MB file would arrive), not built as strings.
  const n = 1_000_000;
  const digits = Buffer.from('0123456789abcdef', 'latin1');
  const lineBytes = 32 + 1 + 6 + 1 + 15 + 1;
  const data = Buffer.alloc(n * lineBytes + 64);
  let x = 0x12345678;
  let p = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 4; k++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      for (let j = 28; j >= 0; j -= 4) data[p++] = digits[(x >>> j) & 15] as number;
    }
    p += data.write(`:${100_000 + (i % 100_000)}:Gen.Hdb-${String(i).padStart(7, '0')}\n`, p, 'latin1');
  }
  p += data.write(`${hashOf('md5', 'needle')}:6:Gen.Needle\n`, p, 'latin1');
  const db = compileDatabase([{ name: 'gen.hdb', data: data.subarray(0, p) }]);
  assert.equal(db.stats.loaded['md5'], n + 1);
  assert.equal(db.stats.total, n + 1);
  assert.deepEqual(db.stats.skipped, {});
  assert.deepEqual(db.stats.files, [{ name: 'gen.hdb', signatures: n + 1 }]);
  assert.deepEqual(names(db.scanBuffer(bytes('needle'))), ['Gen.Needle']);
  assert.deepEqual(names(db.scanBuffer(bytes('needlf'))), []);
});

/** Seeded mutations of valid lines: every content line must end up loaded or skipped, and nothing may throw. */
test('property: mutated signature lines are each loaded or skipped, never thrown', () => {
  let seed = 99;
  const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const seeds: Record<string, string[]> = {
    hdb: [`${hashOf('md5', 'a')}:1:T.A`, `${hashOf('sha256', 'b')}:*:T.B:73`, `${hashOf('sha1', 'c')}:1:T.C:20:255`],
    ndb: [`T.N:0:*:${hex('needle')}`, 'T.N:0:EOF-3,2:41??42{1-4}43(44|45)*46', 'T.N:7:10:4142[1-2]43'],
    ldb: [`T.L;Engine:81-255,Target:0;(0|1)>1,2;${hex('one')}::i;10:${hex('two')}`, `T.L;Target:0;0&1;${hex('x')};0/a[bc]+d/gi`],
  };
  const alphabet = ':;()|&=<>,*?{}-[]!/\\#$0123456789abcdefABCDEFxyz \t\r\x00\xff';
  const loadedKinds: Record<string, string[]> = { hdb: ['md5', 'sha1', 'sha256'], ndb: ['body'], ldb: ['logical'] };
  for (let round = 0; round < 400; round++) {
    const ext = (['hdb', 'ndb', 'ldb'] as const)[round % 3] as 'hdb' | 'ndb' | 'ldb';
    const lines = Array.from({ length: 5 }, () => {
      const pool = seeds[ext] as string[];
      let line = pool[rand(pool.length)] as string;
      for (let m = rand(4); m >= 0; m--) {
        const at = rand(line.length + 1);
        const op = rand(3);
        const ch = alphabet[rand(alphabet.length)] as string;
        line = op === 0 ? line.slice(0, at) + ch + line.slice(at)
          : op === 1 ? line.slice(0, at) + line.slice(at + 1)
            : line.slice(0, at);
      }
      return line;
    });
    const text = lines.join('\n');
    const contentLines = text.split('\n').map((l) => l.replace(/^[ \t\r]+|[ \t\r]+$/g, '')).filter((l) => l !== '' && !l.startsWith('#'));
    let db: CompiledDatabase | undefined;
    assert.doesNotThrow(() => { db = compileDatabase([file(`f.${ext}`, text)]); }, text);
    const stats = (db as CompiledDatabase).stats;
    const loaded = (loadedKinds[ext] as string[]).reduce((sum, k) => sum + (stats.loaded[k] ?? 0), 0);
    const skipped = Object.values(stats.skipped).reduce((a, b) => a + b, 0);
    assert.equal(loaded + skipped, contentLines.length, text);
    (db as CompiledDatabase).scanBuffer(bytes(`needle one two ${text}`));
  }
});

test('property: damaged containers load or fail with PC_ERR_DB_BUILD, nothing else', () => {
  let seed = 5;
  const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const good = makeCvd({ files: [{ name: 'a.ndb', data: `T.N:0:*:${hex('needle')}\n` }, { name: 'b.hdb', data: `${hashOf('md5', 'x')}:1:T.H\n` }], gzip: false, md5: 'X' });
  for (let round = 0; round < 300; round++) {
    const data = Buffer.from(good.subarray(0, rand(4) === 0 ? rand(good.length) : good.length));
    for (let m = rand(6); m >= 0; m--) if (data.length > 0) data[rand(data.length)] = rand(256);
    for (const name of ['x.cld', 'x.cvd']) {
      try {
        compileDatabase([{ name, data }]);
      } catch (e) {
        assert.ok(isPortcullisError(e, 'PC_ERR_DB_BUILD'), String(e));
      }
    }
  }
});

// Plain `Name:T:*:Hex` lines are parsed straight from the bytes; every other
// line form goes through parseNdbLine. Both must give the same signatures.
const ndbLineForms: { name: string; line: string; found: string[]; skipped?: string }[] = [
  { name: 'plain', line: `T.Plain:0:*:${hex('needle')}`, found: ['T.Plain'] },
  { name: 'plain with blanks and CR', line: ` \tT.Plain:0:*:${hex('needle')} \r`, found: ['T.Plain'] },
  { name: 'plain, Latin-1 name', line: `T.Caf\xe9:0:*:${hex('needle')}`, found: ['T.Caf\xe9'] },
  { name: 'plain, target 7 on unknown type', line: `T.Ascii:7:*:${hex('needle')}`, found: ['T.Ascii'] },
  { name: 'flevel fields', line: `T.Fl:0:*:${hex('needle')}:51:`, found: ['T.Fl'] },
  { name: 'absolute offset', line: `T.Abs:0:4:${hex('needle')}`, found: ['T.Abs'] },
  { name: 'absolute offset elsewhere', line: `T.Abs:0:5:${hex('needle')}`, found: [] },
  { name: 'target not a number', line: `T.Bad:x:*:${hex('needle')}`, found: [], skipped: 'malformed-ndb' },
  { name: 'target of four digits', line: `T.Bad:1000:*:${hex('needle')}`, found: [], skipped: 'malformed-ndb' },
  { name: 'empty name', line: `:0:*:${hex('needle')}`, found: [], skipped: 'malformed-ndb' },
  { name: 'empty hex', line: 'T.Bad:0:*:', found: [], skipped: 'malformed-ndb' },
  { name: 'three fields', line: `T.Bad:0:${hex('needle')}`, found: [], skipped: 'malformed-ndb' },
  { name: 'plain, bad pattern', line: 'T.Bad:0:*:41(42', found: [], skipped: 'bad-pattern' },
  { name: 'name longer than 65535 bytes', line: `T.${'n'.repeat(70000)}:0:*:${hex('needle')}`, found: [], skipped: 'malformed-ndb' },
];

for (const c of ndbLineForms) {
  test(`ndb line form: ${c.name}`, () => {
    const db = compileDatabase([file('f.ndb', `# comment\n\n${c.line}\n`)]);
    assert.deepEqual(names(db.scanBuffer(bytes('xxxxneedlexx'))), c.found);
    assert.deepEqual(Object.keys(db.stats.skipped), c.skipped === undefined ? [] : [c.skipped]);
    // Examples are cut at 160 characters of the line.
    const example = (text: string): string => text.slice(0, 120);
    if (c.skipped !== undefined) assert.deepEqual(db.stats.skippedExamples[c.skipped]?.map(example), [example(`f.ndb:3: ${c.line.trim()}`)]);
  });
}

test('compileDatabase takes files lazily: each data read once, in order, from any iterable', () => {
  const reads: string[] = [];
  const lazy = (name: string, text: string): DbFile => ({ name, get data() { reads.push(name); return bytes(text); } });
  function* files(): Generator<DbFile> {
    yield lazy('a.ndb', `T.A:0:*:${hex('alpha')}\n`);
    yield lazy('b.hdb', `${hashOf('md5', 'beta')}:4:T.B\n`);
  }
  const db = compileDatabase(files());
  assert.deepEqual(reads, ['a.ndb', 'b.hdb']);
  assert.deepEqual(names(db.scanBuffer(bytes('alpha'))), ['T.A']);
  assert.deepEqual(names(db.scanBuffer(bytes('beta'))), ['T.B']);
});
