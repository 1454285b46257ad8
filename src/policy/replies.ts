/**
 * Replies are data (STYLE.md principle 5): the one table that maps each
 * outcome to its SMTP code + enhanced status (RFC 5321 §4.2, RFC 3463) and
 * FTP code (RFC 959 §4.2) and text. Protocol code picks a row and renders it;
 * it never writes a reply number inline.
 *
 * Texts are templates with {findings}, {id}, {contact}, {reason}. Values are
 * untrusted (signature names come from databases, reasons from scanners):
 * rendering removes control characters (no CR/LF can reach the wire), caps
 * each value and the whole text (SMTP reply lines must stay under 512
 * octets, RFC 5321 §4.5.3.1.5).
 */
import type { ActionClass } from '../config/table.js';
import type { Action, DecisionClass } from './types.js';

export type Outcome =
  | 'clean' | 'passed' | 'passedUnscanned' | 'stripped' | 'replaced' | 'quarantined' | 'tempfail'
  | `blocked.${ActionClass}`
  | 'unavailable' | 'shuttingDown' | 'tooManySessions' | 'tooManyFromClient' | 'tooBig' | 'idleTimeout' | 'closing';

export interface SmtpReply { readonly code: number; readonly enhanced: string; readonly text: string }
export interface FtpReply { readonly code: number; readonly text: string }
interface ReplyRow { readonly smtp: SmtpReply; readonly ftp: FtpReply }

export const REPLIES: Readonly<Record<Outcome, ReplyRow>> = {
  clean: {
    smtp: { code: 250, enhanced: '2.0.0', text: 'Ok: scanned, no virus found' },
    ftp: { code: 226, text: 'Transfer complete: scanned, no virus found' },
  },
  passed: {
    smtp: { code: 250, enhanced: '2.0.0', text: 'Ok: delivered by policy despite: {findings}' },
    ftp: { code: 226, text: 'Transfer complete: passed by policy despite: {findings}' },
  },
  passedUnscanned: {
    smtp: { code: 250, enhanced: '2.0.0', text: 'Ok: delivered unscanned by policy: could not be scanned ({reason})' },
    ftp: { code: 226, text: 'Transfer complete: passed unscanned by policy: could not be scanned ({reason})' },
  },
  stripped: {
    smtp: { code: 250, enhanced: '2.0.0', text: 'Ok: delivered with infected parts removed: {findings}' },
    ftp: { code: 550, text: 'Transfer refused: {findings}' },
  },
  replaced: {
    smtp: { code: 250, enhanced: '2.0.0', text: 'Ok: delivered with infected parts replaced by a notice: {findings}' },
    ftp: { code: 550, text: 'Transfer refused: {findings}' },
  },
  quarantined: {
    smtp: { code: 554, enhanced: '5.7.1', text: 'Rejected: {findings}; quarantined as {id}, ask {contact}' },
    ftp: { code: 550, text: 'Transfer refused: {findings}; quarantined as {id}, ask {contact}' },
  },
  tempfail: {
    smtp: { code: 451, enhanced: '4.7.1', text: 'Try again later: could not be scanned ({reason})' },
    ftp: { code: 451, text: 'Transfer aborted: could not be scanned ({reason}), try again later' },
  },
  'blocked.virus': {
    smtp: { code: 554, enhanced: '5.7.1', text: 'Rejected: virus found: {findings}' },
    ftp: { code: 550, text: 'Transfer refused: virus found: {findings}' },
  },
  'blocked.banned': {
    smtp: { code: 554, enhanced: '5.7.1', text: 'Rejected: banned content: {findings}' },
    ftp: { code: 553, text: 'Transfer refused: banned file: {findings}' },
  },
  'blocked.limits': {
    smtp: { code: 554, enhanced: '5.3.4', text: 'Rejected: too large or too deep to scan: {findings}' },
    ftp: { code: 552, text: 'Transfer refused: too large or too deep to scan: {findings}' },
  },
  'blocked.encrypted': {
    smtp: { code: 554, enhanced: '5.7.1', text: 'Rejected: encrypted content cannot be scanned: {findings}' },
    ftp: { code: 550, text: 'Transfer refused: encrypted content cannot be scanned: {findings}' },
  },
  'blocked.unscannable': {
    smtp: { code: 554, enhanced: '5.6.0', text: 'Rejected: broken content cannot be scanned: {findings}' },
    ftp: { code: 550, text: 'Transfer refused: broken content cannot be scanned: {findings}' },
  },
  'blocked.scannerFailure': {
    smtp: { code: 554, enhanced: '5.7.1', text: 'Rejected: could not be scanned ({reason})' },
    ftp: { code: 550, text: 'Transfer refused: could not be scanned ({reason})' },
  },
  unavailable: {
    smtp: { code: 421, enhanced: '4.3.2', text: 'Service not yet available' },
    ftp: { code: 421, text: 'Service not available' },
  },
  shuttingDown: {
    smtp: { code: 421, enhanced: '4.3.2', text: 'Service shutting down, try again later' },
    ftp: { code: 421, text: 'Service shutting down, try again later' },
  },
  tooManySessions: {
    smtp: { code: 421, enhanced: '4.7.0', text: 'Too many connections, try again later' },
    ftp: { code: 421, text: 'Too many connections, try again later' },
  },
  tooManyFromClient: {
    smtp: { code: 421, enhanced: '4.7.0', text: 'Too many connections from your address, try again later' },
    ftp: { code: 421, text: 'Too many connections from your address, try again later' },
  },
  tooBig: {
    smtp: { code: 552, enhanced: '5.3.4', text: 'Message too big' },
    ftp: { code: 552, text: 'File too big' },
  },
  closing: {
    smtp: { code: 221, enhanced: '2.0.0', text: 'Bye' },
    ftp: { code: 221, text: 'Goodbye' },
  },
  idleTimeout: {
    smtp: { code: 421, enhanced: '4.4.2', text: 'Timeout, closing connection' },
    ftp: { code: 421, text: 'Timeout, closing connection' },
  },
};

