import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../events/db.js';
import { openQuarantine, type QuarantineEntry } from '../quarantine/index.js';
import { parseArgs, printable } from './quarantine.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
const HOSTILE = 'evil\u001b[31mRED\u001b[0m\r\n.exe';

/** The CLI without blocking this process, for tests whose peer (an SMTP next hop) runs in it. */
function cliAsync(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'quarantine', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

function cli(args: string[], cwd?: string): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, 'quarantine', ...args], { encoding: 'utf8', ...(cwd !== undefined ? { cwd } : {}) });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('portcullis quarantine', () => {
  let dir: string;
  let data: string;
  let file: QuarantineEntry;
  let mail: QuarantineEntry;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-q-'));
    data = join(dir, 'data');
    const db = openDatabase({ dir: data });
    const q = openQuarantine({ dir: join(data, 'quarantine'), db });
    const findings = [{ name: 'Eicar-Test-Signature', path: ['x'], scanner: 'builtin' }];
    file = await q.add({ source: { data: Buffer.from(EICAR) }, originalName: HOSTILE, protocol: 'ftp', direction: 'inbound', client: '192.0.2.1', findings, time: Date.now() - 1000 });
    mail = await q.add({ source: { data: Buffer.from(`Subject: hi\r\n\r\n${EICAR}\r\n`) }, originalName: '<msg@x.test>', protocol: 'smtp', direction: 'inbound',
      envelope: { from: 'a@x.test', rcpts: ['b@y.test'] }, findings });
    db.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists newest first with control characters escaped', () => {
    const r = cli(['list', '--data', data]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ID +TIME +STATE +PROTO +SIZE +FINDINGS +NAME$/);
    assert.ok(lines[1]?.startsWith(mail.id));
    assert.ok(lines[2]?.includes('evil\\x1b[31mRED\\x1b[0m\\x0d\\x0a.exe'), lines[2]);
    assert.ok(!r.out.includes('\u001b'), 'no raw escape reaches the terminal');
  });

  it('lists as JSON with filters', () => {
    const r = cli(['list', '--data', data, '--protocol', 'smtp', '--json']);
    const page = JSON.parse(r.out) as { items: { id: string }[]; total: number };
    assert.deepEqual(page.items.map((e) => e.id), [mail.id]);
    assert.equal(JSON.parse(cli(['list', '--data', data, '--search', 'RED', '--json']).out).total, 1);
  });

  it('shows one object, taking the id as a person types it', () => {
    const r = cli(['show', file.id.toLowerCase().replace(/-/g, ''), '--data', data]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^id +${file.id}$`, 'm'));
    assert.match(r.out, /^state +held$/m);
    assert.match(r.out, /^finding +Eicar-Test-Signature/m);
    assert.equal((JSON.parse(cli(['show', mail.id, '--json', '--data', data]).out) as QuarantineEntry).envelope?.rcpts[0], 'b@y.test');
  });

  it('downloads to a file, to stdout, and never over an existing file', () => {
    const out = join(dir, 'dl.bin');
    assert.equal(cli(['download', file.id, '--output', out, '--data', data]).code, 0);
    assert.equal(readFileSync(out, 'utf8'), EICAR);
    const again = cli(['download', file.id, '--output', out, '--data', data]);
    assert.equal(again.code, 2);
    assert.match(again.err, /exists/);
    assert.equal(cli(['download', file.id, '--output', '-', '--data', data]).out, EICAR);
    const cwd = join(dir, 'cwd');
    mkdirSync(cwd);
    const named = cli(['download', file.id, `--data=${data}`], cwd);
    assert.equal(named.code, 0, named.err);
    assert.ok(existsSync(join(cwd, 'evil_[31mRED_[0m__.exe')));
  });

  it('releases a file into a folder, and mail into a file with --to', () => {
    const to = join(dir, 'released');
    mkdirSync(to);
    const r = cli(['release', file.id, '--to', to, '--data', data]);
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(join(to, 'evil_[31mRED_[0m__.exe'), 'utf8'), EICAR);
    const mf = cli(['release', mail.id, '--to', join(to, 'mail.eml'), '--data', data]);
    assert.equal(mf.code, 0, mf.err);
    assert.match(readFileSync(join(to, 'mail.eml'), 'utf8'), /^Subject: hi/);
  });

  describe('mail release re-delivers through smtp.nextHop', () => {
    let held: QuarantineEntry;
    let server: SMTPServer;
    let port: number;
    const got: { rcpts: string[]; body: string }[] = [];
    before(async () => {
      const db = openDatabase({ dir: data });
      const q = openQuarantine({ dir: join(data, 'quarantine'), db });
      held = await q.add({ source: { data: Buffer.from(`Subject: held\r\n\r\n${EICAR}\r\n`) }, originalName: '<held@x.test>', protocol: 'smtp', direction: 'inbound',
        envelope: { from: 'a@x.test', rcpts: ['c@y.test', 'd@y.test'] }, findings: [{ name: 'Eicar-Test-Signature', path: ['x'], scanner: 'builtin' }] });
      db.close();
      server = new SMTPServer({
        authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
        onData(stream, session, cb) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => { got.push({ rcpts: session.envelope.rcptTo.map((r) => r.address), body: Buffer.concat(chunks).toString('latin1') }); cb(); });
        },
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      port = (server.server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const config = (nextHop: string): string => {
      const f = join(dir, `release-${nextHop.replace(/\W/g, '_')}.yaml`);
      writeFileSync(f, `data: ./data\nsmtp: { listen: "127.0.0.1:10925", nextHop: "${nextHop}" }\n`);
      return f;
    };

    it('a next hop that cannot be reached leaves the mail held and says why', async () => {
      const closed = await new Promise<number>((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)); }); });
      const r = await cliAsync(['release', held.id, '--config', config(`127.0.0.1:${closed}`)]);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /portcullis quarantine: .*(connect|next hop|ECONNREFUSED)/i);
      assert.match(cli(['show', held.id, '--data', data]).out, /^state +held$/m);
    });

    it('a reachable next hop gets the stored message for every recipient, marked as released', async () => {
      const r = await cliAsync(['release', held.id, '--config', config(`127.0.0.1:${port}`)]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /to its recipients through the SMTP next hop/);
      assert.equal(got.length, 1);
      assert.deepEqual(got[0]?.rcpts, ['c@y.test', 'd@y.test']);
      assert.match(got[0]?.body ?? '', new RegExp(`^X-Portcullis-Released: ${held.id} on .*\r\nSubject: held\r\n`));
      assert.match(cli(['show', held.id, '--data', data]).out, /^state +released$/m);
    });
  });

  it('deletes, and then the object is gone but its record stays', () => {
    const id = file.id;
    assert.equal(cli(['delete', id, '--data', data]).code, 0);
    assert.match(cli(['show', id, '--data', data]).out, /^state +deleted$/m);
    assert.equal(cli(['download', id, '--output', '-', '--data', data]).code, 1);
    assert.equal(cli(['delete', id, '--data', data]).code, 1);
  });

  const failures: { name: string; args: () => string[]; code: number; err: RegExp }[] = [
    { name: 'traversal id', args: () => ['show', '../../etc/passwd', '--data', data], code: 1, err: /Cannot find/ },
    { name: 'unknown id', args: () => ['download', 'ZZZZ-ZZZZ-ZZZZ', '--data', data], code: 1, err: /Cannot find/ },
    { name: 'no id', args: () => ['show', '--data', data], code: 2, err: /exactly one ID/ },
    { name: 'unknown command', args: () => ['frobnicate', '--data', data], code: 2, err: /unknown command/ },
    { name: 'unknown option', args: () => ['list', '--colour'], code: 2, err: /unknown/ },
    { name: 'option without value', args: () => ['list', '--data'], code: 2, err: /needs a value/ },
    { name: 'bad state', args: () => ['list', '--state', 'lost', '--data', data], code: 2, err: /--state/ },
    { name: 'bad limit', args: () => ['list', '--limit', '-5', '--data', data], code: 2, err: /./ },
    { name: 'no database there', args: () => ['list', '--data', join(dir, 'nothing')], code: 1, err: /no quarantine/ },
  ];
  for (const f of failures) {
    it(`fails clearly: ${f.name}`, () => {
      const r = cli(f.args());
      assert.equal(r.code, f.code, r.out + r.err);
      assert.match(r.err, f.err);
    });
  }

  it('finds the data folder through --config and applies its retention on prune', () => {
    const config = join(dir, 'portcullis.yaml');
    writeFileSync(config, 'data: ./data\nquarantine: { maxAge: 1s }\n');
    const list = cli(['list', '--config', config, '--json']);
    assert.equal(list.code, 0, list.err);
    assert.equal((JSON.parse(list.out) as { total: number }).total, 3, 'the file, the mail, and the mail the release tests re-delivered');
    const pruned = cli(['prune', '--config', config]);
    assert.equal(pruned.code, 0, pruned.err);
    // How many are past 1 s depends on how long the tests before took; the mail always is by now.
    assert.match(pruned.out, /^Pruned [1-9]\d* objects?\n$/);
    assert.match(cli(['show', mail.id, '--data', data]).out, /^state +deleted$/m);
  });

  it('prints usage with --help', () => {
    const r = cli(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /release ID \[--to DIR\]/);
  });
});

describe('quarantine command helpers', () => {
  it('parses flags with spaces and =', () => {
    const a = parseArgs(['show', 'X', '--data=/d', '--json', '--output', '-']);
    assert.deepEqual(a.positional, ['show', 'X']);
    assert.deepEqual([...a.flags], [['--data', '/d'], ['--json', true], ['--output', '-']]);
  });

  const shown: [string, string][] = [
    ['plain.exe', 'plain.exe'],
    ['\u001b[2J', '\\x1b[2J'],
    ['a\u0007b', 'a\\x07b'],
    ['\u009b31m', '\\x9b31m'],
    ['\u202etxt.exe', '\\u{202e}txt.exe'],
  ];
  for (const [input, want] of shown) {
    it(`shows ${JSON.stringify(input)} safely`, () => assert.equal(printable(input), want));
  }
});
