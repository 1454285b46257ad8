/**
 * The admin web UI and JSON API (fastify 5): login, dashboard, events,
 * quarantine, signatures, config, "scan a file", and Prometheus `/metrics`.
 *
 * Security model, in one place:
 * - Every route needs a logged-in session unless its route config says
 *   `access: 'public'` (login, static files, health) or `'metrics'`. The
 *   check runs in one onRequest hook, so a new route is protected by default;
 *   a test walks the route list to keep it so. API calls without a session
 *   get 401 JSON; pages redirect to /login.
 * - Sessions: random ids in an HttpOnly SameSite=Strict cookie, idle and
 *   absolute expiry (sessions.ts). Password: scrypt hash (password.ts), or a
 *   random password made and logged once at start when none is configured.
 * - Every request that is not GET/HEAD must carry the session's CSRF token
 *   (`_csrf` form field or `X-CSRF-Token` header) and, when a browser sends
 *   Origin or Referer, come from this origin.
 * - `/metrics`: bearer token when `metricsToken` is set; otherwise only
 *   clients on a loopback address.
 * - Pages are rendered with the escaping `html` template; responses carry a
 *   strict Content-Security-Policy (no inline script) and nosniff.
 * - Downloads use an ASCII-only `filename` plus RFC 6266/5987 `filename*`;
 *   ids are parsed to 12 symbols before they reach the quarantine.
 *
 * Reads untrusted input: HTTP requests, uploaded files (spooled to disk and
 * handed to `inspect`, never interpreted here).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isPortcullisError, PortcullisError } from '../errors.js';
import { parseQuarantineId } from '../quarantine/id.js';
import { safeFileName } from '../quarantine/store.js';
import { APP_JS, STYLE_CSS } from './assets.js';
import { eventQuery, intParam, pick, quarantineQuery, usage, type Query } from './queries.js';
import {
  configPage, dashboardPage, errorPage, eventsPage, loginPage, quarantineDetailPage, quarantineListPage,
  scanPage, signaturesPage, type PageContext,
} from './pages.js';
import { parsePasswordHash, randomPassword, verifyPassword, hashPassword, type ParsedHash } from './password.js';
import { csrfMatches, SESSION_COOKIE, SessionStore, type Session } from './sessions.js';
import type { AdminOptions, InspectionSummary } from './types.js';

export type RouteAccess = 'public' | 'session' | 'metrics';

export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
}

export interface AdminApp {
  readonly app: FastifyInstance;
  /** Every route registered, with its access rule (for tests and docs). */
  readonly routes: readonly RouteInfo[];
  /** Set when no password hash was configured: the password made for this process. */
  readonly generatedPassword?: string;
}

export interface AdminServer extends AdminApp {
  /** "http://host:port/" as bound (the real port when 0 was asked for). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Parses "host:port" or "[v6]:port"; host defaults to loopback. */
export function parseListen(listen: AdminOptions['listen']): { host: string; port: number } {
  if (typeof listen !== 'string') return { host: listen.host, port: listen.port };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) {
    throw new PortcullisError('PC_ERR_CONFIG', `Cannot use admin.listen ${JSON.stringify(listen)}: expected "host:port"`);
  }
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}