export function outcomeFor(action: Action, cls: DecisionClass): Outcome {
  switch (action) {
    // A scanner failure names nothing found: saying "despite" it would read as a finding.
    case 'pass': return cls === 'clean' ? 'clean' : cls === 'scannerFailure' ? 'passedUnscanned' : 'passed';
    case 'block': return cls === 'clean' ? 'blocked.virus' : `blocked.${cls}`;
    case 'quarantine': return 'quarantined';
    case 'strip': return 'stripped';
    case 'replace': return 'replaced';
    case 'tempfail': return 'tempfail';
  }
}

export interface ReplyVars {
  /** Finding names; shown as a list, the first few only. */
  readonly findings?: readonly string[];
  readonly id?: string;
  readonly contact?: string;
  readonly reason?: string;
}

export interface Reply {
  readonly outcome: Outcome;
  readonly smtp: SmtpReply;
  readonly ftp: FtpReply;
}

const MAX_VALUE = 160;
const MAX_TEXT = 400;
const SHOWN_FINDINGS = 4;

function clean(value: string, max: number): string {
  const s = value.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function findingList(names: readonly string[]): string {
  const unique = [...new Set(names)];
  if (unique.length === 0) return 'nothing named';
  const shown = unique.slice(0, SHOWN_FINDINGS).map((n) => clean(n, 80)).join(', ');
  return unique.length > SHOWN_FINDINGS ? `${shown} and ${unique.length - SHOWN_FINDINGS} more` : shown;
}

function fill(template: string, vars: ReplyVars): string {
  const text = template.replace(/\{(findings|id|contact|reason)\}/g, (_, k: string) => {
    switch (k) {
      case 'findings': return findingList(vars.findings ?? []);
      case 'id': return clean(vars.id ?? 'unknown', MAX_VALUE);
      case 'contact': return clean(vars.contact ?? 'your administrator', MAX_VALUE);
      default: return clean(vars.reason ?? 'scanner unavailable', MAX_VALUE);
    }
  });
  return clean(text, MAX_TEXT);
}

export function renderReply(outcome: Outcome, vars: ReplyVars = {}): Reply {
  const row = REPLIES[outcome];
  return {
    outcome,
    smtp: { ...row.smtp, text: fill(row.smtp.text, vars) },
    ftp: { ...row.ftp, text: fill(row.ftp.text, vars) },
  };
}

/** "554 5.7.1 text" — one line, without CRLF. */
export function smtpLine(r: SmtpReply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}

/** "550 text" — one line, without CRLF. */
export function ftpLine(r: FtpReply): string {
  return `${r.code} ${r.text}`;
}

/**
 * FTP protocol replies (RFC 959 §4.2, RFC 2428): the FTP proxy's own answers
 * that are not the outcome of an inspection. Templates take {name} values
 * that are cleaned like the rows above.
 */
export const FTP_REPLIES = {
  greeting: { code: 220, text: 'portcullis FTP proxy ready; log in as USER name@host[:port]' },
  portOk: { code: 200, text: '{command} command successful' },
  passive: { code: 227, text: 'Entering Passive Mode ({address})' },
  extendedPassive: { code: 229, text: 'Entering Extended Passive Mode (|||{port}|)' },
  features: { code: 211, text: 'End' },
  opening: { code: 150, text: 'Opening data connection for {name}' },
  openingSized: { code: 150, text: 'Opening data connection for {name} ({size} bytes)' },
  readyToReceive: { code: 150, text: 'Ok to send data' },
  progress: { code: 150, text: 'Still working on {name}: {step}, please wait' },
  scanDone: { code: 150, text: 'Checked {name}' },
  aborted: { code: 426, text: 'Connection closed; transfer aborted' },
  abortDone: { code: 226, text: 'Abort successful' },
  noTransfer: { code: 225, text: 'No transfer to abort' },
  restOk: { code: 350, text: 'Restarting at {offset}; send RETR to fetch the file and start there' },
  lineTooLong: { code: 500, text: 'Command line too long' },
  unknownCommand: { code: 500, text: 'Command not understood' },
  badArgument: { code: 501, text: 'Syntax error in parameters or arguments' },
  badDataAddress: { code: 501, text: 'Data connection refused: the address must be yours and the port 1024 or above' },
  notSupported: { code: 502, text: '{command} is not supported by this proxy' },
  badSequence: { code: 503, text: 'Bad sequence of commands' },
  notForParameter: { code: 504, text: '{command} is not supported for that parameter: the proxy cannot inspect it' },
  resumeRefused: { code: 504, text: 'Resuming an upload is refused: a file must be sent whole to be scanned' },
  appendRefused: { code: 550, text: 'Appending is refused: a file must be sent whole to be scanned' },
  notLoggedIn: { code: 530, text: 'Please log in with USER and PASS first' },
  needDestination: { code: 530, text: 'Log in as USER name@host[:port] to name the server' },
  destinationRefused: { code: 530, text: 'Destination refused: {reason}' },
  clientRefused: { code: 421, text: 'Service not available for your address' },
  tooManyCommands: { code: 421, text: 'Too many commands sent ahead of their replies; closing' },
  upstreamUnavailable: { code: 421, text: 'Cannot reach the server: {reason}' },
  noDataChannel: { code: 425, text: 'Use PORT, EPRT, PASV or EPSV first' },
  dataFailed: { code: 425, text: 'Cannot open data connection: {reason}' },
  dataLost: { code: 426, text: 'Data connection lost; transfer aborted' },
  ipv6NeedsEpsv: { code: 522, text: 'PASV cannot name an IPv6 address; use EPSV (1,2)' },
  protocolNotSupported: { code: 522, text: 'Network protocol not supported, use (1,2)' },
} as const satisfies Readonly<Record<string, FtpReply>>;

export type FtpReplyName = keyof typeof FTP_REPLIES;

/** An FTP protocol reply with its {placeholders} filled by cleaned values. */
export function renderFtp(name: FtpReplyName, vars: Readonly<Record<string, string | number>> = {}): FtpReply {
  const row: FtpReply = FTP_REPLIES[name];
  const text = row.text.replace(/\{([a-z]+)\}/g, (_, k: string) => clean(String(vars[k] ?? ''), MAX_VALUE));
  return { code: row.code, text: clean(text, MAX_TEXT) };
}
