import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, parseExpression, parseLdbLine, runByteCompare, runPcre, translatePcre, type PcreSubsig } from './ldb.js';

const exprCases: { name: string; expr: string; counts: number[]; want: boolean }[] = [
  { name: 'single subsig matched', expr: '0', counts: [1], want: true },
  { name: 'single subsig not matched', expr: '0', counts: [0], want: false },
  { name: 'and: both', expr: '0&1', counts: [1, 2], want: true },
  { name: 'and: one missing', expr: '0&1', counts: [1, 0], want: false },
  { name: 'or: one', expr: '0|1', counts: [0, 1], want: true },
  { name: 'or: none', expr: '0|1', counts: [0, 0], want: false },
  { name: 'parentheses', expr: '(0|1)&2', counts: [0, 1, 1], want: true },
  { name: 'parentheses, right side missing', expr: '(0|1)&2', counts: [1, 1, 0], want: false },
  // Grouping to the right without parentheses: each case checked against clamscan 1.4.6.
  { name: 'no precedence: 0&1|2 is 0&(1|2)', expr: '0&1|2', counts: [0, 0, 1], want: false },
  { name: 'no precedence: 0|1&2 is 0|(1&2)', expr: '0|1&2', counts: [1, 0, 0], want: true },
  { name: 'no precedence: 0&1|2&3 with 2,3', expr: '0&1|2&3', counts: [0, 0, 1, 1], want: false },
  { name: 'no precedence: 0&1|2&3 with 0,1', expr: '0&1|2&3', counts: [1, 1, 0, 0], want: true },
  { name: 'no precedence: 0&1|2&3 with 0,2', expr: '0&1|2&3', counts: [1, 0, 1, 0], want: false },
  { name: 'no precedence: 0|1&2|3 with 3', expr: '0|1&2|3', counts: [0, 0, 0, 1], want: false },
  { name: 'no precedence: 0|1&2|3 with 1,3', expr: '0|1&2|3', counts: [0, 1, 0, 1], want: true },
  { name: 'nothing matched, negation alone', expr: '1=0', counts: [0, 0], want: true },
  { name: 'and-block count sums', expr: '(0&1)>2', counts: [2, 1], want: true },
  { name: 'and-block count too small', expr: '(0&1)>2', counts: [1, 1], want: false },
  { name: 'nested groups', expr: '((0|1)&(2|3))&4', counts: [0, 1, 1, 0, 1], want: true },
  { name: '=X exact count holds', expr: '0=2', counts: [2], want: true },
  { name: '=X exact count too many', expr: '0=2', counts: [3], want: false },
  { name: '=0 negation holds', expr: '0&1=0', counts: [1, 0], want: true },
  { name: '=0 negation fails', expr: '0&1=0', counts: [1, 1], want: false },
  { name: '>X more than', expr: '0>2', counts: [3], want: true },
  { name: '>X not more than', expr: '0>2', counts: [2], want: false },
  { name: '<X fewer than', expr: '0&1<3', counts: [1, 2], want: true },
  { name: '<X not fewer than', expr: '0&1<3', counts: [1, 3], want: false },
  { name: 'block count sums its subsigs', expr: '(0|1|2)>5', counts: [2, 2, 2], want: true },
  { name: 'block count too small', expr: '(0|1|2)>5', counts: [2, 2, 1], want: false },
  { name: 'block >X,Y distinct enough', expr: '(0|1|2)>5,2', counts: [5, 1, 0], want: true },
  { name: 'block >X,Y too few distinct', expr: '(0|1|2)>5,2', counts: [7, 0, 0], want: false },
  { name: 'block =X,Y holds', expr: '(0|1|2|3)=2,2', counts: [1, 0, 1, 0], want: true },
  { name: 'block =X,Y one sig twice', expr: '(0|1|2|3)=2,2', counts: [2, 0, 0, 0], want: false },
  { name: 'block <X,Y holds', expr: '(0|1)<4,2', counts: [1, 2], want: true },
  { name: 'block <X,Y too few distinct', expr: '(0|1)<4,2', counts: [3, 0], want: false },
  { name: 'single subsig ignores Y', expr: '0=2,5', counts: [2], want: true },
  { name: 'ClamAV doc Sig2', expr: '((0|1|2)>5,2)&(3|1)', counts: [4, 2, 0, 1], want: true },
  { name: 'ClamAV doc Sig3', expr: '((0|1|2|3)=2)&(4|1)', counts: [1, 1, 0, 0, 0], want: true },
];

