/**
 * One proxied SMTP session: the client's side (smtp-server calls the
 * handlers here) and its own next-hop session (NextHopClient), kept in step.
 *
 * Before-queue semantics (Postfix SMTPD_PROXY_README): MAIL FROM and each
 * RCPT TO are answered with the next hop's own reply; at the end of DATA the
 * message is guarded, spooled, inspected and only then sent to the next hop,
 * and the client gets the next hop's final answer. No 250 is ever given for
 * a message the next hop does not hold, except where the config asks for it
 * (discard, accepted quarantine, where the message is on disk or dropped by
 * choice). Any failure on the way is a 4xx: the client keeps the message.
 *
 * The next hop is told who the client is before each MAIL (clientIdentity:
 * the socket's peer, or what a PROXY header or a trusted front MTA said):
 * XFORWARD lines pipelined with MAIL, or XCLIENT, after which that next-hop
 * connection speaks for that one client (Postfix XFORWARD_README,
 * XCLIENT_README; identityMethod in params.ts picks one).
 *
 * States are a union (STYLE principle 4): the session's transaction state
 * and the next hop's.
 *
 * Reads untrusted bytes: the client's envelope and message (through
 * smtp-server, the DATA guard and the spool) and the next hop's replies.
 */
import type { DecisionClass } from '../policy/types.js';
import type { Readable } from 'node:stream';
import type { SmtpConfig } from '../config/table.js';
import { isPortcullisError } from '../errors.js';
import type { InspectResult, ListenerContext, TrackedSession } from '../gateway/index.js';
import { renderReply } from '../policy/replies.js';
import type { Semaphore } from '../scanners/report.js';
import { NextHopClient } from './client.js';
import { DataGuard } from './guard.js';
import { buildNotice, headerOf } from './notify.js';
import { identityMethod, mailCommand, rcptCommand, safeAddress, xclientCommands, xforwardCommands, type Args, type ForwardFacts } from './params.js';
import { isPositive, reply, replyText, type Reply } from './reply.js';
import { smtpReply } from './replies.js';
import { concatSources, findingParts, replaceParts, statusHeaders, tagSubject } from './rewrite.js';
import { Spool } from './spool.js';

/** What smtp-server tells us about the client; the subset we read. */
export interface ClientFacts {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly clientHostname: string;
  readonly hostNameAppearsAs: string;
  readonly openingCommand: string;
  /** What a trusted front MTA said with XFORWARD / XCLIENT (smtp-server keeps it; false is "[UNAVAILABLE]"). */
  readonly xForward?: ReadonlyMap<string, unknown>;
  readonly xClient?: ReadonlyMap<string, unknown>;
  readonly envelope: {
    readonly mailFrom: false | { readonly address: string };
    readonly rcptTo: readonly { readonly address: string }[];
  };
}

export interface ParsedAddress {
  readonly address: string;
  readonly args: Args;
}

/** Where the client's transaction stands. */
export type TxState = 'idle' | 'mail' | 'data';
/** Where the next hop stands: none (not connected or failed), clean (ready for MAIL), open (a transaction is pending there). */
export type HopState = 'none' | 'clean' | 'open';

export interface SessionDeps {
  readonly ctx: ListenerContext;
  readonly tracked: TrackedSession;
  /** The listener's config (start-time keys: listen, nextHop, hostname, maxMessageSize). */
  readonly config: SmtpConfig;
  readonly hostname: string;
  readonly scanGate: Semaphore;
  readonly spoolDir: string;
}

/** The outcome of one DATA: the reply and what it was. */
export interface DataOutcome {
  readonly reply: Reply;
  readonly what: string;
}

