/**
 * THE config table: every key of the YAML config file, with its type,
 * default, bounds and one line of documentation, in one place (Postfix's
 * parameter tables are the model). `schema.ts` builds the zod schema from it,
 * `gen-docs.ts` builds docs/CONFIG.md from it, and a test fails when the two
 * drift apart. Limits come from the content walker's own table (LIMIT_ROWS).
 *
 * Adding a key: add one row here, run `npm run docs:config`, commit both.
 */
import { LIMIT_ROWS, type LimitName, type LimitRow } from '../content/limits.js';
import {
  bool, CIDR, DOMAIN, duration, EXTENSION, GLOB, int, LISTEN_ADDRESS, HOST_PORT, list, NAME, number, oneOf, optional,
  PASSWORD_HASH, PATH, PORT_RANGE, section, size, str, switchable, TEXT, TYPE_NAME, type Leaf, type SectionValue,
} from './fields.js';
import { scannerList } from './scanners.js';

// ---- actions: protocol × direction × finding class -------------------------

/** What inspection can find; `scannerFailure` is the absence of an answer. */
export const ACTION_CLASSES = ['virus', 'banned', 'limits', 'encrypted', 'unscannable', 'scannerFailure'] as const;
export type ActionClass = (typeof ACTION_CLASSES)[number];

const CLASS_DOC: Readonly<Record<ActionClass, string>> = {
  virus: 'a signature matched',
  banned: 'a banned name or true type was found (inside archives too)',
  limits: 'a limit was hit, so part of the object went unscanned',
  encrypted: 'an encrypted archive or document could not be opened',
  unscannable: 'a broken or unreadable container',
  scannerFailure: 'a scanner failed or timed out (fail closed: tempfail)',
};

export const MAIL_ACTIONS = ['pass', 'block', 'quarantine', 'strip', 'replace', 'tempfail'] as const;
export const FILE_ACTIONS = ['pass', 'block', 'quarantine', 'tempfail'] as const;
export const UPLOAD_ACTIONS = ['pass', 'block', 'quarantine'] as const;

const TRANSFER_DEFAULTS: Readonly<Record<ActionClass, 'quarantine' | 'block' | 'tempfail'>> = {
  virus: 'quarantine', banned: 'block', limits: 'block', encrypted: 'block', unscannable: 'block', scannerFailure: 'tempfail',
};
const UPLOAD_DEFAULTS: Readonly<Record<ActionClass, (typeof UPLOAD_ACTIONS)[number]>> = {
  virus: 'quarantine', banned: 'quarantine', limits: 'block', encrypted: 'block', unscannable: 'block', scannerFailure: 'block',
};

function actionRows<const V extends string>(values: readonly V[], defaults: Readonly<Record<ActionClass, V>>, what: string) {
  const rows = {} as { [C in ActionClass]: Leaf<V> };
  for (const c of ACTION_CLASSES) rows[c] = oneOf(values, defaults[c], `Action for ${what} when ${CLASS_DOC[c]}.`);
  return rows;
}

const transferActions = <const V extends string>(values: readonly V[], proto: string) => section(
  `Actions for ${proto} by direction.`,
  {
    inbound: section(`${proto}, inbound.`, actionRows(values, TRANSFER_DEFAULTS as Record<ActionClass, V>, `${proto} inbound`)),
    outbound: section(`${proto}, outbound.`, actionRows(values, TRANSFER_DEFAULTS as Record<ActionClass, V>, `${proto} outbound`)),
  },
);

// ---- limits, from the content walker's own table --------------------------

function limitLeaf(row: LimitRow): Leaf<number> {
  const range = { min: row.min, max: row.max };
  switch (row.unit) {
    case 'bytes': return size(row.default, range, row.doc);
    case 'ms': return duration(row.default, range, row.doc);
    case 'count': return int(row.default, range, row.doc);
    case 'ratio': return number(row.default, range, row.doc);
  }
}

const limitFields = Object.fromEntries(LIMIT_ROWS.map((r) => [r.name, limitLeaf(r)])) as { readonly [K in LimitName]: Leaf<number> };

// ---- the table -------------------------------------------------------------

const MB = 1024 * 1024;
const GB = 1024 * MB;
const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const DAY = 24 * H;

