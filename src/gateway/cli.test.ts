// `portcullis start` as a real child process: the built CLI with a temp
// config and data folder on free ports; SIGHUP reload, failed reload, and
// SIGTERM drain with a connection in flight.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LineClient, tempDir } from './testing.js';

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

interface Child {
  readonly proc: ChildProcess;
  readonly lines: Record<string, unknown>[];
  waitFor(match: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stderr(): string;
}

function startChild(configFile: string): Child {
  const proc = spawn(process.execPath, [MAIN, 'start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (text) => {
    let line: Record<string, unknown>;
    try { line = JSON.parse(text) as Record<string, unknown>; } catch { line = { text }; }
    lines.push(line);
    waiters = waiters.filter((w) => (w.match(line) ? (w.resolve(line), false) : true));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
  });
  return {
    proc, lines, exited, stderr: () => err,
    waitFor(match, timeoutMs = 10_000) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching line; stdout:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${err}`)), timeoutMs);
        waiters.push({ match, resolve: (l) => { clearTimeout(t); resolve(l); } });
      });
    },
  };
}

const CONFIG = (data: string, extra = '', admin = ''): string => `data: ${JSON.stringify(data)}
drainTimeout: 1500ms
smtp: { listen: "127.0.0.1:0", idleTimeout: 1m }
ftp: { listen: "127.0.0.1:0" }
admin: { listen: "127.0.0.1:0"${admin} }
${extra}`;

/** The listener takes a connection and answers with a reply line (placeholder 421 or a proxy's greeting). */
async function assertAnswers(address: string): Promise<void> {
  const c = await LineClient.open(address);
  assert.match(await c.readLine() ?? '', /^\d{3}[ -]/);
  c.close();
}

async function httpStatus(url: string): Promise<number> {
  const r = await fetch(url, { redirect: 'manual' });
  await r.arrayBuffer();
  return r.status;
}

interface Running {
  readonly child: Child;
  readonly start: Record<string, unknown>;
  readonly listeners: { readonly smtp: string; readonly ftp: string };
  readonly admin: string;
  readonly dir: string;
  readonly file: string;
}

/** Starts the CLI on a fresh config and data folder, waits for its start line, runs `body`, then cleans up. */
async function withChild(extra: string, body: (r: Running) => Promise<void>, admin = '', dirMode?: number): Promise<void> {
  const dir = await tempDir('pc-cli-');
  if (dirMode !== undefined) await chmod(dir.path, dirMode);
  const file = join(dir.path, 'portcullis.yaml');
  await writeFile(file, CONFIG(join(dir.path, 'var'), extra, admin));
  const child = startChild(file);
  try {
    const start = await child.waitFor((l) => l['event'] === 'start');
    await body({ child, start, listeners: start['listeners'] as Running['listeners'], admin: String(start['admin']), dir: dir.path, file });
  } finally {
    child.proc.kill('SIGKILL');
    await child.exited;
    await dir.remove();
  }
}

const PASSWORD = 'correct horse';
let hashed: string | undefined;
async function passwordHash(): Promise<string> {
  const { hashPassword } = await import('../admin/password.js');
  hashed ??= await hashPassword(PASSWORD, { N: 2 ** 14, r: 8, p: 1 });
  return hashed;
}

async function adminLogin(admin: string): Promise<Record<string, string>> {
  const login = await fetch(`${admin}api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) });
  assert.equal(login.status, 200);
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  return { cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '', 'x-csrf-token': csrfToken };
}

async function scanEicar(admin: string, headers: Record<string, string>): Promise<{ quarantineId?: string; eventId?: number }> {
  const form = new FormData();
  form.append('file', new Blob(['X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*']), 'eicar.com');
  const scan = await fetch(`${admin}api/scan`, { method: 'POST', headers, body: form });
  const result = (await scan.json()) as { verdict: string; action: string; quarantineId?: string; eventId?: number };
  assert.equal(scan.status, 200, JSON.stringify(result));
  assert.deepEqual([result.verdict, result.action], ['infected', 'quarantine']);
  assert.ok(result.quarantineId);
  return result;
}

