/**
 * One FTP proxy session (RFC 959, RFC 2428, RFC 2389 FEAT, RFC 3659 REST/
 * MLSD): an explicit state machine whose commands come from one table (verb,
 * states allowed in, handler). The session owns both data channels:
 *
 * - client side: PASV/EPSV (a listener on the passive port range that admits
 *   only the control peer; NAT address from ftp.passiveAddress) or PORT/EPRT
 *   (only to the control peer's own address, port 1024 or above);
 * - server side: EPSV, falling back to PASV after a 500/502 (a 227 naming a
 *   foreign address is replaced or refused by ftp.foreignPassiveAddress), or
 *   active PORT/EPRT (ftp.upstreamDataMode).
 *
 * Listings pass through byte for byte. A file (RETR; STOR, APPE, STOU) is
 * received whole into the spool, inspected (policy, scanners, quarantine),
 * and only then delivered: a download's 150 and data go out after the clean
 * verdict (while it is received and scanned the client sees "150-" progress
 * lines at most every ftp.keepaliveInterval); an upload's STOR reaches the
 * server only after the clean verdict (after a NOOP that proves the server
 * still listens), and the client's 226 only after the server's (while it
 * waits, "226-" continuation lines of that reply keep it alive, and NOOPs
 * the server). A download of known size (the server's 150, or the client's
 * SIZE just before) is scanned as it arrives (Scanner.follow), so the verdict is ready soon after the
 * last byte instead of a whole scan later; it is still held until then.
 * REST+RETR fetches and scans the whole file and sends from the offset. The files
 * not held are those the policy will not scan (their name and the true type
 * of their first 64 KiB say so, and no banned rule applies), downloads and
 * STOR/STOU uploads alike: after that head they stream through, and are
 * recorded when they end. ABOR during a transfer stops it at once: 426 then
 * 226 to the client, ABOR to the server, spool deleted. A client that leaves
 * mid-upload leaves nothing behind: a held upload never reached the server,
 * a streamed one is cut off with a reset and removed with DELE.
 *
 * Commands arriving during a transfer wait their turn (pipelining), except
 * ABOR and QUIT (STAT waits too: its reply could land inside a "150-"
 * progress reply). FEAT is rewritten to what the proxy supports; MODE
 * other than S, OPTS MODE and the TLS commands (FTPS is a later part) are
 * refused.
 *
 * Reads untrusted bytes: client command lines (CommandReader), server
 * replies (ReplyReader), and file data (spooled, never interpreted here).
 */
import { isIP, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FtpConfig } from '../config/table.js';
import type { Inspect, InspectRequest, InspectResult } from '../gateway/inspect.js';
import type { TrackedSession } from '../gateway/listeners.js';
import type { Logger } from '../log.js';
import { renderFtp, renderReply, type FtpReply, type FtpReplyName } from '../policy/replies.js';
import type { FtpTransferCommand } from '../policy/types.js';
import type { FileFollower } from '../scanners/types.js';
import { accessRules, checkDestination, clientAllowed, parseGatewayUser } from './access.js';
import { activeCommand, formatPasv, normaliseAddress, parseEprt, parseEpsvReply, parsePasvReply, parsePort, sameHost } from './addresses.js';
import { CommandReader, formatReply, relayText, replyText, splitCommand, type CommandEvent, type ServerReply } from './codec.js';
import { ActiveEndpoint, ChunkReader, DataError, parsePortRange, PassiveEndpoint, readIntoReusedBuffer, type DataEndpoint } from './data.js';
import { detectType } from '../content/filetype.js';
import { Spool, SpoolError } from './spool.js';
import { Upstream, UpstreamError } from './upstream.js';

/** The head inspect() reads for the true type (src/gateway/inspect.ts); the skip decision reads the same bytes. */
const HEAD_BYTES = 64 * 1024;
/** RFC 959 leaves line length open; 2 KiB is far beyond any real path and bounds memory. */
export const MAX_COMMAND_LINE = 2048;
/** Commands a client may send ahead of their replies (pipelining) before the session is closed. */
const MAX_QUEUED = 100;
/** How long the server gets to answer an ABOR before the session gives up on it. */
const ABORT_REPLY_TIMEOUT = 5000;

type State =
  | { readonly kind: 'greeting' }
  | { readonly kind: 'needUser' }
  | { readonly kind: 'login' }
  | { readonly kind: 'ready' }
  | { readonly kind: 'transfer'; readonly verb: string; readonly abort: AbortController }
  | { readonly kind: 'closed' };
type StateKind = State['kind'];

type Handler = (s: FtpSession, arg: string, line: string) => Promise<void>;
interface CommandRow {
  readonly states: readonly StateKind[];
  readonly handler: Handler;
}

const CONNECTED: readonly StateKind[] = ['login', 'ready'];
const READY: readonly StateKind[] = ['ready'];
const ANY: readonly StateKind[] = ['needUser', 'login', 'ready'];

const COMMANDS: Readonly<Record<string, CommandRow>> = {
  USER: { states: ANY, handler: (s, arg, line) => s.user(arg, line) },
  PASS: { states: CONNECTED, handler: (s, _a, line) => s.login(line) },
  ACCT: { states: CONNECTED, handler: (s, _a, line) => s.login(line) },
  QUIT: { states: ANY, handler: (s) => s.quit() },
  FEAT: { states: CONNECTED, handler: (s) => s.feat() },
  MODE: { states: CONNECTED, handler: (s, arg, line) => (arg.trim().toUpperCase() === 'S' ? s.relay(line) : s.reply('notForParameter', { command: 'MODE' })) },
  STRU: { states: CONNECTED, handler: (s, arg, line) => (arg.trim().toUpperCase() === 'F' ? s.relay(line) : s.reply('notForParameter', { command: 'STRU' })) },
  OPTS: { states: CONNECTED, handler: (s, arg, line) => (/^MODE\b/i.test(arg.trim()) ? s.reply('notForParameter', { command: 'OPTS MODE' }) : s.relay(line)) },
  AUTH: { states: ANY, handler: (s) => s.reply('notSupported', { command: 'AUTH' }) },
  PBSZ: { states: ANY, handler: (s) => s.reply('notSupported', { command: 'PBSZ' }) },
  PROT: { states: ANY, handler: (s) => s.reply('notSupported', { command: 'PROT' }) },
  CCC: { states: ANY, handler: (s) => s.reply('notSupported', { command: 'CCC' }) },
  REIN: { states: ANY, handler: (s) => s.reply('notSupported', { command: 'REIN' }) },
  LPRT: { states: ANY, handler: (s) => s.reply('notSupported', { command: 'LPRT' }) },
  LPSV: { states: ANY, handler: (s) => s.reply('notSupported', { command: 'LPSV' }) },
  PASV: { states: READY, handler: (s) => s.passive(false, '') },
  EPSV: { states: READY, handler: (s, arg) => s.passive(true, arg) },
  PORT: { states: READY, handler: (s, arg) => s.active('PORT', arg) },
  EPRT: { states: READY, handler: (s, arg) => s.active('EPRT', arg) },
  REST: { states: READY, handler: (s, arg) => s.rest(arg) },
  LIST: { states: READY, handler: (s, _a, line) => s.listing(line) },
  NLST: { states: READY, handler: (s, _a, line) => s.listing(line) },
  MLSD: { states: READY, handler: (s, _a, line) => s.listing(line) },
  SIZE: { states: CONNECTED, handler: (s, arg, line) => s.size(arg, line) },
  RETR: { states: READY, handler: (s, arg) => s.download(arg) },
  STOR: { states: READY, handler: (s, arg) => s.upload('STOR', arg) },
  APPE: { states: READY, handler: (s, arg) => s.upload('APPE', arg) },
  STOU: { states: READY, handler: (s, arg) => s.upload('STOU', arg) },
  ABOR: { states: READY, handler: (s, _a, line) => s.idleAbort(line) },
};