for (const c of exprCases) {
  test(`ldb expression: ${c.name} (${c.expr})`, () => {
    assert.equal(evaluate(parseExpression(c.expr, c.counts.length), c.counts), c.want);
  });
}

const badExpressions: { name: string; expr: string; subsigs: number }[] = [
  { name: 'subsig out of range', expr: '0&2', subsigs: 2 },
  { name: 'unbalanced (', expr: '(0&1', subsigs: 2 },
  { name: 'unbalanced )', expr: '0&1)', subsigs: 2 },
  { name: 'dangling operator', expr: '0&', subsigs: 2 },
  { name: 'comparison without number', expr: '0>', subsigs: 1 },
  { name: 'unknown operator', expr: '0^1', subsigs: 2 },
  { name: 'empty', expr: '', subsigs: 1 },
  { name: 'whitespace', expr: '0 & 1', subsigs: 2 },
  { name: 'comparisons chained too long', expr: `0${'>0'.repeat(100000)}`, subsigs: 1 },
  { name: 'parentheses nested too deep', expr: `${'('.repeat(100000)}0${')'.repeat(100000)}`, subsigs: 1 },
];

test('ldb expression: a chain of 100000 operators parses without exhausting the stack', () => {
  const e = parseExpression(Array.from({ length: 100000 }, (_, i) => String(i % 2)).join('&'), 2);
  assert.equal(evaluate(e, [1, 1]), true);
  assert.equal(evaluate(e, [1, 0]), false);
});

test('ldb line: nested parentheses beyond the limit are a malformed line, not a crash', () => {
  const r = parseLdbLine(`T.L;Target:0;${'('.repeat(100000)}0${')'.repeat(100000)};4142`);
  assert.equal(r.ok, false);
  if (!r.ok) assert.equal(r.reason, 'malformed-ldb');
});

for (const c of badExpressions) {
  test(`ldb expression refused: ${c.name}`, () => {
    assert.throws(() => parseExpression(c.expr, c.subsigs));
  });
}