describe('portcullis start (child process)', () => {
  it('SIGHUP reloads (log line), a bad config is refused and the old one stays, listeners and admin keep answering', () =>
    withChild('', async ({ child, start, listeners, admin, dir, file }) => {
      assert.equal(start['generation'], 1);
      await writeFile(file, CONFIG(join(dir, 'var'), 'policy: { scanAll: false }\n'));
      child.proc.kill('SIGHUP');
      const reload = await child.waitFor((l) => l['event'] === 'reload' && l['generation'] === 2);
      assert.deepEqual(reload['changed'], ['policy.scanAll']);

      await assertAnswers(listeners.smtp);
      await assertAnswers(listeners.ftp);
      assert.equal(await httpStatus(`${admin}login`), 200);

      await writeFile(file, CONFIG(join(dir, 'var'), 'smtp: { listen: abc }\n'));
      child.proc.kill('SIGHUP');
      const failed = await child.waitFor((l) => l['event'] === 'reload-failed');
      assert.match(String(failed['reason']), /PC_ERR_CONFIG/);
      assert.equal(failed['generation'], 2, 'still on the last good generation');
      await assertAnswers(listeners.smtp);
      await assertAnswers(listeners.ftp);
      assert.equal(await httpStatus(`${admin}login`), 200);
    }));

  it('SIGTERM with a connection in flight: waits up to drainTimeout, says 421, exits 0', () =>
    withChild('', async ({ child, listeners }) => {
      // FTP: a client that has been greeted and says nothing is a session in flight, placeholder or proxy.
      const c = await LineClient.open(listeners.ftp);
      assert.match(await c.readLine() ?? '', /^(220|421)[ -]/);
      const sent = Date.now();
      child.proc.kill('SIGTERM');
      await child.waitFor((l) => l['event'] === 'drain');
      const goodbye = await c.readLine(10_000);
      assert.ok(goodbye === undefined || /^421 /.test(goodbye), `goodbye: ${goodbye}`);
      const { code, signal, at } = await child.exited;
      assert.equal(signal, null);
      assert.equal(code, 0, child.stderr());
      const waited = at - sent;
      assert.ok(waited >= 1400, `exited after ${waited} ms: it should wait for the session up to drainTimeout`);
      assert.ok(waited < 6000, `exited after ${waited} ms`);
      const stop = child.lines.find((l) => l['event'] === 'stop');
      assert.deepEqual([stop?.['finished'], stop?.['aborted']], [0, 1]);
    }));

  it('SIGTERM with nothing in flight exits 0 at once', () =>
    withChild('', async ({ child }) => {
      const sent = Date.now();
      child.proc.kill('SIGTERM');
      const { code, at } = await child.exited;
      assert.equal(code, 0, child.stderr());
      assert.ok(at - sent < 1400, `took ${at - sent} ms`);
    }));

  it('admin API: "scan a file" runs through inspect (EICAR quarantined, event recorded), reload and redacted config', async () => {
    await withChild('', async ({ admin }) => {
      const headers = await adminLogin(admin);
      const result = await scanEicar(admin, headers);
      const q = await fetch(`${admin}api/quarantine/${result.quarantineId}`, { headers });
      assert.equal(q.status, 200);
      const ev = await fetch(`${admin}api/events/${result.eventId}`, { headers });
      assert.equal(((await ev.json()) as { protocol: string }).protocol, 'upload');

      const reload = await fetch(`${admin}api/reload`, { method: 'POST', headers });
      assert.match(((await reload.json()) as { message: string }).message, /generation 2/);
      const config = (await (await fetch(`${admin}api/config`, { headers })).json()) as { admin: { passwordHash: string } };
      assert.equal(config.admin.passwordHash, '[redacted]');
      assert.doesNotMatch(JSON.stringify(config), /scrypt/);
    }, `, passwordHash: ${JSON.stringify(await passwordHash())}`);
  });

  it('user: nobody — as root it drops privileges after binding and still writes its data; otherwise it refuses to start', async () => {
    if (process.getuid?.() !== 0) {
      const dir = await tempDir('pc-cli-');
      const file = join(dir.path, 'portcullis.yaml');
      await writeFile(file, CONFIG(join(dir.path, 'var'), 'user: nobody\n'));
      const child = startChild(file);
      const { code } = await child.exited;
      await dir.remove();
      assert.equal(code, 2);
      assert.match(child.stderr(), /not running as root/);
      return;
    }
    await withChild('user: nobody\n', async ({ child, start, admin }) => {
      const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
      assert.equal(start['uid'], nobody);
      const status = await readFile(`/proc/${child.proc.pid}/status`, 'utf8');
      const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
      assert.deepEqual(uids?.slice(1).map(Number), [nobody, nobody, nobody, nobody], 'real, effective, saved and fs uid are all nobody');
      const headers = await adminLogin(admin);
      const result = await scanEicar(admin, headers);
      assert.ok(result.quarantineId, 'the quarantine is still writable after the drop');
    }, `, passwordHash: ${JSON.stringify(await passwordHash())}`, 0o755);
  });

  it('--check validates the config and the signature databases without starting', async () => {
    const dir = await tempDir('pc-cli-');
    try {
      const good = join(dir.path, 'good.yaml');
      await writeFile(good, 'policy: { localDomains: [example.org] }\n');
      const ok = spawnSync(process.execPath, [MAIN, 'start', '--check', '--config', good], { encoding: 'utf8' });
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /config OK, \d+ signatures, scanners: builtin/);
      const bad = join(dir.path, 'bad.yaml');
      await writeFile(bad, `engine: { databases: [${JSON.stringify(join(dir.path, 'nowhere'))}] }\n`);
      const no = spawnSync(process.execPath, [MAIN, 'start', '--check', '--config', bad], { encoding: 'utf8' });
      assert.equal(no.status, 2);
      assert.match(no.stderr, /PC_ERR_DB_READ/);
      const usage = spawnSync(process.execPath, [MAIN, 'start', '--bogus'], { encoding: 'utf8' });
      assert.equal(usage.status, 2);
      assert.match(usage.stderr, /unknown option "--bogus"/);
    } finally {
      await dir.remove();
    }
  });

  it('an invalid config at start exits 2 and names the key', async () => {
    const dir = await tempDir('pc-cli-');
    const file = join(dir.path, 'bad.yaml');
    await writeFile(file, 'smtp: { listen: abc }\nftp: { upstream: 5 }\n');
    const child = startChild(file);
    try {
      const { code } = await child.exited;
      assert.equal(code, 2);
      assert.match(child.stderr(), /PC_ERR_CONFIG/);
      assert.match(child.stderr(), /smtp\.listen: expected "host:port", got "abc"/);
      assert.match(child.stderr(), /ftp\.upstream: expected "host:port", got 5/);
    } finally {
      await dir.remove();
    }
  });
});
