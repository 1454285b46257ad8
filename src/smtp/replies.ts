/**
 * The SMTP proxy's own outcomes, as data (STYLE.md principle 5), beside the
 * policy's table (src/policy/replies.ts) which covers everything an
 * inspection can lead to: here are the outcomes only the SMTP protocol has —
 * the next hop failing, a message broken on the wire, an accepted discard.
 * Codes follow RFC 5321 §4.2 and RFC 3463; texts follow Postfix's where
 * Postfix has the same case.
 */
import { reply, type Reply } from './reply.js';

export type SmtpOutcome =
  | 'nextHopUnavailable' | 'nextHopFailed' | 'nextHopTlsRequired'
  | 'bareNewline' | 'lineTooLong' | 'headerTooBig' | 'messageTooBig'
  | 'discarded' | 'quarantinedAccepted' | 'tooManyErrors' | 'localError'
  | 'nextHopIdentityRefused' | 'notAuthorized';

interface Row { readonly code: number; readonly enhanced: string; readonly text: string }

export const SMTP_REPLIES: Readonly<Record<SmtpOutcome, Row>> = {
  nextHopUnavailable: { code: 421, enhanced: '4.4.1', text: 'Next hop unavailable, try again later' },
  nextHopFailed: { code: 451, enhanced: '4.4.2', text: 'Next hop failed during the transaction, try again later' },
  nextHopTlsRequired: { code: 451, enhanced: '4.7.5', text: 'Next hop does not offer the required TLS, try again later' },
  bareNewline: { code: 554, enhanced: '5.5.2', text: 'Message refused: bare <LF> or <CR> received (RFC 5321 §2.3.8)' },
  lineTooLong: { code: 552, enhanced: '5.3.4', text: 'Message refused: a line is longer than {limit} bytes' },
  headerTooBig: { code: 552, enhanced: '5.3.4', text: 'Message refused: header section larger than {limit} bytes' },
  messageTooBig: { code: 552, enhanced: '5.3.4', text: 'Message size exceeds fixed limit of {limit} bytes' },
  discarded: { code: 250, enhanced: '2.0.0', text: 'Ok: message dropped: {findings}' },
  quarantinedAccepted: { code: 250, enhanced: '2.0.0', text: 'Ok: message quarantined as {id}: {findings}' },
  tooManyErrors: { code: 421, enhanced: '4.7.0', text: 'Too many errors, closing connection' },
  localError: { code: 451, enhanced: '4.3.0', text: 'Local error in processing, try again later' },
  nextHopIdentityRefused: { code: 451, enhanced: '4.7.0', text: 'Next hop refused XCLIENT for this client, try again later' },
  notAuthorized: { code: 550, enhanced: '5.7.0', text: 'Error: insufficient authorization' },
};

/** Values are untrusted (signature names, ids): control characters removed, each capped. */
function value(v: string): string {
  const s = v.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

export function smtpReply(outcome: SmtpOutcome, vars: Readonly<Record<string, string | number>> = {}): Reply {
  const row = SMTP_REPLIES[outcome];
  const text = row.text.replace(/\{(\w+)\}/g, (_, k: string) => value(String(vars[k] ?? '')));
  return reply(row.code, row.enhanced, text);
}
