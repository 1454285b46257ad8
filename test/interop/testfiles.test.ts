// Acceptance on Debian's clamav-testfiles: with a database holding only
// ClamAV's own test signature (the MD5 of the 544-byte clam.exe), scanning
// /usr/share/clamav-testfiles must find the test file inside at least 20 of
// the 44 files (ClamAV finds all 44). The lists of found and missed files are
// printed so the gap is visible in every run.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { foundByPath, runPortcullis } from './clamav-helpers.js';

const TESTFILES = '/usr/share/clamav-testfiles';
const SIGNATURE = 'aa15bcf478d165efd2065190eb473bcb:544:Clamav.Test.File-6';

describe('clamav-testfiles with only Clamav.Test.File-6', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-interop-testfiles-'));
    await writeFile(join(dir, 'test.hdb'), `${SIGNATURE}\n`);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('finds at least 20 of the 44 test files', async () => {
    const names = (await readdir(TESTFILES)).sort();
    assert.equal(names.length, 44, 'the package ships 44 test files');
    const run = await runPortcullis(['scan', '--recursive', '--db', join(dir, 'test.hdb'), '--json', '--no-summary', TESTFILES]);
    const reports = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { path: string; verdict: string; findings: { name: string; path: string[] }[]; errors: { message: string }[] });
    assert.equal(reports.length, 44, 'one JSON object per file');
    const found: string[] = [];
    const missed: string[] = [];
    for (const r of reports) {
      const base = r.path.slice(TESTFILES.length + 1);
      const hit = r.findings.find((f) => f.name === 'Clamav.Test.File-6');
      if (hit !== undefined) found.push(`${base} (${hit.path.slice(1).join(' › ') || 'itself'})`);
      else missed.push(`${base}${r.findings.length > 0 ? ` [${r.findings.map((f) => f.name).join(', ')}]` : ''}${r.errors.length > 0 ? ` error: ${r.errors[0]?.message}` : ''}`);
    }
    console.log(`found ${found.length}/44:\n  ${found.join('\n  ')}\nmissed ${missed.length}:\n  ${missed.join('\n  ')}`);
    assert.ok(found.length >= 20, `found only ${found.length} of 44`);
    assert.equal(run.code, 1);
  });

  it('the text output names the same files as the JSON output', async () => {
    const [text, json] = await Promise.all([
      runPortcullis(['scan', '-r', '--db', join(dir, 'test.hdb'), '--no-summary', TESTFILES]),
      runPortcullis(['scan', '-r', '--db', join(dir, 'test.hdb'), '--no-summary', '--json', TESTFILES]),
    ]);
    const fromJson = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { path: string; findings: unknown[] }).filter((r) => r.findings.length > 0).map((r) => r.path).sort();
    assert.deepEqual([...foundByPath(text.stdout).keys()].sort(), fromJson);
  });
});
