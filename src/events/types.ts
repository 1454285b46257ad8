/**
 * What the operator's side records about one inspection. Shared by the event
 * store, the metrics, the quarantine index and the admin UI; the gateway's
 * inspection pipeline produces it.
 */
import type { Finding, Verdict } from '../scanners/types.js';

/** Where an object came from. "upload" is the admin UI's "scan a file". */
export type Protocol = 'smtp' | 'ftp' | 'upload';
export const PROTOCOLS: readonly Protocol[] = ['smtp', 'ftp', 'upload'];

export type Direction = 'inbound' | 'outbound';
export const DIRECTIONS: readonly Direction[] = ['inbound', 'outbound'];

/** What was done with the object (the policy's decision, as carried out). */
export type Action = 'pass' | 'block' | 'quarantine' | 'strip' | 'replace' | 'tempfail';
export const ACTIONS: readonly Action[] = ['pass', 'block', 'quarantine', 'strip', 'replace', 'tempfail'];

export const VERDICTS: readonly Verdict[] = ['clean', 'infected', 'error'];

/** A mail envelope (RFC 5321 MAIL FROM / RCPT TO), as the proxy received it. */
export interface Envelope {
  readonly from: string;
  readonly rcpts: readonly string[];
}

/** One inspection, as the pipeline reports it. */
export interface EventInput {
  /** When the inspection finished, ms since epoch. Default: now. */
  readonly time?: number;
  readonly protocol: Protocol;
  readonly direction: Direction;
  /** Client address "ip:port" (or "ip"). */
  readonly client?: string;
  /** Server / next hop address. */
  readonly server?: string;
  /** Display name of the object (file name, mail subject or message id); untrusted text. */
  readonly objectName: string;
  readonly size: number;
  readonly verdict: Verdict;
  readonly findings: readonly Finding[];
  readonly action: Action;
  readonly durationMs: number;
  readonly quarantineId?: string;
  /** Session id from the protocol log, to join events with log lines. */
  readonly sessionId?: string;
  readonly envelope?: Envelope;
  /** Scanner errors (code + message), when verdict is "error". */
  readonly errors?: readonly { readonly scanner: string; readonly code: string; readonly message: string }[];
}

/** A stored event. */
export interface EventRecord extends Required<Pick<EventInput, 'time'>>, Omit<EventInput, 'time'> {
  readonly id: number;
}
