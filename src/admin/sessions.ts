/**
 * Admin login sessions, held in this process's memory: a random 256-bit id
 * in an HttpOnly, SameSite=Strict cookie names a session that carries its own
 * CSRF token and expires after an idle time and an absolute lifetime. A
 * restart logs everybody out, which is acceptable for an operator console.
 *
 * Also counts failed logins per client address so password guessing is
 * slowed to a few tries a minute.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'portcullis_session';

export interface Session {
  readonly id: string;
  readonly csrfToken: string;
  readonly createdAt: number;
  lastSeen: number;
}

export interface SessionOptions {
  /** Idle timeout in ms. Default 1 hour. */
  readonly idleMs?: number;
  /** Absolute lifetime in ms. Default 12 hours. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly idleMs: number;
  readonly ttlMs: number;
  readonly #now: () => number;

  constructor(options: SessionOptions = {}) {
    this.idleMs = options.idleMs ?? 60 * 60 * 1000;
    this.ttlMs = options.ttlMs ?? 12 * 60 * 60 * 1000;
    this.#now = options.now ?? Date.now;
  }

  create(): Session {
    this.#sweep();
    const t = this.#now();
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: t,
      lastSeen: t,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session for a cookie value, refreshed; undefined when unknown or expired. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined || id.length !== 43) return undefined;
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    const t = this.#now();
    if (t - session.lastSeen > this.idleMs || t - session.createdAt > this.ttlMs) {
      this.#sessions.delete(id);
      return undefined;
    }
    session.lastSeen = t;
    return session;
  }

  destroy(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** True when this client has failed too often in the last minute. */
  loginBlocked(client: string): boolean {
    const f = this.#failures.get(client);
    return f !== undefined && this.#now() - f.since < 60_000 && f.count >= 5;
  }

  loginFailed(client: string): void {
    const t = this.#now();
    const f = this.#failures.get(client);
    if (f === undefined || t - f.since >= 60_000) this.#failures.set(client, { count: 1, since: t });
    else f.count += 1;
    if (this.#failures.size > 10_000) this.#failures.clear();
  }

  loginSucceeded(client: string): void {
    this.#failures.delete(client);
  }

  #sweep(): void {
    const t = this.#now();
    for (const [id, s] of this.#sessions) {
      if (t - s.lastSeen > this.idleMs || t - s.createdAt > this.ttlMs) this.#sessions.delete(id);
    }
  }
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(session: Session, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(session.csrfToken);
  return a.length === b.length && timingSafeEqual(a, b);
}
