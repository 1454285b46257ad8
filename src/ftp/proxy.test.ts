/**
 * The FTP proxy end to end on loopback: a real gateway (config, snapshot,
 * inspect, quarantine) with the FTP listener on 127.0.0.1:0, an in-process
 * FTP server behind it (testing.ts) and raw protocol lines from the client
 * side, plus basic-ftp as a programmatic client.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client as BasicFtp } from 'basic-ftp';
import { Gateway } from '../gateway/runtime.js';
import { captureLog, tempDir, testConfig, type CapturedLog } from '../gateway/testing.js';
import { eicar, FakeFtpServer, readAll, TestClient, writeAll, type FakeServerOptions } from './testing.js';

interface Harness {
  readonly fake: FakeFtpServer;
  readonly gw: Gateway;
  readonly logs: CapturedLog;
  readonly address: string;
  readonly dataDir: string;
  client(localAddress?: string): Promise<TestClient>;
  /** A logged-in client. */
  session(): Promise<TestClient>;
  spoolFiles(): Promise<string[]>;
  done(): Promise<void>;
}

async function harness(options: { fake?: FakeServerOptions; ftp?: Record<string, unknown>; config?: Record<string, unknown>; gatewayMode?: boolean; listen?: string } = {}): Promise<Harness> {
  const fake = await FakeFtpServer.start(options.fake);
  const dir = await tempDir('pc-ftp-');
  const logs = captureLog('debug');
  const ftp = { listen: options.listen ?? '127.0.0.1:0', maxSessionsPerClient: 1000, ...(options.gatewayMode === true ? {} : { upstream: fake.address }), ...options.ftp };
  let gw: Gateway;
  try {
    gw = await Gateway.start({
      readConfig: async () => testConfig(dir.path, { smtp: false, ftp, ...options.config }),
      log: logs.log,
      noPrivilegeDrop: true,
    });
  } catch (err) {
    await fake.close();
    await dir.remove();
    throw err;
  }
  const address = gw.addresses().ftp ?? '';
  const clients: TestClient[] = [];
  const client = async (localAddress?: string): Promise<TestClient> => {
    const c = await TestClient.open(address, localAddress);
    clients.push(c);
    return c;
  };
  return {
    fake, gw, logs, address, dataDir: dir.path, client,
    async session() { const c = await client(); await c.login(); return c; },
    async spoolFiles() { return readdir(join(dir.path, 'spool', 'ftp')).catch(() => []); },
    async done() {
      for (const c of clients) c.close();
      await gw.stop('test');
      await fake.close();
      await dir.remove();
    },
  };
}

function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = async (): Promise<void> => {
      if (await check()) { resolve(); return; }
      if (Date.now() > end) { reject(new Error('condition not met in time')); return; }
      setTimeout(() => void tick(), 20);
    };
    void tick();
  });
}

function connectTo(host: string, port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, ...(localAddress !== undefined ? { localAddress } : {}) }, () => resolve(s));
    s.once('error', reject);
  });
}

function epsvPort(text: string): number {
  const m = /\(\|\|\|(\d+)\|\)/.exec(text);
  assert.ok(m, `EPSV reply: ${text}`);
  return Number(m[1]);
}

/** RETR over EPSV: the data received and every reply up to the final one. */
async function retr(c: TestClient, name: string): Promise<{ data: Buffer; replies: string[] }> {
  const data = await c.epsv();
  const got = readAll(data);
  c.send(`RETR ${name}`);
  const replies: string[] = [];
  for (;;) {
    const r = await c.must();
    replies.push(r.text);
    if (r.code >= 200) break;
  }
  return { data: await got, replies };
}

describe('ftp proxy: control channel', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ fake: { greetingLines: ['226 a line with another code', '12345 starts with digits'], features: ['MODE Z', 'AUTH TLS', 'SIZE', 'MDTM', 'UTF8', 'MLST type*;size*;modify*;', 'REST STREAM', 'XCRC "filename" SP EP'] } });
  });
  after(async () => h.done());

  it('relays a multi-line greeting intact, continuation lines that start with digits included', async () => {
    const c = await h.client();
    const g = await c.must();
    assert.deepEqual(g.lines, ['220-fake ready', '226 a line with another code', '12345 starts with digits', '220 go']);
  });

  it('answers pipelined commands in order', async () => {
    const c = await h.session();
    c.raw('NOOP\r\nSYST\r\nPWD\r\n');
    assert.equal((await c.must()).code, 200);
    assert.equal((await c.must()).code, 215);
    assert.equal((await c.must()).code, 257);
  });

  it('reads a command split across segments', async () => {
    const c = await h.session();
    c.raw('NO');
    await new Promise((r) => setTimeout(r, 50));
    c.raw('O');
    await new Promise((r) => setTimeout(r, 50));
    c.raw('P\r\n');
    assert.equal((await c.must()).text, '200 NOOP ok');
  });

  it('answers an over-long line with 500 and goes on', async () => {
    const c = await h.session();
    c.raw(`NOOP ${'x'.repeat(5000)}\r\nNOOP\r\n`);
    assert.equal((await c.must()).code, 500);
    assert.equal((await c.must()).code, 200);
  });

  it('strips TELNET IAC IP / IAC DM around ABOR and relays the ABOR', async () => {
    const c = await h.session();
    const before = h.fake.received('ABOR').length;
    c.raw(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
    assert.equal((await c.must()).code, 225);
    assert.equal(h.fake.received('ABOR').length, before + 1);
    assert.equal(h.fake.received('ABOR').at(-1), 'ABOR');
  });

  it('rewrites FEAT to what the proxy supports', async () => {
    const c = await h.session();
    const r = await c.command('FEAT');
    assert.equal(r.code, 211);
    assert.deepEqual(r.lines.slice(1, -1).map((l) => l.trim()), ['EPRT', 'EPSV', 'PASV', 'MDTM', 'MLST type*;size*;modify*;', 'REST STREAM', 'SIZE', 'UTF8']);
    assert.equal(r.lines.at(-1), '211 End');
  });

  const refused: [string, string, number][] = [
    ['MODE Z', 'MODE Z', 504],
    ['MODE B', 'MODE B', 504],
    ['OPTS MODE Z', 'OPTS MODE Z LEVEL 9', 504],
    ['STRU R (record structure)', 'STRU R', 504],
    ['AUTH TLS (FTPS comes later)', 'AUTH TLS', 502],
    ['LPRT', 'LPRT 4,4,127,0,0,1,2,4,1', 502],
    ['REST with a bad offset', 'REST -5', 501],
    ['a verb that is no verb', '!!!', 500],
  ];
  for (const [name, line, code] of refused) {
    it(`refuses ${name} with ${code}`, async () => {
      const c = await h.session();
      assert.equal((await c.command(line)).code, code);
      assert.equal((await c.command('NOOP')).code, 200, 'the session goes on');
    });
  }

  it('closes a session that sends too many commands ahead of their replies', async () => {
    const c = await h.session();
    c.raw('NOOP\r\n'.repeat(5000));
    let last: number | undefined;
    for (;;) {
      const r = await c.reply();
      if (r === undefined) break;
      last = r.code;
    }
    assert.equal(last, 421);
  });

  it('relays MODE S', async () => {
    const c = await h.session();
    assert.equal((await c.command('MODE S')).code, 200);
    assert.ok(h.fake.received('MODE').includes('MODE S'));
  });

  it('refuses transfers before login (530) and out of order (503)', async () => {
    const c = await h.client();
    await c.must();
    assert.equal((await c.command('EPSV')).code, 530);
    assert.equal((await c.command('RETR x')).code, 530);
  });

  it('QUIT ends the session with the server\'s 221', async () => {
    const c = await h.session();
    const r = await c.command('QUIT');
    assert.equal(r.code, 221);
    assert.equal(await c.reply(), undefined);
  });
});