/** `Content-Disposition: attachment` for an untrusted name (RFC 6266 with an RFC 5987 UTF-8 form). */
export function contentDisposition(originalName: string, fallback: string): string {
  const name = safeFileName(originalName, fallback);
  // Some browsers percent-decode the plain form too, so % goes as well.
  const ascii = Array.from(name, (c) => (/^[\x20-\x7e]$/.test(c) && !'"\\;%'.includes(c) ? c : '_')).join('');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

const SECRET_KEY = /pass(word)?|secret|token|hash|key|credential|auth/i;

/** Replaces values under secret-looking keys, whatever the caller already did. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 20) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && v !== false ? '[redacted]' : redactSecrets(v, depth + 1);
    }
    return out;
  }
  return value;
}

/** Constant-time check of `Authorization: Bearer <token>`. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const want = createHash('sha256').update(`Bearer ${token}`).digest();
  const got = createHash('sha256').update(header ?? '').digest();
  return timingSafeEqual(want, got) && header === `Bearer ${token}`;
}

function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const NOTICES: Readonly<Record<string, string>> = {
  released: 'Released.',
  deleted: 'Deleted.',
};

function statusOf(err: unknown): number {
  if (isPortcullisError(err)) {
    switch (err.code) {
      case 'PC_ERR_NOT_FOUND': return 404;
      case 'PC_ERR_USAGE': case 'PC_ERR_CONFIG': return 400;
      case 'PC_ERR_QUARANTINE': return 409;
      case 'PC_ERR_SCAN_TIMEOUT': case 'PC_ERR_SCANNER': return 503;
      case 'PC_ERR_NEXT_HOP': return 502;
      default: return 500;
    }
  }
  const s = (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' && s >= 400 && s < 600 ? s : 500;
}

export async function buildAdmin(options: AdminOptions): Promise<AdminApp> {
  const { stores, metrics, logger } = options;
  const maxUploadBytes = options.maxUploadBytes ?? 100 * 1024 * 1024;
  const spoolDir = options.spoolDir ?? tmpdir();
  const sessions = new SessionStore({
    ...(options.sessionIdleMs !== undefined ? { idleMs: options.sessionIdleMs } : {}),
    ...(options.sessionTtlMs !== undefined ? { ttlMs: options.sessionTtlMs } : {}),
  });

  // The admin server is where the metrics and the quarantine meet, so it links them.
  metrics.trackQuarantine(() => stores.quarantine.stats());

  let generatedPassword: string | undefined;
  let passwordHash: ParsedHash;
  if (options.passwordHash !== undefined && options.passwordHash !== '') {
    passwordHash = parsePasswordHash(options.passwordHash);
  } else {
    generatedPassword = randomPassword();
    // Cheaper parameters: this hash never leaves the process.
    passwordHash = parsePasswordHash(await hashPassword(generatedPassword, { N: 2 ** 14, r: 8, p: 1 }));
  }

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, trustProxy: false });
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    const access = (r.config as { access?: RouteAccess } | undefined)?.access ?? 'session';
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, access });
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  // preservePath: keep the name exactly as sent; it is display text only, never a path here.
  await app.register(multipart, { preservePath: true, limits: { fileSize: maxUploadBytes, files: 1, fields: 4, fieldSize: 1024, parts: 6 }, throwFileSizeLimit: false });

  const sessionOf = new WeakMap<FastifyRequest, Session>();
  const isApi = (request: FastifyRequest): boolean => request.url.startsWith('/api/');
  const session = (request: FastifyRequest): Session => {
    const s = sessionOf.get(request);
    if (s === undefined) throw new PortcullisError('PC_ERR_USAGE', 'Cannot serve the request: not logged in');
    return s;
  };
  const ctx = (request: FastifyRequest, active: string, notice?: PageContext['notice']): PageContext =>
    ({ csrfToken: session(request).csrfToken, active, ...(notice !== undefined ? { notice } : {}) });
  const sendPage = (reply: FastifyReply, body: string, status = 200): FastifyReply =>
    reply.code(status).type('text/html; charset=utf-8').send(body);

  const refuse = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (isApi(request) || (request.method !== 'GET' && request.method !== 'HEAD')) {
      return reply.code(401).type('application/json').send({ error: { code: 'PC_ERR_AUTH', message: 'Cannot serve the request: log in first' } });
    }
    return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
  };

  app.addHook('onRequest', async (request, reply) => {
    const access = (request.routeOptions.config as { access?: RouteAccess }).access ?? 'session';
    if (access === 'public') return;
    if (access === 'metrics') {
      const ok = options.metricsToken !== undefined && options.metricsToken !== ''
        ? bearerMatches(request.headers.authorization, options.metricsToken)
        : isLoopback(request.socket.remoteAddress ?? '');
      if (!ok) return reply.code(401).type('text/plain').send('Cannot serve metrics: unauthorized\n');
      return;
    }
    const s = sessions.get(request.cookies[SESSION_COOKIE]);
    if (s === undefined) return refuse(request, reply);
    sessionOf.set(request, s);
  });

  /** Same-origin check for state-changing requests a browser sends. */
  const sameOrigin = (request: FastifyRequest): boolean => {
    const source = request.headers.origin ?? request.headers.referer;
    if (source === undefined) return true;
    try {
      const u = new URL(source);
      return `${u.protocol}//${u.host}` === `${request.protocol}://${request.headers.host ?? ''}`;
    } catch {
      return false;
    }
  };

  app.addHook('preHandler', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
    if (!sameOrigin(request)) {
      return reply.code(403).type('application/json').send({ error: { code: 'PC_ERR_CSRF', message: 'Cannot accept the request: it comes from another origin' } });
    }
    const config = request.routeOptions.config as { access?: RouteAccess; multipart?: boolean };
    if ((config.access ?? 'session') !== 'session') return;
    // Multipart bodies are streamed, not parsed yet: the upload handler checks the token itself.
    if (config.multipart === true && request.isMultipart()) return;
    const body = request.body as Record<string, unknown> | undefined;
    const presented = request.headers['x-csrf-token'] ?? (body !== null && typeof body === 'object' ? body['_csrf'] : undefined);
    if (!csrfMatches(session(request), presented)) {
      return reply.code(403).type('application/json').send({ error: { code: 'PC_ERR_CSRF', message: 'Cannot accept the request: missing or wrong CSRF token' } });
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    if (!request.url.startsWith('/static/')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler((err, request, reply) => {
    const status = statusOf(err);
    const code = isPortcullisError(err) ? err.code : status === 413 ? 'PC_ERR_TOO_LARGE' : status < 500 ? 'PC_ERR_REQUEST' : 'PC_ERR_INTERNAL';
    const message = status < 500 || isPortcullisError(err) ? (err as Error).message : 'Cannot complete the request: internal error';
    if (status >= 500) logger.error({ err, url: request.url }, 'admin request failed');
    if (isApi(request) || request.url === '/metrics') return reply.code(status).type('application/json').send({ error: { code, message } });
    const s = sessionOf.get(request);
    return sendPage(reply, errorPage(s !== undefined ? { csrfToken: s.csrfToken, active: '' } : undefined, status, message), status);
  });

  app.setNotFoundHandler((request, reply) => {
    if (sessions.get(request.cookies[SESSION_COOKIE]) === undefined) return refuse(request, reply);
    if (isApi(request)) return reply.code(404).send({ error: { code: 'PC_ERR_NOT_FOUND', message: 'Cannot find that API route' } });
    return sendPage(reply, errorPage(undefined, 404, 'Cannot find that page'), 404);
  });

  // --- login / logout -----------------------------------------------------

  const startSession = (reply: FastifyReply, request: FastifyRequest): Session => {
    const s = sessions.create();
    reply.setCookie(SESSION_COOKIE, s.id, {
      httpOnly: true, sameSite: 'strict', path: '/', secure: request.protocol === 'https', maxAge: Math.floor(sessions.ttlMs / 1000),
    });
    return s;
  };
  const endSession = (reply: FastifyReply, request: FastifyRequest): void => {
    sessions.destroy(request.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
  };
  /** Checks a password with a per-client brake on guessing. */
  const checkPassword = async (request: FastifyRequest, password: unknown): Promise<'ok' | 'wrong' | 'blocked'> => {
    if (sessions.loginBlocked(request.ip)) return 'blocked';
    if (typeof password === 'string' && await verifyPassword(password, passwordHash)) {
      sessions.loginSucceeded(request.ip);
      return 'ok';
    }
    sessions.loginFailed(request.ip);
    logger.warn({ client: request.ip }, 'admin login failed');
    return 'wrong';
  };
  const safeNext = (next: unknown): string =>
    typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') && !next.startsWith('/login') ? next : '/';

  app.get('/login', { config: { access: 'public' } }, async (request, reply) => {
    const next = safeNext((request.query as Query)['next']);
    return sendPage(reply, loginPage({ next }));
  });

  app.post('/login', { config: { access: 'public' } }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body['next']);
    const result = await checkPassword(request, body['password']);
    if (result !== 'ok') {
      const error = result === 'blocked' ? 'Too many failed logins; wait a minute.' : 'Wrong password.';
      return sendPage(reply, loginPage({ next, error }), result === 'blocked' ? 429 : 401);
    }
    sessions.destroy(request.cookies[SESSION_COOKIE]);
    startSession(reply, request);
    logger.info({ client: request.ip }, 'admin login');
    return reply.redirect(next, 303);
  });

  app.post('/logout', async (request, reply) => {
    endSession(reply, request);
    return reply.redirect('/login', 303);
  });

  app.post('/api/login', { config: { access: 'public' } }, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const result = await checkPassword(request, body['password']);
    if (result !== 'ok') {
      return reply.code(result === 'blocked' ? 429 : 401).send({ error: { code: 'PC_ERR_AUTH', message: 'Cannot log in: wrong password or too many tries' } });
    }
    sessions.destroy(request.cookies[SESSION_COOKIE]);
    const s = startSession(reply, request);
    return { csrfToken: s.csrfToken };
  });

  app.post('/api/logout', async (request, reply) => {
    endSession(reply, request);
    return { ok: true };
  });

  app.get('/api/session', async (request) => {
    const s = session(request);
    return { csrfToken: s.csrfToken, createdAt: s.createdAt, idleTimeoutMs: sessions.idleMs, lifetimeMs: sessions.ttlMs };
  });

  // --- static, health, metrics ---------------------------------------------

  app.get('/static/style.css', { config: { access: 'public' } }, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=3600').send(STYLE_CSS));
  app.get('/static/app.js', { config: { access: 'public' } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=3600').send(APP_JS));
  app.get('/healthz', { config: { access: 'public' } }, async (_request, reply) => reply.type('text/plain').send('ok\n'));
  app.get('/metrics', { config: { access: 'metrics' } }, async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.text()));

  // --- data shared by pages and API ----------------------------------------

  const summary = () => ({
    metrics: metrics.snapshot(),
    quarantine: stores.quarantine.stats(),
    lastHour: stores.events.summary(Date.now() - 60 * 60 * 1000),
    recentDetections: stores.events.recentDetections(10),
    signatures: (({ total, loadedAt }) => ({ total, loadedAt }))(options.dbStats()),
  });

  const quarantineEntry = (id: string) => {
    const entry = stores.quarantine.get(id);
    if (entry === undefined) throw new PortcullisError('PC_ERR_NOT_FOUND', 'Cannot find that quarantined object');
    return entry;
  };

  const download = (id: string, reply: FastifyReply): FastifyReply => {
    if (parseQuarantineId(id) === undefined) throw new PortcullisError('PC_ERR_NOT_FOUND', 'Cannot find that quarantined object');
    const { entry, stream } = stores.quarantine.read(id);
    logger.info({ quarantineId: entry.id }, 'quarantined object downloaded');
    return reply
      .type('application/octet-stream')
      .header('content-disposition', contentDisposition(entry.originalName, `quarantine-${entry.id}`))
      .header('content-length', String(entry.size))
      .send(stream);
  };

  /** Receives one "scan a file" upload into the spool, checking the CSRF token sent before it. */
  const receiveUpload = async (request: FastifyRequest): Promise<{ name: string; path: string; size: number }> => {
    const s = session(request);
    let csrfOk = csrfMatches(s, request.headers['x-csrf-token']);
    let received: { name: string; path: string; size: number } | undefined;
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        if (part.fieldname === '_csrf') csrfOk ||= csrfMatches(s, part.value);
        continue;
      }
      if (!csrfOk) {
        part.file.resume();
        throw Object.assign(new Error('Cannot accept the upload: missing or wrong CSRF token (send it before the file)'), { statusCode: 403 });
      }
      if (received !== undefined || part.fieldname !== 'file') {
        part.file.resume();
        continue;
      }
      await mkdir(spoolDir, { recursive: true, mode: 0o700 });
      const path = join(spoolDir, `portcullis-upload-${randomBytes(12).toString('hex')}`);
      let size = 0;
      part.file.on('data', (chunk: Buffer) => { size += chunk.length; });
      try {
        await pipeline(part.file, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
      } catch (err) {
        await unlink(path).catch(() => undefined);
        throw err;
      }
      if (part.file.truncated) {
        await unlink(path).catch(() => undefined);
        throw Object.assign(new Error(`Cannot scan the upload: it is larger than ${maxUploadBytes} bytes`), { statusCode: 413 });
      }
      received = { name: part.filename !== undefined && part.filename !== '' ? part.filename : 'upload', path, size };
    }
    if (!csrfOk) throw Object.assign(new Error('Cannot accept the upload: missing or wrong CSRF token'), { statusCode: 403 });
    if (received === undefined) throw usage('Cannot scan: no file was uploaded (field "file")');
    return received;
  };

  const scanUpload = async (request: FastifyRequest): Promise<{ name: string; size: number; summary: InspectionSummary }> => {
    if (!request.isMultipart()) throw usage('Cannot scan: send the file as multipart/form-data');
    const upload = await receiveUpload(request);
    try {
      const result = await options.inspect({ name: upload.name, path: upload.path, size: upload.size, client: request.ip });
      return { name: upload.name, size: upload.size, summary: result };
    } finally {
      await unlink(upload.path).catch(() => undefined);
    }
  };

  const reload = async (): Promise<string> => {
    const outcome = await options.reload();
    logger.info({ message: outcome.message }, 'reload requested from admin');
    return outcome.message;
  };

  // --- pages ---------------------------------------------------------------

  app.get('/', async (request, reply) => {
    const s = summary();
    return sendPage(reply, dashboardPage(ctx(request, '/'), {
      metrics: s.metrics, quarantine: s.quarantine, recent: s.recentDetections,
      perMinute: s.lastHour.perMinute, signatures: options.dbStats(),
    }));
  });

  app.get('/events', async (request, reply) => {
    const raw = request.query as Query;
    const q = eventQuery(raw);
    return sendPage(reply, eventsPage(ctx(request, '/events'), q, stores.events.query(q),
      pick(raw, ['protocol', 'direction', 'verdict', 'action', 'from', 'to', 'q', 'limit'])));
  });

  app.get('/quarantine', async (request, reply) => {
    const raw = request.query as Query;
    const q = quarantineQuery(raw);
    return sendPage(reply, quarantineListPage(ctx(request, '/quarantine'), q, stores.quarantine.list(q), pick(raw, ['state', 'protocol', 'q', 'limit'])));
  });

  app.get('/quarantine/:id', async (request, reply) => {
    const entry = quarantineEntry((request.params as { id: string }).id);
    const done = (request.query as Query)['done'];
    const text = done !== undefined ? NOTICES[done] : undefined;
    return sendPage(reply, quarantineDetailPage(ctx(request, '/quarantine', text !== undefined ? { text } : undefined), entry));
  });

  app.get('/quarantine/:id/download', async (request, reply) => download((request.params as { id: string }).id, reply));

  app.post('/quarantine/:id/release', async (request, reply) => {
    const entry = quarantineEntry((request.params as { id: string }).id);
    try {
      const r = await stores.quarantine.release(entry.id);
      logger.info({ quarantineId: entry.id, to: r.releasedTo }, 'quarantined object released');
    } catch (err) {
      if (!isPortcullisError(err)) throw err;
      return sendPage(reply, quarantineDetailPage(ctx(request, '/quarantine', { text: err.message, error: true }), quarantineEntry(entry.id)), statusOf(err));
    }
    return reply.redirect(`/quarantine/${encodeURIComponent(entry.id)}?done=released`, 303);
  });

  app.post('/quarantine/:id/delete', async (request, reply) => {
    const entry = quarantineEntry((request.params as { id: string }).id);
    await stores.quarantine.delete(entry.id);
    logger.info({ quarantineId: entry.id }, 'quarantined object deleted');
    return reply.redirect(`/quarantine/${encodeURIComponent(entry.id)}?done=deleted`, 303);
  });

  app.get('/signatures', async (request, reply) => sendPage(reply, signaturesPage(ctx(request, '/signatures'), options.dbStats())));

  app.post('/signatures/reload', async (request, reply) => {
    let notice: PageContext['notice'];
    try {
      notice = { text: await reload() };
    } catch (err) {
      if (!isPortcullisError(err)) throw err;
      notice = { text: err.message, error: true };
    }
    return sendPage(reply, signaturesPage(ctx(request, '/signatures', notice), options.dbStats()), notice.error === true ? 400 : 200);
  });

  app.get('/config', async (request, reply) => sendPage(reply, configPage(ctx(request, '/config'), redactSecrets(options.configRedacted()))));

  app.get('/scan', async (request, reply) => sendPage(reply, scanPage(ctx(request, '/scan'))));

  app.post('/scan', { config: { multipart: true } }, async (request, reply) =>
    sendPage(reply, scanPage(ctx(request, '/scan'), await scanUpload(request))));

  // --- JSON API ------------------------------------------------------------

  app.get('/api/summary', async () => summary());
  app.get('/api/events', async (request) => stores.events.query(eventQuery(request.query as Query)));
  app.get('/api/events/:id', async (request) => {
    const id = intParam('id', (request.params as { id: string }).id);
    const event = id === undefined ? undefined : stores.events.get(id);
    if (event === undefined) throw new PortcullisError('PC_ERR_NOT_FOUND', 'Cannot find that event');
    return event;
  });
  app.get('/api/quarantine', async (request) => stores.quarantine.list(quarantineQuery(request.query as Query)));
  app.get('/api/quarantine/:id', async (request) => quarantineEntry((request.params as { id: string }).id));
  app.get('/api/quarantine/:id/download', async (request, reply) => download((request.params as { id: string }).id, reply));
  app.post('/api/quarantine/:id/release', async (request) => {
    const entry = quarantineEntry((request.params as { id: string }).id);
    const r = await stores.quarantine.release(entry.id);
    logger.info({ quarantineId: entry.id, to: r.releasedTo }, 'quarantined object released');
    return r;
  });
  const apiDelete = async (request: FastifyRequest) => {
    const entry = quarantineEntry((request.params as { id: string }).id);
    const deleted = await stores.quarantine.delete(entry.id);
    logger.info({ quarantineId: entry.id }, 'quarantined object deleted');
    return deleted;
  };
  app.post('/api/quarantine/:id/delete', apiDelete);
  app.delete('/api/quarantine/:id', apiDelete);
  app.get('/api/signatures', async () => options.dbStats());
  app.post('/api/reload', async () => ({ message: await reload() }));
  app.get('/api/config', async () => redactSecrets(options.configRedacted()));
  app.post('/api/scan', { config: { multipart: true } }, async (request) => {
    const r = await scanUpload(request);
    return { name: r.name, size: r.size, ...r.summary };
  });

  await app.ready();
  return { app, routes, ...(generatedPassword !== undefined ? { generatedPassword } : {}) };
}

/** Builds the admin app and listens. Logs the generated password once when none was configured. */
export async function startAdmin(options: AdminOptions): Promise<AdminServer> {
  const { host, port } = parseListen(options.listen);
  const built = await buildAdmin(options);
  try {
    await built.app.listen({ host, port });
  } catch (err) {
    await built.app.close();
    throw new PortcullisError('PC_ERR_CONFIG', `Cannot listen on admin.listen ${host}:${port}: ${(err as Error).message}`, { cause: err });
  }
  const address = built.app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}/`;
  if (built.generatedPassword !== undefined) {
    options.logger.warn({ url },
      `No admin.passwordHash is configured. Admin password for this process only: ${built.generatedPassword} ` +
      '(to keep one, set admin.passwordHash to what `portcullis passwd` prints)');
  }
  if (!isLoopback(host) && host !== 'localhost') {
    options.logger.warn({ url }, 'The admin UI listens beyond loopback over plain HTTP; keep it on a management network or put TLS in front');
  }
  options.logger.info({ url }, 'admin listening');
  return { ...built, url, host, port: boundPort, close: () => built.app.close() };
}
