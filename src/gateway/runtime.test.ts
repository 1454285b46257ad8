// The runtime in process: start, reload with sessions in flight, failed reloads, session limits, drain, the inspect pipeline on real stores.
import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/table.js';
import { PortcullisError } from '../errors.js';
import { TRANSFER_LOG_FIELDS } from '../log.js';
import { changedKeys, Gateway, type ProtocolListener } from './index.js';
import { PlaceholderListener } from './placeholder.js';
import { captureLog, LineClient, tempDir, testConfig } from './testing.js';

const EICAR = new TextEncoder().encode('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');
const CLEAN = new TextEncoder().encode('just some harmless text\n');

interface Harness {
  gw: Gateway;
  logs: ReturnType<typeof captureLog>;
  setConfig(c: Config | Error): void;
  dir: string;
  done(): Promise<void>;
}

async function startHarness(overrides: Record<string, unknown> = {}): Promise<Harness> {
  const dir = await tempDir('pc-gw-');
  const logs = captureLog('debug');
  let next: Config | Error = testConfig(dir.path, overrides);
  const gw = await Gateway.start({
    readConfig: async () => { if (next instanceof Error) throw next; return next; },
    log: logs.log,
    noPrivilegeDrop: true,
    // The placeholders, whatever proxies this build has: these tests are about the frame.
    listeners: { smtp: (c) => new PlaceholderListener('smtp', c.listen), ftp: (c) => new PlaceholderListener('ftp', c.listen) },
  });
  return {
    gw, logs, dir: dir.path,
    setConfig: (c) => { next = c; },
    done: async () => { await gw.stop('test'); await dir.remove(); },
  };
}

describe('runtime: start', () => {
  it('binds the listeners, answers with the placeholder greetings, and logs one start line with the bound ports', async () => {
    const h = await startHarness();
    try {
      const a = h.gw.addresses();
      assert.match(a.smtp ?? '', /^127\.0\.0\.1:\d+$/);
      assert.match(a.ftp ?? '', /^127\.0\.0\.1:\d+$/);
      const start = await h.logs.waitFor((l) => l['event'] === 'start');
      assert.deepEqual(start['listeners'], { smtp: a.smtp, ftp: a.ftp });

      const smtp = await LineClient.open(a.smtp as string);
      assert.equal(await smtp.readLine(), '421 4.3.2 Service not yet available');
      smtp.send('QUIT');
      assert.equal(await smtp.readLine(), '221 2.0.0 Bye');
      await smtp.closed();

      const ftp = await LineClient.open(a.ftp as string);
      assert.equal(await ftp.readLine(), '421 Service not available');
      ftp.send('USER anonymous');
      assert.equal(await ftp.readLine(), '421 Service not available');
      assert.equal(await ftp.readLine(), undefined, 'the server closes after the second 421');

      const session = await h.logs.waitFor((l) => l['event'] === 'session' && l['protocol'] === 'ftp');
      for (const k of ['sessionId', 'client', 'durationMs', 'transfers', 'bytes', 'end', 'generation']) assert.ok(k in session, `session line has ${k}`);
      assert.equal(session['end'], 'refused');
    } finally {
      await h.done();
    }
  });

  it('a placeholder closes a session that sends an endless line instead of buffering it', async () => {
    const h = await startHarness();
    try {
      const c = await LineClient.open(h.gw.addresses().smtp as string);
      await c.readLine();
      c.socket.write('A'.repeat(10_000));
      await c.closed();
      const line = await h.logs.waitFor((l) => l['event'] === 'session' && l['end'] === 'error');
      assert.equal(line['protocol'], 'smtp');
    } finally {
      await h.done();
    }
  });

  it('a listener switched off is not bound', async () => {
    const h = await startHarness({ smtp: false });
    try {
      assert.equal(h.gw.addresses().smtp, undefined);
      assert.ok(h.gw.addresses().ftp);
    } finally {
      await h.done();
    }
  });

  it('a port already in use fails the start with PC_ERR_CONFIG and leaves nothing bound', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const dir = await tempDir('pc-gw-');
    const stopped: string[] = [];
    const spy = (inner: ProtocolListener): ProtocolListener => ({
      protocol: inner.protocol,
      start: (ctx) => inner.start(ctx),
      address: () => inner.address(),
      stopAccepting: async () => { stopped.push(inner.protocol); await inner.stopAccepting(); },
      drain: (d) => inner.drain(d),
      sessions: () => inner.sessions(),
    });
    try {
      await assert.rejects(
        Gateway.start({
          readConfig: async () => testConfig(dir.path, { ftp: { listen: `127.0.0.1:${port}` } }),
          log: captureLog().log,
          noPrivilegeDrop: true,
          listeners: { smtp: (c) => spy(new PlaceholderListener('smtp', c.listen)), ftp: (c) => spy(new PlaceholderListener('ftp', c.listen)) },
        }),
        (e: unknown) => e instanceof PortcullisError && e.code === 'PC_ERR_CONFIG' && /ftp\.listen/.test(e.message),
      );
      assert.deepEqual(stopped, ['smtp'], 'the SMTP listener that did start was stopped again');
    } finally {
      blocker.close();
      await dir.remove();
    }
  });
});