describe('ftp proxy: gateway mode and access', () => {
  let h: Harness;
  before(async () => { h = await harness({ gatewayMode: true, ftp: { denyDestinations: ['192.0.2.0/24'] } }); });
  after(async () => h.done());

  it('greets as the proxy and asks for USER name@host', async () => {
    const c = await h.client();
    const g = await c.must();
    assert.equal(g.code, 220);
    assert.match(g.text, /USER name@host/);
    assert.equal((await c.command('SYST')).code, 530, 'nothing is relayed before a server is named');
  });

  it('connects to the server named in USER name@host:port and logs in', async () => {
    const c = await h.client();
    await c.login(`anonymous@127.0.0.1:${h.fake.port}`);
    assert.equal((await c.command('PWD')).code, 257);
    assert.equal(h.fake.received('USER').at(-1), 'USER anonymous');
  });

  it('splits USER on the last @', async () => {
    const c = await h.client();
    await c.must();
    const r = await c.command(`USER me@example.org@127.0.0.1:${h.fake.port}`);
    assert.equal(r.code, 530, 'the fake knows no such user');
    assert.equal(h.fake.received('USER').at(-1), 'USER me@example.org');
  });

  const refusedDestinations: [string, (h: Harness) => string][] = [
    ['the proxy itself', (x) => `anonymous@127.0.0.1:${x.address.split(':').at(-1) ?? ''}`],
    ['a denied network', () => 'anonymous@192.0.2.7:21'],
    ['a name that does not resolve', () => 'anonymous@does-not-exist.invalid:21'],
    ['no host at all', () => 'anonymous'],
  ];
  for (const [name, user] of refusedDestinations) {
    it(`refuses ${name} as destination`, async () => {
      const c = await h.client();
      await c.must();
      const r = await c.command(`USER ${user(h)}`);
      assert.equal(r.code, 530, r.text);
    });
  }
});

describe('ftp proxy: client access lists', () => {
  it('refuses a client from a denied network with 421', async () => {
    const h = await harness({ ftp: { denyClients: ['127.0.0.0/8'] } });
    try {
      const c = await h.client();
      assert.equal((await c.must()).code, 421);
      assert.equal(await c.reply(), undefined);
    } finally { await h.done(); }
  });

  it('admits only clients in allowClients', async () => {
    const h = await harness({ ftp: { allowClients: ['127.0.0.2/32'] } });
    try {
      const other = await h.client('127.0.0.1');
      assert.equal((await other.must()).code, 421);
      const allowed = await h.client('127.0.0.2');
      assert.equal((await allowed.must()).code, 220);
    } finally { await h.done(); }
  });
});