const lineCases: { name: string; line: string; skip?: string; check?: (sig: Extract<ReturnType<typeof parseLdbLine>, { ok: true }>['sig']) => void }[] = [
  { name: 'two body subsigs', line: 'T.L;Target:0;0&1;414141;424242', check: (s) => { assert.equal(s.subsigs.length, 2); assert.equal(s.target, 0); } },
  { name: 'engine range and target', line: 'T.L;Engine:51-255,Target:7;0;414141', check: (s) => assert.equal(s.target, 7) },
  { name: 'open engine range', line: 'T.L;Engine:81-,Target:0;0;414141', check: (s) => assert.equal(s.subsigs.length, 1) },
  { name: 'file size range', line: 'T.L;Target:0,FileSize:10-20;0;414141', check: (s) => assert.deepEqual(s.fileSize, [10, 20]) },
  { name: 'subsig offset', line: 'T.L;Target:0;0;EOF-10:414141', check: (s) => assert.deepEqual(s.subsigs[0], { kind: 'body', offset: 'EOF-10', hex: '414141', modifiers: { nocase: false, wide: false, fullword: false, ascii: false } }) },
  { name: 'floating subsig offset', line: 'T.L;Target:0;0;10,20:414141', check: (s) => assert.equal(s.subsigs[0]?.kind === 'body' && s.subsigs[0].offset, '10,20') },
  { name: 'modifiers ::iwfa', line: 'T.L;Engine:81-255,Target:0;0;68656c6c6f::iwfa', check: (s) => assert.deepEqual(s.subsigs[0]?.kind === 'body' && s.subsigs[0].modifiers, { nocase: true, wide: true, fullword: true, ascii: true }) },
  { name: 'offset and modifier', line: 'T.L;Target:0;0;0:414141::i', check: (s) => assert.equal(s.subsigs[0]?.kind === 'body' && s.subsigs[0].offset, '0') },
  { name: 'pcre with trigger', line: 'T.L;Engine:81-255,Target:0;0&1;414141;0/ab+c/', check: (s) => assert.equal(s.subsigs[1]?.kind, 'pcre') },
  { name: 'pcre with offset and flags', line: 'T.L;Engine:81-255,Target:0;1;414141;200,300:0/clamav/ge', check: (s) => { const p = s.subsigs[1] as PcreSubsig; assert.deepEqual(p.offset, { kind: 'abs', n: 200, shift: 300 }); assert.equal(p.global, true); assert.equal(p.encompass, true); } },
  { name: 'entry point condition', line: 'T.L;Engine:51-255,Target:1,EntryPoint:0-100;0;414141', skip: 'pe-condition' },
  { name: 'number of sections', line: 'T.L;Target:1,NumberOfSections:3-4;0;414141', skip: 'pe-condition' },
  { name: 'icon group', line: 'T.L;Target:1,IconGroup1:foo;0;414141', skip: 'pe-condition' },
  { name: 'container condition', line: 'T.L;Target:0,Container:CL_TYPE_ZIP;0;414141', skip: 'container-condition' },
  { name: 'intermediates condition', line: 'T.L;Target:0,Intermediates:CL_TYPE_ZIP>CL_TYPE_ANY;0;414141', skip: 'container-condition' },
  { name: 'handler type', line: 'T.L;Target:0,HandlerType:CL_TYPE_ZIP;0;414141', skip: 'handler-type' },
  { name: 'engine range excludes us', line: 'T.L;Engine:1-50,Target:0;0;414141', skip: 'flevel' },
  { name: 'ep subsig offset', line: 'T.L;Target:1;0;EP+123:414141', skip: 'ep-offset' },
  { name: 'section subsig offset', line: 'T.L;Target:1;0;S2+78:414141', skip: 'ep-offset' },
  { name: 'byte compare subsig', line: 'T.L;Engine:101-255,Target:0;0&1;414141;0(>>26#ib2#>512)', check: (s) => assert.deepEqual(s.subsigs[1], { kind: 'bytecmp', trigger: 0, offset: 26, base: 'bin', littleEndian: false, exact: true, length: 2, comparisons: [{ op: '>', value: 512n }] }) },
  { name: 'byte compare backwards, two comparisons, hex numbers', line: 'T.L;Engine:101-255,Target:0;0&1;414141;0(<<0x10#hle4#>0x10,<0x20)', check: (s) => assert.deepEqual(s.subsigs[1], { kind: 'bytecmp', trigger: 0, offset: -16, base: 'hex', littleEndian: true, exact: true, length: 4, comparisons: [{ op: '>', value: 16n }, { op: '<', value: 32n }] }) },
  { name: 'byte compare on a later subsig', line: 'T.L;Engine:101-255,Target:0;0&1;1(>>2#ib1#=1);414141', skip: 'malformed-ldb' },
  { name: 'byte compare on a PCRE subsig', line: 'T.L;Engine:101-255,Target:0;0&1&2;414141;0/ab/;1(>>2#ib1#=1)', skip: 'malformed-ldb' },
  { name: 'byte compare little-endian decimal', line: 'T.L;Engine:101-255,Target:0;0&1;414141;0(>>2#dl3#=1)', skip: 'malformed-ldb' },
  { name: 'byte compare binary of 3 bytes', line: 'T.L;Engine:101-255,Target:0;0&1;414141;0(>>2#ib3#=1)', skip: 'malformed-ldb' },
  { name: 'byte compare without comparison', line: 'T.L;Engine:101-255,Target:0;0&1;414141;0(>>2#ib1#)', skip: 'malformed-ldb' },
  { name: 'macro subsig', line: 'T.L;Engine:51-255,Target:0;0&1;616161;${6-7}12$', skip: 'macro' },
  { name: 'pcre possessive', line: 'T.L;Engine:81-255,Target:0;0&1;414141;0/a++b/', skip: 'pcre-unsupported' },
  { name: 'pcre atomic group', line: 'T.L;Engine:81-255,Target:0;0&1;414141;0/(?>ab)/', skip: 'pcre-unsupported' },
  { name: 'pcre ungreedy flag', line: 'T.L;Engine:81-255,Target:0;0&1;414141;0/a.*b/U', skip: 'pcre-unsupported' },
  { name: 'pcre trigger forward reference', line: 'T.L;Engine:81-255,Target:0;0&1;414141;1/ab/', skip: 'malformed-ldb' },
  { name: 'pcre unknown flag', line: 'T.L;Engine:81-255,Target:0;0&1;414141;0/ab/q', skip: 'malformed-ldb' },
  { name: 'too few fields', line: 'T.L;Target:0;0', skip: 'malformed-ldb' },
  { name: 'empty name', line: ';Target:0;0;414141', skip: 'malformed-ldb' },
  { name: 'target not a number', line: 'T.L;Target:x;0;414141', skip: 'malformed-ldb' },
  { name: 'unknown target key', line: 'T.L;Target:0,Colour:blue;0;414141', skip: 'malformed-ldb' },
  { name: 'target entry without colon', line: 'T.L;Target;0;414141', skip: 'malformed-ldb' },
  { name: 'bad file size', line: 'T.L;Target:0,FileSize:20-10;0;414141', skip: 'malformed-ldb' },
  { name: 'expression refers to missing subsig', line: 'T.L;Target:0;0&1;414141', skip: 'malformed-ldb' },
  { name: 'unknown modifier', line: 'T.L;Target:0;0;414141::z', skip: 'malformed-ldb' },
  { name: 'empty subsig', line: 'T.L;Target:0;0;', skip: 'malformed-ldb' },
  { name: '65 subsigs', line: `T.L;Target:0;0;${Array(65).fill('4141').join(';')}`, skip: 'malformed-ldb' },
];