describe('runtime: reload', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(async () => { await h.done(); });

  it('a session in flight keeps its snapshot; new sessions and inspections get the new one', async () => {
    const smtp = h.gw.addresses().smtp as string;
    const old = await LineClient.open(smtp);
    await old.readLine();
    const lease = h.gw.snapshots.acquire();
    assert.equal(lease.snapshot.generation, 1);

    const before = await h.gw.inspect({ protocol: 'upload', direction: 'inbound', name: 'eicar.com', target: { name: 'eicar.com', data: EICAR }, snapshot: lease.snapshot });
    assert.equal(before.decision.action, 'quarantine');

    h.setConfig(testConfig(h.dir, { policy: { actions: { upload: { virus: 'block' } } } }));
    const r = await h.gw.reload();
    assert.equal(r.generation, 2);
    assert.deepEqual(r.changed, ['policy.actions.upload.virus']);
    assert.deepEqual(r.needsRestart, []);
    assert.equal(h.gw.current().generation, 2);
    const line = await h.logs.waitFor((l) => l['event'] === 'reload');
    assert.equal(line['generation'], 2);

    // The old session and the old lease still run on generation 1.
    assert.deepEqual(h.gw.leases(), { 1: 2 });
    const onOld = await h.gw.inspect({ protocol: 'upload', direction: 'inbound', name: 'eicar.com', target: { name: 'eicar.com', data: EICAR }, snapshot: lease.snapshot });
    assert.equal(onOld.decision.action, 'quarantine');
    assert.equal(onOld.generation, 1);
    const onNew = await h.gw.inspect({ protocol: 'upload', direction: 'inbound', name: 'eicar.com', target: { name: 'eicar.com', data: EICAR } });
    assert.equal(onNew.decision.action, 'block');
    assert.equal(onNew.generation, 2);

    const fresh = await LineClient.open(smtp);
    await fresh.readLine();
    assert.deepEqual(h.gw.leases(), { 1: 2, 2: 1 });
    fresh.send('QUIT');
    old.send('QUIT');
    await Promise.all([fresh.closed(), old.closed()]);
    lease.release();
    const sessions = await Promise.all([
      h.logs.waitFor((l) => l['event'] === 'session' && l['generation'] === 1),
      h.logs.waitFor((l) => l['event'] === 'session' && l['generation'] === 2),
    ]);
    assert.equal(sessions.length, 2);
    assert.deepEqual(h.gw.leases(), {}, 'every lease released; the retired scanner can close');
  });

  it('a failed reload keeps the running config and says why', async () => {
    const gen = h.gw.current().generation;
    const config = h.gw.current().config;
    h.setConfig(new ConfigError('test.yaml', [{ key: 'smtp.listen', message: 'expected "host:port", got "abc"' }]));
    await assert.rejects(h.gw.reload(), (e: unknown) => e instanceof ConfigError);
    assert.equal(h.gw.current().generation, gen);
    assert.equal(h.gw.current().config, config);
    const failed = await h.logs.waitFor((l) => l['event'] === 'reload-failed');
    assert.match(String(failed['reason']), /smtp\.listen: expected "host:port", got "abc"/);
    const still = await LineClient.open(h.gw.addresses().smtp as string);
    assert.equal(await still.readLine(), '421 4.3.2 Service not yet available');
    still.close();
  });

  it('a reload whose signatures cannot be read keeps the running snapshot', async () => {
    const gen = h.gw.current().generation;
    h.setConfig(testConfig(h.dir, { engine: { databases: [join(h.dir, 'no-such-folder')] } }));
    await assert.rejects(h.gw.reload(), (e: unknown) => e instanceof PortcullisError && e.code === 'PC_ERR_DB_READ');
    assert.equal(h.gw.current().generation, gen);
  });

  it('reports keys that need a restart', async () => {
    h.setConfig(testConfig(h.dir, { smtp: { listen: '127.0.0.1:1' }, quarantine: { maxAge: '1d' }, ftp: false, policy: { scanAll: false } }));
    const r = await h.gw.reload();
    assert.deepEqual(r.needsRestart, ['ftp', 'quarantine.maxAge', 'smtp.listen']);
    assert.ok(r.changed.includes('policy.scanAll'));
    assert.match(r.message, /restart needed for ftp, quarantine\.maxAge, smtp\.listen/);
    h.setConfig(testConfig(h.dir));
    await h.gw.reload();
  });

  it('a new log level applies to the listeners\' loggers too', async () => {
    h.setConfig(testConfig(h.dir, { log: { level: 'warn' } }));
    await h.gw.reload();
    const before = h.logs.lines.filter((l) => l['event'] === 'session').length;
    const c = await LineClient.open(h.gw.addresses().smtp as string);
    await c.readLine();
    c.send('QUIT');
    await c.readLine();
    await c.closed();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.logs.lines.filter((l) => l['event'] === 'session').length, before, 'info lines are off');
    h.setConfig(testConfig(h.dir));
    await h.gw.reload();
  });

  it('loads new signatures on reload', async () => {
    const db = join(h.dir, 'extra.hdb');
    const { createHash } = await import('node:crypto');
    await writeFile(db, `${createHash('md5').update(CLEAN).digest('hex')}:${CLEAN.byteLength}:Test.Clean.Text.Now.Listed\n`);
    const before = await h.gw.inspect({ protocol: 'upload', direction: 'inbound', name: 'a.txt', target: { name: 'a.txt', data: CLEAN } });
    assert.equal(before.report.verdict, 'clean');
    const previous = h.gw.current().signatures.total;
    h.setConfig(testConfig(h.dir, { engine: { databases: [db] } }));
    const r = await h.gw.reload();
    assert.equal(r.signatures, previous + 1);
    const afterReload = await h.gw.inspect({ protocol: 'upload', direction: 'inbound', name: 'a.txt', target: { name: 'a.txt', data: CLEAN } });
    assert.deepEqual(afterReload.report.findings.map((f) => f.name), ['Test.Clean.Text.Now.Listed']);
  });
});