describe('ftp proxy: data channels', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ ftp: { dataTimeout: '1s' } });
    h.fake.files.set('a.bin', randomBytes(70_000));
  });
  after(async () => h.done());

  const bounces: [string, (c: TestClient) => string][] = [
    ['PORT to a third-party address', () => 'PORT 192,0,2,1,200,10'],
    ['PORT to a port below 1024', () => 'PORT 127,0,0,1,0,21'],
    ['EPRT to a third-party address', () => 'EPRT |1|192.0.2.1|51234|'],
    ['EPRT to a port below 1024', () => 'EPRT |1|127.0.0.1|25|'],
    ['EPRT |2| to another IPv6 host', () => 'EPRT |2|2001:db8::1|51234|'],
  ];
  for (const [name, cmd] of bounces) {
    it(`refuses ${name} with 501`, async () => {
      const c = await h.session();
      assert.equal((await c.command(cmd(c))).code, 501);
      assert.equal((await c.command('RETR a.bin')).code, 425, 'no data channel was set up');
    });
  }

  it('rejects a data connection from another address; the real client can still connect', async () => {
    const c = await h.session();
    const port = epsvPort((await c.command('EPSV')).text);
    const intruder = await connectTo('127.0.0.1', port, '127.0.0.2');
    const intruderData = readAll(intruder).catch(() => Buffer.alloc(0));
    await h.logs.waitFor((l) => l['msg'] === 'ftp data connection from a foreign address refused');
    const real = await connectTo('127.0.0.1', port);
    const got = readAll(real);
    c.send('RETR a.bin');
    assert.equal((await c.must()).code, 150);
    assert.equal((await c.must()).code, 226);
    assert.deepEqual(await got, h.fake.files.get('a.bin'));
    assert.equal((await intruderData).length, 0);
  });

  it('a second PASV closes the first listener', async () => {
    const c = await h.session();
    const first = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec((await c.command('PASV')).text);
    assert.ok(first);
    const port1 = Number(first[5]) * 256 + Number(first[6]);
    assert.equal((await c.command('PASV')).code, 227);
    await assert.rejects(connectTo('127.0.0.1', port1), /ECONNREFUSED/);
  });

  it('answers 425 when the client does not connect in time, and frees the port', async () => {
    const c = await h.session();
    const port = epsvPort((await c.command('EPSV')).text);
    const started = Date.now();
    c.send('RETR a.bin');
    const r = await c.must(5000);
    assert.equal(r.code, 425, r.text);
    assert.ok(Date.now() - started < 4000);
    await assert.rejects(connectTo('127.0.0.1', port), /ECONNREFUSED/);
    assert.equal((await c.command('NOOP')).code, 200);
  });

  it('active mode on the client side (PORT and EPRT)', async () => {
    for (const extended of [false, true]) {
      const c = await h.session();
      const data = await c.active(extended);
      c.send('RETR a.bin');
      const got = readAll(await data.accepted);
      assert.equal((await c.must()).code, 150);
      assert.equal((await c.must()).code, 226);
      assert.deepEqual(await got, h.fake.files.get('a.bin'));
    }
  });

  it('RETR without PORT/PASV first is 425', async () => {
    const c = await h.session();
    assert.equal((await c.command('RETR a.bin')).code, 425);
  });
});

describe('ftp proxy: server-side data modes', () => {
  const modes: [string, { fake?: FakeServerOptions; ftp?: Record<string, unknown> }, string][] = [
    ['EPSV falls back to PASV on 500', { fake: { noEpsv: true } }, 'PASV'],
    ['a foreign address in 227 is replaced by the server address', { fake: { noEpsv: true, pasvAddress: '10.9.8.7' } }, 'PASV'],
    ['active mode to the server (PORT)', { ftp: { upstreamDataMode: 'active' } }, 'PORT'],
  ];
  for (const [name, opts, verb] of modes) {
    it(name, async () => {
      const h = await harness(opts);
      try {
        h.fake.files.set('f.bin', randomBytes(10_000));
        const c = await h.session();
        const data = await c.epsv();
        const got = readAll(data);
        c.send('RETR f.bin');
        assert.equal((await c.must()).code, 150);
        assert.equal((await c.must()).code, 226);
        assert.deepEqual(await got, h.fake.files.get('f.bin'));
        assert.ok(h.fake.received(verb).length > 0, `the server got ${verb}`);
      } finally { await h.done(); }
    });
  }

  it('a foreign address in 227 is refused when configured (425)', async () => {
    const h = await harness({ fake: { noEpsv: true, pasvAddress: '10.9.8.7' }, ftp: { foreignPassiveAddress: 'refuse' } });
    try {
      h.fake.files.set('f.bin', Buffer.from('x'));
      const c = await h.session();
      await c.epsv();
      assert.equal((await c.command('RETR f.bin')).code, 425);
      assert.equal(h.fake.received('RETR').length, 0);
    } finally { await h.done(); }
  });
});

