/**
 * Quarantine notices (RFC 5322 messages) from the config's templates. A
 * notice goes out with the null sender (`MAIL FROM:<>`, RFC 5321 §4.5.5) so
 * it can never bounce back into a loop; who gets one (recipients, sender,
 * admin) is config.
 *
 * Reads untrusted text: the original Subject and From (decoded from RFC 2047
 * words) and finding names; control characters are removed and values are
 * capped before they reach a header or the text.
 */
import { randomBytes } from 'node:crypto';
import libmime from 'libmime';

export interface NoticeFacts {
  readonly id: string;
  readonly findings: readonly string[];
  readonly contact: string;
  /** The quarantined message's Subject and From as written (may hold RFC 2047 words). */
  readonly subject: string;
  readonly from: string;
}

export interface NoticeTemplates {
  readonly subject: string;
  readonly text: string;
  readonly host: string;
}

function clean(v: string, max: number): string {
  const s = v.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]+/g, ' ').replace(/\r?\n/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

function decoded(v: string): string {
  try {
    return libmime.decodeWords(v);
  } catch {
    return v;
  }
}

export function fillTemplate(template: string, f: NoticeFacts): string {
  const names = [...new Set(f.findings)];
  const vars: Record<string, string> = {
    findings: clean(names.length > 0 ? names.slice(0, 8).join(', ') : 'a policy finding', 400),
    id: clean(f.id, 100),
    contact: clean(f.contact, 200),
    subject: clean(decoded(f.subject), 200),
    from: clean(decoded(f.from), 200),
  };
  return template.replace(/\{(findings|id|contact|subject|from)\}/g, (_, k: string) => vars[k] ?? '');
}

/** The first value of a header in a raw header section (unfolded), '' when absent. */
export function headerOf(head: string, name: string): string {
  const m = new RegExp(`(?:^|\\r?\\n)${name}[ \\t]*:([^\\r\\n]*(?:\\r?\\n[ \\t][^\\r\\n]*)*)`, 'i').exec(head);
  return m === null ? '' : (m[1] ?? '').replace(/\r?\n[ \t]/g, ' ').trim();
}

function encodeHeader(v: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\x20-\x7e]*$/.test(v) ? v : libmime.encodeWords(v, 'Q', 52);
}

/** A complete notice message with CRLF line ends. */
export function buildNotice(to: string, t: NoticeTemplates, f: NoticeFacts): Buffer {
  const subject = fillTemplate(t.subject, f);
  const body = fillTemplate(t.text, f).replace(/\r?\n/g, '\r\n');
  const ascii = /^[\x00-\x7f]*$/.test(body);
  const lines = [
    `From: Mail Delivery System <MAILER-DAEMON@${clean(t.host, 200)}>`,
    `To: <${clean(to, 300)}>`,
    `Subject: ${encodeHeader(clean(subject, 400))}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${clean(t.host, 200)}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    `Content-Type: text/plain; charset=${ascii ? 'us-ascii' : 'utf-8'}`,
    `Content-Transfer-Encoding: ${ascii ? '7bit' : '8bit'}`,
    '',
    body,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}
