/**
 * The listener registry: what a protocol proxy (SMTP, FTP) must offer to be
 * run by the gateway, and what the gateway gives it. A listener binds at
 * `start`, stops accepting at `stopAccepting`, lets its sessions finish in
 * `drain` until a deadline and then closes what is left, and counts its
 * open sessions.
 *
 * `SessionTracker` is the shared bookkeeping every listener uses: it holds
 * each session's snapshot lease (so the session finishes on the config it
 * started with), keeps the sessions-open metric, enforces the session limits
 * (total and per client address), and tells `drain` when the last session is
 * gone.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Quarantine } from '../quarantine/store.js';
import type { Lease, Snapshot, SnapshotSource } from './snapshot.js';
import type { Inspect } from './inspect.js';

/** The part of the metrics a listener uses. */
export interface SessionMetrics {
  sessionOpened(protocol: 'smtp' | 'ftp'): void;
  sessionClosed(protocol: 'smtp' | 'ftp'): void;
}

/** What the gateway hands a listener at start. */
export interface ListenerContext {
  readonly snapshots: SnapshotSource;
  readonly inspect: Inspect;
  readonly log: Logger;
  readonly metrics: SessionMetrics;
  /** The quarantine, so the SMTP proxy can plug in its re-delivery (`setReleaseMail`). */
  readonly quarantine: Pick<Quarantine, 'setReleaseMail'>;
}

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
}

export interface DrainResult {
  /** Sessions that ended on their own before the deadline. */
  readonly finished: number;
  /** Sessions closed at the deadline. */
  readonly aborted: number;
}

export interface ProtocolListener {
  readonly protocol: 'smtp' | 'ftp';
  /** Binds and starts accepting; rejects (PC_ERR_CONFIG) when the address cannot be bound. */
  start(ctx: ListenerContext): Promise<void>;
  /** The bound address (the real port when 0 was asked for), once started. */
  address(): BoundAddress | undefined;
  /** Stops accepting new connections; open sessions go on. */
  stopAccepting(): Promise<void>;
  /** Waits for open sessions until `deadline` (ms since epoch), then closes the rest. */
  drain(deadline: number): Promise<DrainResult>;
  /** Sessions open now. */
  sessions(): number;
}

export function newSessionId(): string {
  return randomBytes(6).toString('hex');
}

/** One tracked session: its id, its snapshot, and its end. */
export interface TrackedSession {
  readonly id: string;
  readonly client: string;
  readonly snapshot: Snapshot;
  readonly startedAt: number;
  /** Ends the session's bookkeeping (idempotent): releases the lease, updates the metric. */
  end(): void;
}

export type Admission = { readonly ok: true; readonly session: TrackedSession } | { readonly ok: false; readonly reason: 'tooManySessions' | 'tooManyFromClient' };

export interface SessionLimits {
  readonly maxSessions: number;
  readonly maxSessionsPerClient: number;
}

export class SessionTracker {
  readonly #protocol: 'smtp' | 'ftp';
  readonly #ctx: ListenerContext;
  readonly #open = new Map<string, { session: TrackedSession; socket: Socket | undefined; lease: Lease }>();
  readonly #perClient = new Map<string, number>();
  #finished = 0;
  #waiters: (() => void)[] = [];

  constructor(protocol: 'smtp' | 'ftp', ctx: ListenerContext) {
    this.#protocol = protocol;
    this.#ctx = ctx;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Admits a session if the limits of the current snapshot allow it; the session holds that snapshot until `end()`. */
  admit(clientAddress: string, socket?: Socket, limits?: SessionLimits): Admission {
    if (limits !== undefined) {
      if (this.#open.size >= limits.maxSessions) return { ok: false, reason: 'tooManySessions' };
      if ((this.#perClient.get(clientAddress) ?? 0) >= limits.maxSessionsPerClient) return { ok: false, reason: 'tooManyFromClient' };
    }
    const lease = this.#ctx.snapshots.acquire();
    const id = newSessionId();
    let ended = false;
    const session: TrackedSession = {
      id,
      client: clientAddress,
      snapshot: lease.snapshot,
      startedAt: Date.now(),
      end: () => {
        if (ended) return;
        ended = true;
        this.#open.delete(id);
        const n = (this.#perClient.get(clientAddress) ?? 1) - 1;
        if (n > 0) this.#perClient.set(clientAddress, n);
        else this.#perClient.delete(clientAddress);
        lease.release();
        this.#ctx.metrics.sessionClosed(this.#protocol);
        this.#finished++;
        if (this.#open.size === 0) {
          const w = this.#waiters;
          this.#waiters = [];
          for (const f of w) f();
        }
      },
    };
    this.#open.set(id, { session, socket, lease });
    this.#perClient.set(clientAddress, (this.#perClient.get(clientAddress) ?? 0) + 1);
    this.#ctx.metrics.sessionOpened(this.#protocol);
    return { ok: true, session };
  }

  /**
   * Resolves when every session has ended or at `deadline`; then destroys
   * the sockets of the sessions still open (`onAbort` may first say goodbye).
   */
  async drain(deadline: number, onAbort?: (session: TrackedSession, socket: Socket | undefined) => void): Promise<DrainResult> {
    const finishedBefore = this.#finished;
    if (this.#open.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    const left = [...this.#open.values()];
    for (const { session, socket } of left) {
      try { onAbort?.(session, socket); } catch { /* a goodbye that fails changes nothing: the socket goes anyway */ }
      socket?.destroy();
      session.end();
    }
    return { finished: this.#finished - finishedBefore - left.length, aborted: left.length };
  }
}
