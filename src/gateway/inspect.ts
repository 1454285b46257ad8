/**
 * The inspection pipeline, one object at a time:
 *   true type → should it be scanned (policy) → scanner → banned names/types
 *   (policy, inside containers too) → decision (policy) → quarantine (when
 *   the action says so) → event + metrics → one "transfer" log line.
 * The proxies call it for each file or mail part; the admin UI's "scan a
 * file" calls it with protocol "upload".
 *
 * It runs on one snapshot from start to end: the session's, when the caller
 * passes it, else the current one (held with a lease until done).
 *
 * Memory: reading and unpacking an object whole costs a few times its size,
 * so the scan and the banned-rules walk run only once the object's bytes are
 * admitted by the gateway-wide byte budget (admission.ts, engine.scanMemory);
 * a wait longer than MaxScanTime is a scanner timeout (tempfail), so a
 * message is never dropped or passed because memory was short.
 *
 * Fail closed: a scanner that throws is a scanner failure (class
 * scannerFailure, default tempfail), and a quarantine that cannot store the
 * object turns "quarantine" into tempfail (upload: block) — the object is
 * never delivered because its evidence could not be kept. A failure to record
 * the event is logged and does not change the decision.
 *
 * Reads untrusted bytes: the object's head (true type), and the whole object
 * through the content walker when banned rules exist; the object name is
 * display text only and never becomes a path here.
 */
import { open } from 'node:fs/promises';
import type { Limits } from '../content/limits.js';
import { detectType } from '../content/filetype.js';
import { walk } from '../content/walker.js';
import type { FileType } from '../content/types.js';
import { isPortcullisError, PortcullisError } from '../errors.js';
import { logTransfer, type Logger } from '../log.js';
import type { ObjectFact } from '../policy/banned.js';
import type { PolicyDecision } from '../policy/actions.js';
import type { Reply } from '../policy/replies.js';
import type { Action, Direction, Protocol } from '../policy/types.js';
import type { FileFollower, Finding, ScanReport, Scanner, ScanTarget } from '../scanners/types.js';
import type { Snapshot, SnapshotSource } from './snapshot.js';
import type { Envelope, EventInput } from '../events/types.js';
import type { EventStore } from '../events/store.js';
import type { Metrics } from '../events/metrics.js';
import type { Quarantine } from '../quarantine/store.js';
import { ScanAdmission } from './admission.js';
import { collectGarbage, COLLECT_AFTER_BYTES } from './memory.js';

export interface InspectRequest {
  readonly protocol: Protocol;
  readonly direction: Direction;
  /** Display name of the object (file name, "part 2 invoice.zip", message id); untrusted. */
  readonly name: string;
  /** The bytes: a spooled file or a buffer. */
  readonly target: ScanTarget;
  readonly peers?: { readonly client?: string; readonly server?: string };
  readonly envelope?: Envelope;
  readonly sessionId?: string;
  /** The session's snapshot; default the current one. */
  readonly snapshot?: Snapshot;
  readonly signal?: AbortSignal;
  /**
   * A cap on scans at once that the caller shares between its sessions
   * (smtp.maxConcurrentScans). Taken only once the byte budget has admitted
   * the object: one that waits for scan memory holds no slot, so small
   * objects keep flowing past a queue of big ones.
   */
  readonly gate?: { acquire(signal?: AbortSignal): Promise<() => void> };
  /**
   * A scan that already ran as the file arrived (Scanner.follow), with the
   * scanner that made it. Its report is taken in place of scanning the
   * file when the policy scans it and that scanner is still the
   * snapshot's; when the follower cannot stand for the whole file, the
   * file is scanned as usual.
   */
  readonly followed?: { readonly scanner: Scanner; readonly follower: FileFollower };
}

export interface InspectDecision {
  readonly action: Action;
  readonly class: PolicyDecision['class'];
  /** Findings of the deciding class. */
  readonly findings: readonly Finding[];
  readonly reply: Reply;
}

export interface InspectResult {
  /** The scanner's report with banned findings merged in. */
  readonly report: ScanReport;
  readonly scanned: boolean;
  /** Why it was (not) scanned. */
  readonly scanReason: string;
  readonly type: FileType;
  readonly decision: InspectDecision;
  readonly quarantineId?: string;
  /** Undefined only when the event could not be recorded (logged). */
  readonly eventId?: number;
  readonly generation: number;
  readonly durationMs: number;
}

export type Inspect = (request: InspectRequest) => Promise<InspectResult>;

