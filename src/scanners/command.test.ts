// The command scanner with /bin/sh scripts standing in for scanner programs.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CommandScanner, parseFoundLines, splitCommandLine } from './command.js';

describe('splitCommandLine', () => {
  const cases: [string, string, string[]][] = [
    ['plain words', 'clamscan --no-summary {}', ['clamscan', '--no-summary', '{}']],
    ['extra spaces', '  a   b  ', ['a', 'b']],
    ['single quotes', "sh -c 'echo $1; exit 3' x {}", ['sh', '-c', 'echo $1; exit 3', 'x', '{}']],
    ['double quotes with escape', 'a "b \\"c\\" d" e', ['a', 'b "c" d', 'e']],
    ['empty quoted word', "a '' b", ['a', '', 'b']],
    ['backslash space', 'a\\ b c', ['a b', 'c']],
  ];
  for (const [name, line, want] of cases) it(name, () => assert.deepEqual(splitCommandLine(line), want));
  it('rejects an unclosed quote', () => assert.throws(() => splitCommandLine("a 'b"), { code: 'PC_ERR_USAGE' }));
});

describe('parseFoundLines', () => {
  const cases: [string, string, string[]][] = [
    ['clamscan line', '/tmp/x: Eicar-Test-Signature FOUND\n', ['Eicar-Test-Signature']],
    ['path with colon-space', '/tmp/a: b.txt: Win.Test FOUND', ['Win.Test']],
    ['several, repeats once', 'a: X FOUND\nb: Y FOUND\nc: X FOUND\r\n', ['X', 'Y']],
    ['OK lines ignored', 'a: OK\n----------- SCAN SUMMARY -----------\nInfected files: 0', []],
    ['no path', 'X FOUND', []],
  ];
  for (const [name, text, want] of cases) it(name, () => assert.deepEqual(parseFoundLines(text), want));
});

describe('CommandScanner', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-cmd-'));
    file = join(dir, 'sample.bin');
    await writeFile(file, 'hello');
  });
  after(() => rm(dir, { recursive: true, force: true }));
  const sh = (script: string): string[] => ['/bin/sh', '-c', script, 'scanner', '{}'];

  const cases: [string, string, { verdict: string; names: string[]; code?: string; output?: RegExp }][] = [
    ['exit 0 is clean', 'echo "$1: OK"; exit 0', { verdict: 'clean', names: [], output: /sample\.bin: OK/ }],
    ['exit 1 with FOUND line', 'echo "$1: Test.Sig FOUND"; exit 1', { verdict: 'infected', names: ['Test.Sig'] }],
    ['exit 1 without a name', 'exit 1', { verdict: 'infected', names: ['Command.Infected'] }],
    ['exit 2 is an error', 'echo broken >&2; exit 2', { verdict: 'error', names: [], code: 'PC_ERR_SCANNER', output: /broken/ }],
    ['killed by a signal is an error', 'kill -9 $$', { verdict: 'error', names: [], code: 'PC_ERR_SCANNER' }],
    ['the placeholder is the file path', 'test "$(cat "$1")" = hello || exit 2; exit 0', { verdict: 'clean', names: [] }],
  ];
  for (const [name, script, want] of cases) {
    it(name, async () => {
      const scanner = new CommandScanner({ argv: sh(script) });
      const report = await scanner.scan({ name: 'sample.bin', path: file, size: 5 });
      assert.equal(report.verdict, want.verdict);
      assert.deepEqual(report.findings.map((f) => f.name), want.names);
      for (const f of report.findings) assert.deepEqual([f.path, f.scanner], [['sample.bin'], 'command']);
      assert.equal(report.errors[0]?.code, want.code);
      if (want.output !== undefined) assert.match(report.output ?? '', want.output);
    });
  }

  it('maps configured exit codes', async () => {
    const scanner = new CommandScanner({ argv: sh('exit 3'), exitCodes: { clean: [0], infected: [3] }, findingName: 'Custom.Hit' });
    const report = await scanner.scan({ name: 'f', path: file, size: 5 });
    assert.deepEqual([report.verdict, report.findings[0]?.name], ['infected', 'Custom.Hit']);
  });

  it('spools data to a private file and removes it afterwards', async () => {
    const spool = await mkdtemp(join(dir, 'spool-'));
    const scanner = new CommandScanner({ argv: sh('test "$(stat -c %a "$1")" = 600 || exit 2; test "$(cat "$1")" = payload || exit 3; case "$1" in *inv_ice.exe) exit 1;; esac; exit 4'), tmpDir: spool });
    const report = await scanner.scan({ name: '../inv ice.exe', data: Buffer.from('payload') });
    assert.equal(report.verdict, 'infected', JSON.stringify(report));
    assert.deepEqual(await readdir(spool), []);
  });

  it('caps the captured output', async () => {
    const scanner = new CommandScanner({ argv: sh('head -c 100000 /dev/zero | tr "\\0" a; exit 0'), maxOutputBytes: 1000 });
    const report = await scanner.scan({ name: 'f', path: file, size: 5 });
    assert.equal(report.verdict, 'clean');
    assert.match(report.output ?? '', /^a{1000}\n\[99000 more bytes of output not kept\]$/);
  });

  it('a timeout kills the whole process group', async () => {
    const marker = join(dir, 'child-survived');
    const scanner = new CommandScanner({ argv: sh(`(sleep 1; touch ${marker}) & sleep 5`), timeoutMs: 200 });
    const t0 = performance.now();
    const report = await scanner.scan({ name: 'f', path: file, size: 5 });
    assert.equal(report.errors[0]?.code, 'PC_ERR_SCAN_TIMEOUT');
    assert.ok(performance.now() - t0 < 3000);
    await new Promise((r) => setTimeout(r, 1300));
    assert.ok(!(await readdir(dir)).includes('child-survived'), 'the grandchild was killed too');
  });

  it('a missing program is PC_ERR_SCANNER', async () => {
    const scanner = new CommandScanner({ argv: ['/nonexistent/portcullis-scanner', '{}'] });
    const report = await scanner.scan({ name: 'f', path: file, size: 5 });
    assert.deepEqual([report.verdict, report.errors[0]?.code], ['error', 'PC_ERR_SCANNER']);
  });

  const badArgv: [string, string[]][] = [['empty argv', []], ['no placeholder', ['clamscan', '--no-summary']]];
  for (const [name, argv] of badArgv) {
    it(`rejects ${name}`, () => assert.throws(() => new CommandScanner({ argv }), { code: 'PC_ERR_CONFIG' }));
  }
});
