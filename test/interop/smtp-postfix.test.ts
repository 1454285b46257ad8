/**
 * A real Postfix in front of portcullis, wired as docs/postfix.md says:
 * public smtpd with smtpd_proxy_filter → portcullis → a second smtpd →
 * queue → relay to smtp-sink. Postfix runs from its own config folder in a
 * temporary directory (needs root, like CI). swaks sends a clean mail (it is
 * queued and reaches the sink with the status headers) and EICAR in a zip
 * (Postfix answers the client with portcullis's 554 and queues nothing but
 * the notice).
 *
 * The original client goes through the whole chain: swaks connects from
 * 127.0.0.5 with a HELO name of its own, the public smtpd hands both to
 * portcullis with XFORWARD, and portcullis hands them on. Two chains in the
 * one Postfix: A as docs/postfix.md sets it up (XFORWARD to an inner smtpd
 * with smtpd_authorized_xforward_hosts: it logs orig_client=), B with
 * smtp.xclient: prefer (XCLIENT to an inner smtpd with
 * smtpd_authorized_xclient_hosts: its Received: line and its log name the
 * original client and HELO).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EICAR, freePort, startPortcullis, startSink, swaks, waitPort, zipOf, type Portcullis, type Sink } from './smtp-helpers.js';

/** One public smtpd → portcullis → inner smtpd chain; `inner` are the inner smtpd's extra -o settings. */
interface Chain {
  readonly publicPort: number;
  readonly filterPort: number;
  readonly innerPort: number;
  readonly inner: readonly string[];
}

/** /etc/postfix/master.cf with chroot off and our smtpd services in place of "smtp inet". */
async function masterCf(chains: readonly Chain[]): Promise<string> {
  const lines = (await readFile('/etc/postfix/master.cf', 'utf8')).split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const f = line.split(/\s+/);
    if (/^smtp\s+inet\s/.test(line)) {
      for (const c of chains) {
        out.push(
          `127.0.0.1:${c.publicPort} inet n - n - 20 smtpd`,
          `    -o smtpd_proxy_filter=127.0.0.1:${c.filterPort}`,
          '    -o smtpd_proxy_options=speed_adjust',
          `127.0.0.1:${c.innerPort} inet n - n - - smtpd`,
          '    -o smtpd_proxy_filter=',
          ...c.inner.map((o) => `    -o ${o}`),
          '    -o smtpd_relay_restrictions=permit_mynetworks,reject',
          '    -o smtpd_recipient_restrictions=permit_mynetworks,reject',
        );
      }
    } else if (/^[a-z0-9.:-]+$/i.test(f[0] ?? '') && /^(inet|unix|unix-dgram|fifo|pass)$/.test(f[1] ?? '') && f[4] === 'y') {
      f[4] = 'n';
      out.push(f.join(' '));
    } else out.push(line);
  }
  return out.join('\n');
}

function postfix(dir: string, verb: string): string {
  // Postfix reports only to syslog or its maillog file; run through script(1) so stderr gets the messages too.
  const r = spawnSync('script', ['-qc', `postfix -c ${dir} ${verb}`, '/dev/null'], { encoding: 'latin1', timeout: 60_000 });
  return `${r.stdout}${r.stderr}`;
}