/** Verbs handled at once even while a transfer runs. */
const URGENT = new Set(['ABOR', 'QUIT']);

/** FEAT lines the proxy passes on when the server has them; EPSV and EPRT it always offers (it does them itself). */
const FEATURES = ['REST STREAM', 'SIZE', 'MDTM', 'MLST', 'UTF8', 'TVFS'];

export interface SessionContext {
  readonly tracked: TrackedSession;
  readonly inspect: Inspect;
  readonly log: Logger;
  /** The proxy's own listening port (loop protection in gateway mode). */
  readonly selfPort: number;
  /** Folder for spool files. */
  readonly spoolDir: string;
  /**
   * Who the client is when a PROXY header said so (ftp.proxyProtocol); none:
   * the control connection's peer. Access lists, direction, logs, and the
   * data connections' checks (PORT/EPRT targets, passive connections
   * admitted) all use it.
   */
  readonly client?: { readonly address: string; readonly port: number } | undefined;
}

/** Bytes of a latin1 command argument read as UTF-8, for display and findings. */
function displayName(arg: string): string {
  return Buffer.from(arg, 'latin1').toString('utf8');
}

class Transfer {
  readonly abort = new AbortController();
  spool: Spool | undefined;
  /** Sockets to destroy when the transfer ends or is aborted. */
  readonly sockets = new Set<Socket>();
  readonly endpoints = new Set<DataEndpoint>();
  /** Replies the server still owes for commands of this transfer. */
  upstreamOwed = 0;
  /** A "150-" multi-line reply was begun and must be finished before any other reply. */
  keepaliveOpen = false;
  keepaliveTimer: NodeJS.Timeout | undefined;
  /** The transfer's last reply, written once its spool is gone. */
  final: { readonly text: string; readonly encoding: BufferEncoding } | undefined;
  step: 'receiving' | 'scanning' | 'sending' = 'receiving';
  /** An upload's server data socket while the spooled file is sent on (its byte count is the progress shown). */
  sending: Socket | undefined;
  /** A NOOP the upload keepalive sent to the server, settled when its reply is read. */
  upstreamNoop: Promise<void> = Promise.resolve();
  /** The server has been told about this transfer (so an ABOR goes to it even when the client left). */
  upstreamInvolved = false;
  /** A streamed upload's name on the server (STOU: the one it announced): removed with DELE if the transfer does not finish. */
  partial: string | undefined;
  /** A streamed upload's server data socket: reset, not closed, when the transfer stops, so the server never takes a cut-off file for a whole one. */
  resetOnStop: Socket | undefined;

  /** Settles when the transfer has cleaned up (spool deleted). */
  readonly ended: Promise<void>;
  markEnded: () => void = () => undefined;

  constructor() {
    // Aborting stops every socket at once, so whatever the transfer awaits returns now.
    this.abort.signal.addEventListener('abort', () => this.stop(), { once: true });
    this.ended = new Promise((resolve) => { this.markEnded = resolve; });
  }

  /** Takes a data socket into the transfer: destroyed with it, and when it stays silent for `idleMs` (a stalled peer ends as 426, not a hang). */
  track<T extends Socket>(s: T, idleMs: number): T {
    this.sockets.add(s);
    s.setTimeout(idleMs, () => s.destroy(new Error(`no data for ${idleMs} ms`)));
    if (this.abort.signal.aborted) s.destroy();
    return s;
  }

  stop(): void {
    clearInterval(this.keepaliveTimer);
    const r = this.resetOnStop;
    if (r !== undefined && !r.destroyed) r.resetAndDestroy();
    for (const s of this.sockets) s.destroy();
    for (const e of this.endpoints) e.close();
  }
}

class Aborted extends Error {}

type Followed = NonNullable<InspectRequest['followed']>;

/** The size a 150 reply announces: "150 Opening BINARY mode data connection for f (1234 bytes)." */
function announcedSize(pre: ServerReply): number | undefined {
  const m = /\((\d{1,15}) bytes\)/i.exec(replyText(pre));
  return m === null ? undefined : Number(m[1]);
}

export class FtpSession {
  readonly #socket: Socket;
  readonly #ctx: SessionContext;
  readonly #config: FtpConfig;
  readonly #reader = new CommandReader(MAX_COMMAND_LINE);
  #state: State;
  #upstream: Upstream | undefined;
  #server = '';
  #clientData: DataEndpoint | undefined;
  #restOffset = 0;
  /** The server's answer to the client's last SIZE (curl, lftp and most clients ask before RETR): the size to follow a download by when the 150 names none. */
  #sizeHint: { readonly path: string; readonly size: number } | undefined;
  #noEpsv = false;
  #transfer: Transfer | undefined;
  readonly #queue: CommandEvent[] = [];
  #busy = false;
  #end = 'client-closed';
  #transfers = 0;
  #bytes = 0;
  readonly #closed: Promise<void>;
  #onClosed: () => void = () => undefined;

