// The FTP proxy between real peers: Debian's vsftpd as the server, and curl
// (passive and active, EPSV and PASV, --ftp-port), lftp and basic-ftp as
// clients. Needs root (vsftpd), vsftpd, curl and lftp.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client as BasicFtp } from 'basic-ftp';
import { eicar, readAll, TestClient, writeAll } from '../../src/ftp/testing.js';
import { run, startProxy, startVsftpd, type RunningProxy, type RunningVsftpd } from './ftp-helpers.js';

const BIG_MB = 200;
/** Seconds the slow scanner takes: longer than the clients' timeouts below, so only the keepalive lines carry them through. */
const SLOW_SCAN_S = 4;

describe('FTP proxy between vsftpd and real clients', () => {
  let dir: string;
  let vsftpd: RunningVsftpd;
  let proxy: RunningProxy;
  let gateway: RunningProxy;
  /** In front of vsftpd with a scanner that takes SLOW_SCAN_S per file and the shortest keepaliveInterval (1 s). */
  let slow: RunningProxy;
  /** In front of vsftpd behind a (pretend) load balancer: every control connection starts with a PROXY header. */
  let balanced: RunningProxy;
  const clean = randomBytes(3 * 1024 * 1024 + 17);
  const big = randomBytes(BIG_MB * 1024 * 1024);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-interop-ftp-'));
    vsftpd = await startVsftpd(join(dir, 'vsftpd'));
    const pub = join(vsftpd.root, 'pub');
    await writeFile(join(pub, 'clean.bin'), clean);
    await writeFile(join(pub, 'eicar.com'), eicar());
    await writeFile(join(pub, 'eicar-head.bin'), Buffer.concat([eicar(), randomBytes(5000)]));
    await writeFile(join(pub, 'notes.txt'), 'plain words\n'.repeat(1000));
    await writeFile(join(pub, 'eicar-tail.bin'), Buffer.concat([randomBytes(3 * 1024 * 1024), eicar()]));
    await writeFile(join(pub, `big-${BIG_MB}M.bin`), big);
    const common = { limits: { MaxFileSize: '1GB', MaxScanSize: '1GB' }, policy: { scanAll: false } };
    proxy = await startProxy(join(dir, 'proxy'), { upstream: vsftpd.address, keepaliveInterval: '1s', dataTimeout: '10s' }, common);
    gateway = await startProxy(join(dir, 'gateway'), {}, common);
    const slowScanner = ['/bin/sh', '-c', `sleep ${SLOW_SCAN_S}; if grep -q STANDARD-ANTIVIRUS-TEST "$1"; then echo "$1: Eicar-Test-Signature FOUND"; exit 1; fi`, 'sh', '{}'];
    balanced = await startProxy(join(dir, 'balanced'), { upstream: vsftpd.address, proxyProtocol: true, proxyProtocolFrom: ['127.0.0.1/32'] }, common);
    slow = await startProxy(join(dir, 'slow'), { upstream: vsftpd.address, keepaliveInterval: '1s', dataTimeout: '10s' }, { ...common, scanners: [{ command: slowScanner }] });
  });
  after(async () => {
    await proxy?.stop();
    await gateway?.stop();
    await slow?.stop();
    await balanced?.stop();
    await vsftpd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const url = (path: string): string => `ftp://${proxy.address}${path}`;
  const uploaded = (name: string): string => join(vsftpd.root, 'upload', name);
  const spool = async (p: RunningProxy = proxy): Promise<string[]> => readdir(join(p.dataDir, 'spool', 'ftp')).catch(() => []);

  const curlModes: [string, string[]][] = [
    ['passive EPSV', []],
    ['passive PASV', ['--disable-epsv']],
    ['active EPRT', ['-P', '127.0.0.1']],
    ['active PORT', ['-P', '127.0.0.1', '--disable-eprt']],
    ['active --ftp-port -', ['--ftp-port', '-']],
  ];
  for (const [mode, args] of curlModes) {
    const tag = mode.replace(/[^a-z]+/gi, '-');
    it(`curl ${mode}: a clean download arrives byte-identical`, async () => {
      const out = join(dir, `dl-${tag}.bin`);
      const r = await run('curl', ['-sS', ...args, '-o', out, url('/pub/clean.bin')]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await readFile(out), clean);
    });
    it(`curl ${mode}: a clean upload reaches vsftpd byte-identical`, async () => {
      const src = join(dir, `up-${tag}.bin`);
      await writeFile(src, clean);
      const r = await run('curl', ['-sS', ...args, '-T', src, url(`/upload/up-${tag}.bin`)]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await readFile(uploaded(`up-${tag}.bin`)), clean);
    });
    it(`curl ${mode}: EICAR download delivers nothing and tells the finding`, async () => {
      const out = join(dir, `eicar-${tag}.com`);
      const r = await run('curl', ['-sS', '-v', ...args, '-o', out, url('/pub/eicar.com')]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /< 550-eicar\.com: Eicar-Test-Signature FOUND/);
      assert.match(r.stderr, /< 550 Transfer refused: Eicar-Test-Signature; quarantined as /);
      assert.equal(existsSync(out) ? (await readFile(out)).length : 0, 0);
    });
    it(`curl ${mode}: an EICAR upload never reaches vsftpd`, async () => {
      const src = join(dir, `eicar-up-${tag}.com`);
      await writeFile(src, eicar());
      const r = await run('curl', ['-sS', ...args, '-T', src, url(`/upload/eicar-${tag}.com`)]);
      assert.notEqual(r.code, 0);
      assert.equal(existsSync(uploaded(`eicar-${tag}.com`)), false);
    });
  }

  it('curl LIST through the proxy is byte-identical to LIST from vsftpd', async () => {
    const via = await run('curl', ['-sS', url('/pub/')]);
    const direct = await run('curl', ['-sS', `ftp://${vsftpd.address}/pub/`]);
    assert.equal(via.code, 0, via.stderr);
    assert.equal(via.stdout, direct.stdout);
    assert.match(via.stdout, /clean\.bin/);
  });

  it('curl -C (REST + RETR) resumes from the offset', async () => {
    const out = join(dir, 'resumed.bin');
    await writeFile(out, clean.subarray(0, 100_000));
    const r = await run('curl', ['-sS', '-C', '-', '-o', out, url('/pub/clean.bin')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(out), clean);
  });

  it('curl -C: a signature in the skipped part is still caught', async () => {
    const out = join(dir, 'resumed-eicar.bin');
    await writeFile(out, Buffer.alloc(1000));
    const r = await run('curl', ['-sS', '-v', '-C', '-', '-o', out, url('/pub/eicar-head.bin')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Eicar-Test-Signature FOUND/);
    assert.equal((await readFile(out)).length, 1000, 'nothing was appended');
  });

  it('vsftpd announces the size in its 150, so a scanned download is scanned as it arrives: a signature in its last bytes is caught, a clean one is byte-identical', async () => {
    const bad = await run('curl', ['-sS', '-v', '-o', join(dir, 'eicar-tail.bin'), url('/pub/eicar-tail.bin')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /< 550-eicar-tail\.bin: Eicar-Test-Signature FOUND/);
    const badLine = await proxy.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'eicar-tail.bin');
    assert.deepEqual([badLine['verdict'], badLine['followed']], ['infected', true]);
    const out = join(dir, 'followed-clean.bin');
    const good = await run('curl', ['-sS', '-o', out, url('/pub/clean.bin')]);
    assert.equal(good.code, 0, good.stderr);
    assert.deepEqual(await readFile(out), clean);
    const goodLine = await proxy.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'clean.bin' && l['followed'] === true);
    assert.equal(goodLine['verdict'], 'clean');
  });

  it(`curl: a ${BIG_MB} MB scanned download and upload finish without timing out`, async () => {
    const out = join(dir, 'big-dl.bin');
    const d = await run('curl', ['-sS', '--max-time', '120', '-o', out, url(`/pub/big-${BIG_MB}M.bin`)]);
    assert.equal(d.code, 0, d.stderr);
    assert.ok((await readFile(out)).equals(big));
    const u = await run('curl', ['-sS', '--max-time', '120', '-T', out, url('/upload/big-up.bin')]);
    assert.equal(u.code, 0, u.stderr);
    assert.ok((await readFile(uploaded('big-up.bin'))).equals(big));
    const line = await proxy.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'big-up.bin');
    assert.equal(line['scanned'], true);
  });

  it('lftp: ls, get and put through the proxy; EICAR get refused', async () => {
    const local = join(dir, 'lftp');
    await run('mkdir', ['-p', local]);
    const r = await run('lftp', ['-c', [
      'set net:max-retries 1; set net:timeout 20; set cmd:fail-exit no',
      `open -u anonymous,x -p ${proxy.port} ftp://127.0.0.1`,
      'cls -1 pub/',
      `get pub/clean.bin -o ${join(local, 'clean.bin')}`,
      `put ${join(local, 'clean.bin')} -o upload/lftp-up.bin`,
      `get pub/eicar.com -o ${join(local, 'eicar.com')}`,
    ].join('; ')]);
    assert.match(r.stdout, /clean\.bin/);
    assert.deepEqual(await readFile(join(local, 'clean.bin')), clean);
    assert.deepEqual(await readFile(uploaded('lftp-up.bin')), clean);
    assert.match(r.stderr, /550/);
    assert.equal(existsSync(join(local, 'eicar.com')) ? (await readFile(join(local, 'eicar.com'))).length : 0, 0);
  });

  it(`lftp: a ${BIG_MB} MB scanned get finishes without timing out`, async () => {
    const out = join(dir, 'lftp-big.bin');
    const r = await run('lftp', ['-c', `set net:max-retries 1; set net:timeout 30; open -u anonymous,x -p ${proxy.port} ftp://127.0.0.1; get pub/big-${BIG_MB}M.bin -o ${out}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(out)).equals(big));
  });

  it('basic-ftp: list, download, upload; EICAR upload refused', async () => {
    const client = new BasicFtp(20_000);
    try {
      await client.access({ host: '127.0.0.1', port: proxy.port, user: 'anonymous', password: 'x' });
      const names = (await client.list('/pub')).map((f) => f.name);
      assert.ok(names.includes('clean.bin'), names.join(' '));
      const parts: Buffer[] = [];
      await client.downloadTo(new Writable({ write(c: Buffer, _e, cb) { parts.push(c); cb(); } }), '/pub/clean.bin');
      assert.deepEqual(Buffer.concat(parts), clean);
      await client.uploadFrom(Readable.from([clean]), '/upload/basic.bin');
      assert.deepEqual(await readFile(uploaded('basic.bin')), clean);
      await assert.rejects(client.uploadFrom(Readable.from([eicar()]), '/upload/basic-eicar.com'), /550/);
      assert.equal(existsSync(uploaded('basic-eicar.com')), false);
    } finally {
      client.close();
    }
  });

  it('STOU relays the unique name vsftpd chose', async () => {
    const c = await TestClient.open(proxy.address);
    try {
      await c.login();
      assert.equal((await c.command('CWD /upload')).code, 250);
      const data = await c.epsv();
      c.send('STOU');
      assert.equal((await c.must()).code, 150);
      await writeAll(data, Buffer.from('stou content'));
      const r = await c.must(10_000);
      assert.equal(r.code, 226, r.text);
      const name = /FILE: (\S+)/.exec(r.text)?.[1];
      assert.ok(name !== undefined, r.text);
      assert.equal(await readFile(uploaded(name), 'utf8'), 'stou content');
    } finally { c.close(); }
  });

  it('ABOR while receiving from vsftpd: 426 then 226, the spool is deleted, the session goes on', async () => {
    const c = await TestClient.open(proxy.address);
    try {
      await c.login();
      const data = await c.epsv();
      const got = readAll(data).catch(() => Buffer.alloc(0));
      c.send(`RETR /pub/big-${BIG_MB}M.bin`);
      await new Promise((r) => setTimeout(r, 30));
      c.raw(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
      let r = await c.must(20_000);
      if (r.code === 150) r = await c.must(20_000);
      assert.equal(r.code, 426, r.text);
      assert.equal((await c.must()).code, 226);
      assert.deepEqual(await spool(), []);
      assert.equal((await got).length, 0);
      assert.equal((await c.command('NOOP')).code, 200);
    } finally { c.close(); }
  });

  it('a client vanishing mid-upload leaves nothing on vsftpd and nothing in the spool', async () => {
    const c = await TestClient.open(proxy.address);
    await c.login();
    const data = await c.epsv();
    c.send('STOR /upload/vanished.bin');
    assert.equal((await c.must()).code, 150);
    data.write(randomBytes(500_000));
    await new Promise((r) => setTimeout(r, 100));
    c.close();
    data.destroy();
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await spool(), []);
    assert.equal(existsSync(uploaded('vanished.bin')), false);
  });

  // Skipped uploads stream (docs/ARCHITECTURE.md): the server's STOR opens after the first 64 KiB, so a
  // cut-off upload is removed from the server afterwards (DELE) instead of never reaching it.
  const text = (mb: number): Buffer => Buffer.from('plain words of a text file that the policy skips\n'.repeat(Math.ceil(mb * 1024 * 1024 / 49)));
  const until = async (cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> => {
    const end = Date.now() + timeoutMs;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const upSize = (name: string): number => (existsSync(uploaded(name)) ? statSync(uploaded(name)).size : 0);

  it('skipped upload (text, streamed after its first 64 KiB): curl -T arrives on vsftpd byte-identical', async () => {
    const src = join(dir, 'skip-up.txt');
    const body = text(20);
    await writeFile(src, body);
    const r = await run('curl', ['-sS', '-T', src, url('/upload/skip-up.txt')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(uploaded('skip-up.txt'))).equals(body));
    const line = await proxy.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'skip-up.txt');
    assert.equal(line['scanned'], false);
  });

  it('skipped (streamed) upload that vsftpd refuses (553, /pub is not writable): the client gets the 553, the session goes on', async () => {
    const c = await TestClient.open(proxy.address);
    try {
      await c.login();
      const data = await c.epsv();
      data.on('error', () => undefined);
      c.send('STOR /pub/refused.txt');
      assert.equal((await c.must()).code, 150);
      data.write(text(1));
      const r = await c.must(10_000);
      assert.equal(r.code, 553, r.text);
      assert.equal(existsSync(join(vsftpd.root, 'pub', 'refused.txt')), false);
      assert.equal((await c.command('NOOP')).code, 200);
    } finally { c.close(); }
  });

  const cutOff: [string, 'vanish' | 'abor', 'STOR' | 'STOU'][] = [
    ['a client vanishing mid skipped (streamed) STOR: the partial file is removed from vsftpd with DELE', 'vanish', 'STOR'],
    ['ABOR mid skipped (streamed) STOR: 426 then 226, the partial file is removed from vsftpd', 'abor', 'STOR'],
    ['ABOR mid skipped (streamed) STOU: the name vsftpd announced is removed', 'abor', 'STOU'],
  ];
  for (const [title, how, verb] of cutOff) {
    it(title, async () => {
      const c = await TestClient.open(proxy.address);
      try {
        await c.login();
        assert.equal((await c.command('CWD /upload')).code, 250);
        const data = await c.epsv();
        data.on('error', () => undefined);
        const name = `cut-${how}-${verb}.txt`;
        c.send(`${verb} ${name}`);
        assert.equal((await c.must()).code, 150);
        const before = new Set(await readdir(join(vsftpd.root, 'upload')));
        data.write(text(4));
        // Streaming: bytes reach vsftpd while the client is still sending.
        const target = async (): Promise<string | undefined> => (verb === 'STOR' ? name : (await readdir(join(vsftpd.root, 'upload'))).find((n) => !before.has(n)));
        let seen: string | undefined;
        const end = Date.now() + 10_000;
        while (Date.now() < end && ((seen = await target()) === undefined || upSize(seen) === 0)) await new Promise((r) => setTimeout(r, 20));
        assert.ok(seen !== undefined && upSize(seen) > 0, 'the upload was streamed to vsftpd');
        const removed = proxy.logs.waitFor((l) => l['msg'] === 'ftp partial upload removed from the server' && l['name'] === seen, 10_000);
        if (how === 'vanish') {
          c.close();
          data.destroy();
        } else {
          c.raw(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
          assert.equal((await c.must(10_000)).code, 426);
          assert.equal((await c.must(10_000)).code, 226);
        }
        await removed;
        assert.equal(existsSync(uploaded(seen)), false);
        if (how === 'abor') assert.equal((await c.command('NOOP')).code, 200, 'the session goes on');
      } finally { c.close(); }
    });
  }

  it('scanned upload (random .bin) is still held whole: vsftpd sees nothing before the clean verdict', async () => {
    const c = await TestClient.open(proxy.address);
    try {
      await c.login();
      const data = await c.epsv();
      const body = randomBytes(4 * 1024 * 1024);
      c.send('STOR /upload/held.bin');
      assert.equal((await c.must()).code, 150);
      data.write(body.subarray(0, 2 * 1024 * 1024));
      await until(async () => (await spool()).length > 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(existsSync(uploaded('held.bin')), false, 'nothing reached vsftpd yet');
      await writeAll(data, body.subarray(2 * 1024 * 1024));
      const r = await c.must(20_000);
      assert.equal(r.code, 226, r.text);
      assert.ok((await readFile(uploaded('held.bin'))).equals(body));
    } finally { c.close(); }
  });

  // Keepalive during an upload scan: the client has closed its data connection and waits for the final
  // reply; "226-" continuation lines of that reply come at most every keepaliveInterval (1 s here).
  const keepaliveLines = (stderr: string): number => (stderr.match(/^< 226-Still working on [^\r\n]*scanning/gm) ?? []).length;

  it(`curl: a scanned upload through a ${SLOW_SCAN_S} s scan gets "226-" keepalive lines, at most one a second, then 226 after vsftpd's`, async () => {
    const src = join(dir, 'slow-up.bin');
    await writeFile(src, clean);
    const started = Date.now();
    const r = await run('curl', ['-sS', '-v', '-T', src, `ftp://${slow.address}/upload/slow-up.bin`]);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(uploaded('slow-up.bin')), clean);
    const lines = keepaliveLines(r.stderr);
    assert.ok(lines >= SLOW_SCAN_S - 2, `${lines} keepalive lines in ${seconds} s`);
    assert.ok(lines <= Math.ceil(seconds), `${lines} keepalive lines in ${seconds} s: more than one a second`);
    assert.match(r.stderr, /^< 226 /m);
  });

  it(`lftp with net:timeout 2 s: a scanned put through a ${SLOW_SCAN_S} s scan finishes, carried by the keepalive lines`, async () => {
    const local = join(dir, 'lftp-slow.bin');
    await writeFile(local, clean);
    const r = await run('lftp', ['-c', `set net:max-retries 1; set net:timeout 2; set net:persist-retries 0; open -u anonymous,x -p ${slow.port} ftp://127.0.0.1; put ${local} -o upload/lftp-slow.bin`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(uploaded('lftp-slow.bin')), clean);
  });

  it(`curl: an EICAR upload refused after a ${SLOW_SCAN_S} s scan: the keepalive lines end in the 550 with the finding, nothing reaches vsftpd`, async () => {
    const src = join(dir, 'slow-eicar.com');
    await writeFile(src, Buffer.concat([eicar(), randomBytes(100_000)]));
    const r = await run('curl', ['-sS', '-v', '-T', src, `ftp://${slow.address}/upload/slow-eicar.com`]);
    assert.notEqual(r.code, 0);
    assert.ok(keepaliveLines(r.stderr) >= SLOW_SCAN_S - 2, r.stderr);
    assert.match(r.stderr, /^< 550 Transfer refused: Eicar-Test-Signature/m);
    assert.equal(existsSync(uploaded('slow-eicar.com')), false);
  });

  // curl --haproxy-protocol is client and balancer at once: it sends the header on its data connections
  // too. The proxy reads the header on the control connection only (docs/ARCHITECTURE.md), so curl is
  // used where the client's data bytes are not read (download, listing); the upload below comes from a
  // client behind the header, its data connection without one, as through a balancer.
  it('curl --haproxy-protocol: a download and a listing work, the transfer log names the header\'s client; without the header: closed', async () => {
    const out = join(dir, 'haproxy.bin');
    const d = await run('curl', ['-sS', '--haproxy-protocol', '-o', out, `ftp://${balanced.address}/pub/clean.bin`]);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(await readFile(out), clean);
    const line = await balanced.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'clean.bin');
    assert.match(String(line['client']), /^127\.0\.0\.1:\d+$/);
    const list = await run('curl', ['-sS', '--haproxy-protocol', `ftp://${balanced.address}/pub/`]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /clean\.bin/);
    const plain = await run('curl', ['-sS', '--max-time', '20', `ftp://${balanced.address}/pub/`]);
    assert.notEqual(plain.code, 0);
    await balanced.logs.waitFor((l) => l['msg'] === 'connection closed: no valid PROXY header');
  });

  it('behind a PROXY header: an upload whose data connection comes from the header\'s address reaches vsftpd byte-identical', async () => {
    const c = await TestClient.open(balanced.address);
    try {
      c.raw('PROXY TCP4 127.0.0.1 127.0.0.1 40123 21\r\n');
      await c.login();
      const data = await c.epsv();
      c.send('STOR /upload/behind-lb.bin');
      assert.equal((await c.must()).code, 150);
      await writeAll(data, clean);
      assert.equal((await c.must(20_000)).code, 226);
      assert.deepEqual(await readFile(uploaded('behind-lb.bin')), clean);
    } finally { c.close(); }
  });

  it('gateway mode: curl names vsftpd as USER anonymous@127.0.0.1:port', async () => {
    const out = join(dir, 'gw.bin');
    const user = encodeURIComponent(`anonymous@${vsftpd.address}`);
    const r = await run('curl', ['-sS', '-o', out, `ftp://${user}:x@${gateway.address}/pub/clean.bin`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readFile(out), clean);
    const loop = await run('curl', ['-sS', '-v', `ftp://${encodeURIComponent(`anonymous@${gateway.address}`)}:x@${gateway.address}/pub/`]);
    assert.notEqual(loop.code, 0);
    assert.match(loop.stderr, /530 Destination refused: that is this proxy/);
  });
});
