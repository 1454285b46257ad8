/**
 * What the admin server needs from the rest of the gateway. `portcullis
 * start` builds these from its config and runtime and passes them to
 * `startAdmin`; the admin part never reads the config file itself.
 */
import type { EventStore } from '../events/store.js';
import type { Metrics } from '../events/metrics.js';
import type { Action } from '../events/types.js';
import type { Quarantine } from '../quarantine/store.js';
import type { Finding, Verdict } from '../scanners/types.js';

/** An uploaded file from "scan a file", spooled to `path` (removed by the admin server afterwards). */
export interface UploadInspection {
  /** The name the browser sent: untrusted display text, never a path. */
  readonly name: string;
  readonly path: string;
  readonly size: number;
  /** The uploader's address. */
  readonly client: string;
}

/** What the gateway's inspection pipeline reports back for one upload. */
export interface InspectionSummary {
  readonly verdict: Verdict;
  readonly action: Action;
  readonly findings: readonly Finding[];
  readonly durationMs: number;
  readonly quarantineId?: string;
  readonly eventId?: number;
  readonly errors?: readonly { readonly scanner: string; readonly code: string; readonly message: string }[];
}

/**
 * Runs one upload through scanner → policy → quarantine → event (protocol
 * "upload", direction "inbound"). The gateway's `inspect()` behind a thin
 * adapter.
 */
export type InspectUpload = (input: UploadInspection) => Promise<InspectionSummary>;

/** Signature database status for the signatures page. */
export interface SignatureStatus {
  /** Loaded signatures by kind. */
  readonly loaded: Readonly<Record<string, number>>;
  /** Signatures that could not be used, by reason. */
  readonly skipped: Readonly<Record<string, number>>;
  readonly total: number;
  /** When the database was (re)loaded, ms since epoch. */
  readonly loadedAt: number;
  /** How long the load took, ms. */
  readonly loadDurationMs?: number;
  /** Newest .cvd/.cld build time, ms since epoch. */
  readonly newestBuildTime?: number;
  /** Files read and what each contributed. */
  readonly files?: readonly { readonly name: string; readonly signatures: number }[];
  /** Scanner backends in use ("builtin", "clamd 127.0.0.1:3310" …). */
  readonly scanners?: readonly string[];
}

/** The outcome of a reload (config and signatures), shown to the operator. */
export interface ReloadOutcome {
  readonly message: string;
}

export interface AdminLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface AdminStores {
  readonly quarantine: Quarantine;
  readonly events: EventStore;
}

export interface AdminOptions {
  /** "host:port" ("[::1]:8025" for IPv6) or an object; port 0 picks a free port. Default host is loopback. */
  readonly listen: string | { readonly host: string; readonly port: number };
  /**
   * `scrypt$N$r$p$salt$hash` (see password.ts). When absent, a random
   * password is made for this process only and logged once at start.
   */
  readonly passwordHash?: string;
  /** Session idle timeout, ms. Default 1 hour. */
  readonly sessionIdleMs?: number;
  /** Session absolute lifetime, ms. Default 12 hours. */
  readonly sessionTtlMs?: number;
  readonly stores: AdminStores;
  readonly metrics: Metrics;
  readonly inspect: InspectUpload;
  /** Reloads config and signatures; rejects with a PortcullisError when the new config is invalid. */
  readonly reload: () => Promise<ReloadOutcome>;
  /** The running config with secrets already redacted (the admin server redacts again by key name). */
  readonly configRedacted: () => unknown;
  readonly dbStats: () => SignatureStatus;
  readonly logger: AdminLogger;
  /**
   * Bearer token for `/metrics`. When absent, `/metrics` answers only
   * clients on a loopback address (a local Prometheus or agent), anyone else
   * gets 401.
   */
  readonly metricsToken?: string;
  /** Largest "scan a file" upload, bytes. Default 100 MiB. */
  readonly maxUploadBytes?: number;
  /** Where uploads are spooled while being scanned. Default the OS temp folder. */
  readonly spoolDir?: string;
}