describe('ftp proxy: transfers', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ ftp: { maxTransferSize: '64KiB' }, config: { policy: { scanAll: false } } });
  });
  after(async () => h.done());

  async function stor(c: TestClient, verb: string, content: Buffer): Promise<string[]> {
    const data = await c.epsv();
    c.send(verb);
    const replies: string[] = [];
    const first = await c.must();
    replies.push(first.text);
    if (first.code >= 200) { data.destroy(); return replies; }
    await writeAll(data, content);
    replies.push((await c.must()).text);
    return replies;
  }

  for (const kind of ['scanned (held)', 'skipped (streamed)']) {
    it(`${kind} download whose client writes on the data connection and half-closes it (curl --haproxy-protocol writes its header there): the file arrives whole`, async () => {
      const name = kind.startsWith('scanned') ? 'chatty.bin' : 'chatty.txt';
      // Small enough to sit in the socket buffers: the client reads only after the 226, when the proxy has closed.
      const content = kind.startsWith('scanned') ? randomBytes(50_000) : Buffer.from('words of a text file\n'.repeat(10_000));
      h.fake.files.set(name, content);
      const c = await h.session();
      const data = await c.epsv();
      data.pause();
      data.end('PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\n');
      c.send(`RETR ${name}`);
      let r = await c.must(10_000);
      while (r.code < 200) r = await c.must(10_000);
      assert.equal(r.code, 226, r.text);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const got = readAll(data);
      data.resume();
      assert.ok((await got).equals(content), 'closed with a FIN, not a reset that drops the unread tail');
    });
  }

  it('LIST passes through byte-exact', async () => {
    h.fake.files.set('list-me.txt', Buffer.from('abc'));
    const c = await h.session();
    const data = await c.epsv();
    const got = readAll(data);
    c.send('LIST');
    assert.equal((await c.must()).code, 150);
    assert.equal((await c.must()).code, 226);
    const expected = [...h.fake.files].map(([n, b]) => `-rw-r--r-- 1 ftp ftp ${b.length} Jan 01 00:00 ${n}\r\n`).join('');
    assert.equal((await got).toString('latin1'), expected);
  });

  it('RETR of a clean file: byte-identical, 226 after the clean verdict', async () => {
    const content = randomBytes(50_000);
    h.fake.files.set('clean.exe', content);
    const c = await h.session();
    const r = await retr(c, 'clean.exe');
    assert.deepEqual(r.data, content);
    assert.match(r.replies.at(-1) ?? '', /^226 Transfer complete: scanned, no virus found$/);
    const line = await h.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'clean.exe');
    assert.equal(line['verdict'], 'clean');
    assert.equal(line['direction'], 'inbound');
  });

  it('RETR of EICAR: nothing delivered, the findings in a valid multi-line 550, quarantined', async () => {
    h.fake.files.set('eicar.com', eicar());
    const c = await h.session();
    const r = await retr(c, 'eicar.com');
    assert.equal(r.data.length, 0);
    const reply = r.replies.at(-1) ?? '';
    const lines = reply.split('\n');
    assert.equal(lines[0], '550-eicar.com: Eicar-Test-Signature FOUND');
    assert.match(lines.at(-1) ?? '', /^550 Transfer refused: Eicar-Test-Signature; quarantined as [A-Z0-9-]+, ask your administrator$/);
    assert.ok(lines.slice(0, -1).every((l) => l.startsWith('550-')));
    assert.deepEqual(await h.spoolFiles(), []);
  });

  it('REST + RETR: the whole file is scanned, then sent from the offset', async () => {
    const content = randomBytes(20_000);
    h.fake.files.set('rest.bin', content);
    const c = await h.session();
    assert.equal((await c.command('REST 1234')).code, 350);
    const r = await retr(c, 'rest.bin');
    assert.deepEqual(r.data, content.subarray(1234));
    assert.ok(h.fake.received('REST').length === 0, 'the server is asked for the whole file');
  });

  it('REST + RETR: a signature in the skipped part is still caught', async () => {
    h.fake.files.set('rest-eicar.com', Buffer.concat([eicar(), Buffer.alloc(1000, 0x20)]));
    const c = await h.session();
    assert.equal((await c.command('REST 500')).code, 350);
    const r = await retr(c, 'rest-eicar.com');
    assert.equal(r.data.length, 0);
    assert.match(r.replies.at(-1) ?? '', /Eicar-Test-Signature/);
  });

  it('a file the policy skips is passed unscanned', async () => {
    const content = Buffer.from('just some words\n');
    h.fake.files.set('notes.txt', content);
    const c = await h.session();
    const r = await retr(c, 'notes.txt');
    assert.deepEqual(r.data, content);
    const line = await h.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'notes.txt');
    assert.equal(line['scanned'], false);
  });

  it('a large download the policy skips streams through: byte-identical, logged with its full size, unscanned', async () => {
    const content = Buffer.from('plain words, nothing else\n'.repeat(20_000));
    h.fake.files.set('long.txt', content);
    const c = await h.session();
    const r = await retr(c, 'long.txt');
    assert.deepEqual(r.data, content);
    assert.match(r.replies.at(-1) ?? '', /^226 /);
    const line = await h.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'long.txt');
    assert.equal(line['scanned'], false);
    assert.equal(line['size'], content.length, 'more than maxTransferSize: a skipped file is not held');
    assert.deepEqual(await h.spoolFiles(), []);
  });

  it('a large .txt whose head is an executable is held and scanned', async () => {
    h.fake.files.set('long-exe.txt', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(100_000, 0x41), eicar()]));
    const c = await h.session();
    const r = await retr(c, 'long-exe.txt');
    assert.equal(r.data.length, 0);
    assert.match(r.replies.at(-1) ?? '', /^552 /, 'held, so the size limit applies');
  });

  it('a renamed executable is scanned by its true type', async () => {
    h.fake.files.set('holiday.jpg', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200), eicar()]));
    const c = await h.session();
    const r = await retr(c, 'holiday.jpg');
    const line = await h.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'holiday.jpg');
    assert.equal(line['scanned'], true);
    assert.equal(r.data.length, 0);
  });

  it('STOR of a clean file: the server gets it after the verdict, the client 226 after the server', async () => {
    const content = randomBytes(30_000);
    const c = await h.session();
    const before = h.fake.commands.length;
    const replies = await stor(c, 'STOR up.bin', content);
    assert.match(replies[0] ?? '', /^150 /);
    assert.deepEqual(replies[1]?.split('\n'), ['226-Transfer complete: scanned, no virus found', '226 Transfer complete']);
    assert.deepEqual(h.fake.files.get('up.bin'), content);
    const sent = h.fake.commands.slice(before).map((l) => l.split(' ')[0]);
    assert.deepEqual(sent.slice(-3), ['NOOP', 'EPSV', 'STOR'], 'NOOP keeps the server alive right before the STOR');
  });

  it('STOR of EICAR never reaches the server', async () => {
    const c = await h.session();
    const replies = await stor(c, 'STOR bad.com', eicar());
    assert.match(replies[1] ?? '', /^550-bad\.com: Eicar-Test-Signature FOUND\n550 /);
    assert.equal(h.fake.received('STOR').filter((l) => l === 'STOR bad.com').length, 0);
    assert.equal(h.fake.files.has('bad.com'), false);
  });

  it('STOU relays the unique name the server chose', async () => {
    const c = await h.session();
    const replies = await stor(c, 'STOU', Buffer.from('unique content'));
    assert.match(replies[1] ?? '', /^226-FILE: unique\.\d+\n/);
    const name = /FILE: (unique\.\d+)/.exec(replies[1] ?? '')?.[1] ?? '';
    assert.deepEqual(h.fake.files.get(name), Buffer.from('unique content'));
  });

  it('APPE and REST + STOR are refused by default', async () => {
    const c = await h.session();
    assert.equal((await c.command('APPE x.bin')).code, 550);
    assert.equal((await c.command('REST 10')).code, 350);
    assert.equal((await c.command('STOR x.bin')).code, 504);
    assert.equal(h.fake.received('APPE').length, 0);
  });

  it('a download over the size limit is refused with 552 and the server told to stop', async () => {
    h.fake.files.set('huge.bin', randomBytes(200_000));
    const c = await h.session();
    const r = await retr(c, 'huge.bin');
    assert.equal(r.data.length, 0);
    assert.match(r.replies.at(-1) ?? '', /^552 /);
    assert.ok(h.fake.received('ABOR').length > 0);
    assert.equal((await c.command('NOOP')).code, 200, 'the session goes on');
    assert.deepEqual(await h.spoolFiles(), []);
  });

  it('an upload over the size limit is refused with 552 and nothing reaches the server', async () => {
    const c = await h.session();
    const data = await c.epsv();
    c.send('STOR huge-up.bin');
    assert.equal((await c.must()).code, 150);
    data.on('error', () => undefined);
    data.write(randomBytes(200_000));
    assert.match((await c.must()).text, /^552 /);
    assert.equal(h.fake.files.has('huge-up.bin'), false);
  });

  it('20 concurrent sessions moving the same file name never collide in the spool', async () => {
    const contents = Array.from({ length: 20 }, () => randomBytes(20_000));
    const before = h.fake.uploads.length;
    await Promise.all(contents.map(async (content) => {
      const c = await h.session();
      const replies = await stor(c, 'STOR same.bin', content);
      assert.match(replies[1] ?? '', /^226-/);
    }));
    const got = h.fake.uploads.slice(before).filter((u) => u.name === 'same.bin').map((u) => u.data.toString('hex')).sort();
    assert.deepEqual(got, contents.map((c) => c.toString('hex')).sort());
    assert.deepEqual(await h.spoolFiles(), []);
  });

  it('basic-ftp downloads and uploads through the proxy', async () => {
    const content = randomBytes(40_000);
    h.fake.files.set('basic.bin', content);
    const client = new BasicFtp(5000);
    const [host, port] = [h.address.slice(0, h.address.lastIndexOf(':')), Number(h.address.slice(h.address.lastIndexOf(':') + 1))];
    try {
      await client.access({ host, port, user: 'anonymous', password: 'x' });
      const parts: Buffer[] = [];
      await client.downloadTo(new Writable({ write(c: Buffer, _e, cb) { parts.push(c); cb(); } }), 'basic.bin');
      assert.deepEqual(Buffer.concat(parts), content);
      await client.uploadFrom(Readable.from([content]), 'basic-up.bin');
      assert.deepEqual(h.fake.files.get('basic-up.bin'), content);
      await assert.rejects(client.uploadFrom(Readable.from([eicar()]), 'basic-eicar.com'), /550/);
      assert.equal(h.fake.files.has('basic-eicar.com'), false);
    } finally {
      client.close();
    }
  });
});

