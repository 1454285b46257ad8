// The FTP proxy across IPv6 and IPv4: curl on ::1 (EPSV, and active EPRT |2|)
// through the proxy to vsftpd on 127.0.0.1, and the proxy to an IPv6 server.
// In the interop suite because it needs IPv6 on loopback; needs root,
// vsftpd and curl like ftp-vsftpd.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FakeFtpServer, readAll, TestClient } from '../../src/ftp/testing.js';
import { run, startProxy, startVsftpd, type RunningProxy, type RunningVsftpd } from './ftp-helpers.js';

describe('FTP proxy between IPv6 and IPv4', () => {
  let dir: string;
  let vsftpd: RunningVsftpd;
  let proxy: RunningProxy;
  const content = randomBytes(1024 * 1024 + 3);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-interop-ftp6-'));
    vsftpd = await startVsftpd(join(dir, 'vsftpd'), { pasvMin: 41300, pasvMax: 41400 });
    await writeFile(join(vsftpd.root, 'pub', 'six.bin'), content);
    proxy = await startProxy(join(dir, 'proxy'), { listen: '[::1]:0', upstream: vsftpd.address });
  });
  after(async () => {
    await proxy?.stop();
    await vsftpd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const modes: [string, string[]][] = [
    ['curl on ::1, EPSV, to vsftpd on 127.0.0.1', []],
    ['curl on ::1, active EPRT |2|, to vsftpd on 127.0.0.1', ['-P', '::1']],
  ];
  for (const [name, args] of modes) {
    it(name, async () => {
      assert.match(proxy.address, /^\[::1\]:\d+$/);
      const out = join(dir, `${args.length}.bin`);
      const r = await run('curl', ['-sS', '-g', ...args, '-o', out, `ftp://${proxy.address}/pub/six.bin`]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await readFile(out), content);
    });
  }

  it('PASV from an IPv6 client is refused with 522 (it cannot name the address)', async () => {
    const c = await TestClient.open(proxy.address);
    try {
      await c.login();
      assert.equal((await c.command('PASV')).code, 522);
      assert.equal((await c.command('EPSV 1')).code, 522);
    } finally { c.close(); }
  });

  it('an IPv6 server behind the proxy (EPSV on the server side)', async () => {
    const fake = await FakeFtpServer.start({}, '::1');
    const p = await startProxy(join(dir, 'proxy6'), { upstream: fake.address });
    try {
      fake.files.set('six.bin', content);
      const c = await TestClient.open(p.address);
      await c.login();
      const data = await c.epsv();
      const got = readAll(data);
      c.send('RETR six.bin');
      assert.equal((await c.must()).code, 150);
      assert.equal((await c.must()).code, 226);
      assert.deepEqual(await got, content);
      c.close();
    } finally {
      await p.stop();
      await fake.close();
    }
  });
});
