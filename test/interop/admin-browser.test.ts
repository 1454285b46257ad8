/**
 * The admin UI in a real browser (Debian chromium driven by playwright-core)
 * against the real `portcullis start` (built CLI, temp config and data
 * folder, free ports, a known password hash): log in, upload an EICAR file
 * to "scan a file", see the verdict, the event and the quarantine entry,
 * release it (file export) and delete it, log out, and check that a
 * protected page sends the browser back to the login page afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { hashPassword } from '../../src/admin/password.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const PASSWORD = 'browser test password';
const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
/** The bits of the DOM the in-page functions use (tests compile without lib "dom"). */
interface PageDom {
  querySelector(selector: string): { textContent: string | null; value?: string } | null;
  querySelectorAll(selector: string): { length: number };
}
type PageGlobal = { document: PageDom };

/** A hostile upload name: must show as text, never as markup. */
const UPLOAD_NAME = 'eicar<img src=x onerror=alert(1)>.com';

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`portcullis start exited with ${child.exitCode}:\n${output()}`);
    try {
      const r = await fetch(new URL('/healthz', url));
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`portcullis start did not answer in time:\n${output()}`);
}

describe('admin UI in a real browser against portcullis start', () => {
  let dir: string;
  let base: string;
  let child: ChildProcess;
  let log = '';
  let browser: Browser;
  let page: Page;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-browser-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const config = join(dir, 'portcullis.yaml');
    writeFileSync(config, [
      'data: ./data',
      'smtp: false',
      'ftp: false',
      `admin: { listen: "127.0.0.1:${port}", passwordHash: "${await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })}" }`,
      '',
    ].join('\n'));
    child = spawn(process.execPath, [CLI, 'start', '--config', config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => { log += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
    await waitForHealth(base, child, () => log);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await (await browser.newContext()).newPage();
    // Release and delete ask for confirmation; the test says yes.
    page.on('dialog', (d) => { void d.accept(); });
    // Anything the page's own CSP blocks is a bug in the UI (an inline style or script).
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  });

  after(async () => {
    await browser?.close();
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  let quarantineId = '';
  const cspViolations: string[] = [];

  it('sends an anonymous visitor to the login page, and logs in', async () => {
    await page.goto(`${base}/events`);
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.fill('#password', 'wrong password');
    await page.click('button[type=submit]');
    assert.match(await page.textContent('[role=alert]') ?? '', /Wrong password/);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${base}/events`), page.click('button[type=submit]')]);
    assert.equal(await page.textContent('h1'), 'Events');
  });

  it('scans an uploaded EICAR file: infected, quarantined, with the name shown as text', async () => {
    await page.goto(`${base}/scan`);
    await page.setInputFiles('#file', { name: UPLOAD_NAME, mimeType: 'application/octet-stream', buffer: Buffer.from(EICAR) });
    await Promise.all([page.waitForSelector('#verdict'), page.click('#scan')]);
    assert.equal((await page.textContent('#verdict'))?.trim(), 'infected');
    assert.match(await page.textContent('#findings') ?? '', /Eicar/i);
    assert.equal((await page.textContent('#action'))?.trim(), 'quarantine');
    quarantineId = (await page.textContent('#quarantine-id'))?.trim() ?? '';
    assert.match(quarantineId, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    assert.equal(await page.textContent('#result .object'), UPLOAD_NAME);
    assert.equal(await page.locator('#result img').count(), 0, 'the name was rendered as markup');
  });

  it('shows the event on the events page, filtered by verdict and text', async () => {
    await page.goto(`${base}/events?verdict=infected&protocol=upload&q=${encodeURIComponent('eicar<img')}`);
    const rows = page.locator('table.events tbody tr');
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().locator('td.object').textContent(), UPLOAD_NAME);
    assert.match(await rows.first().textContent() ?? '', new RegExp(quarantineId));
    assert.equal(await page.locator('table.events img').count(), 0);
    await page.goto(`${base}/events?verdict=clean`);
    assert.equal(await page.locator('table.events tbody tr').count(), 0);
  });

  it('shows live counters on the dashboard', async () => {
    await page.goto(`${base}/`);
    // Function form: a string would need eval, which the page's CSP forbids.
    await page.waitForFunction(() => (globalThis as unknown as PageGlobal).document.querySelector('[data-k="updated"]')?.textContent !== 'now');
    assert.equal(await page.textContent('[data-k="infected"]'), '1');
    assert.equal(await page.textContent('[data-k="held"]'), '1');
    const barHeight = await page.locator('.bars div').last().evaluate((el) => (el as unknown as { getBoundingClientRect(): { height: number } }).getBoundingClientRect().height);
    assert.ok(barHeight > 10, `the throughput bar is ${barHeight}px high`);
    assert.match(await page.textContent('main') ?? '', /Recent detections[\s\S]*eicar<img src=x onerror=alert\(1\)>\.com/);

    // A second detection arrives while the dashboard is open: the polling script shows it, as text.
    const second = '<svg onload=alert(2)>.com';
    const status = await page.evaluate(async ([name, body]) => {
      const token = (globalThis as unknown as PageGlobal).document.querySelector('input[name=_csrf]')?.value ?? '';
      const form = new FormData();
      form.append('_csrf', token);
      form.append('file', new Blob([body]), name);
      return (await fetch('/api/scan', { method: 'POST', body: form })).status;
    }, [second, EICAR] as const);
    assert.equal(status, 200);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobal).document.querySelector('[data-k="infected"]')?.textContent === '2');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobal).document.querySelectorAll('#recent tbody tr').length === 2);
    assert.equal(await page.locator('#recent tbody tr').first().locator('td.object').textContent(), second);
    assert.equal(await page.locator('#recent svg').count(), 0);
  });

  it('lists the quarantine entry, releases it as a file, downloads and deletes it', async () => {
    await page.goto(`${base}/quarantine`);
    const row = page.locator(`tr[data-id="${quarantineId}"]`);
    assert.equal(await row.count(), 1);
    assert.equal(await row.locator('td.object').textContent(), UPLOAD_NAME);
    await Promise.all([page.waitForURL(`${base}/quarantine/${quarantineId}`), row.locator('a').first().click()]);
    assert.equal((await page.textContent('#state'))?.trim(), 'held');

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    assert.equal(download.suggestedFilename(), 'eicar_img src=x onerror=alert(1)_.com');
    const saved = await download.path();
    assert.equal(readFileSync(saved, 'utf8'), EICAR);

    await Promise.all([page.waitForURL(/done=released/), page.click('#release')]);
    assert.equal((await page.textContent('[role=status]'))?.trim(), 'Released.');
    assert.equal((await page.textContent('#state'))?.trim(), 'released');
    const releasedDir = join(dir, 'data', 'released');
    const released = readdirSync(releasedDir);
    assert.equal(released.length, 1);
    assert.equal(readFileSync(join(releasedDir, released[0] as string), 'utf8'), EICAR);

    const storedFiles = () => readdirSync(join(dir, 'data', 'quarantine')).filter((n) => /^[0-9a-f]{32}$/.test(n)).length;
    const before = storedFiles();
    await Promise.all([page.waitForURL(/done=deleted/), page.click('#delete')]);
    assert.equal((await page.textContent('#state'))?.trim(), 'deleted');
    assert.equal(await page.locator('#download').count(), 0);
    assert.equal(storedFiles(), before - 1, 'the bytes are gone');
  });

  it('sees the same data through the portcullis quarantine command', async () => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(process.execPath, [CLI, 'quarantine', 'show', quarantineId, '--data', join(dir, 'data')], { encoding: 'utf8' });
    assert.match(out, /state +deleted/);
    assert.ok(out.includes(`original name ${UPLOAD_NAME}`), out);
  });

  it('logs out, after which protected pages and the API refuse', async () => {
    await Promise.all([page.waitForURL(`${base}/login`), page.click('#logout')]);
    await page.goto(`${base}/quarantine`);
    assert.equal(new URL(page.url()).pathname, '/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/quarantine');
    const status = await page.evaluate(async () => (await fetch('/api/summary')).status);
    assert.equal(status, 401);
    assert.ok(existsSync(join(dir, 'data', 'portcullis.db')));
  });

  it('broke none of its own Content-Security-Policy rules on any page', () => {
    assert.deepEqual(cspViolations, []);
  });
});