for (const c of lineCases) {
  test(`ldb line: ${c.name}`, () => {
    const r = parseLdbLine(c.line);
    if (c.skip !== undefined) {
      assert.equal(r.ok, false, 'expected the line to be refused');
      if (!r.ok) assert.equal(r.reason, c.skip, r.detail);
    } else {
      assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.detail}`);
      c.check?.(r.sig);
    }
  });
}

const pcreCases: { name: string; source: string; flags: string; text: string; count: number; first?: number; offset?: string }[] = [
  { name: 'plain search', source: 'ab+c', flags: '', text: 'xxabbbc', count: 1, first: 2 },
  { name: 'first match only without g', source: 'a', flags: '', text: 'aaa', count: 1, first: 0 },
  { name: 'every match with g', source: 'a', flags: 'g', text: 'aaa', count: 3, first: 0 },
  { name: 'case-insensitive', source: 'clamav', flags: 'i', text: 'ClamAV', count: 1 },
  { name: 'dot stops at LF', source: 'a.b', flags: '', text: 'a\nb', count: 0 },
  { name: 'dot matches CR (PCRE, unlike JS)', source: 'a.b', flags: '', text: 'a\rb', count: 1 },
  { name: 'dotall', source: 'a.b', flags: 's', text: 'a\nb', count: 1 },
  { name: '$ before a final newline', source: 'end$', flags: '', text: 'the end\n', count: 1 },
  { name: '$ with E only at the very end', source: 'end$', flags: 'E', text: 'the end\n', count: 0 },
  { name: '\\s is ASCII only (not NBSP)', source: 'a\\sb', flags: '', text: 'a\u00a0b', count: 0 },
  { name: '\\x{41}', source: '\\x{41}B', flags: '', text: 'AB', count: 1 },
  { name: 'named group (?P<n>)', source: '(?P<word>ab)c', flags: '', text: 'abc', count: 1 },
  { name: '\\A start of object', source: '\\Aab', flags: 'g', text: 'abab', count: 1 },
  { name: 'anchored A flag', source: 'ab', flags: 'A', text: 'xab', count: 0 },
  { name: 'absolute offset anchors', source: 'ab', flags: '', text: 'xxab', count: 1, offset: '2' },
  { name: 'absolute offset elsewhere fails', source: 'ab', flags: '', text: 'xxxab', count: 0, offset: '2' },
  { name: 'rolling offset searches onward', source: 'ab', flags: 'r', text: 'xxxab', count: 1, first: 3, offset: '2' },
  { name: 'maxshift window', source: 'ab', flags: '', text: 'xxxxab', count: 1, offset: '2,2' },
  { name: 'maxshift window missed', source: 'ab', flags: '', text: 'xxxxxab', count: 0, offset: '2,2' },
  { name: 'encompass keeps the match inside', source: 'abc', flags: 'e', text: 'xxxabc', count: 0, offset: '2,3' },
  { name: 'EOF offset', source: 'z', flags: '', text: 'xyz', count: 1, offset: 'EOF-1' },
  { name: 'binary bytes', source: '\\x00\\xff', flags: '', text: 'a\u0000\u00ffb', count: 1, first: 1 },
];

for (const c of pcreCases) {
  test(`pcre: ${c.name}`, () => {
    const prefix = c.offset !== undefined ? `${c.offset}:0` : '0';
    const r = parseLdbLine(`T.P;Engine:81-255,Target:0;1;414141;${prefix}/${c.source}/${c.flags}`);
    assert.ok(r.ok, r.ok ? '' : `${r.reason}: ${r.detail}`);
    const got = runPcre(r.sig.subsigs[1] as PcreSubsig, c.text);
    assert.equal(got.count, c.count);
    if (c.first !== undefined) assert.equal(got.first, c.first);
  });
}

const refused: { name: string; source: string; flags?: string }[] = [
  { name: 'extended flag', source: 'a b', flags: 'x' },
  { name: 'inline option', source: '(?i)ab' },
  { name: 'comment group', source: '(?#c)ab' },
  { name: 'recursion', source: '(?R)' },
  { name: 'conditional', source: '(?(1)a|b)' },
  { name: '\\Q…\\E quoting', source: '\\Qa.b\\E' },
  { name: 'unicode property', source: '\\p{L}' },
  { name: '\\h horizontal space', source: 'a\\hb' },
  { name: '\\K keep out', source: 'a\\Kb' },
  { name: 'POSIX class', source: '[[:alpha:]]' },
  { name: 'wide \\x{}', source: '\\x{263a}' },
  { name: 'unterminated class', source: '[ab' },
  { name: 'possessive {n}+', source: 'a{2}+' },
  { name: 'nested repeat (a+)+', source: '(a+)+b' },
  { name: 'nested repeat deeper ((\\w*)x)*', source: '((\\w*)x)*y' },
  { name: 'nested repeat with {n,}', source: '(?:ab{2,})*c' },
];

const accepted: { name: string; source: string }[] = [
  { name: 'bounded inner repeat', source: '(ab{2})+c' },
  { name: 'repeat inside an unrepeated group', source: '(a+)b' },
  { name: 'escaped parenthesis and plus', source: '\\(a+\\)+' },
  { name: 'class holding ")"', source: '([)]+)b' },
];

for (const c of accepted) {
  test(`pcre accepted: ${c.name}`, () => {
    assert.ok('source' in translatePcre(c.source, ''), JSON.stringify(translatePcre(c.source, '')));
  });
}

for (const c of refused) {
  test(`pcre refused: ${c.name}`, () => {
    assert.ok('unsupported' in translatePcre(c.source, c.flags ?? ''));
  });
}

// Each row checked against clamscan 1.4.6 (test/interop/engine-signatures.test.ts repeats some of them there).
const byteCompareCases: { name: string; spec: string; data: string; last: number; want: boolean }[] = [
  { name: 'binary byte equal', spec: '0(>>4#ib1#=65)', data: 'MARKA', last: 0, want: true },
  { name: 'binary byte differs', spec: '0(>>4#ib1#=66)', data: 'MARKA', last: 0, want: false },
  { name: 'binary little-endian word', spec: '0(>>4#il2#=0x4241)', data: 'MARKAB', last: 0, want: true },
  { name: 'binary big-endian word, two comparisons', spec: '0(>>4#ib2#=0x4142,>1)', data: 'MARKAB', last: 0, want: true },
  { name: 'binary 8 bytes are signed', spec: '0(>>4#ib8#>1)', data: 'MARK\xff\xff\xff\xff\xff\xff\xff\xff', last: 0, want: false },
  { name: 'backwards read', spec: '0(<<2#ib1#=120)', data: 'xxxxxMARK', last: 5, want: true },
  { name: 'backwards read to the first byte is refused', spec: '0(<<5#ib1#=120)', data: 'xxxxxMARK', last: 5, want: false },
  { name: 'read past the end', spec: '0(>>4#ib2#=65)', data: 'MARKA', last: 0, want: false },
  { name: 'decimal text', spec: '0(>>4#db3#=123)', data: 'MARK123', last: 0, want: true },
  { name: 'decimal stops at a non-digit', spec: '0(>>4#db3#=12)', data: 'MARK12x', last: 0, want: true },
  { name: 'decimal exact refuses a non-digit', spec: '0(>>4#dbe3#=12)', data: 'MARK12x', last: 0, want: false },
  { name: 'decimal without digits reads 0', spec: '0(>>4#db3#=0)', data: 'MARKxyz', last: 0, want: true },
  { name: 'decimal after leading blanks', spec: '0(>>4#db4#=12)', data: 'MARK  12', last: 0, want: true },
  { name: 'hex big-endian', spec: '0(>>4#hb4#=0x1a2b)', data: 'MARK1a2b', last: 0, want: true },
  { name: 'hex little-endian swaps byte pairs', spec: '0(>>4#hl4#=0x2b1a)', data: 'MARK1a2b', last: 0, want: true },
  { name: 'hex two digits', spec: '0(>>4#hb2#=10)', data: 'MARK0a', last: 0, want: true },
  { name: 'auto picks hex for 0x', spec: '0(>>4#ab6#=0x1a2b)', data: 'MARK0x1a2b', last: 0, want: true },
  { name: 'auto picks decimal otherwise', spec: '0(>>4#ab4#=1234)', data: 'MARK1234', last: 0, want: true },
];

for (const c of byteCompareCases) {
  test(`byte compare: ${c.name}`, () => {
    const r = parseLdbLine(`T.B;Engine:101-255,Target:0;0&1;4d41524b;${c.spec}`);
    assert.ok(r.ok, r.ok ? '' : r.detail);
    const sub = r.sig.subsigs[1];
    assert.equal(sub?.kind, 'bytecmp');
    const data = Buffer.from(c.data.replace(/\\xff/g, '\xff'), 'latin1');
    assert.equal(runByteCompare(sub as Extract<typeof sub, { kind: 'bytecmp' }>, data, c.last), c.want);
  });
}

test('pcre: counting stops at the limit', () => {
  const r = parseLdbLine('T.P;Engine:81-255,Target:0;1;414141;0/a/g');
  assert.ok(r.ok);
  if (r.ok) assert.deepEqual(runPcre(r.sig.subsigs[1] as PcreSubsig, 'a'.repeat(1000), 3), { count: 3, first: 0 });
});

test('pcre: literal "]" first in a class stays literal', () => {
  const t = translatePcre('[]a]+', '');
  assert.ok('source' in t);
  if ('source' in t) assert.equal(new RegExp(t.source).exec('x]a]y')?.[0], ']a]');
});