  constructor(socket: Socket, ctx: SessionContext) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#config = ctx.tracked.snapshot.config.ftp as FtpConfig;
    this.#state = this.#config.upstream === undefined ? { kind: 'needUser' } : { kind: 'greeting' };
    this.#closed = new Promise((resolve) => { this.#onClosed = resolve; });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => { void this.#shutdown(); });
    socket.setTimeout(this.#config.idleTimeout, () => {
      if (this.#state.kind === 'transfer') return;
      this.#end = 'idle-timeout';
      this.#write(this.#row(renderReply('idleTimeout').ftp));
      socket.end();
    });
  }

  /** The client's address: the PROXY header's, or the control connection's peer. */
  get #clientAddress(): string { return this.#ctx.client?.address ?? this.#socket.remoteAddress ?? ''; }
  get #clientPeer(): string { return `${this.#clientAddress}:${this.#ctx.client?.port ?? this.#socket.remotePort ?? 0}`; }

  get end(): string { return this.#end; }
  get server(): string { return this.#server; }
  get transfers(): number { return this.#transfers; }
  get bytes(): number { return this.#bytes; }
  closed(): Promise<void> { return this.#closed; }

  /** Says hello: our greeting in gateway mode, the server's in fixed mode. */
  async start(): Promise<void> {
    if (!clientAllowed(accessRules(this.#config), this.#clientAddress)) {
      this.#end = 'refused';
      this.#write(this.#ftp('clientRefused'));
      this.#socket.end();
      return;
    }
    const fixed = this.#config.upstream;
    if (fixed === undefined) {
      this.#write(this.#ftp('greeting'));
      return;
    }
    const m = /^\[?(.*?)\]?:(\d+)$/.exec(fixed);
    try {
      const greeting = await this.#connect(m?.[1] ?? fixed, Number(m?.[2] ?? 21));
      this.#write(relayText(greeting), 'latin1');
      this.#state = greeting.code === 220 ? { kind: 'login' } : { kind: 'closed' };
      if (greeting.code !== 220) this.#socket.end();
    } catch (err) {
      this.#end = 'error';
      this.#write(this.#ftp('upstreamUnavailable', { reason: err instanceof Error ? err.message : String(err) }));
      this.#socket.end();
    }
    this.#pump();
  }

  /** Drain: say goodbye before the gateway closes the socket. */
  goodbye(): void {
    this.#end = 'drained';
    this.#write(this.#row(renderReply('shuttingDown').ftp));
  }

  async #connect(host: string, port: number): Promise<ServerReply> {
    const up = await Upstream.open(host, port, this.#config.upstreamTimeout);
    this.#upstream = up;
    this.#server = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    up.socket.on('close', () => {
      if (this.#upstream === up && this.#state.kind !== 'closed' && this.#state.kind !== 'transfer' && !this.#busy) {
        this.#end = 'server-closed';
        this.#write(this.#ftp('upstreamUnavailable', { reason: 'the server closed the connection' }));
        this.#socket.end();
      }
    });
    let greeting = await up.read();
    while (greeting.code >= 100 && greeting.code < 200) greeting = await up.read();
    return greeting;
  }

  // ---- wire -------------------------------------------------------------

  #write(text: string, encoding: BufferEncoding = 'utf8'): void {
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(text, encoding);
  }

  #row(r: FtpReply, before: readonly string[] = []): string {
    return formatReply(r.code, r.text, before);
  }

  #ftp(name: FtpReplyName, vars: Readonly<Record<string, string | number>> = {}): string {
    return this.#row(renderFtp(name, vars));
  }

  /** Handlers' way to answer with a protocol reply. */
  async reply(name: FtpReplyName, vars: Readonly<Record<string, string | number>> = {}): Promise<void> {
    this.#write(this.#ftp(name, vars));
  }

  #onData(chunk: Buffer): void {
    for (const ev of this.#reader.feed(chunk)) {
      const t = this.#transfer;
      if (ev.kind === 'line' && t !== undefined) {
        const { verb } = splitCommand(ev.line);
        if (URGENT.has(verb)) { this.#urgent(verb, ev, t); continue; }
      }
      this.#queue.push(ev);
      if (this.#queue.length > MAX_QUEUED) {
        // A client that sends without reading would grow the queue without end.
        this.#end = 'error';
        this.#queue.length = 0;
        this.#write(this.#ftp('tooManyCommands'));
        this.#socket.end();
        this.#socket.pause();
        return;
      }
    }
    this.#pump();
  }

  #urgent(verb: string, line: CommandEvent, t: Transfer): void {
    if (verb === 'QUIT') this.#queue.push(line);
    t.abort.abort(verb === 'ABOR' ? 'abor' : 'quit');
  }

  #pump(): void {
    if (this.#busy || this.#state.kind === 'greeting' || this.#state.kind === 'closed') return;
    const ev = this.#queue.shift();
    if (ev === undefined) return;
    this.#busy = true;
    void this.#dispatch(ev).finally(() => {
      this.#busy = false;
      this.#pump();
    });
  }

  async #dispatch(ev: CommandEvent): Promise<void> {
    if (ev.kind === 'tooLong') { this.#write(this.#ftp('lineTooLong')); return; }
    const line = ev.line;
    const { verb, arg } = splitCommand(line);
    const row = COMMANDS[verb];
    const kind = this.#state.kind;
    try {
      if (row === undefined) {
        if (verb === '' || !/^[A-Z]{3,4}$/.test(verb)) { this.#write(this.#ftp('unknownCommand')); return; }
        if (kind === 'needUser') { this.#write(this.#ftp('needDestination')); return; }
        await this.relay(line);
        return;
      }
      if (!row.states.includes(kind)) {
        this.#write(this.#ftp(kind === 'needUser' ? 'needDestination' : kind === 'login' ? 'notLoggedIn' : 'badSequence'));
        return;
      }
      await row.handler(this, arg, line);
    } catch (err) {
      this.#failed(err);
    }
  }

  #failed(err: unknown): void {
    if (err instanceof UpstreamError || (this.#upstream !== undefined && !this.#upstream.alive)) {
      this.#end = 'server-error';
      this.#write(this.#ftp('upstreamUnavailable', { reason: err instanceof Error ? err.message : String(err) }));
      this.#socket.end();
      this.#state = { kind: 'closed' };
      return;
    }
    this.#ctx.log.error({ err, sessionId: this.#ctx.tracked.id }, 'ftp command failed');
    this.#write(this.#row(renderReply('tempfail', { reason: err instanceof SpoolError ? 'the gateway could not store the file' : 'internal error' }).ftp));
  }

  #up(): Upstream {
    const u = this.#upstream;
    if (u === undefined || !u.alive) throw new UpstreamError('Cannot talk to the server: not connected');
    return u;
  }

  // ---- commands ---------------------------------------------------------

  /** Relays a command and its reply unchanged. */
  async relay(line: string): Promise<void> {
    const r = await this.#up().command(line);
    this.#write(relayText(r), 'latin1');
  }

  /** Relays SIZE and keeps the answer as a hint for a RETR of the same path (only a hint: a wrong one costs a second scan, never a verdict). */
  async size(arg: string, line: string): Promise<void> {
    const r = await this.#up().command(line);
    const m = r.code === 213 ? /^(\d{1,15})\s*$/.exec(replyText(r)) : null;
    this.#sizeHint = m === null ? undefined : { path: arg, size: Number(m[1]) };
    this.#write(relayText(r), 'latin1');
  }

  async user(arg: string, line: string): Promise<void> {
    if (this.#config.upstream !== undefined || this.#upstream !== undefined) {
      if (this.#config.upstream === undefined) { this.#write(this.#ftp('badSequence')); return; }
      const r = await this.#up().command(line);
      this.#afterLogin(r);
      this.#write(relayText(r), 'latin1');
      return;
    }
    const dest = parseGatewayUser(arg);
    if (dest === undefined) { this.#write(this.#ftp('needDestination')); return; }
    const check = await checkDestination(accessRules(this.#config), dest, this.#ctx.selfPort);
    if (!check.ok) { this.#write(this.#ftp('destinationRefused', { reason: check.reason })); return; }
    let greeting: ServerReply;
    try {
      greeting = await this.#connect(check.address, dest.port);
    } catch (err) {
      this.#dropUpstream();
      this.#write(this.#ftp('upstreamUnavailable', { reason: err instanceof Error ? err.message : String(err) }));
      return;
    }
    if (greeting.code !== 220) {
      this.#write(relayText(greeting), 'latin1');
      this.#dropUpstream();
      return;
    }
    this.#state = { kind: 'login' };
    const r = await this.#up().command(`USER ${dest.user}`);
    this.#afterLogin(r);
    this.#write(relayText(r), 'latin1');
  }

  #dropUpstream(): void {
    const up: Upstream | undefined = this.#upstream;
    this.#upstream = undefined;
    up?.close();
  }

  #afterLogin(r: ServerReply): void {
    if (r.code === 230) this.#state = { kind: 'ready' };
    else if (r.code === 331 || r.code === 332) this.#state = { kind: 'login' };
  }

  async login(line: string): Promise<void> {
    const r = await this.#up().command(line);
    this.#afterLogin(r);
    this.#write(relayText(r), 'latin1');
  }

  async quit(): Promise<void> {
    this.#end = 'quit';
    const up = this.#upstream;
    let text = this.#row(renderReply('closing').ftp);
    if (up !== undefined && up.alive) {
      try {
        const r = await up.command('QUIT', 5000);
        text = relayText(r);
      } catch { /* the server went first; our own goodbye will do */ }
    }
    this.#write(text, 'latin1');
    this.#state = { kind: 'closed' };
    this.#socket.end();
  }

  async feat(): Promise<void> {
    const r = await this.#up().command('FEAT');
    const have = new Set<string>();
    if (r.code === 211) {
      for (const l of r.lines.slice(1, -1)) {
        const f = l.trim().toUpperCase();
        for (const want of FEATURES) if (f === want || f.startsWith(`${want} `)) have.add(want === 'MLST' ? l.trim() : want);
      }
    }
    const lines = ['EPRT', 'EPSV', 'PASV', ...[...have].sort()];
    // RFC 2389 §3.2: feature lines start with a space and carry no code, so formatReply cannot build this one.
    const end = renderFtp('features');
    this.#write(`${end.code}-Features:\r\n${lines.map((l) => ` ${l}\r\n`).join('')}${end.code} ${end.text}\r\n`, 'latin1');
  }

  async rest(arg: string): Promise<void> {
    if (!/^\d{1,15}$/.test(arg.trim())) { this.#write(this.#ftp('badArgument')); return; }
    this.#restOffset = Number(arg.trim());
    this.#write(this.#ftp('restOk', { offset: this.#restOffset }));
  }

  async idleAbort(line: string): Promise<void> {
    this.#clientData?.close();
    this.#clientData = undefined;
    await this.relay(line);
  }

  // ---- client-side data channel -----------------------------------------

  #setClientData(e: DataEndpoint | undefined): void {
    this.#clientData?.close();
    this.#clientData = e;
  }

  async passive(extended: boolean, arg: string): Promise<void> {
    const local = this.#socket.localAddress ?? '';
    const peer = this.#clientAddress;
    const a = arg.trim().toUpperCase();
    if (extended && a === 'ALL') { this.#write(this.#ftp('portOk', { command: 'EPSV ALL' })); return; }
    const v6 = isIP(normaliseAddress(local)) === 6;
    if (extended && a !== '' && !((a === '1' && !v6) || (a === '2' && v6))) { this.#write(this.#ftp('protocolNotSupported')); return; }
    const announce = this.#config.passiveAddress ?? normaliseAddress(local);
    if (!extended && isIP(announce) !== 4) { this.#write(this.#ftp('ipv6NeedsEpsv')); return; }
    this.#setClientData(undefined);
    let ep: PassiveEndpoint;
    try {
      ep = await PassiveEndpoint.listen({
        host: local, ports: parsePortRange(this.#config.passivePorts), peer, timeoutMs: this.#config.dataTimeout,
        onForeign: (from) => this.#ctx.log.warn({ sessionId: this.#ctx.tracked.id, from, expected: peer }, 'ftp data connection from a foreign address refused'),
      });
    } catch (err) {
      this.#write(this.#ftp('dataFailed', { reason: err instanceof Error ? err.message : String(err) }));
      return;
    }
    this.#clientData = ep;
    this.#write(extended ? this.#ftp('extendedPassive', { port: ep.port }) : this.#ftp('passive', { address: formatPasv(announce, ep.port) }));
  }

  async active(verb: 'PORT' | 'EPRT', arg: string): Promise<void> {
    const hp = verb === 'PORT' ? parsePort(arg) : parseEprt(arg);
    if (hp === undefined) { this.#write(verb === 'EPRT' && /^\s*\|[^12]\|/.test(arg) ? this.#ftp('protocolNotSupported') : this.#ftp('badArgument')); return; }
    if (!sameHost(hp.host, this.#clientAddress) || hp.port < 1024) {
      this.#ctx.log.warn({ sessionId: this.#ctx.tracked.id, verb, target: `${hp.host}:${hp.port}` }, 'ftp bounce attempt refused');
      this.#write(this.#ftp('badDataAddress'));
      return;
    }
    // From the control connection's own address, so the client sees the source it expects; behind a PROXY header that address faces the balancer, not the client.
    const localAddress = this.#ctx.client === undefined ? this.#socket.localAddress : undefined;
    this.#setClientData(new ActiveEndpoint({ host: hp.host, port: hp.port, localAddress, timeoutMs: this.#config.dataTimeout }));
    this.#write(this.#ftp('portOk', { command: verb }));
  }

  /**
   * The client's data socket for the current transfer; the one place a later
   * TLS layer wraps it. `upload`: its bytes are read through ChunkReader only,
   * into one reused buffer. Otherwise whatever the client sends on it (curl
   * --haproxy-protocol sends its header there too) is read and dropped: left
   * unread, it would make the close a reset, and the client could lose the
   * end of the file. Half-open, so a client that shuts its sending side does
   * not end ours before the file is through.
   */
  async #openClientData(t: Transfer, e: DataEndpoint, upload = false): Promise<Socket> {
    const s = await e.open();
    if (!upload) {
      s.allowHalfOpen = true;
      s.resume();
    }
    return t.track(upload ? readIntoReusedBuffer(s) : s, this.#config.dataTimeout);
  }

  // ---- server-side data channel -----------------------------------------

  /**
   * Prepares a server data connection; the one place a later TLS layer wraps it.
   * `download`: its bytes are read through ChunkReader only, into one reused
   * buffer where the socket allows it (one we connect).
   */
  async #serverData(t: Transfer, download = false): Promise<DataEndpoint> {
    const up = this.#up();
    t.upstreamInvolved = true;
    if (this.#config.upstreamDataMode === 'active') {
      const ep = await PassiveEndpoint.listen({ host: up.localAddress, peer: up.remoteAddress, timeoutMs: this.#config.dataTimeout });
      t.endpoints.add(ep);
      const r = await up.command(activeCommand(up.localAddress, ep.port));
      if (r.code < 200 || r.code >= 300) throw new DataError('refused', `the server refused ${activeCommand(up.localAddress, ep.port).split(' ')[0]}: ${replyText(r)}`);
      return ep;
    }
    let port: number | undefined;
    let host = up.remoteAddress;
    if (!this.#noEpsv) {
      const r = await up.command('EPSV');
      if (r.code === 229) port = parseEpsvReply(replyText(r));
      else if (r.code === 500 || r.code === 502) this.#noEpsv = true;
      else throw new DataError('refused', `the server refused EPSV: ${replyText(r)}`);
      if (r.code === 229 && port === undefined) throw new DataError('refused', 'the server sent a broken EPSV reply');
    }
    if (port === undefined) {
      const r = await up.command('PASV');
      const hp = r.code === 227 ? parsePasvReply(replyText(r)) : undefined;
      if (hp === undefined) throw new DataError('refused', `the server refused PASV: ${replyText(r)}`);
      if (!sameHost(hp.host, up.remoteAddress)) {
        if (this.#config.foreignPassiveAddress === 'refuse') throw new DataError('refused', `the server named a foreign address ${hp.host}`);
        this.#ctx.log.warn({ sessionId: this.#ctx.tracked.id, named: hp.host, server: up.remoteAddress }, 'ftp server PASV named a foreign address; using the server address');
      } else {
        host = hp.host;
      }
      port = hp.port;
    }
    const ep = new ActiveEndpoint({ host, port, localAddress: up.localAddress, timeoutMs: this.#config.dataTimeout, reuseReadBuffer: download });
    t.endpoints.add(ep);
    return ep;
  }

  // ---- transfers ----------------------------------------------------------

  #begin(verb: string): Transfer | undefined {
    const client = this.#clientData;
    if (client === undefined) { this.#write(this.#ftp('noDataChannel')); return undefined; }
    this.#clientData = undefined;
    const t = new Transfer();
    t.endpoints.add(client);
    this.#transfer = t;
    this.#state = { kind: 'transfer', verb, abort: t.abort };
    return t;
  }

  #clientEndpoint(t: Transfer): DataEndpoint {
    const first = t.endpoints.values().next();
    return first.value as DataEndpoint;
  }

  async #finish(t: Transfer): Promise<void> {
    t.stop();
    await t.spool?.remove();
    this.#transfer = undefined;
    if (this.#state.kind === 'transfer') this.#state = { kind: 'ready' };
    t.markEnded();
  }

  #checkAbort(t: Transfer): void {
    if (t.abort.signal.aborted) throw new Aborted();
  }

  /** Carries out an ABOR (or the client's departure) at whatever point the transfer was. */
  async #aborted(t: Transfer): Promise<void> {
    t.stop();
    if (t.keepaliveOpen) { t.keepaliveOpen = false; this.#write(this.#ftp('scanDone', { name: 'the file' })); }
    const why = t.abort.signal.reason as string;
    const up = this.#upstream;
    if (up !== undefined && up.alive && (why !== 'gone' || t.upstreamInvolved)) {
      try {
        up.send('ABOR');
        const owed = t.upstreamOwed + 1;
        for (let i = 0; i < owed; i++) await up.read(ABORT_REPLY_TIMEOUT);
      } catch {
        up.close();
      }
    }
    await this.#removePartial(t);
    if (why === 'abor') this.#conclude(t, this.#ftp('aborted') + this.#ftp('abortDone'));
  }

  /** Runs a transfer body with the common endings: abort, data errors, upstream errors, cleanup. */
  async #run(t: Transfer, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      if (t.abort.signal.aborted || err instanceof Aborted) {
        if (!t.abort.signal.aborted) t.abort.abort('abor');
        await this.#aborted(t);
      } else if (err instanceof DataError) {
        if (t.keepaliveOpen) { t.keepaliveOpen = false; this.#write(this.#ftp('scanDone', { name: 'the file' })); }
        await this.#settleUpstream(t);
        await this.#removePartial(t);
        this.#conclude(t, err.reason === 'lost' ? this.#ftp('dataLost') : this.#ftp('dataFailed', { reason: err.message }));
      } else {
        if (t.keepaliveOpen) { t.keepaliveOpen = false; this.#write(this.#ftp('scanDone', { name: 'the file' })); }
        // A local failure (the spool's disk, say): the server still owes this transfer's replies;
        // taken here, so the next command does not read one of them as its own.
        await this.#settleUpstream(t);
        await this.#removePartial(t);
        throw err;
      }
    } finally {
      await this.#finish(t);
      if (t.final !== undefined) this.#write(t.final.text, t.final.encoding);
    }
  }

  /** Sets the transfer's last reply; it goes out when the transfer has cleaned up, so a client that sees it finds nothing left behind. */
  #conclude(t: Transfer, text: string, encoding: BufferEncoding = 'utf8'): void {
    t.final = { text: (t.final?.text ?? '') + text, encoding };
  }

  /** After a failed data connection, takes the server's outstanding replies so the next command reads its own. */
  async #settleUpstream(t: Transfer): Promise<void> {
    t.stop();
    const up = this.#upstream;
    if (up === undefined || !up.alive || t.upstreamOwed === 0) return;
    try {
      for (; t.upstreamOwed > 0; t.upstreamOwed--) await up.read(this.#config.dataTimeout);
    } catch {
      up.close();
    }
  }

  /** Sends a transfer command to the server; resolves with its preliminary reply, or relays a refusal and resolves undefined. */
  async #startUpstream(t: Transfer, line: string): Promise<ServerReply | undefined> {
    const up = this.#up();
    up.send(line);
    t.upstreamOwed = 1;
    const r = await up.read();
    if (r.code >= 200) {
      t.upstreamOwed = 0;
      this.#write(relayText(r), 'latin1');
      return undefined;
    }
    return r;
  }

  async #finalUpstream(t: Transfer): Promise<ServerReply> {
    const r = await this.#up().read(0);
    t.upstreamOwed = 0;
    return r;
  }

  async listing(line: string): Promise<void> {
    const t = this.#begin(splitCommand(line).verb);
    if (t === undefined) return;
    await this.#run(t, async () => {
      const client = this.#clientEndpoint(t);
      const server = await this.#serverData(t);
      const serverSock = server.open().then((s) => t.track(s, this.#config.dataTimeout));
      serverSock.catch(() => undefined);
      const pre = await this.#startUpstream(t, line);
      if (pre === undefined) return;
      this.#write(relayText(pre), 'latin1');
      const [from, to] = await Promise.all([serverSock, this.#openClientData(t, client)]);
      await pipe(from, to, t.abort.signal);
      const final = await this.#finalUpstream(t);
      this.#checkAbort(t);
      this.#write(relayText(final), 'latin1');
    });
  }

  #startKeepalive(t: Transfer, name: string): void {
    const every = this.#config.keepaliveInterval;
    t.keepaliveTimer = setInterval(() => {
      const s = t.spool;
      const mb = s === undefined ? 0 : Math.floor(s.size / (1024 * 1024));
      const r = renderFtp('progress', { name, step: t.step === 'receiving' ? `${mb} MB received` : 'scanning' });
      this.#write(`${r.code}-${r.text}\r\n`);
      t.keepaliveOpen = true;
    }, every);
    t.keepaliveTimer.unref();
  }

  /**
   * While a held upload is scanned and then sent to the server, the client
   * has closed its data connection and waits for the final reply. A second
   * 1yz reply is no help there (curl fails a STOR whose reply after the data
   * is a 150), so the waiting is filled with continuation lines of that
   * final reply, "226-Still working on NAME: scanning, please wait", at most
   * every ftp.keepaliveInterval. The code is the one the reply has when the
   * upload passes; when it ends otherwise (a refusal, a scanner or server
   * failure) the last line carries the real code, which curl and lftp read
   * as the outcome and a strict parser (basic-ftp) waits past as a timeout:
   * a failure either way, never a false success. Short scans send no such
   * line. The server's control connection gets a NOOP on the same beat while
   * the scan runs (the one before the STOR proves it is still there).
   */
  #startUploadKeepalive(t: Transfer, name: string): void {
    const code = renderReply('clean').ftp.code;
    t.keepaliveTimer = setInterval(() => {
      const sent = t.sending === undefined ? 0 : Math.floor(t.sending.bytesWritten / (1024 * 1024));
      const r = renderFtp('progress', { name, step: t.step === 'scanning' ? 'scanning' : `${sent} MB sent to the server` });
      this.#write(`${code}-${r.text}\r\n`);
      const up = this.#upstream;
      if (t.step !== 'scanning' || up === undefined || !up.alive) return;
      // One at a time, and awaited before the STOR, so no reply is read by the wrong command.
      t.upstreamNoop = t.upstreamNoop.then(() => up.command('NOOP')).then(() => undefined, () => undefined);
    }, this.#config.keepaliveInterval);
    t.keepaliveTimer.unref();
  }

  #stopKeepalive(t: Transfer): void {
    clearInterval(t.keepaliveTimer);
    t.keepaliveTimer = undefined;
  }

  #direction(command: FtpTransferCommand): 'inbound' | 'outbound' {
    return this.#ctx.tracked.snapshot.policy.ftpDirection({
      command, client: this.#clientAddress, server: this.#upstream?.remoteAddress ?? '',
    });
  }

  async #inspect(t: Transfer, command: FtpTransferCommand, name: string, spool: Spool, followed?: Followed): Promise<InspectResult> {
    this.#transfers++;
    this.#bytes += spool.size;
    return this.#ctx.inspect({
      protocol: 'ftp',
      direction: this.#direction(command),
      name,
      target: { name, path: spool.path, size: spool.size },
      peers: { client: this.#clientPeer, server: this.#server },
      sessionId: this.#ctx.tracked.id,
      snapshot: this.#ctx.tracked.snapshot,
      signal: t.abort.signal,
      ...(followed !== undefined ? { followed } : {}),
    });
  }

  /**
   * A scan that runs while a download the policy scans arrives, when its
   * size is known (the server's 150 names it, as vsftpd and ProFTPD write
   * it, or the client asked SIZE just before) and the session's scanner can
   * follow a file of that type: the engine needs the size from the start
   * (signatures anchored at the end, hash sizes). The file is still held
   * whole and nothing is sent before the verdict; the scan just no longer
   * waits for the last byte to begin. If the size turns out wrong, the
   * follower's report is dropped and the spooled file is scanned as before.
   */
  #follow(name: string, size: number | undefined): Followed | undefined {
    if (size === undefined) return undefined;
    const scanner = this.#ctx.tracked.snapshot.scanner;
    const follower = scanner.follow?.(name, size);
    return follower === undefined ? undefined : { scanner, follower };
  }

  /** The refusal for an object that is not delivered: one line per finding, then the decision's reply. */
  #refusal(result: InspectResult, name: string): string {
    const lines = result.decision.findings.map((f) => `${[name, ...f.path.slice(1)].join(' > ')}: ${f.name} FOUND`);
    return this.#row(result.decision.reply.ftp, lines);
  }

  async #spool(t: Transfer): Promise<Spool> {
    const s = await Spool.create(this.#ctx.spoolDir, this.#ctx.tracked.id);
    t.spool = s;
    return s;
  }

  async download(arg: string): Promise<void> {
    const offset = this.#restOffset;
    this.#restOffset = 0;
    const hint = this.#sizeHint?.path === arg ? this.#sizeHint.size : undefined;
    this.#sizeHint = undefined;
    const t = this.#begin('RETR');
    if (t === undefined) return;
    const name = displayName(arg);
    await this.#run(t, async () => {
      const client = this.#clientEndpoint(t);
      const server = await this.#serverData(t, true);
      const serverSock = server.open().then((s) => t.track(s, this.#config.dataTimeout));
      serverSock.catch(() => undefined);
      const pre = await this.#startUpstream(t, `RETR ${arg}`);
      if (pre === undefined) return;
      const spool = await this.#spool(t);
      this.#startKeepalive(t, name);
      const t0 = performance.now();
      const from = await serverSock;
      const { head, ended } = await readHead(from, HEAD_BYTES);
      this.#checkAbort(t);
      const scans = this.#scans(name, head);
      if (offset === 0 && !ended && this.#streams(scans)) {
        this.#stopKeepalive(t);
        await this.#streamSkipped(t, { name, head, from, client, spool });
        return;
      }
      await spool.append(head);
      const max = this.#config.maxTransferSize;
      const followed = !scans || ended || head.byteLength > max ? undefined : this.#follow(name, announcedSize(pre) ?? hint);
      followed?.follower.write(head);
      const received = spool.size > max ? 'tooBig' : ended ? 'complete' : await receive(spool, from, max, followed?.follower);
      const t1 = performance.now();
      this.#checkAbort(t);
      if (received === 'tooBig') {
        this.#stopKeepalive(t);
        t.abort.abort('limit');
        await this.#aborted(t);
        this.#endKeepalive(t, name);
        this.#conclude(t, this.#row(renderReply('tooBig').ftp));
        return;
      }
      const final = await this.#finalUpstream(t);
      this.#checkAbort(t);
      if (final.code < 200 || final.code >= 300) {
        this.#stopKeepalive(t);
        this.#endKeepalive(t, name);
        this.#conclude(t, relayText(final), 'latin1');
        return;
      }
      t.step = 'scanning';
      const t2 = performance.now();
      const result = await this.#inspect(t, 'RETR', name, spool, followed);
      const t3 = performance.now();
      this.#checkAbort(t);
      this.#stopKeepalive(t);
      if (result.decision.action !== 'pass') {
        this.#endKeepalive(t, name);
        this.#conclude(t, this.#refusal(result, name));
        return;
      }
      const to = await this.#openClientData(t, client);
      this.#checkAbort(t);
      const size = Math.max(0, spool.size - offset);
      // Same code as the progress lines, so this line also ends a "150-" reply begun by them.
      this.#write(this.#ftp('openingSized', { name, size }));
      t.keepaliveOpen = false;
      await sendFile(spool, to, offset, t.abort.signal);
      this.#checkAbort(t);
      this.#conclude(t, this.#row(result.decision.reply.ftp));
      this.#ctx.log.debug({ sessionId: this.#ctx.tracked.id, name, bytes: spool.size, receiveMs: t1 - t0, finalMs: t2 - t1, inspectMs: t3 - t2, deliverMs: performance.now() - t3 }, 'ftp download phases');
    });
  }

  /** Whether the policy scans this file, by its name and the true type of its head. */
  #scans(name: string, head: Buffer): boolean {
    return this.#ctx.tracked.snapshot.policy.chooseScan(name, detectType(head.subarray(0, HEAD_BYTES), name)).scan;
  }

  /** True when a file is not held but streams: the policy will not scan it, and no banned rule needs the whole. */
  #streams(scans: boolean): boolean {
    return !scans && !this.#ctx.tracked.snapshot.policy.hasBannedRules;
  }

  /**
   * A download the policy does not scan is not held: nothing a scan could
   * find is waiting for, so after its head it streams to the client at
   * network speed. Only the head is spooled (the event and the transfer
   * log line read it for the true type, as for any other file); inspect()
   * runs when the stream has ended, with the full size, and decides the
   * same "not scanned" from the same head and the same snapshot.
   */
  async #streamSkipped(t: Transfer, o: { name: string; head: Buffer; from: Socket; client: DataEndpoint; spool: Spool }): Promise<void> {
    const { name, head, from, client, spool } = o;
    // The head's disk write runs beside the client's connection and the stream; only the record needs it.
    const appended = spool.append(head);
    appended.catch(() => undefined);
    const to = await this.#openClientData(t, client);
    this.#checkAbort(t);
    this.#endKeepalive(t, name);
    this.#write(this.#ftp('opening', { name }));
    // Queued ahead of everything the pipe writes; the socket's own byte count then gives the size without a counting stage.
    to.write(head);
    await relay(from, to, t.abort.signal);
    const size = from.bytesRead;
    const final = await this.#finalUpstream(t);
    this.#checkAbort(t);
    if (final.code < 200 || final.code >= 300) { this.#conclude(t, relayText(final), 'latin1'); return; }
    await appended;
    const result = await this.#recordStreamed('RETR', name, spool, size);
    this.#conclude(t, result.decision.action === 'pass' ? this.#row(result.decision.reply.ftp) : this.#refusal(result, name));
  }

  /**
   * inspect() for a file that streamed: the spool holds only its head (read
   * for the true type), `size` is what passed; the decision is the same "not
   * scanned" as before the stream, from the same head and snapshot. No abort
   * signal: it runs once the bytes are through.
   */
  async #recordStreamed(command: FtpTransferCommand, name: string, spool: Spool, size: number): Promise<InspectResult> {
    this.#transfers++;
    this.#bytes += size;
    return this.#ctx.inspect({
      protocol: 'ftp', direction: this.#direction(command), name, target: { name, path: spool.path, size },
      peers: { client: this.#clientPeer, server: this.#server },
      sessionId: this.#ctx.tracked.id, snapshot: this.#ctx.tracked.snapshot,
    });
  }

  #endKeepalive(t: Transfer, name: string): void {
    if (!t.keepaliveOpen) return;
    t.keepaliveOpen = false;
    this.#write(this.#ftp('scanDone', { name }));
  }

  async upload(verb: 'STOR' | 'APPE' | 'STOU', arg: string): Promise<void> {
    const offset = this.#restOffset;
    this.#restOffset = 0;
    if (this.#config.resumeUploads === 'refuse') {
      if (verb === 'APPE') { this.#write(this.#ftp('appendRefused')); return; }
      if (offset > 0 && verb === 'STOR') { this.#write(this.#ftp('resumeRefused')); return; }
    }
    const t = this.#begin(verb);
    if (t === undefined) return;
    const name = displayName(arg === '' ? 'STOU' : arg);
    await this.#run(t, async () => {
      const client = this.#clientEndpoint(t);
      const spool = await this.#spool(t);
      const from = await this.#openClientData(t, client, true);
      this.#write(this.#ftp('readyToReceive'));
      const max = this.#config.maxTransferSize;
      let received: 'complete' | 'tooBig' | undefined;
      if (offset === 0 && verb !== 'APPE') {
        const { head, ended } = await readHead(from, HEAD_BYTES);
        this.#checkAbort(t);
        if (ended && !from.readableEnded) throw new DataError('lost', 'data connection lost: the client closed it before its end');
        if (!ended && this.#streams(this.#scans(name, head))) {
          await this.#streamUpload(t, { verb, arg, name, head, from, spool });
          return;
        }
        await spool.append(head);
        if (spool.size > max) received = 'tooBig';
        else if (ended) received = 'complete';
      }
      received ??= await receive(spool, from, max);
      from.destroy();
      this.#checkAbort(t);
      if (received === 'tooBig') { this.#conclude(t, this.#row(renderReply('tooBig').ftp)); return; }
      // A client that quits with its upload leaves both connections at once: let its control close arrive first.
      await nextTurn();
      this.#checkAbort(t);
      t.step = 'scanning';
      this.#startUploadKeepalive(t, name);
      const result = await this.#inspect(t, verb, name, spool);
      this.#checkAbort(t);
      if (result.decision.action !== 'pass') { this.#conclude(t, this.#refusal(result, name)); return; }
      t.step = 'sending';
      await t.upstreamNoop;
      const up = this.#up();
      const noop = await up.command('NOOP');
      if (noop.code >= 400) throw new UpstreamError(`Cannot talk to the server: NOOP answered ${noop.code}`);
      const server = await this.#serverData(t);
      this.#checkAbort(t);
      if (offset > 0) {
        const r = await up.command(`REST ${offset}`);
        if (r.code !== 350) { this.#conclude(t, relayText(r), 'latin1'); return; }
      }
      const serverSock = server.open().then((s) => t.track(s, this.#config.dataTimeout));
      serverSock.catch(() => undefined);
      const pre = await this.#startUpstream(t, arg === '' ? verb : `${verb} ${arg}`);
      if (pre === undefined) return;
      t.sending = await serverSock;
      await sendFile(spool, t.sending, 0, t.abort.signal);
      const final = await this.#finalUpstream(t);
      this.#checkAbort(t);
      this.#stopKeepalive(t);
      this.#concludeUpload(t, { verb, pre, final, result });
    });
  }

  /** The client's last reply to an upload: the server's, with (on success) the name STOU chose and the verdict as continuation lines. */
  #concludeUpload(t: Transfer, o: { verb: string; pre: ServerReply; final: ServerReply; result: InspectResult }): void {
    const { verb, pre, final, result } = o;
    const before = final.code >= 200 && final.code < 300
      ? [...(verb === 'STOU' ? pre.lines.map((l) => l.replace(/^\d{3}[ -]?/, '')) : []), result.decision.reply.ftp.text]
      : [];
    this.#conclude(t, before.map((l) => `${final.code}-${l.replace(/[\r\n]/g, ' ')}\r\n`).join('') + relayText(final), 'latin1');
  }

  /**
   * An upload the policy does not scan (STOR or STOU from the start; its
   * name and the true type of its first 64 KiB say so, the same rule as for
   * downloads) is not held either: the server's STOR opens after the head
   * and the rest streams through. What it gives up is "nothing reaches the
   * server before the end": a client that vanishes, or ABOR, cuts the
   * server's data connection with a reset and the partial file is removed
   * with DELE (STOU: the name the server announced); a DELE that fails is
   * logged. APPE and REST+STOR stay held: removing a partial append would
   * remove what the file held before.
   */
  async #streamUpload(t: Transfer, o: { verb: 'STOR' | 'STOU'; arg: string; name: string; head: Buffer; from: Socket; spool: Spool }): Promise<void> {
    const { verb, arg, name, head, from, spool } = o;
    const appended = spool.append(head);
    appended.catch(() => undefined);
    const server = await this.#serverData(t);
    this.#checkAbort(t);
    const serverSock = server.open().then((s) => t.track(s, this.#config.dataTimeout));
    serverSock.catch(() => undefined);
    const pre = await this.#startUpstream(t, arg === '' ? verb : `${verb} ${arg}`);
    if (pre === undefined) { from.destroy(); return; }
    t.partial = verb === 'STOU' ? /FILE:\s*(\S+)/i.exec(replyText(pre))?.[1] ?? '' : arg;
    const to = await serverSock;
    t.resetOnStop = to;
    to.write(head);
    await relay(from, to, t.abort.signal);
    const size = from.bytesRead;
    const final = await this.#finalUpstream(t);
    this.#checkAbort(t);
    // The server's own failure (its disk, its rights): relayed as it is, and what it kept is its business, as without the proxy.
    if (final.code < 200 || final.code >= 300) { t.partial = undefined; this.#conclude(t, relayText(final), 'latin1'); return; }
    await appended;
    const result = await this.#recordStreamed(verb, name, spool, size);
    if (result.decision.action !== 'pass') {
      // Not reached with an unchanged snapshot (same name, same head); if it were, the file must not stay.
      await this.#removePartial(t);
      this.#conclude(t, this.#refusal(result, name));
      return;
    }
    t.partial = undefined;
    this.#concludeUpload(t, { verb, pre, final, result });
  }

  /** Removes a streamed upload's partial file from the server (after its transfer has ended); a failure is logged, the client's reply stays. */
  async #removePartial(t: Transfer): Promise<void> {
    const name = t.partial;
    t.partial = undefined;
    if (name === undefined) return;
    const log = { sessionId: this.#ctx.tracked.id, name: displayName(name), server: this.#server };
    const up = this.#upstream;
    if (name === '' || up === undefined || !up.alive) {
      this.#ctx.log.warn({ ...log, reason: name === '' ? 'the server named no file' : 'no connection to the server' }, 'ftp partial upload left on the server');
      return;
    }
    try {
      const r = await up.command(`DELE ${name}`);
      if (r.code >= 200 && r.code < 300) this.#ctx.log.info(log, 'ftp partial upload removed from the server');
      else this.#ctx.log.warn({ ...log, reply: replyText(r) }, 'ftp partial upload left on the server');
    } catch (err) {
      this.#ctx.log.warn({ ...log, reason: err instanceof Error ? err.message : String(err) }, 'ftp partial upload left on the server');
    }
  }

  // ---- end --------------------------------------------------------------

  async #shutdown(): Promise<void> {
    if (this.#state.kind === 'closed' && this.#upstream === undefined && this.#transfer === undefined) { this.#done(); return; }
    const t = this.#transfer;
    this.#state = { kind: 'closed' };
    if (t !== undefined && !t.abort.signal.aborted) t.abort.abort('gone');
    this.#clientData?.close();
    this.#clientData = undefined;
    const up = this.#upstream;
    if (t === undefined && up !== undefined && up.alive) {
      up.send('QUIT');
      setTimeout(() => up.close(), 1000).unref();
    } else if (t === undefined) {
      up?.close();
    }
    this.#done();
  }

  #doneOnce = false;
  #done(): void {
    if (this.#doneOnce) return;
    this.#doneOnce = true;
    // A transfer still running cleans itself (its abort is signalled); the session ends when it has.
    const t = this.#transfer;
    const finish = (): void => { this.#upstream?.close(); this.#onClosed(); };
    if (t === undefined) finish();
    else void t.ended.then(finish);
  }
}

/** Copies one socket to another, both ends closed after; rejects when aborted. */
async function pipe(from: Socket, to: Socket, signal: AbortSignal): Promise<void> {
  try {
    await pipeline(from, to, { signal });
  } catch (err) {
    if (signal.aborted) throw new Aborted();
    throw new DataError('lost', `data connection lost: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Reads at least `n` bytes from a socket (or all of it, when it ends first)
 * and leaves it stopped after them; the caller takes the rest through the
 * same ChunkReader.
 */
function readHead(s: Socket, n: number): Promise<{ head: Buffer; ended: boolean }> {
  const reader = ChunkReader.of(s);
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let length = 0;
    const off = (): void => {
      reader.set(undefined);
      s.off('end', onEnd);
      s.off('error', onError);
      s.off('close', onEnd);
    };
    const finish = (ended: boolean): void => { off(); resolve({ head: Buffer.concat(parts), ended }); };
    // Copied: the chunk may be the socket's reused read buffer.
    const onChunk = (c: Buffer): boolean => {
      parts.push(Buffer.from(c));
      length += c.byteLength;
      if (length < n) return true;
      finish(false);
      return false;
    };
    const onEnd = (): void => finish(true);
    const onError = (err: Error): void => { off(); reject(new DataError('lost', `data connection lost: ${err.message}`)); };
    s.once('end', onEnd);
    s.once('close', onEnd);
    s.once('error', onError);
    reader.set(onChunk);
    // A passive endpoint accepts its sockets paused; this starts them.
    reader.resume();
  });
}

/**
 * Copies a socket (after its head) to another and ends it. A chunk is
 * written straight from the socket's read buffer; reading stops until the
 * kernel has taken a chunk the write could not finish at once, so the
 * buffer is never refilled under a running write.
 */
function relay(from: Socket, to: Socket, signal: AbortSignal): Promise<void> {
  const reader = ChunkReader.of(from);
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error): void => {
      if (settled) return;
      settled = true;
      reader.set(undefined);
      from.off('end', onEnd);
      from.off('close', onFromClose);
      from.off('error', onError);
      to.off('error', onError);
      to.off('close', onToClose);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) { resolve(); return; }
      from.destroy();
      // A reset, not a FIN: the receiver must not take the bytes so far for the whole file.
      if (!to.destroyed) to.resetAndDestroy();
      reject(signal.aborted ? new Aborted() : new DataError('lost', `data connection lost: ${err.message}`));
    };
    // Writes finish in order, so the callback of the newest one says the buffer is free again.
    let newest = 0;
    let stopped = false;
    const onChunk = (chunk: Buffer): boolean => {
      if (settled) return false;
      const mine = ++newest;
      to.write(chunk, (err?: Error | null) => {
        if (err) settle(err);
        else if (mine === newest && stopped && !settled) { stopped = false; reader.resume(); }
      });
      if (to.writableLength === 0) return true;
      stopped = true;
      return false;
    };
    const onEnd = (): void => { to.end((err?: Error | null) => settle(err ?? undefined)); };
    const onFromClose = (): void => { if (!from.readableEnded) settle(new Error('the server closed the data connection before its end')); };
    const onToClose = (): void => { if (!to.writableFinished) settle(new Error('the client closed the data connection')); };
    const onError = (err: Error): void => settle(err);
    const onAbort = (): void => settle(new Error('aborted'));
    if (signal.aborted) { onAbort(); return; }
    signal.addEventListener('abort', onAbort, { once: true });
    from.once('end', onEnd);
    from.once('close', onFromClose);
    from.once('error', onError);
    to.once('error', onError);
    to.once('close', onToClose);
    reader.set(onChunk);
    reader.resume();
  });
}

/** A data socket into the spool; a connection reset is a lost transfer (426), not an internal error. */
async function receive(spool: Spool, from: Socket, max: number, follower?: FileFollower): Promise<'complete' | 'tooBig'> {
  try {
    return await spool.receive(from, max, follower === undefined ? undefined : (chunk) => follower.write(chunk));
  } catch (err) {
    // The receive destroys the socket whatever stopped it: a full disk is ours to report, not a lost connection.
    if (err instanceof SpoolError || (from.errored !== err && !from.destroyed)) throw err;
    throw new DataError('lost', `data connection lost: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function sendFile(spool: Spool, to: Socket, offset: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw new Aborted();
  const onAbort = (): void => { to.destroy(); };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await spool.send(to, offset);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

