/**
 * The SMTP proxy between real peers: swaks as the client (one mail per
 * case), Postfix's smtp-sink as the next hop (dumping mail where content
 * matters), smtp-source for load, portcullis as a real child process. Fault
 * runs: the next hop closes at the end of DATA, the next hop refuses
 * recipients, portcullis is SIGKILLed mid-DATA, clamd is killed mid-scan. Each asserts that nothing is
 * lost (the client never got 250 for what the next hop does not hold) and
 * nothing passes unscanned. Client identity: curl with a PROXY v1 header
 * (and without one), XCLIENT to smtp-sink when it offers no XFORWARD.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startClamd, writeEicarDb } from './clamav-helpers.js';
import { EICAR, newDumps, startPortcullis, startSink, swaks, uuencode, zipOf, type Portcullis, type Sink } from './smtp-helpers.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pc-smtp-interop-'));
  // smtp-sink drops to nobody, which must reach its dump folder inside.
  await chmod(dir, 0o755);
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

/** The message part of an smtp-sink dump (after its envelope lines). */
const eicarText = EICAR.toString('latin1');

/** A hand-driven SMTP client: every reply line kept, waits by pattern. */
function rawClient(port: number) {
  const replies: string[] = [];
  const s = connect({ host: '127.0.0.1', port });
  s.setEncoding('latin1');
  s.on('data', (d: string) => replies.push(...d.split('\r\n').filter((l) => l !== '')));
  s.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => s.on('close', () => resolve()));
  /** Reply lines after the 354 that opened DATA. */
  const afterData = (): string[] => {
    const at = replies.findIndex((l) => l.startsWith('354'));
    return at < 0 ? [] : replies.slice(at + 1);
  };
  return {
    replies, closed, afterData,
    write: (text: string) => s.write(text),
    /** Waits for a line matching `re` (with `afterDataOnly`, only among the lines after 354). */
    waitFor: async (re: RegExp, afterDataOnly?: 1): Promise<void> => {
      const until = Date.now() + 30_000;
      while (!(afterDataOnly === 1 ? afterData() : replies).some((l) => re.test(l))) {
        if (Date.now() > until) throw new Error(`no ${re} in ${replies.join('|')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

describe('swaks → portcullis → smtp-sink', () => {
  let sink: Sink;
  let pc: Portcullis;
  before(async () => {
    sink = await startSink(dir, { dump: true });
    pc = await startPortcullis(dir, sink.port);
  });
  after(async () => {
    await pc.stop();
    await sink.stop();
  });

  test('clean mail with an attachment: 250, delivered with X-Virus-Status: Clean and the body untouched', async () => {
    const att = join(dir, 'clean.zip');
    await writeFile(att, zipOf('readme.txt', Buffer.from('nothing to see\n'.repeat(100))));
    const r = swaks(pc.port, ['--to', 'bob@example.org', '--attach-type', 'application/zip', '--attach-name', 'clean.zip', '--attach', `@${att}`]);
    assert.equal(r.status, 0, r.transcript);
    assert.match(r.dataReply ?? '', /^250 /);
    const dumps = [...(await sink.dumps()).values()];
    assert.equal(dumps.length, 1);
    assert.match(dumps[0] ?? '', /X-Virus-Scanned: portcullis on portcullis\.test\r?\nX-Virus-Status: Clean/);
    assert.ok((dumps[0] ?? '').includes(zipOf('readme.txt', Buffer.from('nothing to see\n'.repeat(100))).toString('base64').slice(0, 60)));
  });

  test('EICAR in a deflated zip, base64 attachment: 554 5.7.1 with the quarantine id; only the notice reaches the sink', async () => {
    const before = await sink.dumps();
    const att = join(dir, 'eicar.zip');
    await writeFile(att, zipOf('eicar.com', EICAR));
    const r = swaks(pc.port, ['--to', 'bob@example.org', '--attach-type', 'application/zip', '--attach-name', 'eicar.zip', '--attach', `@${att}`]);
    assert.notEqual(r.status, 0);
    assert.match(r.dataReply ?? '', /^554 5\.7\.1 .*Eicar-Test-Signature.*quarantined as (\S+)/, r.transcript);
    const dumps = newDumps(before, await sink.dumps());
    assert.equal(dumps.length, 1, 'one notice');
    assert.match(dumps[0] ?? '', /From: Mail Delivery System <MAILER-DAEMON@portcullis\.test>/);
    assert.ok(!(dumps[0] ?? '').includes(eicarText));
  });

  test('uuencoded EICAR in the body text: refused', async () => {
    const before = await sink.dumps();
    const body = join(dir, 'uu.txt');
    await writeFile(body, `Here it is:\n\n${uuencode('eicar.com', EICAR)}`);
    const r = swaks(pc.port, ['--to', 'bob@example.org', '--body', `@${body}`]);
    assert.match(r.dataReply ?? '', /^554 5\.7\.1 .*Eicar/, r.transcript);
    const dumps = newDumps(before, await sink.dumps());
    assert.ok(dumps.every((d) => !d.includes('begin 644 eicar.com')), 'the uuencoded mail itself never reached the sink');
  });

  test('smtp-source load: 200 messages at 10 sessions, every one delivered', async () => {
    const before = await sink.dumps();
    const r = spawnSync('smtp-source', ['-4', '-s', '10', '-m', '200', '-l', '20000', '-f', 'load@example.net', '-t', 'bob@example.org', '-M', 'example.net', `127.0.0.1:${pc.port}`], { encoding: 'latin1', timeout: 120_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    const dumps = newDumps(before, await sink.dumps());
    assert.equal(dumps.length, 200);
    assert.ok(dumps.every((d) => d.includes('X-Virus-Status: Clean')));
  });
});

describe('1,000 concurrent sessions', () => {
  test('smtp-source with 1,000 sessions: 2,000 messages, every one delivered and scanned', async () => {
    // The sink's listen backlog must take 1,000 connects at once (portcullis opens one per session).
    const sink = await startSink(dir, { dump: true, backlog: 2048 });
    const pc = await startPortcullis(dir, sink.port, '', 'maxSessions: 2000\nmaxSessionsPerClient: 2000');
    try {
      const r = spawnSync('smtp-source', ['-4', '-s', '1000', '-m', '2000', '-l', '5000', '-f', 'load@example.net', '-t', 'bob@example.org', `127.0.0.1:${pc.port}`], { encoding: 'latin1', timeout: 300_000 });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      const dumps = [...(await sink.dumps()).values()];
      assert.equal(dumps.length, 2000);
      assert.ok(dumps.every((d) => d.includes('X-Virus-Status: Clean')));
    } finally {
      await pc.stop();
      await sink.stop();
    }
  });
});

describe('STARTTLS', () => {
  test('with a certificate configured, swaks --tls upgrades and the mail is delivered', async () => {
    const key = join(dir, 'tls.key');
    const cert = join(dir, 'tls.crt');
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=portcullis.test'], { encoding: 'latin1' });
    assert.equal(gen.status, 0, gen.stderr);
    const sink = await startSink(dir, { dump: true });
    const pc = await startPortcullis(dir, sink.port, '', `tlsCert: ${cert}\ntlsKey: ${key}`);
    try {
      const r = swaks(pc.port, ['--to', 'bob@example.org', '--tls']);
      assert.equal(r.status, 0, r.transcript);
      assert.match(r.transcript, /STARTTLS/);
      assert.match(r.transcript, /TLS started/);
      assert.equal((await sink.dumps()).size, 1);
    } finally {
      await pc.stop();
      await sink.stop();
    }
  });
});

describe('XCLIENT to a real next hop', () => {
  test('smtp-sink without XFORWARD (-F): portcullis falls back to XCLIENT, answered 250 (not 220), and greets again as the client', async () => {
    const sink = await startSink(dir, { dump: true, flags: ['-F'] });
    const pc = await startPortcullis(dir, sink.port);
    try {
      const r = swaks(pc.port, ['--to', 'bob@example.org', '--helo', 'xclient-fallback.unique.test', '--header', 'Subject: xclient to smtp-sink']);
      assert.equal(r.status, 0, r.transcript);
      const dumps = [...(await sink.dumps()).values()];
      assert.equal(dumps.length, 1);
      // smtp-sink records the last EHLO: without XCLIENT it would be portcullis's own name.
      assert.match(dumps[0] ?? '', /X-Helo-Args: xclient-fallback\.unique\.test\r?\n/);
      assert.match(dumps[0] ?? '', /X-Virus-Status: Clean/);
    } finally {
      await pc.stop();
      await sink.stop();
    }
  });
});

describe('PROXY protocol (curl --haproxy-protocol)', () => {
  test('curl\'s v1 header is read: the mail is delivered and the header\'s address is the session\'s client; no header: closed with a log line', async () => {
    const sink = await startSink(dir, { dump: true });
    const pc = await startPortcullis(dir, sink.port, '', 'proxyProtocol: true\nproxyProtocolTimeout: 1s');
    try {
      const file = join(dir, 'proxied.eml');
      await writeFile(file, 'From: alice@example.net\r\nTo: bob@example.org\r\nSubject: through a PROXY header\r\n\r\nhello\r\n');
      // From 127.0.0.6, so the header (curl writes its own source address) differs from the default 127.0.0.1.
      const curl = (extra: string[]) => spawnSync('curl', ['-sS', ...extra, `smtp://127.0.0.1:${pc.port}/curl.test`, '--mail-from', 'alice@example.net', '--mail-rcpt', 'bob@example.org', '-T', file], { encoding: 'latin1', timeout: 30_000 });
      const r = curl(['--haproxy-protocol', '--interface', '127.0.0.6']);
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      const dumps = [...(await sink.dumps()).values()];
      assert.equal(dumps.length, 1);
      assert.match(dumps[0] ?? '', /Subject: through a PROXY header/);
      assert.match(dumps[0] ?? '', /X-Virus-Status: Clean/);
      const ev = pc.output().split('\n').filter((l) => l.includes('"event":"transfer"')).map((l) => JSON.parse(l) as Record<string, unknown>).at(-1);
      assert.match(String(ev?.['client']), /^127\.0\.0\.6:\d+$/);

      const plain = curl([]);
      assert.notEqual(plain.status, 0, 'without the header there is no SMTP session');
      assert.match(pc.output(), /"reason":"no PROXY header within 1000 ms".*"msg":"connection closed: no valid PROXY header"/);
      assert.equal((await sink.dumps()).size, 1, 'nothing more delivered');
      assert.equal(pc.proc.exitCode, null, 'portcullis still runs');
    } finally {
      await pc.stop();
      await sink.stop();
    }
  });
});

