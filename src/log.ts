/**
 * Structured JSON logs (pino): one line per event, on stdout by default.
 * Session and transfer lines have a fixed set of fields, typed here and
 * documented in docs/LOGGING.md, so log pipelines can rely on them; the
 * helpers below are the only way protocol code writes them.
 *
 * Field values may be untrusted text (file names, envelope addresses): pino
 * JSON-escapes them, so no log line can be forged by a hostile name.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export type LogLevel = LevelWithSilent;

export interface CreateLoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go; default stdout (fd 1, synchronous so a crash loses nothing). */
  readonly destination?: DestinationStream;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: true });
  return pino({
    level: options.level ?? 'info',
    base: { pid: process.pid, service: 'portcullis' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
  }, destination);
}

/** A logger that drops everything (tests, library callers without logging). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The line written when a protocol session ends. */
export interface SessionLogFields {
  readonly protocol: 'smtp' | 'ftp';
  readonly sessionId: string;
  /** Client "ip:port". */
  readonly client: string;
  /** Next hop / FTP server "host:port", once known. */
  readonly server?: string;
  readonly durationMs: number;
  /** Objects inspected in this session. */
  readonly transfers: number;
  /** Bytes inspected in this session. */
  readonly bytes: number;
  /** How it ended: "quit", "client-closed", "idle-timeout", "refused", "drained", "error". */
  readonly end: string;
  /** Snapshot generation the session ran on. */
  readonly generation: number;
  readonly error?: string;
}

/** The line written for each inspected object. */
export interface TransferLogFields {
  readonly protocol: 'smtp' | 'ftp' | 'upload';
  readonly sessionId?: string;
  readonly direction: 'inbound' | 'outbound';
  readonly client?: string;
  readonly server?: string;
  /** Object name as the peer gave it (untrusted). */
  readonly name: string;
  readonly size: number;
  readonly scanned: boolean;
  readonly verdict: 'clean' | 'infected' | 'error';
  /** Finding names, deduplicated. */
  readonly findings: readonly string[];
  readonly action: string;
  /** Finding class the action was chosen for ("clean" when nothing was found). */
  readonly class: string;
  /** The reply code sent (SMTP or FTP, per protocol; the SMTP code for uploads). */
  readonly reply: number;
  readonly quarantineId?: string;
  readonly eventId?: number;
  readonly durationMs: number;
  /** The scan ran as the file arrived (Scanner.follow), so durationMs holds no scanning. */
  readonly followed?: true;
  readonly generation: number;
  /** Scanner error codes, when a scanner failed. */
  readonly errors?: readonly string[];
}

export function logSession(log: Logger, fields: SessionLogFields): void {
  log.info({ event: 'session', ...fields }, 'session');
}

export function logTransfer(log: Logger, fields: TransferLogFields): void {
  const level = fields.verdict === 'clean' ? 'info' : 'warn';
  log[level]({ event: 'transfer', ...fields }, 'transfer');
}

/** The field names of each line kind, for docs/LOGGING.md's test; the checks below fail to compile if one is missing. */
export const SESSION_LOG_FIELDS = [
  'protocol', 'sessionId', 'client', 'server', 'durationMs', 'transfers', 'bytes', 'end', 'generation', 'error',
] as const satisfies readonly (keyof SessionLogFields)[];
export const TRANSFER_LOG_FIELDS = [
  'protocol', 'sessionId', 'direction', 'client', 'server', 'name', 'size', 'scanned', 'verdict', 'findings', 'action',
  'class', 'reply', 'quarantineId', 'eventId', 'durationMs', 'followed', 'generation', 'errors',
] as const satisfies readonly (keyof TransferLogFields)[];
type Missing<T, L extends readonly PropertyKey[]> = Exclude<keyof T, L[number]>;
export const LOG_FIELDS_COMPLETE: [Missing<SessionLogFields, typeof SESSION_LOG_FIELDS>, Missing<TransferLogFields, typeof TRANSFER_LOG_FIELDS>] extends [never, never] ? true : false = true;