export const DEFAULT_PROTECTED_NETWORKS = [
  '127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '::1/128', 'fc00::/7', 'fe80::/10',
] as const;

export const DEFAULT_SKIP_EXTENSIONS = ['txt', 'gif', 'bmp', 'pcx', 'jpg', 'jpeg', 'png', 'tif', 'tiff', 'wav', 'mp3', 'mp4', 'avi', 'mov'] as const;
export const DEFAULT_ALWAYS_SCAN_EXTENSIONS = [
  'exe', 'com', 'dll', 'scr', 'pif', 'bat', 'cmd', 'cpl', 'msi', 'vbs', 'js', 'jse', 'wsf', 'hta', 'ps1', 'jar', 'lnk',
  'zip', 'rar', '7z', 'gz', 'tgz', 'bz2', 'xz', 'tar', 'cab', 'arj', 'iso',
  'doc', 'docm', 'docx', 'xls', 'xlsm', 'xlsx', 'ppt', 'pptm', 'pptx', 'rtf', 'pdf', 'htm', 'html', 'eml', 'msg',
] as const;

const sessionLimits = (proto: string, maxSessions: number, perClient: number, idle: number) => ({
  maxSessions: int(maxSessions, { min: 1, max: 100_000 }, `Most ${proto} sessions open at once; more are refused with a temporary error.`),
  maxSessionsPerClient: int(perClient, { min: 1, max: 100_000 }, `Most ${proto} sessions open at once from one client address.`),
  idleTimeout: duration(idle, { min: S, max: 24 * H }, `Close a ${proto} session idle this long.`),
  proxyProtocol: bool(false, `Expect a PROXY protocol v1/v2 header (HAProxy) on each ${proto} connection, for use behind a TCP load balancer.`),
});