describe('fault runs', () => {
  test('next hop disconnects after the final dot: the client gets 451, never 250', async () => {
    const sink = await startSink(dir, { flags: ['-q', '.'] });
    const pc = await startPortcullis(dir, sink.port);
    try {
      const r = swaks(pc.port, ['--to', 'bob@example.org']);
      assert.match(r.dataReply ?? '', /^451 4\.4\.2/, r.transcript);
    } finally {
      await pc.stop();
      await sink.stop();
    }
  });

  test('next hop refuses RCPT with 4xx: the client sees the next hop\'s refusal, nothing is accepted', async () => {
    const sink = await startSink(dir, { flags: ['-r', 'rcpt'], dump: true });
    const pc = await startPortcullis(dir, sink.port);
    try {
      const r = swaks(pc.port, ['--to', 'bob@example.org,carol@example.org']);
      assert.notEqual(r.status, 0);
      assert.match(r.transcript, /<\*\* +4\d\d .*\n[^]*<\*\* +4\d\d /, 'both recipients got the next hop\'s 4xx');
      assert.equal((await sink.settledDumps()).size, 0);
    } finally {
      await pc.stop();
      await sink.stop();
    }
  });

  test('portcullis SIGKILLed mid-DATA: the client never got 250 and the next hop holds nothing', async () => {
    const sink = await startSink(dir, { dump: true });
    const pc = await startPortcullis(dir, sink.port);
    try {
      const c = rawClient(pc.port);
      await c.waitFor(/^220 /);
      c.write('EHLO client.test\r\nMAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n');
      await c.waitFor(/^354 /);
      c.write(`Subject: half\r\n\r\n${'x'.repeat(1000)}\r\n`);
      await new Promise((r) => setTimeout(r, 100));
      await pc.stop('SIGKILL');
      await c.closed;
      assert.equal(c.afterData().filter((l) => /^250 /.test(l)).length, 0, c.replies.join('|'));
      assert.equal((await sink.settledDumps()).size, 0);
    } finally {
      await sink.stop();
    }
  });

  test('clamd killed mid-scan: the client gets 451 4.7.1, the next hop holds nothing, and the next mail is not passed unscanned', async () => {
    const cdir = join(dir, 'clamd-kill');
    await writeEicarDb(join(cdir, 'db'));
    const clamd = await startClamd(cdir, join(cdir, 'db'));
    const sink = await startSink(dir, { dump: true });
    const pc = await startPortcullis(dir, sink.port, `scanners:\n  - clamd: ${clamd.socket}\n`);
    try {
      // Hung first, so portcullis is surely inside its INSTREAM (a few MB fill the socket) when clamd dies.
      clamd.signal('SIGSTOP');
      const c = rawClient(pc.port);
      await c.waitFor(/^220 /);
      c.write('EHLO client.test\r\nMAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n');
      await c.waitFor(/^354 /);
      const body = randomBytes(3 * 1024 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
      c.write(`Subject: big\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n.\r\n`);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(c.afterData(), [], 'no verdict while clamd hangs');
      clamd.signal('SIGKILL');
      await c.waitFor(/^\d{3} /, 1);
      assert.match(c.afterData()[0] ?? '', /^451 4\.7\.1 /, c.replies.join('|'));
      c.write('QUIT\r\n');
      // clamd is gone now: the next mail is refused for the time being, not passed.
      const r = swaks(pc.port, ['--to', 'bob@example.org']);
      assert.match(r.dataReply ?? '', /^451 4\.7\.1/, r.transcript);
      assert.equal((await sink.settledDumps()).size, 0);
    } finally {
      await pc.stop();
      await sink.stop();
      await clamd.stop();
    }
  });
});
