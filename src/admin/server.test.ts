import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { isPortcullisError, PortcullisError } from '../errors.js';
import { hashPassword } from './password.js';
import { buildAdmin, contentDisposition, parseListen, redactSecrets, startAdmin, type AdminApp } from './server.js';
import { SessionStore, SESSION_COOKIE } from './sessions.js';
import { EICAR, makeFixture, type Fixture } from './testing.js';

const PASSWORD = 'test password 1';
const HOSTILE = "../<script>alert('x')</script>&.com";

interface Login { cookie: string; csrf: string }

async function login(app: FastifyInstance, password = PASSWORD): Promise<Login> {
  const r = await app.inject({ method: 'POST', url: '/api/login', payload: { password } });
  assert.equal(r.statusCode, 200, r.body);
  const set = r.cookies.find((c) => c.name === SESSION_COOKIE);
  assert.ok(set !== undefined);
  return { cookie: `${SESSION_COOKIE}=${set.value}`, csrf: (r.json() as { csrfToken: string }).csrfToken };
}

function multipart(fields: [string, string][], file?: { name: string; data: string }): { payload: Buffer; headers: Record<string, string> } {
  const boundary = '----portcullis-test-boundary';
  const parts: string[] = [];
  for (const [k, v] of fields) parts.push(`--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  if (file !== undefined) {
    parts.push(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${file.name.replace(/"/g, '%22')}"\r\ncontent-type: application/octet-stream\r\n\r\n${file.data}\r\n`);
  }
  parts.push(`--${boundary}--\r\n`);
  return { payload: Buffer.from(parts.join('')), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

async function upload(app: FastifyInstance, s: Login, name: string, data: string): Promise<LightMyRequestResponse> {
  const m = multipart([['_csrf', s.csrf]], { name, data });
  return app.inject({ method: 'POST', url: '/api/scan', payload: m.payload, headers: { ...m.headers, cookie: s.cookie } });
}

/** A concrete URL for a route pattern. */
function concrete(url: string, id: string): string {
  return url.replace(':id', id);
}

describe('admin server', () => {
  let fx: Fixture;
  let admin: AdminApp;
  let app: FastifyInstance;

  before(async () => {
    fx = makeFixture();
    admin = await buildAdmin(fx.adminOptions({ passwordHash: await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 }), maxUploadBytes: 4096 }));
    app = admin.app;
  });
  after(async () => {
    await app.close();
    fx.cleanup();
  });

  it('has exactly the expected public routes', () => {
    const open = admin.routes.filter((r) => r.access !== 'session').map((r) => `${r.method} ${r.url} ${r.access}`).sort();
    assert.deepEqual(open, [
      'GET /healthz public', 'GET /login public', 'GET /metrics metrics', 'GET /static/app.js public', 'GET /static/style.css public',
      'HEAD /healthz public', 'HEAD /login public', 'HEAD /metrics metrics', 'HEAD /static/app.js public', 'HEAD /static/style.css public',
      'POST /api/login public', 'POST /login public',
    ]);
    assert.ok(admin.routes.length > 30, 'the route list is collected');
  });

  it('documents every route in docs/ADMIN.md', async () => {
    const { readFileSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/ADMIN.md', import.meta.url)), 'utf8');
    const missing = admin.routes.filter((r) => r.method !== 'HEAD' && !doc.includes(`${r.method} ${r.url}`)).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(missing, []);
  });

  it('refuses every protected route without a session (401 JSON for the API, login redirect for pages)', async () => {
    const e = await fx.quarantine.add({ source: { data: Buffer.from(EICAR) }, originalName: 'x', protocol: 'ftp', direction: 'inbound', findings: [] });
    const checked: string[] = [];
    for (const r of admin.routes.filter((x) => x.access === 'session')) {
      const url = concrete(r.url, e.id);
      for (const cookie of [undefined, `${SESSION_COOKIE}=${'A'.repeat(43)}`, `${SESSION_COOKIE}=garbage`]) {
        const res = await app.inject({ method: r.method as 'GET', url, ...(cookie !== undefined ? { headers: { cookie } } : {}) });
        const what = `${r.method} ${url} cookie=${cookie ?? 'none'}`;
        if (url.startsWith('/api/') || r.method !== 'GET' && r.method !== 'HEAD') {
          assert.equal(res.statusCode, 401, what);
          if (r.method !== 'HEAD') assert.equal((res.json() as { error: { code: string } }).error.code, 'PC_ERR_AUTH', what);
        } else {
          assert.equal(res.statusCode, 303, what);
          assert.equal(res.headers.location, `/login?next=${encodeURIComponent(url)}`, what);
        }
      }
      checked.push(`${r.method} ${r.url}`);
    }
    assert.ok(checked.includes('POST /api/scan') && checked.includes('DELETE /api/quarantine/:id') && checked.includes('GET /'), checked.join('\n'));
    assert.equal(fx.quarantine.get(e.id)?.state, 'held', 'nothing happened to the object');
    assert.equal(fx.reloads, 0);
  });

  it('refuses an unknown API path without a session the same way', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/no-such-route' });
    assert.equal(res.statusCode, 401);
  });

  it('requires the CSRF token on every state-changing route', async () => {
    const s = await login(app);
    const e = await fx.quarantine.add({ source: { data: Buffer.from(EICAR) }, originalName: 'x', protocol: 'ftp', direction: 'inbound', findings: [] });
    const posts = admin.routes.filter((r) => r.access === 'session' && r.method !== 'GET' && r.method !== 'HEAD');
    assert.ok(posts.length >= 10);
    for (const r of posts) {
      const url = concrete(r.url, e.id);
      for (const token of [undefined, 'wrong', `${s.csrf}x`]) {
        const m = multipart(token !== undefined ? [['_csrf', token]] : [], { name: 'f.txt', data: EICAR });
        const res = url.endsWith('/scan')
          ? await app.inject({ method: 'POST', url, payload: m.payload, headers: { ...m.headers, cookie: s.cookie } })
          : await app.inject({ method: r.method as 'POST', url, headers: { cookie: s.cookie, ...(token !== undefined ? { 'x-csrf-token': token } : {}) } });
        assert.equal(res.statusCode, 403, `${r.method} ${url} token=${token ?? 'none'}: ${res.body}`);
      }
      const form = await app.inject({ method: r.method as 'POST', url, headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: '_csrf=nope' });
      assert.equal(form.statusCode, 403, `${r.method} ${url} with a wrong form token`);
    }
    assert.equal(fx.quarantine.get(e.id)?.state, 'held');
    assert.equal(fx.reloads, 0);
    const ok = await app.inject({ method: 'POST', url: '/api/reload', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    assert.equal(ok.statusCode, 200);
    assert.equal(fx.reloads, 1);
    const viaForm = await app.inject({
      method: 'POST', url: '/signatures/reload',
      headers: { cookie: s.cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: `_csrf=${encodeURIComponent(s.csrf)}`,
    });
    assert.equal(viaForm.statusCode, 200);
    assert.match(viaForm.body, /Reloaded \(2\)/);
  });

  const origins: { name: string; headers: Record<string, string>; status: number }[] = [
    { name: 'same origin', headers: { origin: 'http://admin.test' }, status: 200 },
    { name: 'other origin', headers: { origin: 'http://evil.test' }, status: 403 },
    { name: 'other port', headers: { origin: 'http://admin.test:8080' }, status: 403 },
    { name: 'null origin', headers: { origin: 'null' }, status: 403 },
    { name: 'other referer, no origin', headers: { referer: 'http://evil.test/page' }, status: 403 },
    { name: 'same referer, no origin', headers: { referer: 'http://admin.test/signatures' }, status: 200 },
    { name: 'neither (non-browser client)', headers: {}, status: 200 },
  ];
  for (const o of origins) {
    it(`checks Origin on POST: ${o.name}`, async () => {
      const s = await login(app);
      const res = await app.inject({ method: 'POST', url: '/api/reload', headers: { host: 'admin.test', cookie: s.cookie, 'x-csrf-token': s.csrf, ...o.headers } });
      assert.equal(res.statusCode, o.status, res.body);
    });
  }

  it('refuses a cross-origin login form', async () => {
    const res = await app.inject({
      method: 'POST', url: '/login', headers: { host: 'admin.test', origin: 'http://evil.test', 'content-type': 'application/x-www-form-urlencoded' },
      payload: `password=${encodeURIComponent(PASSWORD)}`,
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.cookies.length, 0);
  });

  it('logs in through the form with a safe cookie, and out again', async () => {
    const bad = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '1' }, payload: 'password=nope&next=%2Fevents', remoteAddress: '127.0.0.9' });
    assert.equal(bad.statusCode, 401);
    assert.match(bad.body, /Wrong password/);
    const res = await app.inject({
      method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `password=${encodeURIComponent(PASSWORD)}&next=%2Fevents%3Fverdict%3Dinfected`,
    });
    assert.equal(res.statusCode, 303);
    assert.equal(res.headers.location, '/events?verdict=infected');
    const setCookie = String(res.headers['set-cookie']);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Path=\//);
    assert.match(setCookie, /Max-Age=\d+/);
    const cookie = `${SESSION_COOKIE}=${res.cookies[0]?.value ?? ''}`;
    const page = await app.inject({ method: 'GET', url: '/events', headers: { cookie } });
    assert.equal(page.statusCode, 200);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];
    assert.ok(token !== undefined);
    const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: `_csrf=${encodeURIComponent(token)}` });
    assert.equal(out.statusCode, 303);
    assert.equal(out.headers.location, '/login');
    const after = await app.inject({ method: 'GET', url: '/events', headers: { cookie } });
    assert.equal(after.statusCode, 303);
  });

  const nexts: [string, string][] = [
    ['/quarantine', '/quarantine'],
    ['//evil.test/x', '/'],
    ['/\\evil.test', '/'],
    ['https://evil.test/', '/'],
    ['javascript:alert(1)', '/'],
    ['/login', '/'],
  ];
  for (const [next, want] of nexts) {
    it(`redirects after login only inside the UI: ${next}`, async () => {
      const res = await app.inject({
        method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `password=${encodeURIComponent(PASSWORD)}&next=${encodeURIComponent(next)}`,
      });
      assert.equal(res.headers.location, want);
    });
  }

  it('slows password guessing per client', async () => {
    const guess = () => app.inject({ method: 'POST', url: '/api/login', payload: { password: 'guess' }, remoteAddress: '192.0.2.99' });
    for (let i = 0; i < 5; i++) assert.equal((await guess()).statusCode, 401);
    assert.equal((await guess()).statusCode, 429);
    const right = await app.inject({ method: 'POST', url: '/api/login', payload: { password: PASSWORD }, remoteAddress: '192.0.2.99' });
    assert.equal(right.statusCode, 429, 'even the right password waits');
  });

  it('scans an upload: EICAR is quarantined, becomes an event, and a hostile name is escaped everywhere', async () => {
    const s = await login(app);
    const res = await upload(app, s, HOSTILE, EICAR);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { verdict: string; action: string; quarantineId: string; eventId: number; findings: { name: string }[] };
    assert.equal(body.verdict, 'infected');
    assert.equal(body.action, 'quarantine');
    assert.deepEqual(body.findings.map((f) => f.name), ['Eicar-Test-Signature']);
    const entry = fx.quarantine.get(body.quarantineId);
    assert.equal(entry?.originalName, HOSTILE);
    assert.equal(fx.events.get(body.eventId)?.quarantineId, body.quarantineId);

    const pages = ['/', '/events', '/events?q=script', '/quarantine', `/quarantine/${body.quarantineId}`];
    for (const url of pages) {
      const page = await app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
      assert.equal(page.statusCode, 200, url);
      assert.ok(!page.body.includes('<script>alert'), `${url} renders the name as markup`);
      assert.ok(page.body.includes('../&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;.com'), `${url} does not show the escaped name`);
      assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
    }
    const m = multipart([['_csrf', s.csrf]], { name: HOSTILE, data: 'clean text' });
    const form = await app.inject({ method: 'POST', url: '/scan', payload: m.payload, headers: { ...m.headers, cookie: s.cookie } });
    assert.equal(form.statusCode, 200);
    assert.match(form.body, /id="verdict"><span class="verdict-clean">clean<\/span>/);
    assert.ok(!form.body.includes('<script>alert'));
  });

  it('removes the spooled upload after scanning', async () => {
    const s = await login(app);
    const { readdirSync } = await import('node:fs');
    await upload(app, s, 'a.txt', 'hello');
    assert.deepEqual(readdirSync(fx.dir).filter((n) => n.startsWith('portcullis-upload-')), []);
  });

  it('refuses an upload over the size limit with 413', async () => {
    const s = await login(app);
    const res = await upload(app, s, 'big.bin', 'x'.repeat(5000));
    assert.equal(res.statusCode, 413, res.body);
  });

  it('refuses a scan without a file', async () => {
    const s = await login(app);
    const m = multipart([['_csrf', s.csrf]]);
    const res = await app.inject({ method: 'POST', url: '/api/scan', payload: m.payload, headers: { ...m.headers, cookie: s.cookie } });
    assert.equal(res.statusCode, 400);
  });

  it('downloads with a safe Content-Disposition and the stored bytes', async () => {
    const s = await login(app);
    const e = await fx.quarantine.add({ source: { data: Buffer.from(EICAR) }, originalName: 'a"b\r\nSet-Cookie: x=1;\u00e9.exe', protocol: 'ftp', direction: 'inbound', findings: [] });
    const res = await app.inject({ method: 'GET', url: `/api/quarantine/${e.id}/download`, headers: { cookie: s.cookie } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, EICAR);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.equal(res.headers['content-disposition'], `attachment; filename="a_b__Set-Cookie_ x=1__.exe"; filename*=UTF-8''a_b__Set-Cookie_%20x%3D1%3B%C3%A9.exe`);
    assert.equal(res.headers['set-cookie'], undefined);
    const page = await app.inject({ method: 'GET', url: `/quarantine/${e.id.toLowerCase()}/download`, headers: { cookie: s.cookie } });
    assert.equal(page.body, EICAR);
  });

  const traversals = [
    '/api/quarantine/..%2F..%2F..%2Fetc%2Fpasswd/download',
    '/api/quarantine/%2e%2e%2fportcullis.db/download',
    '/quarantine/..%2Fportcullis.db/download',
    '/api/quarantine/....%2F%2F....%2F%2Fetc%2Fpasswd',
    '/api/quarantine/ZZZZ-ZZZZ-ZZZZ/download',
    '/quarantine/%00/download',
  ];
  for (const url of traversals) {
    it(`cannot read outside the quarantine: ${url}`, async () => {
      const s = await login(app);
      const res = await app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
      assert.equal(res.statusCode, 404, res.body);
      assert.ok(!res.body.includes('root:') && !res.body.includes('SQLite format'));
    });
  }

  it('releases and deletes through the API and the pages', async () => {
    const s = await login(app);
    const a = await fx.quarantine.add({ source: { data: Buffer.from(EICAR) }, originalName: 'a.exe', protocol: 'ftp', direction: 'inbound', findings: [] });
    const rel = await app.inject({ method: 'POST', url: `/api/quarantine/${a.id}/release`, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    assert.equal(rel.statusCode, 200, rel.body);
    assert.equal((rel.json() as { entry: { state: string } }).entry.state, 'released');
    const del = await app.inject({ method: 'DELETE', url: `/api/quarantine/${a.id}`, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    assert.equal(del.statusCode, 200);
    assert.equal(fx.quarantine.get(a.id)?.state, 'deleted');
    const again = await app.inject({ method: 'POST', url: `/api/quarantine/${a.id}/delete`, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    assert.equal(again.statusCode, 404);

    const b = await fx.quarantine.add({ source: { data: Buffer.from(EICAR) }, originalName: 'b.exe', protocol: 'ftp', direction: 'inbound', findings: [] });
    const form = { 'content-type': 'application/x-www-form-urlencoded', cookie: s.cookie };
    const pr = await app.inject({ method: 'POST', url: `/quarantine/${b.id}/release`, headers: form, payload: `_csrf=${encodeURIComponent(s.csrf)}` });
    assert.equal(pr.statusCode, 303);
    assert.equal(pr.headers.location, `/quarantine/${b.id}?done=released`);
    const shown = await app.inject({ method: 'GET', url: String(pr.headers.location), headers: { cookie: s.cookie } });
    assert.match(shown.body, /Released\./);
    assert.match(shown.body, /id="state">released</);
    const pd = await app.inject({ method: 'POST', url: `/quarantine/${b.id}/delete`, headers: form, payload: `_csrf=${encodeURIComponent(s.csrf)}` });
    assert.equal(pd.statusCode, 303);
    assert.equal(fx.quarantine.get(b.id)?.state, 'deleted');
  });

  it('shows a mail release failure on the page and keeps the object held', async () => {
    const s = await login(app);
    const m = await fx.quarantine.add({ source: { data: Buffer.from(EICAR) }, originalName: 'mail', protocol: 'smtp', direction: 'inbound', envelope: { from: 'a@x.test', rcpts: ['b@y.test'] }, findings: [] });
    const res = await app.inject({ method: 'POST', url: `/quarantine/${m.id}/release`, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: s.cookie }, payload: `_csrf=${encodeURIComponent(s.csrf)}` });
    assert.equal(res.statusCode, 409);
    assert.match(res.body, /no SMTP next hop/);
    assert.equal(fx.quarantine.get(m.id)?.state, 'held');
  });

  it('reports a next hop that refuses a mail release as 502, and keeps the mail held', async () => {
    const s = await login(app);
    const m = await fx.quarantine.add({ source: { data: Buffer.from(EICAR) }, originalName: 'mail', protocol: 'smtp', direction: 'inbound', envelope: { from: 'a@x.test', rcpts: ['b@y.test'] }, findings: [] });
    fx.quarantine.setReleaseMail(async () => { throw new PortcullisError('PC_ERR_NEXT_HOP', 'Cannot talk to the next hop: it closed the connection'); });
    try {
      const res = await app.inject({ method: 'POST', url: `/api/quarantine/${m.id}/release`, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
      assert.equal(res.statusCode, 502);
      assert.match((res.json() as { error: { message: string } }).error.message, /closed the connection/);
      assert.equal(fx.quarantine.get(m.id)?.state, 'held');
    } finally {
      fx.quarantine.setReleaseMail(undefined);
    }
  });

  const badQueries: string[] = ['/api/events?verdict=bad', '/api/events?limit=-1', '/api/events?from=yesterday', '/api/quarantine?state=gone', '/api/events?protocol=%3Cx%3E'];
  for (const url of badQueries) {
    it(`answers 400 for a bad filter: ${url}`, async () => {
      const s = await login(app);
      const res = await app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
      assert.equal(res.statusCode, 400);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'PC_ERR_USAGE');
    });
  }

  it('queries events through the API with filters and paging', async () => {
    const s = await login(app);
    await upload(app, s, 'one.txt', 'clean');
    await upload(app, s, 'two.com', EICAR);
    const get = async (q: string) => (await app.inject({ method: 'GET', url: `/api/events?${q}`, headers: { cookie: s.cookie } })).json() as { items: { objectName: string }[]; total: number };
    assert.equal((await get('q=two.com')).items[0]?.objectName, 'two.com');
    assert.equal((await get('q=one.txt&verdict=infected')).total, 0);
    assert.equal((await get('protocol=upload&limit=1')).items.length, 1);
    const from = new Date(Date.now() - 60_000).toISOString().slice(0, 16);
    assert.ok((await get(`from=${from}&verdict=clean`)).total >= 1, 'datetime-local from');
    const html = await app.inject({ method: 'GET', url: '/events?verdict=infected&q=two', headers: { cookie: s.cookie } });
    assert.match(html.body, /two\.com/);
    assert.doesNotMatch(html.body, /one\.txt/);
  });

  it('serves the dashboard summary and the signatures status', async () => {
    const s = await login(app);
    const sum = (await app.inject({ method: 'GET', url: '/api/summary', headers: { cookie: s.cookie } })).json() as { metrics: { inspections: number }; quarantine: { held: number }; signatures: { total: number } };
    assert.ok(sum.metrics.inspections >= 1);
    assert.equal(sum.signatures.total, 5);
    const sig = await app.inject({ method: 'GET', url: '/signatures', headers: { cookie: s.cookie } });
    assert.match(sig.body, /<td>bytecode<\/td><td class="num">1<\/td>/);
  });

  it('redacts secrets on the config page and API', async () => {
    const s = await login(app);
    for (const url of ['/config', '/api/config']) {
      const res = await app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
      assert.equal(res.statusCode, 200);
      assert.ok(!res.body.includes('hunter2') && !res.body.includes('scrypt$secret'), `${url} leaks a secret`);
      assert.match(res.body, /\[redacted\]/);
      assert.match(res.body, /10026/);
    }
  });

  it('serves /metrics to loopback clients only when no token is set', async () => {
    const local = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' });
    assert.equal(local.statusCode, 200);
    assert.match(local.body, /portcullis_inspections_total\{protocol="upload"/);
    assert.match(local.body, /^portcullis_quarantine_objects\{state="held"\} [1-9]/m);
    assert.equal((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '::1' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.0.2.1' })).statusCode, 401);
  });
});

describe('admin server options', () => {
  it('needs the bearer token for /metrics when one is set', async () => {
    const fx = makeFixture();
    const { app } = await buildAdmin(fx.adminOptions({ metricsToken: 's3cret' }));
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
      assert.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
      assert.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer s3cret' }, remoteAddress: '192.0.2.1' })).statusCode, 200);
    } finally {
      await app.close();
      fx.cleanup();
    }
  });

  it('refuses a malformed password hash at start', async () => {
    const fx = makeFixture();
    try {
      await assert.rejects(buildAdmin(fx.adminOptions({ passwordHash: 'plaintext' })), (e) => isPortcullisError(e, 'PC_ERR_CONFIG'));
    } finally {
      fx.cleanup();
    }
  });

  it('makes a password when none is configured, logs it once, and it works', async () => {
    const fx = makeFixture();
    const server = await startAdmin(fx.adminOptions());
    try {
      assert.ok(server.generatedPassword !== undefined && server.generatedPassword.length >= 20);
      const mentions = fx.logs.filter((l) => l.msg.includes(server.generatedPassword ?? '?'));
      assert.equal(mentions.length, 1);
      assert.equal(mentions[0]?.level, 'warn');
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const r = await fetch(new URL('/api/login', server.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: server.generatedPassword }) });
      assert.equal(r.status, 200);
      const unauth = await fetch(new URL('/api/summary', server.url));
      assert.equal(unauth.status, 401);
    } finally {
      await server.close();
      fx.cleanup();
    }
  });
});

describe('admin helpers', () => {
  const listens: [string, { host: string; port: number } | null][] = [
    ['127.0.0.1:8025', { host: '127.0.0.1', port: 8025 }],
    ['[::1]:8025', { host: '::1', port: 8025 }],
    [':8025', { host: '127.0.0.1', port: 8025 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['8025', null],
    ['host:99999', null],
  ];
  for (const [text, want] of listens) {
    it(`parses listen ${text}`, () => {
      if (want === null) assert.throws(() => parseListen(text), (e) => isPortcullisError(e, 'PC_ERR_CONFIG'));
      else assert.deepEqual(parseListen(text), want);
    });
  }

  it('builds Content-Disposition from hostile names', () => {
    assert.equal(contentDisposition('../../etc/passwd', 'f'), `attachment; filename="passwd"; filename*=UTF-8''passwd`);
    assert.equal(contentDisposition('', 'quarantine-X'), `attachment; filename="quarantine-X"; filename*=UTF-8''quarantine-X`);
    assert.equal(contentDisposition('r\u00e9sum\u00e9 (1).pdf', 'f'), `attachment; filename="r_sum_ (1).pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%281%29.pdf`);
  });

  it('redacts secret-looking keys at any depth', () => {
    assert.deepEqual(redactSecrets({ a: 1, admin: { passwordHash: 'h', listen: 'x' }, list: [{ token: 't' }], clamd: { apiKey: 'k' }, off: { secret: false } }),
      { a: 1, admin: { passwordHash: '[redacted]', listen: 'x' }, list: [{ token: '[redacted]' }], clamd: { apiKey: '[redacted]' }, off: { secret: false } });
  });

  it('expires sessions after the idle time and the lifetime', () => {
    let now = 0;
    const store = new SessionStore({ idleMs: 100, ttlMs: 250, now: () => now });
    const s = store.create();
    now = 90;
    assert.equal(store.get(s.id), s);
    now = 180;
    assert.equal(store.get(s.id), s, 'activity keeps it alive');
    now = 240;
    assert.equal(store.get(s.id), s);
    now = 260;
    assert.equal(store.get(s.id), undefined, 'the lifetime ends it whatever the activity');
    const t = store.create();
    now += 101;
    assert.equal(store.get(t.id), undefined, 'idle');
    assert.equal(store.get(undefined), undefined);
    assert.equal(store.get('short'), undefined);
  });
});