describe('Postfix smtpd_proxy_filter → portcullis → Postfix → smtp-sink', () => {
  let dir: string;
  let sink: Sink;
  let pc: Portcullis;
  let pcXclient: Portcullis;
  let publicPort: number;
  let xclientPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pc-postfix-'));
    await chmod(dir, 0o755);
    sink = await startSink(dir, { dump: true });
    const innerPort = await freePort();
    const innerXclient = await freePort();
    pc = await startPortcullis(dir, innerPort, '', 'trustedProxyClients: [127.0.0.1]\nmaxSessionsPerClient: 200');
    pcXclient = await startPortcullis(dir, innerXclient, '', 'trustedProxyClients: [127.0.0.0/8]\nmaxSessionsPerClient: 200\nxclient: prefer');
    publicPort = await freePort();
    xclientPort = await freePort();
    const chains: Chain[] = [
      { publicPort, filterPort: pc.port, innerPort, inner: ['smtpd_authorized_xforward_hosts=127.0.0.0/8'] },
      // Offers both; portcullis's xclient: prefer picks XCLIENT.
      { publicPort: xclientPort, filterPort: pcXclient.port, innerPort: innerXclient, inner: ['smtpd_authorized_xforward_hosts=127.0.0.0/8', 'smtpd_authorized_xclient_hosts=127.0.0.0/8'] },
    ];
    const pfx = join(dir, 'postfix');
    await mkdir(join(pfx, 'queue'), { recursive: true });
    await mkdir(join(pfx, 'data'), { recursive: true });
    const uid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'latin1' }).trim());
    await chown(join(pfx, 'data'), uid, -1);
    await writeFile(join(pfx, 'main.cf'), [
      'compatibility_level = 3.6',
      `queue_directory = ${pfx}/queue`,
      `data_directory = ${pfx}/data`,
      'mail_owner = postfix',
      'setgid_group = postdrop',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = mx.test',
      'mydestination =',
      'mynetworks = 127.0.0.0/8',
      'relay_domains = example.org',
      `relayhost = [127.0.0.1]:${sink.port}`,
      'alias_maps =',
      'alias_database =',
      'local_recipient_maps =',
      `maillog_file = ${pfx}/maillog`,
      `maillog_file_prefixes = ${pfx}`,
      'smtp_dns_support_level = disabled',
      '',
    ].join('\n'));
    await writeFile(join(pfx, 'master.cf'), await masterCf(chains));
    // "check" creates the queue's subfolders with the owners Postfix wants; then start.
    const out = postfix(pfx, 'check') + postfix(pfx, 'start');
    await waitPort(xclientPort, 30_000).catch(() => undefined);
    await waitPort(publicPort, 30_000).catch((err: unknown) => { throw new Error(`postfix did not start: ${out}`, { cause: err }); });
    dir = pfx.slice(0, -'/postfix'.length);
  });

  after(async () => {
    postfix(join(dir, 'postfix'), 'stop');
    await pc.stop();
    await pcXclient.stop();
    await sink.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function waitForDump(match: (d: string) => boolean): Promise<string> {
    const until = Date.now() + 20_000;
    for (;;) {
      const found = [...(await sink.dumps()).values()].find(match);
      if (found !== undefined) return found;
      if (Date.now() > until) throw new Error(`no matching mail reached the sink; maillog:\n${await readFile(join(dir, 'postfix', 'maillog'), 'latin1').catch(() => '')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  test('clean mail: queued by Postfix after portcullis, reaches the sink with the status headers', async () => {
    const r = swaks(publicPort, ['--to', 'bob@example.org', '--header', 'Subject: clean through postfix']);
    assert.equal(r.status, 0, r.transcript);
    assert.match(r.dataReply ?? '', /^250 .*queued as/);
    const mail = await waitForDump((d) => d.includes('Subject: clean through postfix'));
    assert.match(mail, /X-Virus-Scanned: portcullis on portcullis\.test\r?\nX-Virus-Status: Clean/);
    assert.match(mail, /Received: from client\.test /, 'the public smtpd\'s Received line survives the proxy');
  });

  test('EICAR in a zip: the client gets portcullis\'s 554 5.7.1 through Postfix; only the notice is queued', async () => {
    const att = join(dir, 'eicar.zip');
    await writeFile(att, zipOf('eicar.com', EICAR));
    const r = swaks(publicPort, ['--to', 'bob@example.org', '--header', 'Subject: virus through postfix', '--attach-type', 'application/zip', '--attach', `@${att}`]);
    assert.notEqual(r.status, 0);
    assert.match(r.dataReply ?? '', /^554 5\.7\.1 .*Eicar-Test-Signature/, r.transcript);
    const notice = await waitForDump((d) => d.includes('MAILER-DAEMON@portcullis.test') && d.includes('virus through postfix'));
    assert.ok(!notice.includes(EICAR.toString('latin1')));
    assert.ok(![...(await sink.dumps()).values()].some((d) => d.includes('Subject: virus through postfix')), 'the infected mail was not queued');
  });

  /** The maillog lines of one queue id, once `match` shows up among them. */
  async function maillogFor(queueId: string, match: RegExp): Promise<string> {
    const until = Date.now() + 20_000;
    for (;;) {
      const log = await readFile(join(dir, 'postfix', 'maillog'), 'latin1').catch(() => '');
      const lines = log.split('\n').filter((l) => l.includes(`${queueId}:`)).join('\n');
      if (match.test(lines)) return lines;
      if (Date.now() > until) throw new Error(`no maillog line for ${queueId} matched ${String(match)}; maillog:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  test('XFORWARD all the way: the inner smtpd logs the original client, portcullis\'s events name it', async () => {
    const r = swaks(publicPort, ['--local-interface', '127.0.0.5', '--helo', 'orig-a.unique.test', '--to', 'bob@example.org', '--header', 'Subject: identity via xforward']);
    assert.equal(r.status, 0, r.transcript);
    const queueId = /queued as (\w+)/.exec(r.dataReply ?? '')?.[1];
    assert.ok(queueId !== undefined, r.transcript);
    // The inner smtpd's connection is portcullis's (client=localhost); orig_client= is what XFORWARD carried.
    const lines = await maillogFor(queueId, /orig_client=/);
    assert.match(lines, new RegExp(`${queueId}: client=localhost\\[127\\.0\\.0\\.1\\], .*orig_client=unknown\\[127\\.0\\.0\\.5\\]`));
    const ev = pc.output().split('\n').filter((l) => l.includes('"event":"transfer"')).map((l) => JSON.parse(l) as Record<string, unknown>).at(-1);
    assert.match(String(ev?.['client']), /^127\.0\.0\.5:\d+$/, 'portcullis\'s own event names the original client');
  });

  test('XCLIENT all the way: the inner smtpd\'s log and Received: line name the original client and HELO', async () => {
    const r = swaks(xclientPort, ['--local-interface', '127.0.0.5', '--helo', 'orig-b.unique.test', '--to', 'bob@example.org', '--header', 'Subject: identity via xclient']);
    assert.equal(r.status, 0, r.transcript);
    const queueId = /queued as (\w+)/.exec(r.dataReply ?? '')?.[1];
    assert.ok(queueId !== undefined, r.transcript);
    const lines = await maillogFor(queueId, /client=/);
    assert.match(lines, new RegExp(`${queueId}: client=unknown\\[127\\.0\\.0\\.5\\]`), 'the inner smtpd\'s session belongs to the original client');
    const mail = await waitForDump((d) => d.includes('Subject: identity via xclient'));
    // The public smtpd's own Received: line has no queue id (it queues nothing); the inner one's does.
    assert.match(mail, new RegExp(`Received: from orig-b\\.unique\\.test \\(unknown \\[127\\.0\\.0\\.5\\]\\)\\r?\\n\\s+by mx\\.test \\(Postfix\\) with ESMTP id ${queueId}`));
    assert.ok(!mail.includes('from portcullis.test'), 'portcullis\'s own EHLO name appears nowhere');
  });
});
