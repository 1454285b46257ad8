// The clamd scanner against a real clamd (Debian's clamav-daemon) started on
// a temporary EICAR-only database, over TCP and the unix socket.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClamdScanner, STREAM_LIMIT_FINDING } from '../../src/scanners/clamd.js';
import { EICAR, foundByPath, runPortcullis, startClamd, writeEicarDb, type RunningClamd } from './clamav-helpers.js';

const STREAM_MAX = 1024 * 1024;

describe('clamd scanner against a real clamd', () => {
  let dir: string;
  let clamd: RunningClamd;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-interop-clamd-'));
    await writeEicarDb(join(dir, 'db'));
    clamd = await startClamd(dir, join(dir, 'db'), { StreamMaxLength: String(STREAM_MAX) });
  });
  after(async () => {
    await clamd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const cases: [string, () => Uint8Array, string, string[]][] = [
    ['EICAR is FOUND', () => EICAR, 'infected', ['Eicar-Test-Signature.UNOFFICIAL']],
    ['EICAR inside other bytes is FOUND', () => Buffer.concat([Buffer.alloc(300_000, 7), EICAR, Buffer.alloc(1000, 9)]), 'infected', ['Eicar-Test-Signature.UNOFFICIAL']],
    ['clean bytes are OK', () => Buffer.from('just some text\n'.repeat(100)), 'clean', []],
    ['a near miss is OK', () => Buffer.concat([EICAR.subarray(0, 67), Buffer.from('!')]), 'clean', []],
    ['empty is OK', () => new Uint8Array(0), 'clean', []],
    ['over StreamMaxLength is a limits finding', () => Buffer.alloc(2 * STREAM_MAX, 1), 'infected', [STREAM_LIMIT_FINDING]],
  ];
  for (const transport of ['tcp', 'unix'] as const) {
    for (const [name, make, verdict, names] of cases) {
      it(`${name} (${transport})`, async () => {
        // Told clamd's StreamMaxLength, the scanner never sends past it (see ClamdOptions.streamMaxLength).
        const scanner = new ClamdScanner({ address: transport === 'tcp' ? clamd.tcp : clamd.socket, timeoutMs: 30_000, streamMaxLength: STREAM_MAX });
        const report = await scanner.scan({ name: 'obj', data: make() });
        assert.equal(report.verdict, verdict, JSON.stringify(report.errors));
        assert.deepEqual(report.findings.map((f) => f.name), names);
        assert.equal(scanner.openConnections, 0);
        await scanner.close();
      });
    }
  }

  it('scans a spooled file by path', async () => {
    const path = join(dir, 'spooled.com');
    await writeFile(path, EICAR);
    const scanner = new ClamdScanner({ address: clamd.socket });
    const report = await scanner.scan({ name: 'spooled.com', path, size: EICAR.length });
    assert.deepEqual(report.findings.map((f) => [f.name, f.path]), [['Eicar-Test-Signature.UNOFFICIAL', ['spooled.com']]]);
  });

  it('a timed-out scan closes its socket and clamd keeps working', async () => {
    // The object is a FIFO nobody writes to: clamd waits for data that never
    // comes, whatever the machine's speed, so only our timeout can end the scan.
    const fifo = join(dir, 'stalled.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = open(fifo, 'w');
    const scanner = new ClamdScanner({ address: clamd.tcp, timeoutMs: 300 });
    const t0 = performance.now();
    const report = await scanner.scan({ name: 'stalled', path: fifo, size: 1000 });
    assert.equal(report.verdict, 'error');
    assert.equal(report.errors[0]?.code, 'PC_ERR_SCAN_TIMEOUT');
    assert.ok(performance.now() - t0 < 5000);
    assert.equal(scanner.openConnections, 0, 'the socket was destroyed');
    await (await writer).close();
    const after = new ClamdScanner({ address: clamd.tcp });
    assert.equal((await after.scan({ name: 'again', data: EICAR })).verdict, 'infected');
  });

  it('scans in flight are bounded by the pool and all answered', async () => {
    const scanner = new ClamdScanner({ address: clamd.socket, maxConnections: 2 });
    const reports = await Promise.all(Array.from({ length: 8 }, (_, i) => scanner.scan({ name: `f${i}`, data: i % 2 === 0 ? EICAR : Buffer.from(`clean ${i}`) })));
    assert.deepEqual(reports.map((r) => r.verdict), Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? 'infected' : 'clean')));
  });

  it('portcullis scan --scanner clamd=… reports what clamd finds', async () => {
    await writeFile(join(dir, 'e.com'), EICAR);
    await writeFile(join(dir, 'clean.txt'), 'clean\n');
    const r = await runPortcullis(['scan', '--no-summary', '--scanner', `clamd=${clamd.tcp}`, join(dir, 'e.com'), join(dir, 'clean.txt')]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual([...foundByPath(r.stdout)].map(([p, n]) => [p, [...n]]), [[join(dir, 'e.com'), ['Eicar-Test-Signature']]]);
    assert.match(r.stdout, new RegExp(`^${join(dir, 'clean.txt')}: OK$`, 'm'));
  });

  it('PING answers PONG on both transports', async () => {
    await new ClamdScanner({ address: clamd.tcp }).ping();
    await new ClamdScanner({ address: clamd.socket }).ping();
  });
});
