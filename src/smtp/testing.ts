/**
 * Test helpers for the SMTP proxy: an in-process next hop (smtp-server)
 * that keeps what it receives and can refuse recipients, a raw SMTP client
 * that reads whole replies (multi-line included), and a gateway with the
 * real SMTP listener in front of that next hop.
 */
import { type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { Gateway } from '../gateway/index.js';
import { captureLog, dial, FramedClient, tempDir, testConfig, type CapturedLog } from '../gateway/testing.js';
import { createListener } from './listener.js';
import { ReplyParser, type Reply } from './reply.js';

export interface HopMessage {
  /** Whether the next hop received it over TLS. */
  readonly tls: boolean;
  readonly from: string;
  readonly rcpts: readonly string[];
  readonly data: Buffer;
  readonly xforward?: Readonly<Record<string, string>>;
  readonly xclient?: Readonly<Record<string, string>>;
  /** The client as the next hop saw it (after XCLIENT/XFORWARD). */
  readonly client: { readonly addr: string; readonly name: string; readonly helo: string };
}

export interface NextHopOptions {
  /** Recipients refused, with the reply code (e.g. 550 or 450) and text. */
  readonly refuse?: Readonly<Record<string, { code: number; text: string }>>;
  /** Final reply code for DATA (default 250). */
  readonly dataCode?: number;
  readonly size?: number;
  readonly hide8bit?: boolean;
  /** Offer STARTTLS (smtp-server's built-in test certificate). */
  readonly starttls?: boolean;
  /** Closes the first session right after its first accepted RCPT (an idle timeout while the proxy scans). */
  readonly dropFirstSessionAfterRcpt?: boolean;
  /** Called when DATA starts; may destroy the socket to act out a failure. */
  readonly onDataStart?: (socket: { destroy(): void }) => void;
  /** Offer XFORWARD (default true) / XCLIENT (default false) to every client. */
  readonly xforward?: boolean;
  readonly xclient?: boolean;
}

export interface TestNextHop {
  readonly port: number;
  readonly messages: HopMessage[];
  /** Connections accepted so far. */
  readonly connections: () => number;
  close(): Promise<void>;
}

export async function startNextHop(o: NextHopOptions = {}): Promise<TestNextHop> {
  const messages: HopMessage[] = [];
  let dropped = false;
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    ...(o.starttls === true ? { disabledCommands: ['AUTH'] } : { disabledCommands: ['AUTH', 'STARTTLS'], hideSTARTTLS: true }),
    logger: false,
    disableReverseLookup: true,
    useXForward: o.xforward ?? true,
    useXClient: o.xclient ?? false,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: false,
    ...(o.size !== undefined ? { size: o.size } : {}),
    ...(o.hide8bit === true ? { hide8BITMIME: true } : {}),
    onRcptTo(address, session, cb) {
      const r = o.refuse?.[address.address];
      if (r !== undefined) return cb(Object.assign(new Error(r.text), { responseCode: r.code }));
      cb();
      if (o.dropFirstSessionAfterRcpt === true && !dropped) {
        dropped = true;
        const conn = [...(server as unknown as { connections: Set<{ id: string; _socket: Socket }> }).connections].find((c) => c.id === session.id);
        setTimeout(() => conn?._socket.destroy(), 20);
      }
    },
    onData(stream, session, cb) {
      if (o.onDataStart !== undefined) {
        const conn = [...(server as unknown as { connections: Set<{ id: string; _socket: Socket }> }).connections].find((c) => c.id === session.id);
        if (conn !== undefined) o.onDataStart(conn._socket);
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mailFrom = session.envelope.mailFrom;
        const xf = (session as unknown as { xForward?: Map<string, string> }).xForward;
        const xc = (session as unknown as { xClient?: Map<string, string> }).xClient;
        messages.push({
          tls: session.secure === true,
          from: mailFrom === false ? '' : mailFrom.address,
          rcpts: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks),
          ...(xf instanceof Map && xf.size > 0 ? { xforward: Object.fromEntries(xf) } : {}),
          ...(xc instanceof Map && xc.size > 0 ? { xclient: Object.fromEntries(xc) } : {}),
          client: { addr: session.remoteAddress, name: session.clientHostname, helo: session.hostNameAppearsAs },
        });
        const code = o.dataCode ?? 250;
        if (code >= 400) return cb(Object.assign(new Error('Refused by the test next hop'), { responseCode: code }));
        cb(null, 'Ok: queued as TESTQUEUEID');
      });
    },
  });
  let accepted = 0;
  server.server.on('connection', () => { accepted++; });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const a = server.server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return { port, messages, connections: () => accepted, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A raw SMTP client: writes bytes as given, reads whole replies. */
export class RawSmtp extends FramedClient<Reply> {
  private constructor(socket: Socket) {
    const parser = new ReplyParser();
    super(socket, (chunk) => parser.push(chunk).flatMap((ev) => (ev.kind === 'reply' ? [ev.reply] : [])));
  }

  static async open(port: number): Promise<RawSmtp> {
    return new RawSmtp(await dial(`127.0.0.1:${port}`));
  }

  /** The next reply; undefined when the connection closed first. */
  reply(timeoutMs = 10_000): Promise<Reply | undefined> {
    return this.next(timeoutMs, 'reply');
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one command line and returns its reply. */
  async cmd(line: string): Promise<Reply | undefined> {
    this.write(`${line}\r\n`);
    return this.reply();
  }
}

export interface ProxyRig {
  readonly gateway: Gateway;
  readonly port: number;
  readonly hop: TestNextHop;
  readonly log: CapturedLog;
  readonly dataDir: string;
  /** Opens a session and says EHLO; returns the client and the EHLO reply. */
  open(): Promise<{ c: RawSmtp; ehlo: Reply }>;
  /** Reloads the gateway with these smtp keys changed (new sessions see them). */
  reload(smtp: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(smtp: Record<string, unknown> = {}, hopOptions: NextHopOptions = {}, overrides: Record<string, unknown> = {}): Promise<ProxyRig> {
  const hop = await startNextHop(hopOptions);
  const dir = await tempDir('pc-smtp-');
  const log = captureLog('info');
  const configWith = (more: Record<string, unknown>) =>
    testConfig(dir.path, { ftp: false, smtp: { listen: '127.0.0.1:0', nextHop: `127.0.0.1:${hop.port}`, hostname: 'proxy.test', ...smtp, ...more }, ...overrides });
  let config = configWith({});
  const gateway = await Gateway.start({ readConfig: async () => config, log: log.log, admin: false, noPrivilegeDrop: true, listeners: { smtp: createListener } });
  const port = Number(/:(\d+)$/.exec(gateway.addresses().smtp ?? '')?.[1]);
  return {
    gateway, port, hop, log, dataDir: dir.path,
    async open() {
      const c = await RawSmtp.open(port);
      const greet = await c.reply();
      if (greet?.code !== 220) throw new Error(`greeting ${JSON.stringify(greet)}`);
      const ehlo = await c.cmd('EHLO client.test');
      if (ehlo === undefined) throw new Error('closed at EHLO');
      return { c, ehlo };
    },
    async reload(more) {
      config = configWith(more);
      await gateway.reload();
    },
    async close() {
      await gateway.stop();
      await hop.close();
      await dir.remove();
    },
  };
}

/** The EICAR test string, built from two halves so no tool flags this source. */
export function eicar(): string {
  return 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
}
