// `portcullis start` as a real child process: the built CLI with a temp
// config and data folder on free ports; SIGHUP reload, failed reload, and
// SIGTERM drain with a connection in flight.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
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

const CONFIG = (data: string, extra = ''): string => `data: ${JSON.stringify(data)}
drainTimeout: 1500ms
smtp: { listen: "127.0.0.1:0", idleTimeout: 1m }
ftp: { listen: "127.0.0.1:0" }
admin: { listen: "127.0.0.1:0" }
${extra}`;

async function httpStatus(url: string): Promise<number> {
  const r = await fetch(url, { redirect: 'manual' });
  await r.arrayBuffer();
  return r.status;
}

describe('portcullis start (child process)', () => {
  it('SIGHUP reloads (log line), a bad config is refused and the old one stays, listeners and admin keep answering', async () => {
    const dir = await tempDir('pc-cli-');
    const file = join(dir.path, 'portcullis.yaml');
    await writeFile(file, CONFIG(join(dir.path, 'var')));
    const child = startChild(file);
    try {
      const start = await child.waitFor((l) => l['event'] === 'start');
      const listeners = start['listeners'] as { smtp: string; ftp: string };
      const admin = String(start['admin']);
      assert.equal(start['generation'], 1);

      await writeFile(file, CONFIG(join(dir.path, 'var'), 'policy: { scanAll: false }\n'));
      child.proc.kill('SIGHUP');
      const reload = await child.waitFor((l) => l['event'] === 'reload' && l['generation'] === 2);
      assert.deepEqual(reload['changed'], ['policy.scanAll']);

      const smtp = await LineClient.open(listeners.smtp);
      assert.equal(await smtp.readLine(), '421 4.3.2 Service not yet available');
      smtp.close();
      const ftp = await LineClient.open(listeners.ftp);
      assert.equal(await ftp.readLine(), '421 Service not available');
      ftp.close();
      assert.equal(await httpStatus(`${admin}login`), 200);

      await writeFile(file, CONFIG(join(dir.path, 'var'), 'smtp: { listen: abc }\n'));
      child.proc.kill('SIGHUP');
      const failed = await child.waitFor((l) => l['event'] === 'reload-failed');
      assert.match(String(failed['reason']), /PC_ERR_CONFIG/);
      assert.equal(failed['generation'], 2, 'still on the last good generation');
      const again = await LineClient.open(listeners.smtp);
      assert.equal(await again.readLine(), '421 4.3.2 Service not yet available');
      again.close();
      assert.equal(await httpStatus(`${admin}login`), 200);
    } finally {
      child.proc.kill('SIGKILL');
      await child.exited;
      await dir.remove();
    }
  });

  it('SIGTERM with a connection in flight: waits up to drainTimeout, says 421, exits 0', async () => {
    const dir = await tempDir('pc-cli-');
    const file = join(dir.path, 'portcullis.yaml');
    await writeFile(file, CONFIG(join(dir.path, 'var')));
    const child = startChild(file);
    try {
      const start = await child.waitFor((l) => l['event'] === 'start');
      const c = await LineClient.open((start['listeners'] as { smtp: string }).smtp);
      await c.readLine();
      const sent = Date.now();
      child.proc.kill('SIGTERM');
      await child.waitFor((l) => l['event'] === 'drain');
      assert.equal(await c.readLine(), '421 4.3.2 Service shutting down, try again later');
      const { code, signal, at } = await child.exited;
      assert.equal(signal, null);
      assert.equal(code, 0, child.stderr());
      const waited = at - sent;
      assert.ok(waited >= 1400, `exited after ${waited} ms: it should wait for the session up to drainTimeout`);
      assert.ok(waited < 6000, `exited after ${waited} ms`);
      const stop = child.lines.find((l) => l['event'] === 'stop');
      assert.deepEqual([stop?.['finished'], stop?.['aborted']], [0, 1]);
    } finally {
      child.proc.kill('SIGKILL');
      await dir.remove();
    }
  });

  it('SIGTERM with nothing in flight exits 0 at once', async () => {
    const dir = await tempDir('pc-cli-');
    const file = join(dir.path, 'portcullis.yaml');
    await writeFile(file, CONFIG(join(dir.path, 'var')));
    const child = startChild(file);
    try {
      await child.waitFor((l) => l['event'] === 'start');
      const sent = Date.now();
      child.proc.kill('SIGTERM');
      const { code, at } = await child.exited;
      assert.equal(code, 0, child.stderr());
      assert.ok(at - sent < 1400, `took ${at - sent} ms`);
    } finally {
      child.proc.kill('SIGKILL');
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