/** The operator-side stores inspect writes to; each is optional so tests and tools can leave one out. */
export interface InspectDeps {
  readonly snapshots: SnapshotSource;
  readonly log: Logger;
  readonly quarantine?: Pick<Quarantine, 'add'>;
  readonly events?: Pick<EventStore, 'record'>;
  readonly metrics?: Pick<Metrics, 'observeInspection' | 'scannerError'>;
  /** The byte budget shared by every inspection; default one of the snapshot's engine.scanMemory, made on the first call. */
  readonly admission?: ScanAdmission;
}

const HEAD_BYTES = 64 * 1024;

function targetSize(t: ScanTarget): number {
  return 'data' in t ? t.data.byteLength : t.size;
}

async function readPart(path: string, max: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(max);
    let off = 0;
    while (off < max) {
      const { bytesRead } = await fh.read(buf, off, max - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}

function failure(scanner: string, err: unknown, started: number): ScanReport {
  return {
    verdict: 'error',
    findings: [],
    errors: [{ scanner, code: isPortcullisError(err) ? err.code : 'PC_ERR_SCANNER', message: err instanceof Error ? err.message : String(err) }],
    bytesScanned: 0,
    durationMs: performance.now() - started,
  };
}

/** Past MaxScanTime every scanner should have given up by itself; this much later the pipeline stops waiting. */
export const SCAN_GUARD_GRACE_MS = 1000;

/**
 * Runs the snapshot's scanner under a last-resort deadline (MaxScanTime +
 * grace): a scanner that never answers becomes a PC_ERR_SCAN_TIMEOUT failure
 * (fail closed) and is told to stop through its abort signal, so one stuck
 * backend cannot hold a session forever.
 */
async function guardedScan(snapshot: Snapshot, target: ScanTarget, signal: AbortSignal | undefined, started: number): Promise<ScanReport> {
  const { scanner } = snapshot;
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const limitMs = snapshot.config.limits.MaxScanTime + SCAN_GUARD_GRACE_MS;
  const deadline = new Promise<ScanReport>((resolve) => {
    timer = setTimeout(() => {
      const err = new PortcullisError('PC_ERR_SCAN_TIMEOUT', `Cannot scan: ${scanner.name} gave no answer within ${limitMs} ms`);
      controller.abort(err);
      resolve(failure(scanner.name, err, started));
    }, limitMs);
  });
  try {
    return await Promise.race([
      scanner.scan(target, { signal: controller.signal }).catch((err: unknown) => failure(scanner.name, err, started)),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The report of a scan made as the file arrived, when it stands for this file and this snapshot's scanner. */
function followedReport(req: InspectRequest, snapshot: Snapshot): ScanReport | undefined {
  const f = req.followed;
  if (f === undefined || f.scanner !== snapshot.scanner) return undefined;
  return f.follower.end();
}

/** Why a scan failed, in words fit for a reply ("clamd timed out"). */
function failureReason(report: ScanReport): string {
  const parts = report.errors.map((e) => `${e.scanner} ${e.code === 'PC_ERR_SCAN_TIMEOUT' ? 'timed out' : 'failed'}`);
  return parts.length > 0 ? [...new Set(parts)].join(', ') : 'scanner unavailable';
}

/** Every object inside the target with its true type, for the banned rules; the root alone when it is too big to open. */
async function objectFacts(target: ScanTarget, rootType: FileType, snapshot: Snapshot, signal: AbortSignal | undefined): Promise<ObjectFact[]> {
  const limits = snapshot.config.limits;
  const size = targetSize(target);
  if (size > limits.MaxFileSize) return [{ path: [target.name], type: rootType }];
  const data = 'data' in target ? target.data : await readPart(target.path, size);
  const facts: ObjectFact[] = [];
  for await (const item of walk({ name: target.name, data }, { limits, ...(signal !== undefined ? { signal } : {}) })) {
    if (item.kind === 'object') facts.push({ path: item.node.path, type: item.node.type });
  }
  return facts;
}

/** What a streamed object costs: a read buffer, it is never held whole. */
const STREAMED_COST = 1024 * 1024;

/** Who reads an object whole in this process: the builtin scanner (containers only), the banned rules (everything). */
export interface WholeReaders {
  readonly builtin: boolean;
  readonly banned: boolean;
}

/**
 * Bytes an object is charged against the scan memory budget: its size when
 * it is read whole and opened here (within MaxFileSize: a container the
 * builtin scanner walks, or any object banned rules look inside), else one
 * read buffer (streamed to the engine, clamd or a command).
 */
export function scanCost(target: ScanTarget, type: Pick<FileType, 'container'>, limits: Pick<Limits, 'MaxFileSize'>, readers: WholeReaders): number {
  const size = targetSize(target);
  const whole = size <= limits.MaxFileSize && (readers.banned || (readers.builtin && type.container));
  return whole ? size : Math.min(size, STREAMED_COST);
}

/**
 * Waits for the object's turn in the byte budget, for at most MaxScanTime;
 * a longer wait (or the caller's abort) is a failure report, not an error.
 */
async function admit(deps: InspectDeps, req: InspectRequest, admission: ScanAdmission, cost: number, snapshot: Snapshot, started: number): Promise<(() => void) | ScanReport> {
  const signal = req.signal;
  // Most objects get in at once: no timer or combined signal for them (thousands a second at full load).
  const now = admission.tryAdmit(cost);
  if (now !== undefined) return now;
  const limits = snapshot.config.limits;
  const timeout = AbortSignal.timeout(limits.MaxScanTime);
  try {
    const waiting = performance.now();
    const release = await admission.admit(cost, signal === undefined ? timeout : AbortSignal.any([signal, timeout]));
    // Why a message took long to answer, for whoever reads the log: it waited its turn for memory.
    deps.log.info({ object: req.name, sessionId: req.sessionId, bytes: cost, waitedMs: Math.round(performance.now() - waiting) }, 'inspection waited for scan memory (engine.scanMemory)');
    return release;
  } catch (err) {
    if (signal?.aborted === true) return failure('gateway', signal.reason, started);
    const mb = (n: number): string => (n / (1024 * 1024)).toFixed(1);
    return failure('gateway', new PortcullisError('PC_ERR_SCAN_TIMEOUT', `Cannot scan: waited ${limits.MaxScanTime} ms for ${mb(cost)} MiB of scan memory (engine.scanMemory ${mb(admission.capacity)} MiB, ${mb(admission.inFlight)} MiB in use)`, { cause: err }), started);
  }
}

/** The report with the banned names and types of the object (and of everything inside it) added. */
async function withBanned(report: ScanReport, req: InspectRequest, type: FileType, snapshot: Snapshot, started: number): Promise<ScanReport> {
  try {
    const banned = snapshot.policy.banned(await objectFacts(req.target, type, snapshot, req.signal));
    return banned.length > 0 ? { ...report, verdict: 'infected', findings: [...report.findings, ...banned] } : report;
  } catch (err) {
    return { ...report, verdict: report.verdict === 'infected' ? 'infected' : 'error', errors: [...report.errors, ...failure('policy', err, started).errors] };
  }
}

export function createInspect(deps: InspectDeps): Inspect {
  let admission = deps.admission;
  return async (req) => {
    const started = performance.now();
    const lease = req.snapshot === undefined ? deps.snapshots.acquire() : undefined;
    const snapshot = req.snapshot ?? (lease as NonNullable<typeof lease>).snapshot;
    try {
      const wanted = snapshot.config.engine.scanMemory;
      if (admission === undefined) admission = new ScanAdmission(wanted);
      // A reload's new size applies from its first inspection on (deps.admission is the caller's to size).
      else if (deps.admission === undefined && admission.capacity !== wanted) admission.capacity = wanted;
      return await run(deps, req, snapshot, started, admission);
    } finally {
      lease?.release();
    }
  };
}

async function run(deps: InspectDeps, req: InspectRequest, snapshot: Snapshot, started: number, admission: ScanAdmission): Promise<InspectResult> {
  const { policy } = snapshot;
  const size = targetSize(req.target);
  const signal = req.signal;

  let unreadable: ScanReport | undefined;
  let type: FileType = detectType(new Uint8Array(0));
  try {
    const head = 'data' in req.target ? req.target.data.subarray(0, HEAD_BYTES) : await readPart(req.target.path, Math.min(HEAD_BYTES, size));
    type = detectType(head, req.name);
  } catch (err) {
    unreadable = failure('gateway', err, started);
  }
  const choice = policy.chooseScan(req.name, type);
  const opens = unreadable === undefined && (choice.scan || policy.hasBannedRules);
  const readers = { builtin: snapshot.config.scanners.some((s) => s.kind === 'builtin'), banned: policy.hasBannedRules };
  const cost = scanCost(req.target, type, snapshot.config.limits, readers);
  const admitted = opens ? await admit(deps, req, admission, cost, snapshot, started) : undefined;
  const big = admitted !== undefined && cost >= COLLECT_AFTER_BYTES;
  let report: ScanReport;
  let followed: ScanReport | undefined;
  if (typeof admitted === 'object') {
    report = admitted;
  } else {
    let leaveGate: (() => void) | undefined;
    let gateFailed: ScanReport | undefined;
    if (admitted !== undefined && req.gate !== undefined) {
      try {
        leaveGate = await req.gate.acquire(signal);
      } catch (err) {
        gateFailed = failure('gateway', err, started);
      }
    }
    try {
      if (choice.scan && gateFailed === undefined && unreadable === undefined) followed = followedReport(req, snapshot);
      report = gateFailed ?? unreadable ?? (choice.scan
        ? followed ?? await guardedScan(snapshot, req.target, signal, started)
        : { verdict: 'clean', findings: [], errors: [], bytesScanned: 0, durationMs: 0 });
      // Banned names and types are checked even when a scanner failed: a banned file is refused for certain, which beats "try again".
      if (policy.hasBannedRules && unreadable === undefined && gateFailed === undefined) report = await withBanned(report, req, type, snapshot, started);
    } finally {
      leaveGate?.();
      // The object's buffers are garbage now; collected before the next big one is let in, they are not stacked on its own.
      if (big) collectGarbage();
      admitted?.();
    }
  }

  const decided = policy.decide({ protocol: req.protocol, direction: req.direction, report });
  let action = decided.action;
  let reason = failureReason(report);
  let quarantineId: string | undefined;
  if (action === 'quarantine') {
    if (deps.quarantine === undefined) {
      action = req.protocol === 'upload' ? 'block' : 'tempfail';
      reason = 'quarantine unavailable';
    } else {
      try {
        const entry = await deps.quarantine.add({
          source: 'data' in req.target ? { data: req.target.data } : { path: req.target.path },
          originalName: req.name,
          protocol: req.protocol,
          direction: req.direction,
          ...(req.peers?.client !== undefined ? { client: req.peers.client } : {}),
          ...(req.peers?.server !== undefined ? { server: req.peers.server } : {}),
          ...(req.envelope !== undefined ? { envelope: req.envelope } : {}),
          findings: report.findings,
        });
        quarantineId = entry.id;
      } catch (err) {
        deps.log.error({ err, name: req.name }, 'quarantine failed; refusing the object instead');
        action = req.protocol === 'upload' ? 'block' : 'tempfail';
        reason = 'quarantine unavailable';
      }
    }
  }
  const decision = { action, class: decided.class, findings: decided.findings };
  const reply = policy.reply(decision, { reason, ...(quarantineId !== undefined ? { id: quarantineId } : {}) });
  const durationMs = performance.now() - started;

  const event: EventInput = {
    protocol: req.protocol,
    direction: req.direction,
    ...(req.peers?.client !== undefined ? { client: req.peers.client } : {}),
    ...(req.peers?.server !== undefined ? { server: req.peers.server } : {}),
    objectName: req.name,
    size,
    verdict: report.verdict,
    findings: report.findings,
    action,
    durationMs,
    ...(quarantineId !== undefined ? { quarantineId } : {}),
    ...(req.sessionId !== undefined ? { sessionId: req.sessionId } : {}),
    ...(req.envelope !== undefined ? { envelope: req.envelope } : {}),
    ...(report.errors.length > 0 ? { errors: report.errors } : {}),
  };
  let eventId: number | undefined;
  try {
    eventId = deps.events?.record(event).id;
  } catch (err) {
    deps.log.error({ err, name: req.name }, 'event could not be recorded');
  }
  deps.metrics?.observeInspection(event);
  for (const e of report.errors) deps.metrics?.scannerError(e.scanner, e.code);

  logTransfer(deps.log, {
    protocol: req.protocol,
    ...(req.sessionId !== undefined ? { sessionId: req.sessionId } : {}),
    direction: req.direction,
    ...(req.peers?.client !== undefined ? { client: req.peers.client } : {}),
    ...(req.peers?.server !== undefined ? { server: req.peers.server } : {}),
    name: req.name,
    size,
    scanned: choice.scan,
    verdict: report.verdict,
    findings: [...new Set(report.findings.map((f) => f.name))],
    action,
    class: decision.class,
    reply: req.protocol === 'ftp' ? reply.ftp.code : reply.smtp.code,
    ...(quarantineId !== undefined ? { quarantineId } : {}),
    ...(eventId !== undefined ? { eventId } : {}),
    durationMs: Math.round(durationMs * 10) / 10,
    ...(followed !== undefined ? { followed: true as const } : {}),
    generation: snapshot.generation,
    ...(report.errors.length > 0 ? { errors: report.errors.map((e) => e.code) } : {}),
  });

  return {
    report,
    scanned: choice.scan,
    scanReason: choice.reason,
    type,
    decision: { ...decision, reply },
    ...(quarantineId !== undefined ? { quarantineId } : {}),
    ...(eventId !== undefined ? { eventId } : {}),
    generation: snapshot.generation,
    durationMs,
  };
}