describe('ftp proxy: resumed uploads when policy says scan', () => {
  it('APPE and REST + STOR pass the scanned part on', async () => {
    const h = await harness({ ftp: { resumeUploads: 'scan' } });
    try {
      h.fake.files.set('grow.bin', Buffer.from('head-'));
      const c = await h.session();
      const data = await c.epsv();
      c.send('APPE grow.bin');
      assert.equal((await c.must()).code, 150);
      await writeAll(data, Buffer.from('tail'));
      assert.equal((await c.must()).code, 226);
      assert.equal(h.fake.files.get('grow.bin')?.toString(), 'head-tail');
      const data2 = await c.epsv();
      assert.equal((await c.command('REST 5')).code, 350);
      c.send('APPE grow.com');
      assert.equal((await c.must()).code, 150);
      await writeAll(data2, eicar());
      assert.equal((await c.must()).code, 550, 'the appended part is scanned on its own');
    } finally { await h.done(); }
  });
});

describe('ftp proxy: downloads scanned as they arrive', () => {
  const big = (seed: number): Buffer => {
    const b = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0, x = seed; i < b.length; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
    return b;
  };
  const cases: { name: string; announce?: (size: number) => number | undefined; askSize?: string; infected: boolean; followed: boolean }[] = [
    { name: 'a signature in the last bytes of a size-announced download is caught; nothing is delivered', infected: true, followed: true },
    { name: 'a clean size-announced download arrives byte-identical', infected: false, followed: true },
    { name: 'a server announcing the wrong size: the spooled file is scanned instead, the signature still caught', announce: (n) => n + 1000, infected: true, followed: false },
    { name: 'a 150 without a size, after the client asked SIZE of that file: followed by the SIZE answer', announce: () => undefined, askSize: 'same', infected: true, followed: true },
    { name: 'a 150 without a size, SIZE asked of another file: not followed, the spooled file is scanned', announce: () => undefined, askSize: 'other', infected: true, followed: false },
    { name: 'a 150 without a size and no SIZE asked: not followed, the spooled file is scanned', announce: () => undefined, infected: true, followed: false },
  ];
  for (const [i, c] of cases.entries()) {
    it(c.name, async () => {
      const h = await harness(c.announce !== undefined ? { fake: { announceSize: c.announce } } : {});
      try {
        const content = big(i + 1);
        if (c.infected) eicar().copy(content, content.length - 100);
        const name = `big-${i}.bin`;
        h.fake.files.set(name, content);
        h.fake.files.set('other.bin', Buffer.alloc(10));
        const session = await h.session();
        if (c.askSize !== undefined) assert.equal((await session.command(`SIZE ${c.askSize === 'same' ? name : 'other.bin'}`)).code, 213);
        const r = await retr(session, name);
        const line = await h.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === name);
        assert.equal(line['verdict'], c.infected ? 'infected' : 'clean');
        if (c.infected) {
          assert.equal(r.data.length, 0);
          assert.match(r.replies.at(-1) ?? '', /^550-big-\d\.bin: Eicar-Test-Signature FOUND/);
        } else {
          assert.ok(r.data.equals(content));
          assert.match(r.replies.at(-1) ?? '', /^226 /);
        }
        assert.equal(line['followed'] === true, c.followed, 'the transfer line says whether the scan ran as the file arrived');
      } finally { await h.done(); }
    });
  }
});