export class ProxySession {
  readonly #d: SessionDeps;
  #hop: NextHopClient | undefined;
  #hopState: HopState = 'none';
  #tx: TxState = 'idle';
  /** The commands the next hop accepted for this transaction (and the client it was told about), to replay them when it dropped the connection while we scanned. */
  #envelope: { facts?: ForwardFacts; mail?: string; rcpts: string[] } = { rcpts: [] };
  /** The XCLIENT lines this next-hop connection was given: it speaks for that client until it is closed. */
  #xclientSent: { readonly offered: string; readonly lines: string } | undefined;
  /** The reply smtp-server's next send of this code is replaced with (next hop's own). */
  #pending: Reply | undefined;
  errors = 0;
  transfers = 0;
  bytes = 0;
  #messages = 0;
  end = 'client-closed';

  constructor(deps: SessionDeps) {
    this.#d = deps;
  }

  get id(): string {
    return this.#d.tracked.id;
  }

  get generation(): number {
    return this.#d.tracked.snapshot.generation;
  }

  get startedAt(): number {
    return this.#d.tracked.startedAt;
  }

  /** Ends the session's bookkeeping (lease, metrics); idempotent. */
  finish(): void {
    this.#d.tracked.end();
  }

  /** The session's config: its snapshot's SMTP section (the listener's when a reload switched SMTP off). */
  get cfg(): SmtpConfig {
    const s = this.#d.tracked.snapshot.config.smtp;
    return s === false ? this.#d.config : s;
  }

  get hop(): NextHopClient | undefined {
    return this.#hop;
  }

  get state(): { tx: TxState; hop: HopState } {
    return { tx: this.#tx, hop: this.#hopState };
  }

  /** Takes the pending reply if smtp-server is about to send a reply of the same class. */
  takePending(code: number): Reply | undefined {
    const p = this.#pending;
    if (p === undefined) return undefined;
    if (Math.floor(p.code / 100) !== Math.floor(code / 100)) return undefined;
    this.#pending = undefined;
    return p;
  }

  /** Hands a reply to smtp-server: success through the pending slot, failure as an error carrying the code. */
  #answer(r: Reply, cb: (err?: Error | null, message?: string) => void): void {
    this.#pending = r;
    if (isPositive(r)) cb(null, r.lines[0] ?? '');
    else cb(Object.assign(new Error(r.lines[0] ?? ''), { responseCode: r.code }));
  }

