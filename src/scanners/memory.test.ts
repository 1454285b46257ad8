// Peak memory of scanning one big mail with the builtin scanner, measured in
// a fresh child process (peak RSS is per process): the mail is spooled to a
// file as the SMTP proxy does, and the peak over the RSS before the scan
// must stay within a bound that is generous (a few times the message) yet
// well below what copying every reading and every decode would take.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const MB = 1_000_000;

/** Runs in the child: writes the mail, loads the built-in database, scans, prints one JSON line. */
const CHILD = `
import { openSync, writeSync, closeSync } from 'node:fs';
const [scannersUrl, path, kind, size] = process.argv.slice(-4);
const bytes = Number(size);
const fd = openSync(path, 'w');
const head = ['From: a@example.test', 'To: b@example.test', 'Subject: big', 'MIME-Version: 1.0'];
if (kind === 'text') {
  writeSync(fd, [...head, 'Content-Type: text/plain', '', ''].join('\\r\\n'));
  const block = Buffer.from(('X'.repeat(78) + '\\r\\n').repeat(12800));
  for (let n = 0; n < bytes; n += block.length) writeSync(fd, block);
} else {
  writeSync(fd, [...head, 'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain', '', 'see attached', '--b1',
    'Content-Type: application/octet-stream; name="big.bin"', 'Content-Transfer-Encoding: base64', '', ''].join('\\r\\n'));
  let x = 12345;
  const raw = Buffer.alloc(57 * 16384);
  for (let n = 0; n < (bytes * 3) / 4; n += raw.length) {
    for (let i = 0; i < raw.length; i++) { x = (x * 1103515245 + 12345) >>> 0; raw[i] = x >>> 24; }
    writeSync(fd, raw.toString('base64').replace(/.{76}/g, '$&\\r\\n'));
  }
  writeSync(fd, '\\r\\n--b1--\\r\\n');
}
closeSync(fd);
const { createScanner } = await import(scannersUrl);
const scanner = await createScanner('builtin');
const { statSync } = await import('node:fs');
const fileSize = statSync(path).size;
globalThis.gc();
await new Promise((r) => setTimeout(r, 100));
const before = process.memoryUsage.rss();
const peakBefore = process.resourceUsage().maxRSS * 1024;
const report = await scanner.scan({ name: 'big.eml', path, size: fileSize });
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(JSON.stringify({ before, peakBefore, peak, fileSize, verdict: report.verdict, findings: report.findings.map((f) => f.name), bytesScanned: report.bytesScanned }) + '\\n');
`;

interface ChildResult {
  before: number;
  peakBefore: number;
  peak: number;
  fileSize: number;
  verdict: string;
  findings: string[];
  bytesScanned: number;
}

function runChild(path: string, kind: string, size: number): Promise<ChildResult> {
  const scannersUrl = new URL('./index.js', import.meta.url).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, '--', scannersUrl, path, kind, String(size)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      try {
        resolve(JSON.parse(out.trim()) as ChildResult);
      } catch (e) {
        reject(new Error(`child printed no result: ${out.slice(-500)} ${err.slice(-500)}`, { cause: e }));
      }
    });
  });
}

/**
 * Bounds on the peak above the RSS before the scan, as multiples of the
 * message: one copy is the message read whole, one the decoded part, the
 * rest the readings' working memory and garbage not yet collected.
 */
const cases = [
  { name: 'a 25 MB plain-text mail', kind: 'text', size: 25 * MB, bound: 8 },
  { name: 'a 25 MB mail with a base64 attachment', kind: 'base64', size: 25 * MB, bound: 8 },
] as const;

describe('peak memory of one big mail scan (child process, built-in database)', () => {
  for (const c of cases) {
    it(`${c.name} peaks below ${c.bound}× its size above the RSS before the scan`, { timeout: 120_000 }, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'pc-mem-'));
      try {
        const r = await runChild(join(dir, 'big.eml'), c.kind, c.size);
        assert.equal(r.verdict, 'clean', `findings: ${r.findings.join(', ')}`);
        assert.ok(r.fileSize >= c.size, `the mail is ${r.fileSize} bytes`);
        assert.ok(r.bytesScanned >= r.fileSize, 'the whole mail was scanned');
        // The writing of the mail and the database load peak well below a scan (1 MB blocks, a small database).
        assert.ok(r.peakBefore - r.before < r.fileSize, `the set-up itself peaked at ${r.peakBefore} bytes`);
        const added = r.peak - r.before;
        const mb = (n: number): string => (n / MB).toFixed(0);
        t.diagnostic(`${c.kind}: RSS ${mb(r.before)} MB before the scan, peak ${mb(r.peak)} MB (+${mb(added)} MB, ${(added / r.fileSize).toFixed(1)}× the mail)`);
        assert.ok(added < c.bound * r.fileSize, `peak RSS ${mb(r.peak)} MB is ${mb(added)} MB above ${mb(r.before)} MB, bound ${mb(c.bound * r.fileSize)} MB`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
