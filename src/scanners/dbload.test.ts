// Reading signature files and folders from disk.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { containerVersion, loadDbFiles } from './dbload.js';

const cvdHeader = (version: number): Buffer => Buffer.from(`ClamAV-VDB:26 Nov 2026 10-00 +0000:${version}:100:90:md5:sig:builder:1700000000`.padEnd(512, ' '));

describe('loadDbFiles', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-db-'));
    await mkdir(join(dir, 'db'));
    await mkdir(join(dir, 'db', 'nested'));
    await mkdir(join(dir, 'empty'));
    await writeFile(join(dir, 'db', 'a.ndb'), 'A:0:*:41424344\n');
    await writeFile(join(dir, 'db', 'b.HDB'), '44d88612fea8a8f36de82e1278abb02f:68:E\n');
    await writeFile(join(dir, 'db', 'notes.txt'), 'not a database');
    await writeFile(join(dir, 'db', 'nested', 'c.ndb'), 'C:0:*:41424344\n');
    await writeFile(join(dir, 'db', 'main.cvd'), cvdHeader(61));
    await writeFile(join(dir, 'db', 'main.cld'), cvdHeader(62));
    await writeFile(join(dir, 'db', 'daily.cld'), cvdHeader(7));
    await writeFile(join(dir, 'db', 'daily.cvd'), cvdHeader(9));
    await writeFile(join(dir, 'odd.sigs'), 'x');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('takes a folder\'s signature files, sorted, not recursing, newest cvd/cld', async () => {
    const files = await loadDbFiles([join(dir, 'db')]);
    assert.deepEqual(files.map((f) => f.name), ['a.ndb', 'b.HDB', 'daily.cvd', 'main.cld']);
    assert.equal(Buffer.from(files[0]?.data ?? []).toString(), 'A:0:*:41424344\n');
  });
  it('takes a named file whatever its extension', async () => {
    const files = await loadDbFiles([join(dir, 'odd.sigs'), join(dir, 'db', 'a.ndb')]);
    assert.deepEqual(files.map((f) => f.name), ['odd.sigs', 'a.ndb']);
  });
  it('reads a file\'s bytes when data is asked for, so the compiler can drop them after parsing', async () => {
    await mkdir(join(dir, 'lazy'));
    const path = join(dir, 'lazy', 'l.ndb');
    await writeFile(path, 'L:0:*:4142\n');
    const [file] = await loadDbFiles([join(dir, 'lazy')]);
    await writeFile(path, 'L:0:*:43444546\n');
    assert.equal(Buffer.from(file?.data ?? []).toString(), 'L:0:*:43444546\n');
    await rm(path);
    assert.throws(() => file?.data, { code: 'PC_ERR_DB_READ' });
  });
  const failures: [string, string][] = [['missing path', 'nope'], ['folder without signature files', 'empty']];
  for (const [name, rel] of failures) {
    it(`fails with PC_ERR_DB_READ: ${name}`, () => assert.rejects(loadDbFiles([join(dir, rel)]), { code: 'PC_ERR_DB_READ' }));
  }
  const versions: [string, Buffer, number][] = [['cvd header', cvdHeader(27), 27], ['not a cvd', Buffer.from('hello'), -1], ['bad number', Buffer.from('ClamAV-VDB:x:abc:'), -1]];
  for (const [name, data, want] of versions) it(`containerVersion: ${name}`, () => assert.equal(containerVersion(data), want));
});