  async connectHop(): Promise<Reply | undefined> {
    const [host, port] = splitNextHop(this.#d.config.nextHop);
    const cfg = this.cfg;
    this.#xclientSent = undefined;
    try {
      this.#hop = await NextHopClient.connect({
        host, port, heloName: this.#d.hostname, connectTimeout: cfg.nextHopConnectTimeout, replyTimeout: cfg.nextHopTimeout, tls: cfg.nextHopTls,
      });
      this.#hopState = 'clean';
      return undefined;
    } catch (err) {
      this.#hop = undefined;
      this.#hopState = 'none';
      this.#d.ctx.log.warn({ sessionId: this.id, err: isPortcullisError(err) ? err.message : String(err), nextHop: this.#d.config.nextHop }, 'next hop unavailable');
      return smtpReply(cfg.nextHopTls === 'required' && /STARTTLS|TLS/.test(String(err)) ? 'nextHopTlsRequired' : 'nextHopUnavailable');
    }
  }

  #dropHop(): void {
    this.#hop?.close();
    this.#hop = undefined;
    this.#hopState = 'none';
    this.#xclientSent = undefined;
  }

  /**
   * Tells the next hop who the client is, before MAIL: XFORWARD lines to
   * send with MAIL (returned), or XCLIENT sent here (identityMethod decides).
   * XCLIENT makes the connection speak for one client, so a different client
   * on the same session (a front MTA forwarding the next one) gets a fresh
   * connection. A refused XCLIENT fails the MAIL with a 4xx: the next hop's
   * access rules were meant to see the client, and must not see portcullis
   * instead.
   */
  async #introduce(facts: ForwardFacts): Promise<{ readonly lines: string[] } | { readonly refused: Reply }> {
    let hop = this.#hop as NextHopClient;
    const bound = this.#xclientSent;
    if (bound !== undefined) {
      // Decided by what the next hop offered before XCLIENT: after it, it may no longer list XCLIENT or XFORWARD.
      if (xclientCommands(bound.offered, facts).join('\n') === bound.lines) return { lines: [] };
      this.#dropHop();
      const failed = await this.connectHop();
      if (failed !== undefined) return { refused: { ...failed, code: 451 } };
      hop = this.#hop as NextHopClient;
    }
    const method = identityMethod(this.cfg, { has: (k) => hop.offers(k) });
    if (method === 'none') return { lines: [] };
    if (method === 'xforward') return { lines: xforwardCommands(hop.keywords.get('XFORWARD') ?? '', facts) };
    const offered = hop.keywords.get('XCLIENT') ?? '';
    const cmds = xclientCommands(offered, facts);
    if (this.#hopState === 'open') {
      await hop.command('RSET');
      this.#hopState = 'clean';
    }
    for (const line of cmds) {
      const r = await hop.xclient(line, facts.helo);
      if (!isPositive(r)) {
        this.#d.ctx.log.warn({ sessionId: this.id, reply: `${r.code} ${replyText(r).join(' ')}`.slice(0, 300) }, 'next hop refused XCLIENT');
        this.#dropHop();
        return { refused: smtpReply('nextHopIdentityRefused') };
      }
    }
    this.#xclientSent = { offered, lines: cmds.join('\n') };
    return { lines: [] };
  }

  /** The smaller of our SIZE and the next hop's. */
  sizeLimit(): number {
    const ours = this.#d.config.maxMessageSize;
    const theirs = this.#hop?.sizeLimit;
    return theirs === undefined ? ours : Math.min(ours, theirs);
  }

  async onMailFrom(address: ParsedAddress, client: ClientFacts, cb: (err?: Error | null) => void): Promise<void> {
    try {
      const declared = typeof address.args === 'object' && typeof address.args['SIZE'] === 'string' ? Number(address.args['SIZE']) : 0;
      if (declared > this.sizeLimit()) return this.#answer(smtpReply('messageTooBig', { limit: this.sizeLimit() }), cb);
      if (!safeAddress(address.address)) return this.#answer(reply(501, '5.1.7', 'Bad sender address syntax'), cb);
      if (this.#hop === undefined || !this.#hop.usable) {
        this.#dropHop();
        const failed = await this.connectHop();
        if (failed !== undefined) return this.#answer({ ...failed, code: 451 }, cb);
      }
      const facts = clientIdentity(client);
      const intro = await this.#introduce(facts);
      if ('refused' in intro) return this.#answer(intro.refused, cb);
      const hop = this.#hop as NextHopClient;
      const offers = { has: (k: string) => hop.offers(k) };
      const mailLine = mailCommand(address.address, address.args, offers);
      const lines = [...(this.#hopState === 'open' ? ['RSET'] : []), ...intro.lines, mailLine];
      const replies = await hop.pipeline(lines);
      const mail = replies[replies.length - 1] as Reply;
      if (isPositive(mail)) {
        this.#hopState = 'open';
        this.#tx = 'mail';
        this.#envelope = { facts, mail: mailLine, rcpts: [] };
      } else {
        this.#hopState = 'clean';
      }
      this.#answer(mail, cb);
    } catch (err) {
      this.#hopFailure(err, cb);
    }
  }

  async onRcptTo(address: ParsedAddress, cb: (err?: Error | null) => void): Promise<void> {
    try {
      if (!safeAddress(address.address)) return this.#answer(reply(501, '5.1.3', 'Bad recipient address syntax'), cb);
      const hop = this.#hop;
      if (hop === undefined || this.#hopState !== 'open') return this.#answer(smtpReply('nextHopFailed'), cb);
      const line = rcptCommand(address.address, address.args, { has: (k: string) => hop.offers(k) });
      const r = await hop.command(line);
      if (isPositive(r)) this.#envelope.rcpts.push(line);
      this.#answer(r, cb);
    } catch (err) {
      this.#hopFailure(err, cb);
    }
  }

  #hopFailure(err: unknown, cb: (err?: Error | null) => void): void {
    this.#d.ctx.log.warn({ sessionId: this.id, err: err instanceof Error ? err.message : String(err) }, 'next hop failed');
    this.#dropHop();
    this.#tx = 'idle';
    this.#answer(smtpReply('nextHopFailed'), cb);
  }

  /** smtp-server's RSET/EHLO reset the client's transaction; the next hop is reset lazily before the next MAIL. */
  resetTransaction(): void {
    this.#tx = 'idle';
  }

  async onData(stream: Readable & { sizeExceeded?: boolean }, client: ClientFacts, cb: (err?: Error | null, message?: string) => void): Promise<void> {
    this.#tx = 'data';
    const cfg = this.cfg;
    const spool = new Spool({ memoryLimit: cfg.spoolMemory, dir: this.#d.spoolDir });
    const guard = new DataGuard({ bareNewline: cfg.bareNewline, maxLineLength: cfg.maxLineLength, maxHeaderSize: cfg.maxHeaderSize });
    let outcome: DataOutcome;
    try {
      let spoolError: unknown;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        // Past a limit or a spool error the rest is only read, so the client's DATA ends cleanly.
        if (spoolError !== undefined || guard.violation !== undefined || spool.size > this.sizeLimit()) continue;
        try {
          await spool.write(guard.push(chunk));
        } catch (err) {
          spoolError = err;
        }
      }
      if (spoolError === undefined) await spool.write(guard.end()).catch((err: unknown) => { spoolError = err; });
      await spool.finish();
      if (spoolError !== undefined) throw spoolError;
      outcome = await this.#message(spool, guard, stream.sizeExceeded === true, client);
    } catch (err) {
      this.#d.ctx.log.error({ sessionId: this.id, err }, 'message could not be handled');
      outcome = { reply: smtpReply('localError'), what: 'local-error' };
    } finally {
      await spool.dispose();
      this.#tx = 'idle';
      this.#envelope = { rcpts: [] };
    }
    this.#d.ctx.log.info({ sessionId: this.id, size: spool.size, result: outcome.what, reply: outcome.reply.code }, 'message');
    this.#answer(outcome.reply, cb);
  }

  async #message(spool: Spool, guard: DataGuard, oversized: boolean, client: ClientFacts): Promise<DataOutcome> {
    const cfg = this.cfg;
    if (oversized || spool.size > this.sizeLimit()) return { reply: smtpReply('messageTooBig', { limit: this.sizeLimit() }), what: 'too-big' };
    if (guard.violation !== undefined) {
      const limit = guard.violation === 'lineTooLong' ? cfg.maxLineLength : cfg.maxHeaderSize;
      return { reply: smtpReply(guard.violation, { limit }), what: guard.violation };
    }
    const from = client.envelope.mailFrom === false ? '' : client.envelope.mailFrom.address;
    const rcpts = client.envelope.rcptTo.map((r) => r.address);
    const snapshot = this.#d.tracked.snapshot;
    const direction = snapshot.policy.mailDirection({ client: client.remoteAddress, rcpts });
    const name = `message ${this.id}.${++this.#messages}.eml`;
    this.transfers++;
    this.bytes += spool.size;

    let result: InspectResult;
    try {
      // The gate is taken inside, after the byte budget: a big message waiting for memory holds no scan slot.
      result = await this.#d.ctx.inspect({
        protocol: 'smtp', direction, name, target: spool.target(name),
        peers: { client: `${client.remoteAddress}:${client.remotePort}`, server: this.#d.config.nextHop },
        envelope: { from, rcpts }, sessionId: this.id, snapshot, gate: this.#d.scanGate,
      });
    } catch (err) {
      this.#d.ctx.log.error({ sessionId: this.id, err }, 'inspection failed');
      return { reply: toReply(renderReply('tempfail', { reason: 'inspection failed' }).smtp), what: 'tempfail' };
    }

    const d = result.decision;
    const names = d.findings.map((f) => f.name);
    const policyReply = toReply(d.reply.smtp);
    switch (d.action) {
      case 'pass':
        return this.#deliver(spool, passStatus(d.class), names, d.class === 'clean' ? undefined : policyReply, cfg);
      case 'strip':
      case 'replace': {
        const parts = findingParts(d.findings);
        if (parts === undefined || parts.size === 0) {
          // A finding outside any single MIME part (the raw message, a fallback reading) cannot be cut out: refuse.
          return { reply: toReply(renderReply('blocked.virus', { findings: names }).smtp), what: `${d.action}-impossible` };
        }
        return this.#deliverRebuilt(spool, d.action, parts, names, policyReply, cfg);
      }
      case 'block':
        if (cfg.blockReply === 'discard') return { reply: smtpReply('discarded', { findings: names.join(', ') }), what: 'discarded' };
        return { reply: policyReply, what: 'blocked' };
      case 'quarantine':
        await this.#notify(spool, result, from, rcpts, names);
        if (cfg.quarantineReply === 'accept') return { reply: smtpReply('quarantinedAccepted', { id: result.quarantineId ?? '', findings: names.join(', ') }), what: 'quarantined' };
        return { reply: policyReply, what: 'quarantined' };
      case 'tempfail':
        return { reply: policyReply, what: 'tempfail' };
    }
  }

  /** Sends the message to the next hop with the status headers; the next hop's reply (or the policy's text when it said yes to a message with findings). */
  async #deliver(spool: Spool, status: string, names: string[], positiveText: Reply | undefined, cfg: SmtpConfig): Promise<DataOutcome> {
    const headers = statusHeaders({ host: this.#d.hostname, status, findings: names });
    const what = status === 'Clean' ? 'delivered' : 'delivered-with-findings';
    const tag = names.length > 0 ? cfg.subjectTag : undefined;
    // The common case, a message held in memory and sent as it came: the spool's one buffer as it is, without a stream around it.
    if (tag === undefined && !spool.onDisk) return this.#send([headers, spool.bytes()], positiveText, what);
    let body: AsyncIterable<Buffer> = spool.stream();
    if (tag !== undefined) body = tagSubject(body, tag, cfg.maxHeaderSize);
    return this.#send(concatSources(headers, body), positiveText, what);
  }

  async #deliverRebuilt(spool: Spool, action: 'strip' | 'replace', parts: Map<number, string[]>, names: string[], positive: Reply, cfg: SmtpConfig): Promise<DataOutcome> {
    const notice = action === 'strip'
      ? (_n: number, found: readonly string[], filename: string) => `This part${filename !== '' ? ` (${oneLine(filename)})` : ''} was removed by the virus scanner: ${found.map(oneLine).join(', ')}.`
      : (_n: number, found: readonly string[], filename: string) => [
        'The virus scanner replaced this part of the message.',
        `Part: ${filename !== '' ? oneLine(filename) : '(no name)'}`,
        ...found.map((f) => `Found: ${oneLine(f)}`),
        `Scanner: portcullis on ${this.#d.hostname}`,
      ].join('\n');
    const { output, done } = replaceParts(spool.stream(), parts, notice);
    const headers = statusHeaders({ host: this.#d.hostname, status: action === 'strip' ? 'Stripped' : 'Replaced', findings: names });
    let body: AsyncIterable<Buffer> = output;
    if (cfg.subjectTag !== undefined) body = tagSubject(body, cfg.subjectTag, cfg.maxHeaderSize);
    // A part number that matched nothing would deliver the infected part: check before the final dot.
    const checked = (async function* () {
      yield* body;
      const replaced = await done;
      if (replaced !== parts.size) throw new Error(`Cannot ${action}: ${parts.size - replaced} infected part(s) not found when rebuilding`);
    })();
    return this.#send(concatSources(headers, checked), positive, action === 'strip' ? 'stripped' : 'replaced');
  }

  /**
   * The next hop, in the transaction: when it dropped the connection while
   * the message was spooled and scanned (an idle timeout of a slow scan), a
   * new connection with the same envelope replayed. Undefined when that
   * fails or any recipient is no longer accepted (the client was told all
   * were: it must retry rather than lose one).
   */
  async #liveHop(): Promise<NextHopClient | undefined> {
    if (this.#hop !== undefined && this.#hop.usable && this.#hopState === 'open') return this.#hop;
    const { facts, mail: mailLine, rcpts: rcptLines } = this.#envelope;
    if (facts === undefined || mailLine === undefined || rcptLines.length === 0) return undefined;
    this.#dropHop();
    if ((await this.connectHop()) !== undefined) return undefined;
    try {
      const intro = await this.#introduce(facts);
      if ('refused' in intro) return undefined;
      const hop = this.#hop as NextHopClient;
      const replies = await hop.pipeline([...intro.lines, mailLine, ...rcptLines]);
      this.#hopState = 'open';
      const mail = replies[intro.lines.length];
      const rcpts = replies.slice(intro.lines.length + 1);
      if (mail === undefined || !isPositive(mail) || !rcpts.every(isPositive)) {
        this.#d.ctx.log.warn({ sessionId: this.id, replies: replies.map((r) => r.code) }, 'next hop refused the replayed envelope');
        return undefined;
      }
      this.#d.ctx.log.info({ sessionId: this.id }, 'next hop reconnected, envelope replayed');
      return this.#hop;
    } catch {
      this.#dropHop();
      return undefined;
    }
  }

  async #send(message: AsyncIterable<Buffer> | readonly Buffer[], positiveText: Reply | undefined, what: string): Promise<DataOutcome> {
    const hop = await this.#liveHop();
    if (hop === undefined) return { reply: smtpReply('nextHopFailed'), what: 'next-hop-lost' };
    try {
      const r = await hop.data(message);
      this.#hopState = 'clean';
      if (isPositive(r) && positiveText !== undefined) return { reply: positiveText, what };
      return { reply: r, what: isPositive(r) ? what : 'next-hop-refused' };
    } catch (err) {
      // Whatever broke (the next hop, or the rebuild before the final dot), the next hop must not keep a half message: drop the connection.
      this.#d.ctx.log.warn({ sessionId: this.id, err: err instanceof Error ? err.message : String(err) }, 'delivery to the next hop failed');
      this.#dropHop();
      return { reply: smtpReply('nextHopFailed'), what: 'next-hop-failed' };
    }
  }

  /** Quarantine notices through the next hop with the null sender; a failure is logged (the message is safe in the quarantine). */
  async #notify(spool: Spool, result: InspectResult, from: string, rcpts: readonly string[], names: string[]): Promise<void> {
    const cfg = this.cfg;
    const to = [
      ...(cfg.notifyRecipients ? rcpts : []),
      ...(cfg.notifySender && from !== '' ? [from] : []),
      ...(cfg.notifyAdmin !== undefined ? [cfg.notifyAdmin] : []),
    ].filter((a) => safeAddress(a) && a !== '');
    if (to.length === 0 || result.quarantineId === undefined) return;
    const head = await headSection(spool, cfg.maxHeaderSize);
    const facts = {
      id: result.quarantineId, findings: names, contact: this.#d.tracked.snapshot.config.quarantine.contact,
      subject: headerOf(head, 'Subject'), from: headerOf(head, 'From') || from,
    };
    // A connection given XCLIENT speaks for the client who sent the virus: the notice is portcullis's own mail, so a fresh one.
    if (this.#hop === undefined || !this.#hop.usable || this.#xclientSent !== undefined) {
      this.#dropHop();
      if ((await this.connectHop()) !== undefined) return;
    }
    const hop = this.#hop as NextHopClient;
    try {
      for (const rcpt of [...new Set(to)]) {
        const [, mail, rc] = await hop.pipeline(['RSET', 'MAIL FROM:<>', `RCPT TO:<${rcpt}>`]) as [Reply, Reply, Reply];
        this.#hopState = 'open';
        if (!isPositive(mail) || !isPositive(rc)) {
          this.#d.ctx.log.warn({ sessionId: this.id, rcpt, reply: rc.code }, 'quarantine notice refused by the next hop');
          continue;
        }
        const notice = buildNotice(rcpt, { subject: cfg.noticeSubject, text: cfg.noticeText, host: this.#d.hostname }, facts);
        const r = await hop.data([notice]);
        this.#hopState = 'clean';
        if (!isPositive(r)) this.#d.ctx.log.warn({ sessionId: this.id, rcpt, reply: r.code }, 'quarantine notice refused by the next hop');
      }
    } catch (err) {
      this.#d.ctx.log.warn({ sessionId: this.id, err: err instanceof Error ? err.message : String(err) }, 'quarantine notice could not be sent');
      this.#dropHop();
    }
  }

  async close(): Promise<void> {
    const hop = this.#hop;
    this.#hop = undefined;
    this.#hopState = 'none';
    await hop?.quit();
  }
}

function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').slice(0, 200);
}

function toReply(r: { code: number; enhanced: string; text: string }): Reply {
  return reply(r.code, r.enhanced, r.text);
}

async function headSection(spool: Spool, max: number): Promise<string> {
  let head = '';
  for await (const chunk of spool.stream() as AsyncIterable<Buffer>) {
    head += chunk.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end >= 0) return head.slice(0, end + 2);
    if (head.length > max) break;
  }
  return head;
}

