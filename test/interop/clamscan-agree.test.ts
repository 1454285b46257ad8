// `portcullis scan` and Debian's `clamscan` on the same EICAR database and
// the same files must agree file by file: same verdict, same names (after
// stripping ClamAV's ".UNOFFICIAL"), and the expected verdict for each file.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync, zipSync } from 'fflate';
import { EICAR, foundByPath, runPortcullis, runTool, writeEicarDb } from './clamav-helpers.js';

/** A ustar archive of the given members (POSIX.1-1988 headers, 512-byte blocks). */
function tar(members: Record<string, Uint8Array>): Buffer {
  const blocks: Buffer[] = [];
  for (const [name, data] of Object.entries(members)) {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0001750\0', 108);
    h.write('0001750\0', 116);
    h.write(`${data.byteLength.toString(8).padStart(11, '0')}\0`, 124);
    h.write(`${Math.floor(Date.UTC(2026, 0, 1) / 1000).toString(8).padStart(11, '0')}\0`, 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h, Buffer.from(data), Buffer.alloc((512 - (data.byteLength % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const eicarZip = (): Uint8Array => zipSync({ 'eicar.com': EICAR });

/** name → [bytes, expected names]. */
const FILES: Record<string, [() => Uint8Array, string[]]> = {
  'eicar.com': [() => EICAR, ['Eicar-Test-Signature']],
  'eicar-embedded.bin': [() => Buffer.concat([noise(10_000, 3), EICAR, noise(5000, 4)]), ['Eicar-Test-Signature']],
  'eicar.zip': [eicarZip, ['Eicar-Test-Signature']],
  'eicar-stored.zip': [() => zipSync({ 'docs/readme.txt': Buffer.from('hello\n'), 'docs/eicar.txt': [EICAR, { level: 0 }] }), ['Eicar-Test-Signature']],
  'nested.zip': [() => zipSync({ 'inner.zip': [eicarZip(), { level: 0 }], 'other.txt': Buffer.from('x') }), ['Eicar-Test-Signature']],
  'eicar.tar.gz': [() => gzipSync(tar({ 'a/readme.txt': Buffer.from('clean\n'), 'a/eicar.com': EICAR })), ['Eicar-Test-Signature']],
  'eicar.gz': [() => gzipSync(EICAR), ['Eicar-Test-Signature']],
  'near-miss-last-byte.com': [() => Buffer.concat([EICAR.subarray(0, 67), Buffer.from('#')]), []],
  'near-miss-truncated.com': [() => EICAR.subarray(0, 67), []],
  'near-miss-in.zip': [() => zipSync({ 'x.com': EICAR.subarray(0, 60) }), []],
  'clean.txt': [() => Buffer.from('nothing to see here\n'.repeat(50)), []],
  'clean.zip': [() => zipSync({ 'a.bin': noise(4000, 9) }), []],
};

describe('portcullis scan agrees with clamscan', () => {
  let dir: string;
  let ours: Map<string, Set<string>>;
  let theirs: Map<string, Set<string>>;
  let codes: { ours: number; theirs: number };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-interop-agree-'));
    await writeEicarDb(join(dir, 'db'));
    await mkdir(join(dir, 'files'));
    for (const [name, [make]] of Object.entries(FILES)) await writeFile(join(dir, 'files', name), make());
    const paths = Object.keys(FILES).map((n) => join(dir, 'files', n));
    const [a, b] = await Promise.all([
      runPortcullis(['scan', '--no-summary', '--db', join(dir, 'db'), ...paths]),
      runTool('clamscan', ['--no-summary', `--database=${join(dir, 'db')}`, ...paths]),
    ]);
    ours = foundByPath(a.stdout);
    theirs = foundByPath(b.stdout);
    codes = { ours: a.code, theirs: b.code };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const [name, [, expected]] of Object.entries(FILES)) {
    it(name, () => {
      const path = join(dir, 'files', name);
      const want = [...expected].sort();
      assert.deepEqual([...(theirs.get(path) ?? [])].sort(), want, 'clamscan found what we expect');
      assert.deepEqual([...(ours.get(path) ?? [])].sort(), want, 'portcullis scan found the same');
    });
  }
  it('exit codes agree (1: something found)', () => assert.deepEqual(codes, { ours: 1, theirs: 1 }));

  it('the command scanner running clamscan reports the same names', async () => {
    const paths = Object.keys(FILES).map((n) => join(dir, 'files', n));
    const argv = `command=clamscan --no-summary --database=${join(dir, 'db')} {}`;
    const r = await runPortcullis(['scan', '--no-summary', '--scanner', argv, ...paths]);
    assert.equal(r.code, 1, r.stderr);
    const viaCommand = foundByPath(r.stdout);
    for (const path of paths) assert.deepEqual([...(viaCommand.get(path) ?? [])], [...(theirs.get(path) ?? [])], path);
  });
});