describe('runtime: session limits', () => {
  it('refuses a client over maxSessionsPerClient with 421 4.7.0, and counts sessions', async () => {
    const h = await startHarness({ smtp: { listen: '127.0.0.1:0', maxSessionsPerClient: 1 } });
    try {
      const first = await LineClient.open(h.gw.addresses().smtp as string);
      assert.equal(await first.readLine(), '421 4.3.2 Service not yet available');
      assert.equal(h.gw.sessions(), 1);
      assert.equal(h.gw.stores.metrics.snapshot().sessionsOpen['smtp'], 1);
      const second = await LineClient.open(h.gw.addresses().smtp as string);
      assert.equal(await second.readLine(), '421 4.7.0 Too many connections from your address, try again later');
      await second.closed();
      first.close();
      await first.closed();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(h.gw.sessions(), 0);
      assert.equal(h.gw.stores.metrics.snapshot().sessionsOpen['smtp'], 0);
    } finally {
      await h.done();
    }
  });
});

describe('runtime: drain', () => {
  it('waits for a session in flight up to the deadline, says goodbye, then stops', async () => {
    const h = await startHarness({ drainTimeout: '800ms' });
    const c = await LineClient.open(h.gw.addresses().smtp as string);
    await c.readLine();
    const started = Date.now();
    const result = await h.gw.stop('SIGTERM');
    const took = Date.now() - started;
    assert.ok(took >= 750, `waited ${took} ms for the session`);
    assert.ok(took < 3000, `but not much longer (${took} ms)`);
    assert.deepEqual([result.finished, result.aborted], [0, 1]);
    assert.equal(await c.readLine(), '421 4.3.2 Service shutting down, try again later');
    await c.closed();
    const session = await h.logs.waitFor((l) => l['event'] === 'session');
    assert.equal(session['end'], 'drained');
    await assert.rejects(LineClient.open(h.gw.addresses().smtp as string), 'no longer accepting');
    await h.done();
  });

  it('stops as soon as the last session ends on its own', async () => {
    const h = await startHarness({ drainTimeout: '10s' });
    const c = await LineClient.open(h.gw.addresses().ftp as string);
    await c.readLine();
    const started = Date.now();
    const stopping = h.gw.stop('SIGTERM');
    setTimeout(() => c.send('QUIT'), 200);
    const result = await stopping;
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual([result.finished, result.aborted], [1, 0]);
    assert.equal(await c.readLine(), '221 Goodbye');
    await h.done();
  });

  it('a listener whose drain never settles does not keep the gateway from stopping', async () => {
    const dir = await tempDir('pc-gw-');
    const stuck = (inner: ProtocolListener): ProtocolListener => ({
      protocol: inner.protocol, start: (ctx) => inner.start(ctx), address: () => inner.address(),
      stopAccepting: () => inner.stopAccepting(), sessions: () => 0,
      drain: () => new Promise<never>(() => undefined),
    });
    const logs = captureLog();
    const gw = await Gateway.start({
      readConfig: async () => testConfig(dir.path, { drainTimeout: 0, ftp: false }),
      log: logs.log, noPrivilegeDrop: true,
      listeners: { smtp: (c) => stuck(new PlaceholderListener('smtp', c.listen)) },
    });
    const started = Date.now();
    const r = await gw.stop('test');
    assert.ok(Date.now() - started < 8000);
    assert.deepEqual([r.finished, r.aborted], [0, 0]);
    assert.ok(logs.lines.some((l) => l['msg'] === 'listener did not finish draining; giving up on it'));
    await dir.remove();
  });

  it('refuses a reload while stopping', async () => {
    const h = await startHarness();
    const stopping = h.gw.stop('test');
    await assert.rejects(h.gw.reload(), /stopping/);
    await stopping;
    await h.done();
  });
});