/**
 * The client as the session knows it: the socket's peer, or what the PROXY
 * header, a trusted front MTA's XFORWARD or XCLIENT said (smtp-server has
 * already put those into remoteAddress, remotePort and clientHostname).
 * The front MTA's own EHLO must not pass for the client's HELO, so the
 * forwarded HELO wins.
 */
export function clientIdentity(c: ClientFacts): ForwardFacts {
  const attr = (k: string): string | undefined => {
    for (const m of [c.xForward, c.xClient]) {
      const v = m?.get(k);
      if (typeof v === 'string' && v !== '') return v;
    }
    return undefined;
  };
  const proto = attr('PROTO')?.toUpperCase();
  const source = attr('SOURCE')?.toUpperCase();
  const helo = attr('HELO') ?? (c.hostNameAppearsAs || undefined);
  const ident = attr('IDENT');
  return {
    addr: c.remoteAddress,
    ...(c.remotePort > 0 ? { port: c.remotePort } : {}),
    ...(c.clientHostname ? { name: c.clientHostname } : {}),
    ...(helo !== undefined ? { helo } : {}),
    proto: proto !== undefined && /^[A-Z]{1,16}$/.test(proto) ? proto : c.openingCommand === 'HELO' ? 'SMTP' : 'ESMTP',
    ...(ident !== undefined ? { ident } : {}),
    ...(source === 'LOCAL' || source === 'REMOTE' ? { source } : {}),
  };
}

export function splitNextHop(nextHop: string): [string, number] {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(nextHop) ?? /^([^:]+):(\d+)$/.exec(nextHop);
  return [m?.[1] ?? '127.0.0.1', Number(m?.[2] ?? 25)];
}

/**
 * X-Virus-Status of a message passed on: a pass after a scanner failure (fail-open by the
 * operator's choice) was not scanned, and must not read "Clean" or "Infected" with nothing named.
 */
export function passStatus(cls: DecisionClass): string {
  if (cls === 'clean') return 'Clean';
  if (cls === 'scannerFailure') return 'Unscanned (scanner failure)';
  return 'Infected';
}