export const CONFIG_TABLE = section('The portcullis config file.', {
  data: str(PATH, './var', 'Data folder: the SQLite database (events, quarantine index) and the quarantine files.'),
  drainTimeout: duration(30 * S, { min: 0, max: H }, 'On SIGTERM/SIGINT, how long to wait for open sessions to finish before exiting.'),
  user: optional(str(NAME, '', 'After binding its ports, a root process switches to this user and hands it the data folder (the config file and signature databases must stay readable to it for reloads); none: keep running as is.')),
  group: optional(str(NAME, '', "After binding its ports, a root process switches to this group; none: the user's primary group.")),
  log: section('Structured JSON logs on stdout (see docs/LOGGING.md).', {
    level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info', 'Least severe level written.'),
  }),
  admin: switchable('Admin web UI and JSON API; false switches it off.', {
    listen: str(LISTEN_ADDRESS, '127.0.0.1:8025', 'Address of the admin UI and API (keep it on loopback or a management network).'),
    passwordHash: optional(str(PASSWORD_HASH, '', 'Admin password hash "scrypt$N$r$p$salt$hash" (make one with: portcullis passwd, password on stdin); none: a one-time password is logged at start.')),
    sessionIdle: duration(H, { min: MIN, max: 30 * DAY }, 'An admin login idle this long expires.'),
    sessionTimeout: duration(12 * H, { min: MIN, max: 30 * DAY }, 'An admin login expires this long after it began, idle or not.'),
    metricsToken: optional(str(TEXT, '', 'Bearer token that /metrics requires; none: /metrics answers loopback clients only.')),
    maxUploadSize: size(100 * MB, { min: 1024, max: 4 * GB }, 'Largest file accepted by "scan a file".'),
  }),
  smtp: switchable('SMTP proxy (before-queue, in front of a real MTA); false switches it off.', {
    listen: str(LISTEN_ADDRESS, '127.0.0.1:10025', 'Address the SMTP proxy listens on.'),
    nextHop: str(HOST_PORT, '127.0.0.1:10026', 'The MTA that receives the scanned mail.'),
    hostname: optional(str(TEXT, '', "Name in the greeting and Received: headers; none: the system's host name.")),
    maxMessageSize: size(50 * MB, { min: 1024, max: 4 * GB }, 'Largest message accepted (announced as SIZE); larger ones are refused with 552 5.3.4.'),
    ...sessionLimits('SMTP', 200, 20, 5 * MIN),
    spoolMemory: size(MB, { min: 0, max: 64 * MB }, 'A message is kept in memory up to this size while it arrives; a larger one spills to a 0600 file in <data>/spool.'),
    maxConcurrentScans: int(2, { min: 1, max: 256 }, 'Most messages scanned at once; the others wait (bounds CPU and scanner connections). A message waiting for engine.scanMemory holds no slot, so small mail flows past big mail.'),
    maxRecipients: int(1000, { min: 1, max: 100_000 }, 'Most RCPT TO per message; more get 452 4.5.3.'),
    maxErrors: int(20, { min: 1, max: 1000 }, 'Error replies (4xx/5xx) in one session before it is closed with 421 (like Postfix smtpd_hard_error_limit).'),
    maxLineLength: size(32 * 1024, { min: 1000, max: 16 * MB }, 'Longest line (without CRLF) in a message; a longer one refuses the message with 552 5.3.4.'),
    maxHeaderSize: size(MB, { min: 1024, max: 64 * MB }, 'Largest header section of a message; a larger one refuses the message with 552 5.3.4.'),
    bareNewline: oneOf(['reject', 'normalise'], 'reject', 'A bare LF (or CR) in DATA: reject the message with 554 5.5.2 (like Postfix smtpd_forbid_bare_newline), or normalise it to CRLF before scanning and forwarding.'),
    nextHopTimeout: duration(5 * MIN, { min: S, max: H }, 'How long to wait for each reply of the next hop (the final reply to the message included).'),
    nextHopConnectTimeout: duration(30 * S, { min: S, max: 10 * MIN }, 'How long to wait for the next hop to accept the connection and greet.'),
    nextHopTls: oneOf(['off', 'opportunistic', 'required'], 'off', 'STARTTLS to the next hop: off; opportunistic (when offered, certificate not checked); required (refuse mail with 451 4.7.5 if the next hop does not offer it).'),
    xforward: bool(true, 'Send XFORWARD (client address, name, HELO) to the next hop when it offers it, so its logs and checks see the real client.'),
    xclient: oneOf(['off', 'fallback', 'prefer'], 'fallback', 'XCLIENT to the next hop (its access rules then see the real client, not portcullis): off; fallback (when it offers XCLIENT but not XFORWARD, or xforward is false); prefer (whenever it offers XCLIENT).'),
    trustedProxyClients: list(CIDR, [], 'Client addresses or blocks allowed to send XCLIENT/XFORWARD to portcullis (e.g. the front MTA); XCLIENT/XFORWARD are not offered to others and are refused with 550 5.7.0.'),
    proxyProtocolFrom: list(CIDR, [], 'With proxyProtocol: the load balancers that may send the PROXY header; a connection from any other address is closed. Empty: any peer (then keep the port reachable from the load balancer only).'),
    proxyProtocolTimeout: duration(10 * S, { min: S, max: 5 * MIN }, 'With proxyProtocol: a connection whose PROXY header has not arrived this long after connecting is closed.'),
    tlsCert: optional(str(PATH, '', 'PEM certificate (chain) for STARTTLS from clients; none: STARTTLS is not offered.')),
    tlsKey: optional(str(PATH, '', 'PEM private key for tlsCert.')),
    blockReply: oneOf(['reject', 'discard'], 'reject', 'What the "block" action answers: reject (554 5.7.1 naming what was found), or discard (250, the message is dropped and logged).'),
    quarantineReply: oneOf(['reject', 'accept'], 'reject', 'What a quarantined message is answered: reject (554 5.7.1 with the quarantine id) or accept (250; recipients get the notice).'),
    subjectTag: optional(str(TEXT, '', 'Prefix put on the Subject of a message delivered despite findings (pass, strip, replace), e.g. "[VIRUS]"; none: the Subject is untouched.')),
    notifyRecipients: bool(true, 'Send each recipient of a quarantined message a notice with the quarantine id (null sender, through the next hop).'),
    notifySender: bool(false, 'Also send the envelope sender of a quarantined message a notice (off by default: senders of viruses are forged).'),
    notifyAdmin: optional(str(TEXT, '', 'Address that gets a copy of every quarantine notice; none: no admin notice.')),
    noticeSubject: str(TEXT, 'Message quarantined: {findings}', 'Subject of a quarantine notice; {findings}, {id}, {contact}, {subject}, {from} are filled in.'),
    noticeText: str(TEXT, 'A message to you from {from} with subject "{subject}" was quarantined because it contains: {findings}.\n\nIts quarantine id is {id}. To ask for it, write to {contact} and quote the id.', 'Body of a quarantine notice (plain text); same placeholders as noticeSubject.'),
  }),
  ftp: switchable('FTP proxy; false switches it off.', {
    listen: str(LISTEN_ADDRESS, '127.0.0.1:2121', 'Address the FTP proxy listens on.'),
    upstream: optional(str(HOST_PORT, '', 'The one FTP server behind the proxy; none: gateway mode, the client names the server as USER name@host[:port].')),
    maxTransferSize: size(4 * GB, { min: 1024, max: 1024 * GB }, 'Largest file spooled for scanning; a larger transfer is refused.'),
    passivePorts: optional(str(PORT_RANGE, '', 'Ports the proxy opens for passive data connections to clients; none: any free port.')),
    passiveAddress: optional(str(TEXT, '', 'Address announced to clients in PASV replies (behind NAT); none: the control connection\'s local address.')),
    upstreamDataMode: oneOf(['passive', 'active'], 'passive', 'How the proxy opens data connections to the server: passive (EPSV, falling back to PASV when the server answers 500/502) or active (PORT/EPRT).'),
    foreignPassiveAddress: oneOf(['replace', 'refuse'], 'replace', 'A server PASV reply naming an address other than the server\'s own: replace it by the control connection\'s address, or refuse the transfer (425).'),
    resumeUploads: oneOf(['refuse', 'scan'], 'refuse', 'REST before STOR, and APPE: refuse (504/550), or scan the part sent on its own and pass the command on (a signature split across two uploads is then missed).'),
    allowClients: list(CIDR, [], 'Client networks allowed to use the FTP proxy; empty: every client.'),
    denyClients: list(CIDR, [], 'Client networks refused (checked before allowClients).'),
    allowDestinations: list(CIDR, [], 'Gateway mode: server addresses a client may name in USER name@host; empty: every address.'),
    denyDestinations: list(CIDR, [], 'Gateway mode: server addresses refused (checked before allowDestinations); the proxy itself is always refused.'),
    keepaliveInterval: duration(10 * S, { min: S, max: 10 * MIN }, 'While a held file is received and scanned, tell the client at most this often: a "150-" progress line (downloads), a "226-" continuation line of the pending reply (uploads, with a NOOP to the server).'),
    dataTimeout: duration(30 * S, { min: S, max: H }, 'Longest wait for a data connection (client or server side) or for data on one; then 425/426.'),
    upstreamTimeout: duration(60 * S, { min: S, max: H }, 'Longest wait for the server to connect or answer a command.'),
    proxyProtocolFrom: list(CIDR, [], 'With proxyProtocol: the load balancers that may send the PROXY header; a control connection from any other address is closed. Empty: any peer (then keep the port reachable from the load balancer only).'),
    proxyProtocolTimeout: duration(10 * S, { min: S, max: 5 * MIN }, 'With proxyProtocol: a control connection whose PROXY header has not arrived this long after connecting is closed. Data connections carry no header: they must come from (passive) or go to (PORT/EPRT) the address the header named.'),
    ...sessionLimits('FTP', 100, 10, 15 * MIN),
  }),
  engine: section('The built-in signature engine.', {
    databases: list(PATH, [], 'ClamAV database files or folders (.cvd .cld .hdb .ndb .ldb …) loaded in addition to the built-in signatures.'),
    builtinSignatures: bool(true, 'Load the small built-in database (EICAR and test signatures).'),
    scanMemory: size(32 * MB, { min: MB, max: 4 * GB }, 'Most bytes of objects inspected at once, all sessions and protocols together (scanning costs a few times an object\'s size in memory); a bigger object waits its turn and then runs alone, objects up to 1/16 of this have a lane of their own (1/4 of this) so they never wait behind big ones. Objects above limits.MaxFileSize are streamed and not counted.'),
    scanWorkers: int(0, { min: 0, max: 64 }, 'Worker threads that run the builtin scanner, so scanning uses more than the one core the proxies run on; 0 scans on the main thread. Each worker compiles its own copy of the databases: N workers cost N times the database\'s memory (and load time, in parallel) more.'),
  }),
  scanners: scannerList([{ kind: 'builtin' }], 'Scanners run on each object: builtin, { clamd: "host:port" or "/socket", streamMaxLength: 25M }, { command: ["prog", "{}"] or "prog {}" }; infected if any finds something.'),
  limits: section('Content walker limits; hitting one is the finding Heuristics.Limits.Exceeded.<Name> (class "limits").', limitFields),
  policy: section('What is scanned and what follows from the findings.', {
    protectedNetworks: list(CIDR, [...DEFAULT_PROTECTED_NETWORKS], 'The networks portcullis protects (IPv4/IPv6 CIDR); they decide inbound vs outbound.'),
    localDomains: list(DOMAIN, [], 'Mail domains delivered locally ("example.org"; ".example.org" for its subdomains); mail from a protected client to other domains is outbound.'),
    scanAll: bool(true, 'Scan every object; false lets skipExtensions skip objects whose name and true type are harmless.'),
    skipExtensions: list(EXTENSION, [...DEFAULT_SKIP_EXTENSIONS], 'With scanAll false: extensions not scanned, unless the true type is an executable, archive or document.'),
    alwaysScanExtensions: list(EXTENSION, [...DEFAULT_ALWAYS_SCAN_EXTENSIONS], 'With scanAll false: extensions always scanned.'),
    bannedNames: list(GLOB, [], 'Banned file names, case-insensitive patterns with * and ? (e.g. "*.scr", "*.pdf.exe"); checked inside archives too.'),
    bannedTypes: list(TYPE_NAME, [], 'Banned true types (e.g. "pe", "elf", "macho", "ole2"), whatever the name says; checked inside archives too.'),
    actions: section('Action per protocol, direction and finding class.', {
      smtp: transferActions(MAIL_ACTIONS, 'SMTP'),
      ftp: transferActions(FILE_ACTIONS, 'FTP'),
      upload: section('Admin UI "scan a file".', actionRows(UPLOAD_ACTIONS, UPLOAD_DEFAULTS, 'an admin upload')),
    }),
  }),
  quarantine: section('Quarantined objects (under <data>/quarantine).', {
    contact: str(TEXT, 'your administrator', 'Whom users are told to ask for a quarantined object (in FTP replies and mail notices), e.g. "postmaster@example.org".'),
    maxAge: duration(30 * DAY, { min: 0, max: 3650 * DAY }, 'Quarantined objects older than this are deleted; 0 keeps them forever.'),
    maxSize: size(GB, { min: 0, max: 1024 ** 4 * 64 }, 'Total size kept; the oldest objects go first; 0 means no cap.'),
  }),
  events: section('The event log (every inspection, clean ones too).', {
    maxAge: duration(90 * DAY, { min: 0, max: 3650 * DAY }, 'Events older than this are deleted; 0 keeps them forever.'),
    maxRows: int(1_000_000, { min: 0, max: 1_000_000_000 }, 'Most events kept; the oldest go first; 0 means no cap.'),
  }),
});

/**
 * Keys read only at start (a reload that changes them logs that a restart is
 * needed): what is bound, opened or switched at start cannot change under
 * running sessions. A key listed covers every key below it.
 */
export const START_ONLY_KEYS = [
  'data', 'user', 'group', 'admin', 'smtp.listen', 'smtp.proxyProtocol', 'ftp.listen', 'ftp.proxyProtocol',
  'quarantine.maxAge', 'quarantine.maxSize', 'events',
] as const;

export type Config = SectionValue<typeof CONFIG_TABLE.fields>;
export type SmtpConfig = Exclude<Config['smtp'], false>;
export type FtpConfig = Exclude<Config['ftp'], false>;
export type AdminConfig = Exclude<Config['admin'], false>;
export type PolicyConfig = Config['policy'];
export type ActionsConfig = PolicyConfig['actions'];