describe('inspect pipeline', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ policy: { bannedNames: ['*.scr'], bannedTypes: [] } });
  });
  after(async () => { await h.done(); });

  it('EICAR upload: quarantined, event recorded, metrics counted, transfer line logged', async () => {
    const r = await h.gw.inspect({ protocol: 'upload', direction: 'inbound', name: 'eicar.com', target: { name: 'eicar.com', data: EICAR }, peers: { client: '127.0.0.1' } });
    assert.equal(r.report.verdict, 'infected');
    assert.deepEqual(r.report.findings.map((f) => f.name), ['Eicar-Test-Signature']);
    assert.deepEqual([r.decision.action, r.decision.class], ['quarantine', 'virus']);
    assert.ok(r.quarantineId);
    assert.ok(r.eventId);
    const entry = h.gw.stores.quarantine.get(r.quarantineId);
    assert.equal(entry?.originalName, 'eicar.com');
    assert.equal(entry?.size, EICAR.byteLength);
    const ev = h.gw.stores.events.get(r.eventId);
    assert.equal(ev?.action, 'quarantine');
    assert.equal(ev?.quarantineId, r.quarantineId);
    assert.match(r.decision.reply.smtp.text, new RegExp(`quarantined as ${r.quarantineId}`));
    const line = await h.logs.waitFor((l) => l['event'] === 'transfer' && l['eventId'] === r.eventId);
    for (const k of ['protocol', 'direction', 'name', 'size', 'scanned', 'verdict', 'findings', 'action', 'class', 'reply', 'quarantineId', 'durationMs', 'generation']) assert.ok(k in line, `transfer line has ${k}`);
    const documented = new Set<string>([...TRANSFER_LOG_FIELDS, 'level', 'time', 'pid', 'service', 'msg', 'event']);
    for (const k of Object.keys(line)) assert.ok(documented.has(k), `transfer line field ${k} is documented in docs/LOGGING.md`);
    assert.equal(h.gw.stores.metrics.snapshot().byVerdict.infected >= 1, true);
  });

  it('a spooled file on disk is scanned the same way (FTP, inbound: quarantined, FTP reply 550)', async () => {
    const path = join(h.dir, 'spooled.bin');
    await writeFile(path, EICAR);
    const r = await h.gw.inspect({ protocol: 'ftp', direction: 'inbound', name: 'download.exe', target: { name: 'download.exe', path, size: EICAR.byteLength } });
    assert.equal(r.decision.action, 'quarantine');
    assert.equal(r.decision.reply.ftp.code, 550);
  });

  it('clean object passes with a 250/226 reply and still becomes an event', async () => {
    const r = await h.gw.inspect({ protocol: 'smtp', direction: 'inbound', name: 'part 1', target: { name: 'part 1', data: CLEAN } });
    assert.deepEqual([r.report.verdict, r.decision.action, r.decision.class], ['clean', 'pass', 'clean']);
    assert.equal(r.decision.reply.smtp.code, 250);
    assert.equal(r.decision.reply.ftp.code, 226);
    assert.equal(r.quarantineId, undefined);
    assert.equal(h.gw.stores.events.get(r.eventId as number)?.verdict, 'clean');
  });

  it('a banned name inside a zip is found and blocked (class banned)', async () => {
    const zip = zipSync({ 'holiday.scr': CLEAN });
    const r = await h.gw.inspect({ protocol: 'smtp', direction: 'inbound', name: 'photos.zip', target: { name: 'photos.zip', data: zip } });
    assert.deepEqual([r.decision.action, r.decision.class], ['block', 'banned']);
    assert.deepEqual(r.report.findings.map((f) => [f.name, f.path.join(' › ')]), [['Banned.Name.*.scr', 'photos.zip › holiday.scr']]);
    assert.equal(`${r.decision.reply.smtp.code} ${r.decision.reply.smtp.enhanced}`, '554 5.7.1');
  });
});