describe('ftp proxy: scanner failure', () => {
  it('answers 451 when the scanner fails, and delivers nothing', async () => {
    const h = await harness({ config: { scanners: [{ command: ['/bin/sh', '-c', 'exit 7', '{}'] }] } });
    try {
      h.fake.files.set('x.exe', randomBytes(1000));
      const c = await h.session();
      const data = await c.epsv();
      const got = readAll(data);
      c.send('RETR x.exe');
      const r = await c.must();
      assert.equal(r.code, 451, r.text);
      assert.equal((await got).length, 0);
    } finally { await h.done(); }
  });
});

describe('ftp proxy: a spool that cannot be written', () => {
  for (const verb of ['RETR', 'STOR'] as const) {
    it(`${verb}: 451 with a log line, nothing delivered, and the session's replies stay in step`, async () => {
      const h = await harness();
      try {
        h.fake.files.set('f.exe', randomBytes(200_000));
        const spoolDir = join(h.dataDir, 'spool', 'ftp');
        await rm(spoolDir, { recursive: true, force: true });
        await mkdir(join(h.dataDir, 'spool'), { recursive: true });
        await writeFile(spoolDir, 'not a folder');
        const c = await h.session();
        const data = await c.epsv();
        const got = readAll(data);
        c.send(verb === 'RETR' ? 'RETR f.exe' : 'STOR up.exe');
        let r = await c.must();
        if (r.code === 150) { await writeAll(data, randomBytes(1000)); r = await c.must(); } else if (verb === 'STOR') data.destroy();
        assert.equal(r.code, 451, r.text);
        assert.match(r.text, /could not store the file/);
        if (verb === 'RETR') assert.equal((await got).length, 0);
        assert.equal(h.fake.uploads.length, 0, 'nothing reached the server');
        const logged = await h.logs.waitFor((l) => l['msg'] === 'ftp command failed');
        assert.match(JSON.stringify(logged['err']), /ENOTDIR|EEXIST/, 'the log line names the cause');
        // Every later command reads its own reply: nothing the server still owed is taken for it.
        assert.equal((await c.command('PWD')).code, 257);
        assert.equal((await c.command('SYST')).code, 215);
        await rm(spoolDir, { force: true });
        const again = await c.epsv();
        const got2 = readAll(again);
        c.send('RETR f.exe');
        assert.equal((await c.must()).code, 150);
        assert.equal((await c.must()).code, 226);
        assert.deepEqual(await got2, h.fake.files.get('f.exe'));
      } finally { await h.done(); }
    });
  }
});

describe('ftp proxy: long transfers, ABOR and departures', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ fake: { chunkSize: 4096, chunkDelayMs: 100 }, ftp: { keepaliveInterval: '1s' } });
    h.fake.files.set('slow.exe', randomBytes(4096 * 30));
  });
  after(async () => h.done());

  it('keeps the client alive with 150- progress lines while a slow file is received', async () => {
    const c = await h.session();
    const data = await c.epsv();
    const got = readAll(data);
    c.send('RETR slow.exe');
    const pre = await c.must(10_000);
    assert.equal(pre.code, 150);
    assert.ok(pre.lines.length >= 2, `progress lines: ${pre.text}`);
    assert.ok(pre.lines.slice(0, -1).every((l) => /^150-Still working on slow\.exe/.test(l)), pre.text);
    assert.match(pre.lines.at(-1) ?? '', /^150 Opening data connection/);
    assert.equal((await c.must(10_000)).code, 226);
    assert.deepEqual(await got, h.fake.files.get('slow.exe'));
  });

  it('ABOR while receiving: 426 then 226, the ABOR reaches the server, the spool is deleted', async () => {
    const c = await h.session();
    const data = await c.epsv();
    const got = readAll(data).catch(() => Buffer.alloc(0));
    const aborsBefore = h.fake.received('ABOR').length;
    c.send('RETR slow.exe');
    await waitFor(async () => (await h.spoolFiles()).length > 0);
    c.raw(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
    let r = await c.must();
    if (r.code === 150) r = await c.must();
    assert.equal(r.code, 426, r.text);
    assert.equal((await c.must()).code, 226);
    assert.equal(h.fake.received('ABOR').length, aborsBefore + 1);
    assert.deepEqual(await h.spoolFiles(), []);
    assert.equal((await got).length, 0);
    assert.equal((await c.command('NOOP')).code, 200, 'the session goes on');
  });

  it('a client vanishing mid-upload leaves nothing behind and sends nothing upstream', async () => {
    const c = await h.session();
    const data = await c.epsv();
    const storsBefore = h.fake.received('STOR').length;
    const cmdsBefore = h.fake.commands.length;
    c.send('STOR gone.bin');
    assert.equal((await c.must()).code, 150);
    data.write(randomBytes(10_000));
    await waitFor(async () => (await h.spoolFiles()).length > 0);
    c.close();
    data.end();
    await waitFor(async () => (await h.spoolFiles()).length === 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(h.fake.received('STOR').length, storsBefore);
    assert.deepEqual(h.fake.commands.slice(cmdsBefore).filter((l) => !/^(QUIT)$/.test(l)), []);
    assert.equal(h.fake.files.has('gone.bin'), false);
  });
});

describe('ftp proxy: ABOR while scanning and while receiving an upload', () => {
  it('ABOR while scanning a download: 426 then 226, the spool is deleted, nothing delivered', async () => {
    const h = await harness({ config: { scanners: [{ command: ['/bin/sh', '-c', 'sleep 3; exit 0', '{}'] }] } });
    try {
      h.fake.files.set('slow-scan.exe', randomBytes(5000));
      const c = await h.session();
      const data = await c.epsv();
      const got = readAll(data).catch(() => Buffer.alloc(0));
      c.send('RETR slow-scan.exe');
      await waitFor(async () => (await h.spoolFiles()).length > 0);
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      c.send('ABOR');
      assert.equal((await c.must(10_000)).code, 426);
      assert.equal((await c.must()).code, 226);
      assert.deepEqual(await h.spoolFiles(), []);
      assert.equal((await got).length, 0);
      assert.ok(Date.now() - started < 5000);
      assert.equal((await c.command('NOOP')).code, 200);
    } finally { await h.done(); }
  });

  it('ABOR while receiving an upload: 426 then 226, no STOR reaches the server, the spool is deleted', async () => {
    const h = await harness();
    try {
      const c = await h.session();
      const data = await c.epsv();
      data.on('error', () => undefined);
      c.send('STOR aborted.bin');
      assert.equal((await c.must()).code, 150);
      data.write(randomBytes(20_000));
      await waitFor(async () => (await h.spoolFiles()).length > 0);
      c.send('ABOR');
      assert.equal((await c.must()).code, 426);
      assert.equal((await c.must()).code, 226);
      assert.equal(h.fake.received('STOR').length, 0);
      assert.equal(h.fake.received('ABOR').length, 1, 'the ABOR reaches the server');
      assert.deepEqual(await h.spoolFiles(), []);
    } finally { await h.done(); }
  });
});

