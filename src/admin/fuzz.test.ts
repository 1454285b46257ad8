/**
 * Seeded request fuzzing of the admin app: random methods, paths built from
 * the real route patterns with hostile ids, random query strings and
 * bodies, with and without a session. Nothing may answer 5xx, and no fuzzed request
 * may reach an object it does not name.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { seeded } from '../content/testing.js';
import { hashPassword } from './password.js';
import { buildAdmin, type AdminApp } from './server.js';
import { SESSION_COOKIE } from './sessions.js';
import { EICAR, makeFixture, type Fixture } from './testing.js';

const PIECES = ['..', '%2e%2e', '%2f', '/', '%00', '%', '%ZZ', '\u00e9', '%C3%A9', '<x>', '"', "'", ' ', '+', '?', '&', '=', '#',
  'ABCD-EFGH-JKMN', '0', '-1', '1e9', '99999999999999999999', 'null', '__proto__', 'constructor', 'a'.repeat(300)];
const KEYS = ['protocol', 'verdict', 'direction', 'action', 'state', 'from', 'to', 'q', 'limit', 'offset', 'next', 'done', '_csrf', '__proto__'];
const METHODS = ['GET', 'POST', 'DELETE', 'PUT', 'HEAD', 'OPTIONS', 'PATCH'] as const;
const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', 'multipart/form-data'];

describe('admin request fuzzing', () => {
  let fx: Fixture;
  let admin: AdminApp;
  let app: FastifyInstance;
  let cookie: string;
  let csrf: string;
  let heldId: string;

  before(async () => {
    fx = makeFixture();
    admin = await buildAdmin(fx.adminOptions({ passwordHash: await hashPassword('fuzz password', { N: 1024, r: 8, p: 1 }) }));
    app = admin.app;
    const r = await app.inject({ method: 'POST', url: '/api/login', payload: { password: 'fuzz password' } });
    cookie = `${SESSION_COOKIE}=${r.cookies[0]?.value ?? ''}`;
    csrf = (r.json() as { csrfToken: string }).csrfToken;
    heldId = (await fx.quarantine.add({ source: { data: Buffer.from(EICAR) }, originalName: 'x', protocol: 'ftp', direction: 'inbound', findings: [] })).id;
  });
  after(async () => {
    await app.close();
    fx.cleanup();
  });

  it('never answers 5xx and never changes state for an anonymous client', async () => {
    const next = seeded(7);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(next() * a.length)] as T;
    const patterns = [...new Set(admin.routes.map((r) => r.url))];
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1500; i++) {
      const withSession = next() < 0.5;
      let path = pick(patterns).replace(':id', () => Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(PIECES)).join(''));
      if (next() < 0.2) path += `/${pick(PIECES)}`;
      const query = Array.from({ length: Math.floor(next() * 4) }, () => `${pick(KEYS)}=${encodeURIComponent(pick(PIECES))}`).join('&');
      const method = pick(METHODS);
      const hasBody = method !== 'GET' && method !== 'HEAD' && next() < 0.7;
      const headers: Record<string, string> = {};
      if (withSession) headers['cookie'] = cookie;
      if (withSession && next() < 0.5) headers['x-csrf-token'] = next() < 0.5 ? csrf : pick(PIECES);
      if (hasBody) headers['content-type'] = pick(CONTENT_TYPES);
      const url = `${path}${query !== '' ? `?${query}` : ''}`;
      let res;
      try {
        res = await app.inject({ method, url, headers, ...(hasBody ? { payload: Array.from({ length: 3 }, () => pick(PIECES)).join('') } : {}) });
      } catch (err) {
        // light-my-request refuses some URLs before they reach the server (the server never sees them).
        if (err instanceof TypeError || (err as { code?: string }).code === 'ERR_INVALID_URL') continue;
        throw err;
      }
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      assert.ok(res.statusCode < 500, `${method} ${url} session=${withSession} → ${res.statusCode} ${res.body.slice(0, 200)}`);
    }
    const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.ok(answered > 1200, `only ${answered} requests reached the server`);
    for (const code of [200, 303, 401, 403, 404]) assert.ok((statuses.get(code) ?? 0) > 0, `no ${code} among ${JSON.stringify([...statuses])}`);
    // Its id never appears in a fuzzed path, so nothing may have touched it.
    assert.equal(fx.quarantine.get(heldId)?.state, 'held');
    assert.equal(fx.logs.filter((l) => l.level === 'error').length, 0, JSON.stringify(fx.logs.filter((l) => l.level === 'error').slice(0, 3)));
  });
});