describe('inspect pipeline: failures fail closed', () => {
  it('a scanner that fails gives tempfail (451 4.7.1) for mail and block for uploads, never a pass', async () => {
    const h = await startHarness({ scanners: [{ command: ['/nonexistent/scanner', '{}'] }] });
    try {
      const mail = await h.gw.inspect({ protocol: 'smtp', direction: 'inbound', name: 'x', target: { name: 'x', data: CLEAN } });
      assert.equal(mail.report.verdict, 'error');
      assert.deepEqual([mail.decision.action, mail.decision.class], ['tempfail', 'scannerFailure']);
      assert.equal(`${mail.decision.reply.smtp.code} ${mail.decision.reply.smtp.enhanced}`, '451 4.7.1');
      assert.equal(mail.decision.reply.ftp.code, 451);
      const upload = await h.gw.inspect({ protocol: 'upload', direction: 'inbound', name: 'x', target: { name: 'x', data: CLEAN } });
      assert.equal(upload.decision.action, 'block');
      assert.ok(h.gw.stores.metrics.snapshot().scannerErrors >= 2);
    } finally {
      await h.done();
    }
  });

  it('an unreadable spooled file is a failure, not a pass', async () => {
    const h = await startHarness();
    try {
      const r = await h.gw.inspect({ protocol: 'ftp', direction: 'outbound', name: 'gone', target: { name: 'gone', path: join(h.dir, 'missing'), size: 10 } });
      assert.equal(r.report.verdict, 'error');
      assert.equal(r.decision.action, 'tempfail');
    } finally {
      await h.done();
    }
  });

  it('with scanAll off, harmless text named .txt is not scanned, a renamed executable is', async () => {
    const h = await startHarness({ policy: { scanAll: false } });
    try {
      const txt = await h.gw.inspect({ protocol: 'ftp', direction: 'inbound', name: 'notes.txt', target: { name: 'notes.txt', data: CLEAN } });
      assert.equal(txt.scanned, false);
      const pe = new Uint8Array(256);
      pe.set([0x4d, 0x5a]);
      const exe = await h.gw.inspect({ protocol: 'ftp', direction: 'inbound', name: 'notes.txt', target: { name: 'notes.txt', data: pe } });
      assert.equal(exe.scanned, true);
      assert.equal(exe.type.name, 'pe');
    } finally {
      await h.done();
    }
  });
});

describe('changedKeys', () => {
  const base = testConfig('/tmp/x');
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['nothing', {}, []],
    ['one leaf', { policy: { scanAll: false } }, ['policy.scanAll']],
    ['a listener switched off', { smtp: false }, ['smtp']],
    ['the admin switched on', { admin: { listen: '127.0.0.1:0' } }, ['admin']],
    ['a list', { engine: { databases: ['/a'] } }, ['engine.databases']],
  ];
  for (const [name, o, want] of cases) it(name, () => assert.deepEqual(changedKeys(base, testConfig('/tmp/x', o)), want));
});