describe('ftp proxy: stalled data connections', () => {
  it('a server that stops sending mid-file ends the transfer with 426 after dataTimeout, not a hang', async () => {
    const h = await harness({ fake: { chunkSize: 1000, chunkDelayMs: 4000 }, ftp: { dataTimeout: '1s' } });
    try {
      h.fake.files.set('stall.exe', randomBytes(5000));
      const c = await h.session();
      const data = await c.epsv();
      const got = readAll(data).catch(() => Buffer.alloc(0));
      const started = Date.now();
      c.send('RETR stall.exe');
      const r = await c.must(10_000);
      assert.equal(r.code, 426, r.text);
      assert.ok(Date.now() - started < 6000, `took ${Date.now() - started} ms`);
      assert.equal((await got).length, 0);
      assert.deepEqual(await h.spoolFiles(), []);
    } finally { await h.done(); }
  });
});

describe('ftp proxy: keepalive while an upload is scanned', () => {
  it('a held upload waiting for a slow scan: "226-" lines of the pending reply to the client, NOOPs to the server, then NOOP, EPSV, STOR', async () => {
    const h = await harness({ ftp: { keepaliveInterval: '1s' }, config: { scanners: [{ command: ['/bin/sh', '-c', 'sleep 2.5; exit 0', '{}'] }] } });
    try {
      const c = await h.session();
      const data = await c.epsv();
      const content = randomBytes(5000);
      const before = h.fake.commands.length;
      c.send('STOR slow-up.bin');
      assert.equal((await c.must()).code, 150);
      await writeAll(data, content);
      const r = await c.must(10_000);
      assert.equal(r.code, 226, r.text);
      const progress = r.lines.filter((l) => /^226-Still working on slow-up\.bin: scanning, please wait$/.test(l));
      assert.ok(progress.length >= 1 && progress.length <= 3, r.text);
      assert.deepEqual(h.fake.files.get('slow-up.bin'), content);
      const sent = h.fake.commands.slice(before);
      const noops = sent.filter((l) => l === 'NOOP').length;
      assert.ok(noops >= 2, `the server was kept alive during the scan: ${sent.join(', ')}`);
      assert.deepEqual(sent.slice(-3), ['NOOP', 'EPSV', 'STOR slow-up.bin']);
      assert.equal((await c.command('NOOP')).code, 200, 'every NOOP reply was taken by its own NOOP');
    } finally { await h.done(); }
  });
});

describe('ftp proxy: ABOR while delivering', () => {
  it('ABOR while delivering: 426 then 226', async () => {
    const h = await harness({ ftp: { keepaliveInterval: '1s' } });
    try {
      h.fake.files.set('big.bin', randomBytes(64 * 1024 * 1024));
      const c = await h.session();
      const data = await c.epsv();
      data.pause();
      c.send('RETR big.bin');
      const pre = await c.must(20_000);
      assert.equal(pre.code, 150);
      c.send('ABOR');
      assert.equal((await c.must(10_000)).code, 426);
      assert.equal((await c.must()).code, 226);
      data.destroy();
      assert.deepEqual(await h.spoolFiles(), []);
      assert.equal((await c.command('NOOP')).code, 200, 'the session goes on');
    } finally { await h.done(); }
  });
});


describe('ftp proxy: actions and lifecycle', () => {
  const actions: [string, string, RegExp, boolean][] = [
    ['pass', 'pass', /^226 Transfer complete: passed by policy despite: Eicar-Test-Signature$/, true],
    ['block', 'block', /^550-eicar\.com: Eicar-Test-Signature FOUND\n550 Transfer refused: virus found: Eicar-Test-Signature$/, false],
    ['quarantine', 'quarantine', /^550-eicar\.com: Eicar-Test-Signature FOUND\n550 Transfer refused: Eicar-Test-Signature; quarantined as [A-Z0-9-]+, ask helpdesk@example\.org$/, false],
    ['tempfail', 'tempfail', /^451-eicar\.com: Eicar-Test-Signature FOUND\n451 Transfer aborted/, false],
  ];
  for (const [name, action, reply, delivered] of actions) {
    it(`action ${name} for an inbound virus`, async () => {
      const h = await harness({ config: { policy: { actions: { ftp: { inbound: { virus: action } } } }, quarantine: { contact: 'helpdesk@example.org' } } });
      try {
        h.fake.files.set('eicar.com', eicar());
        const c = await h.session();
        const data = await c.epsv();
        const got = readAll(data);
        c.send('RETR eicar.com');
        let r = await c.must();
        if (r.code === 150) r = await c.must();
        assert.match(r.text, reply);
        assert.deepEqual(await got, delivered ? eicar() : Buffer.alloc(0));
      } finally { await h.done(); }
    });
  }

  it('closes an idle session with 421', async () => {
    const h = await harness({ ftp: { idleTimeout: '1s' } });
    try {
      const c = await h.session();
      const r = await c.must(5000);
      assert.equal(r.code, 421);
      assert.equal(await c.reply(), undefined);
    } finally { await h.done(); }
  });

  it('says 421 to open sessions when the gateway drains', async () => {
    const h = await harness();
    const c = await h.session();
    const stopping = h.gw.stop('test');
    const r = await c.must(5000);
    assert.equal(r.code, 421);
    await stopping;
    await h.fake.close();
    await rm(h.dataDir, { recursive: true, force: true });
  });

});

