/**
 * Prometheus metrics for the gateway, on a private prom-client Registry (never
 * the global one, so two gateways in one test process do not collide).
 *
 * Label values come only from closed sets (protocol, direction, verdict,
 * action, scanner name, error code), never from untrusted input, so the
 * number of series stays bounded.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Verdict } from '../scanners/types.js';
import type { Action, EventInput, Protocol } from './types.js';

export interface SignatureInfo {
  /** Loaded signatures by kind (md5, sha256, body, logical …). */
  readonly loaded: Readonly<Record<string, number>>;
  /** Build time of the newest database file, ms since epoch, when known. */
  readonly newestBuildTime?: number;
  /** When the database was loaded, ms since epoch. */
  readonly loadedAt: number;
}

/** Running totals since this process started, for the dashboard's live counters. */
export interface MetricsSnapshot {
  readonly startedAt: number;
  readonly inspections: number;
  readonly byVerdict: Readonly<Record<Verdict, number>>;
  readonly byAction: Readonly<Record<string, number>>;
  readonly bytes: number;
  readonly sessionsOpen: Readonly<Record<string, number>>;
  readonly scannerErrors: number;
}

export interface CreateMetricsOptions {
  /** Also export Node's process metrics (CPU, memory, event loop). Default true. */
  readonly processMetrics?: boolean;
  /** Metric name prefix. Default "portcullis_". */
  readonly prefix?: string;
  /** Clock, for tests. */
  readonly now?: () => number;
}

export interface Metrics {
  readonly registry: Registry;
  /**
   * Counts one finished inspection (what `EventStore.record` is given).
   * Its `errors` are not counted here: report each with `scannerError`, which
   * also serves failures outside an inspection (a clamd health check).
   */
  observeInspection(event: EventInput): void;
  sessionOpened(protocol: Protocol): void;
  sessionClosed(protocol: Protocol): void;
  scannerError(scanner: string, code: string): void;
  /** Reports the quarantine's size at each scrape from `stats` (a later call replaces the source). */
  trackQuarantine(stats: () => { readonly held: number; readonly released: number; readonly bytes: number }): void;
  /** Sets the signature gauges after a (re)load. */
  setSignatures(info: SignatureInfo): void;
  /** Prometheus text exposition format. */
  text(): Promise<string>;
  readonly contentType: string;
  snapshot(): MetricsSnapshot;
}

/** Scan durations run from a few ms (small clean files) to the scan time limit. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const prefix = options.prefix ?? 'portcullis_';
  const now = options.now ?? Date.now;
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix });

  const inspections = new Counter({
    name: `${prefix}inspections_total`, help: 'Inspected objects by protocol, direction, verdict and action.',
    labelNames: ['protocol', 'direction', 'verdict', 'action'] as const, registers: [registry],
  });
  const bytes = new Counter({
    name: `${prefix}inspected_bytes_total`, help: 'Bytes of inspected objects by protocol and direction.',
    labelNames: ['protocol', 'direction'] as const, registers: [registry],
  });
  const sessions = new Gauge({
    name: `${prefix}sessions_open`, help: 'Protocol sessions open now.',
    labelNames: ['protocol'] as const, registers: [registry],
  });
  // Present at 0 from the start, so a dashboard sees the series before the first session.
  for (const protocol of ['smtp', 'ftp'] as const) sessions.set({ protocol }, 0);
  const duration = new Histogram({
    name: `${prefix}scan_duration_seconds`, help: 'Time to inspect one object.',
    labelNames: ['protocol'] as const, buckets: DURATION_BUCKETS, registers: [registry],
  });
  const scannerErrors = new Counter({
    name: `${prefix}scanner_errors_total`, help: 'Scanner failures by scanner and error code.',
    labelNames: ['scanner', 'code'] as const, registers: [registry],
  });
  const signatures = new Gauge({
    name: `${prefix}signatures`, help: 'Loaded signatures by kind.',
    labelNames: ['kind'] as const, registers: [registry],
  });
  let newestBuildTime: number | undefined;
  let loadedAt: number | undefined;
  new Gauge({
    name: `${prefix}signature_database_age_seconds`, help: 'Age of the newest signature database build (or of the load, when no build time is known).',
    registers: [registry],
    collect() {
      const t = newestBuildTime ?? loadedAt;
      if (t !== undefined) this.set(Math.max(0, (now() - t) / 1000));
    },
  });
  const loadTime = new Gauge({
    name: `${prefix}signature_database_loaded_timestamp_seconds`, help: 'When the signature database was last loaded.',
    registers: [registry],
  });

  let quarantineStats: Parameters<Metrics['trackQuarantine']>[0] | undefined;
  new Gauge({
    name: `${prefix}quarantine_objects`, help: 'Objects kept in the quarantine, by state.',
    labelNames: ['state'] as const, registers: [registry],
    collect() {
      if (quarantineStats === undefined) return;
      const s = quarantineStats();
      this.set({ state: 'held' }, s.held);
      this.set({ state: 'released' }, s.released);
    },
  });
  new Gauge({
    name: `${prefix}quarantine_bytes`, help: 'Bytes kept in the quarantine.',
    registers: [registry],
    collect() {
      if (quarantineStats !== undefined) this.set(quarantineStats().bytes);
    },
  });

  const startedAt = now();
  const byVerdict: Record<Verdict, number> = { clean: 0, infected: 0, error: 0 };
  const byAction: Record<string, number> = {};
  const sessionsOpen: Record<string, number> = {};
  let total = 0;
  let totalBytes = 0;
  let errors = 0;
  const countScannerError = (scanner: string, code: string): void => {
    scannerErrors.inc({ scanner, code });
    errors += 1;
  };

  return {
    registry,
    contentType: registry.contentType,
    observeInspection(e) {
      inspections.inc({ protocol: e.protocol, direction: e.direction, verdict: e.verdict, action: e.action });
      bytes.inc({ protocol: e.protocol, direction: e.direction }, Math.max(0, e.size));
      duration.observe({ protocol: e.protocol }, Math.max(0, e.durationMs) / 1000);
      total += 1;
      totalBytes += Math.max(0, e.size);
      byVerdict[e.verdict] += 1;
      byAction[e.action satisfies Action] = (byAction[e.action] ?? 0) + 1;
    },
    sessionOpened(protocol) {
      sessions.inc({ protocol });
      sessionsOpen[protocol] = (sessionsOpen[protocol] ?? 0) + 1;
    },
    sessionClosed(protocol) {
      sessions.dec({ protocol });
      sessionsOpen[protocol] = Math.max(0, (sessionsOpen[protocol] ?? 0) - 1);
    },
    scannerError: countScannerError,
    trackQuarantine(stats) {
      quarantineStats = stats;
    },
    setSignatures(info) {
      signatures.reset();
      for (const [kind, n] of Object.entries(info.loaded)) signatures.set({ kind }, n);
      newestBuildTime = info.newestBuildTime;
      loadedAt = info.loadedAt;
      loadTime.set(info.loadedAt / 1000);
    },
    text: () => registry.metrics(),
    snapshot: () => ({
      startedAt, inspections: total, byVerdict: { ...byVerdict }, byAction: { ...byAction },
      bytes: totalBytes, sessionsOpen: { ...sessionsOpen }, scannerErrors: errors,
    }),
  };
}

