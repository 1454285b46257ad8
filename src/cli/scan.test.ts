// `portcullis scan` and `portcullis sigs info` run as a user runs them (the
// compiled CLI in a child process), on the built-in database.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('portcullis scan', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-cli-'));
    await mkdir(join(dir, 'tree', 'sub'), { recursive: true });
    await writeFile(join(dir, 'tree', 'clean.txt'), 'hello\n');
    await writeFile(join(dir, 'tree', 'sub', 'eicar.com'), EICAR);
    await writeFile(join(dir, 'eicar.com'), EICAR);
    await writeFile(join(dir, 'clean.bin'), Buffer.alloc(3000, 1));
    await writeFile(join(dir, 'nested.zip'), zipSync({ 'inner.zip': zipSync({ 'e.com': EICAR }) }));
    await writeFile(join(dir, 'only-abcd.ndb'), 'Test.Abcd:0:*:61626364\n');
    await writeFile(join(dir, 'abcd.txt'), 'xxabcdxx');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('ends quietly with 141 when its reader goes away (scan | head)', async () => {
    // More output than a pipe buffer holds (64 KiB), so some writes must come after the reader left.
    const many = join(dir, 'many');
    await mkdir(many, { recursive: true });
    await Promise.all(Array.from({ length: 2500 }, (_, n) => writeFile(join(many, `f${n}.txt`), `file ${n}\n`)));
    const r = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [MAIN, 'scan', many], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.stdout.once('data', () => child.stdout.destroy());
      child.once('error', reject);
      child.once('close', (code) => resolve({ code: code ?? -1, stderr }));
    });
    assert.equal(r.code, 141, r.stderr);
    assert.doesNotMatch(r.stderr, /EPIPE|Unhandled/);
  });

  const cases: [string, string[], number, string[], RegExp?][] = [
    ['clean file', ['clean.bin'], 0, ['clean.bin: OK']],
    ['EICAR file', ['eicar.com'], 1, ['eicar.com: Eicar-Test-Signature FOUND']],
    ['inner path of a nested zip', ['nested.zip'], 1, ['nested.zip: Eicar-Test-Signature FOUND', '    (in inner.zip › e.com)']],
    ['--infected hides clean files', ['--infected', 'clean.bin', 'eicar.com'], 1, ['eicar.com: Eicar-Test-Signature FOUND']],
    ['folder without --recursive: direct files only', ['tree'], 0, ['tree/clean.txt: OK']],
    ['folder with -r: the whole tree', ['-r', 'tree'], 1, ['tree/clean.txt: OK', 'tree/sub/eicar.com: Eicar-Test-Signature FOUND']],
    ['missing file is an error', ['missing', 'clean.bin'], 2, ['clean.bin: OK'], /missing: Can't access file: ENOENT ERROR/],
    ['--db replaces the built-in database', ['--db', 'only-abcd.ndb', 'abcd.txt', 'eicar.com'], 1, ['abcd.txt: Test.Abcd FOUND', 'eicar.com: OK']],
    ['command scanner', ['--scanner', "command=/bin/sh -c 'grep -q abcd \"$0\" && echo \"$0: Grep.Abcd FOUND\" && exit 1; exit 0' {}", 'abcd.txt', 'clean.bin'], 1, ['abcd.txt: Grep.Abcd FOUND', 'clean.bin: OK']],
    ['bad scanner spec is a usage error', ['--scanner', 'nonsense', 'clean.bin'], 2, [], /PC_ERR_USAGE/],
    ['no path is a usage error', [], 2, [], /no PATH given/],
  ];
  for (const [name, args, code, lines, stderr] of cases) {
    it(name, async () => {
      const r = await cli(['scan', '--no-summary', ...args], dir);
      assert.equal(r.code, code, r.stderr);
      assert.deepEqual(r.stdout.split('\n').filter((l) => l.length > 0), lines);
      if (stderr !== undefined) assert.match(r.stderr, stderr);
    });
  }

  it('prints a clamscan-style summary', async () => {
    const r = await cli(['scan', 'eicar.com', 'clean.bin'], dir);
    assert.equal(r.code, 1);
    for (const re of [/^----------- SCAN SUMMARY -----------$/m, /^Known viruses: \d+$/m, /^Scanned files: 2$/m, /^Infected files: 1$/m, /^Data scanned: \d+\.\d\d MB$/m, /^Time: \d+\.\d{3} sec/m, /^Throughput: \d+\.\d\d MB\/s/m]) {
      assert.match(r.stdout, re);
    }
  });

  it('--json prints one object per file, summary on stderr', async () => {
    const r = await cli(['scan', '--json', 'nested.zip', 'clean.bin'], dir);
    assert.equal(r.code, 1);
    const objects = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(objects.map((o) => [o.path, o.verdict]), [['nested.zip', 'infected'], ['clean.bin', 'clean']]);
    assert.deepEqual(objects[0]?.findings, [{ name: 'Eicar-Test-Signature', path: ['nested.zip', 'inner.zip', 'e.com'], scanner: 'builtin' }]);
    assert.match(r.stderr, /SCAN SUMMARY/);
  });

  it('inner paths start at the file\'s own name, not the path it was reached by', async () => {
    const r = await cli(['scan', '--json', '--no-summary', '-r', 'tree'], dir);
    const hit = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { path: string; findings: { path: string[] }[] }).find((o) => o.findings.length > 0);
    assert.deepEqual([hit?.path, hit?.findings[0]?.path], [join('tree', 'sub', 'eicar.com'), ['eicar.com']]);
  });
});

describe('portcullis sigs info', () => {
  it('counts the built-in database by kind', async () => {
    const r = await cli(['sigs', 'info'], tmpdir());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Signatures loaded: [1-9]\d*$/m);
    assert.match(r.stdout, /^ {2}body +[1-9]/m);
    assert.match(r.stdout, /^Load time: \d+\.\d{3} sec$/m);
  });
  it('reports skipped signatures with an example', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pc-sigs-'));
    try {
      await writeFile(join(dir, 'x.ndb'), 'Good.Sig:0:*:41424344\nBad.Sig:0:*:4142zz\n');
      const r = await cli(['sigs', 'info', '--json', join(dir, 'x.ndb')], dir);
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse(r.stdout) as { loaded: Record<string, number>; skipped: Record<string, number>; skippedExamples: Record<string, string[]> };
      assert.equal(info.loaded.body, 1);
      assert.equal(Object.values(info.skipped).reduce((a, b) => a + b, 0), 1);
      assert.ok(Object.values(info.skippedExamples).flat().some((l) => l.includes('Bad.Sig')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('an unreadable database is exit code 2 with PC_ERR_DB_READ', async () => {
    const r = await cli(['sigs', 'info', '/nonexistent/portcullis.ndb'], tmpdir());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /PC_ERR_DB_READ/);
  });
});