describe('ftp proxy: PROXY protocol on the control connection (ftp.proxyProtocol)', () => {
  /** A data connection to the proxy's passive port from `localAddress`; resolves with the socket and whether the proxy closed it at once. */
  async function dataFrom(c: TestClient, localAddress: string): Promise<{ socket: Socket; refused: Promise<boolean> }> {
    const r = await c.command('EPSV');
    const port = Number(/\(\|\|\|(\d+)\|\)/.exec(r.text)?.[1]);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
      s.once('error', reject);
    });
    socket.on('error', () => undefined);
    const refused = new Promise<boolean>((resolve) => {
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 300).unref();
    });
    return { socket, refused };
  }

  it('v1 header naming 127.0.0.2: passive data from the balancer (127.0.0.1) is refused, from 127.0.0.2 taken; the download arrives', async () => {
    const h = await harness({ ftp: { proxyProtocol: true } });
    try {
      const content = randomBytes(100_000);
      h.fake.files.set('via-lb.bin', content);
      const c = await h.client();
      c.raw('PROXY TCP4 127.0.0.2 127.0.0.1 40000 2121\r\n');
      await c.login();
      const foreign = await dataFrom(c, '127.0.0.1');
      assert.equal(await foreign.refused, true, 'the balancer\'s address is not the client');
      await h.logs.waitFor((l) => l['msg'] === 'ftp data connection from a foreign address refused' && l['expected'] === '127.0.0.2');
      const real = await dataFrom(c, '127.0.0.2');
      const got = readAll(real.socket);
      c.send('RETR via-lb.bin');
      assert.equal((await c.must()).code, 150);
      assert.equal((await c.must(10_000)).code, 226);
      assert.deepEqual(await got, content);
      const line = await h.logs.waitFor((l) => l['event'] === 'transfer' && l['name'] === 'via-lb.bin');
      assert.match(String(line['client']), /^127\.0\.0\.2:40000$/);
    } finally { await h.done(); }
  });

  it('PORT/EPRT must name the header\'s address, not the balancer\'s', async () => {
    const h = await harness({ ftp: { proxyProtocol: true } });
    try {
      const c = await h.client();
      c.raw('PROXY TCP4 127.0.0.2 127.0.0.1 40000 2121\r\n');
      await c.login();
      assert.equal((await c.command('EPRT |1|127.0.0.1|40001|')).code, 501);
      assert.equal((await c.command('EPRT |1|127.0.0.2|40001|')).code, 200);
    } finally { await h.done(); }
  });

  it('the access lists judge the header\'s address', async () => {
    const h = await harness({ ftp: { proxyProtocol: true, denyClients: ['127.0.0.2/32'] } });
    try {
      const refused = await h.client();
      refused.raw('PROXY TCP4 127.0.0.2 127.0.0.1 40000 2121\r\n');
      assert.equal((await refused.must()).code, 421);
      const allowed = await h.client();
      allowed.raw('PROXY TCP4 127.0.0.3 127.0.0.1 40000 2121\r\n');
      assert.equal((await allowed.must()).code, 220);
    } finally { await h.done(); }
  });

  it('a header split across segments with a command after it in the same segment: the command is kept', async () => {
    const h = await harness({ ftp: { proxyProtocol: true } });
    try {
      const c = await h.client();
      c.raw('PROXY TCP4 127.0.0.2 127.0.');
      await new Promise((r) => setTimeout(r, 50));
      c.raw('0.1 40000 2121\r\nNOOP\r\n');
      assert.equal((await c.must()).code, 220);
      assert.equal((await c.must()).code, 200);
    } finally { await h.done(); }
  });

  it('v1 UNKNOWN (a health check): the connection\'s peer is the client', async () => {
    const h = await harness({ ftp: { proxyProtocol: true } });
    try {
      const c = await h.client();
      c.raw('PROXY UNKNOWN\r\n');
      await c.login();
      const data = await dataFrom(c, '127.0.0.1');
      assert.equal(await data.refused, false);
      data.socket.destroy();
    } finally { await h.done(); }
  });

  const broken: [string, string | undefined][] = [
    ['a plain command instead of a header', 'USER anonymous\r\n'],
    ['a v1 header naming UDP', 'PROXY UDP4 127.0.0.2 127.0.0.1 1 2\r\n'],
    ['nothing within proxyProtocolTimeout', undefined],
  ];
  for (const [name, first] of broken) {
    it(`${name}: closed without a reply, and logged`, async () => {
      const h = await harness({ ftp: { proxyProtocol: true, proxyProtocolTimeout: '1s' } });
      try {
        const c = await h.client();
        if (first !== undefined) c.raw(first);
        assert.equal(await c.reply(5000), undefined);
        await h.logs.waitFor((l) => l['msg'] === 'connection closed: no valid PROXY header' && l['protocol'] === 'ftp');
      } finally { await h.done(); }
    });
  }

  it('a peer outside ftp.proxyProtocolFrom may not name a client: closed without a reply, one inside goes on', async () => {
    const h = await harness({ ftp: { proxyProtocol: true, proxyProtocolFrom: ['127.0.0.5/32'] } });
    try {
      const outside = await h.client();
      outside.raw('PROXY TCP4 127.0.0.2 127.0.0.1 40000 2121\r\n');
      assert.equal(await outside.reply(5000), undefined);
      await h.logs.waitFor((l) => /proxyProtocolFrom/.test(String(l['reason'])));
      const inside = await h.client('127.0.0.5');
      inside.raw('PROXY TCP4 127.0.0.2 127.0.0.1 40000 2121\r\n');
      assert.equal((await inside.must()).code, 220);
    } finally { await h.done(); }
  });
});
