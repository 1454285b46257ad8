// The clamd scanner against a scripted INSTREAM server on loopback (TCP and
// unix socket): protocol framing, reply parsing, size limit, timeout, pool.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClamdScanner, parseClamdAddress, parseInstreamReply, STREAM_LIMIT_FINDING } from './clamd.js';

/** What the fake clamd does once it has the whole stream (or the first chunk, for `early`). */
type Behaviour = (body: Buffer, socket: Socket) => void;

interface FakeClamd {
  server: Server;
  address: string;
  received: Buffer[];
  connections: number;
  maxConcurrent: number;
  closedSockets: number;
  setBehaviour(b: Behaviour, options?: { early?: boolean }): void;
}

/** Decodes INSTREAM framing strictly: a framing error is answered with a reply the tests would notice. */
async function startFake(listenOn: number | string): Promise<FakeClamd> {
  let behaviour: Behaviour = (_b, s) => s.end('stream: OK\0');
  let early = false;
  const fake: FakeClamd = {
    server: createServer(), address: '', received: [], connections: 0, maxConcurrent: 0, closedSockets: 0,
    setBehaviour(b, options) { behaviour = b; early = options?.early ?? false; },
  };
  let open = 0;
  fake.server.on('connection', (socket) => {
    fake.connections++;
    open++;
    fake.maxConcurrent = Math.max(fake.maxConcurrent, open);
    // A request counts as in flight until the server has answered it (its FIN may reach the client before the close is seen here).
    let counted = true;
    const leave = (): void => { if (counted) { counted = false; open--; } };
    socket.on('finish', leave);
    socket.on('close', () => { leave(); fake.closedSockets++; });
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let command: string | undefined;
    const parts: Buffer[] = [];
    let answered = false;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (command === undefined) {
        const nul = buf.indexOf(0);
        if (nul < 0) return;
        command = buf.subarray(0, nul).toString('latin1');
        buf = buf.subarray(nul + 1);
        if (command === 'zPING') { socket.end('PONG\0'); return; }
        if (command !== 'zINSTREAM') { socket.end('UNKNOWN COMMAND\0'); return; }
      }
      while (!answered && buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (len === 0) {
          answered = true;
          const body = Buffer.concat(parts);
          fake.received.push(body);
          behaviour(body, socket);
          return;
        }
        if (buf.length < 4 + len) return;
        parts.push(buf.subarray(4, 4 + len));
        buf = buf.subarray(4 + len);
        if (early) { answered = true; behaviour(Buffer.concat(parts), socket); return; }
      }
    });
  });
  await new Promise<void>((resolve) => fake.server.listen(listenOn, '127.0.0.1' as never, resolve));
  const addr = fake.server.address();
  fake.address = typeof addr === 'string' ? addr : `127.0.0.1:${addr?.port}`;
  return fake;
}

async function listenUnix(path: string): Promise<FakeClamd> {
  const fake = await startFake(0);
  fake.server.close();
  await new Promise<void>((resolve) => fake.server.listen(path, resolve));
  fake.address = path;
  return fake;
}

const pattern = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff));

describe('parseInstreamReply', () => {
  const cases: [string, string, ReturnType<typeof parseInstreamReply>][] = [
    ['ok', 'stream: OK\0', { kind: 'ok' }],
    ['found', 'stream: Eicar-Test-Signature FOUND\0', { kind: 'found', names: ['Eicar-Test-Signature'] }],
    ['found with suffix', 'stream: Eicar-Test-Signature.UNOFFICIAL FOUND', { kind: 'found', names: ['Eicar-Test-Signature.UNOFFICIAL'] }],
    ['several found (allmatch)', 'stream: A FOUND\0stream: B FOUND\0', { kind: 'found', names: ['A', 'B'] }],
    ['size limit', 'INSTREAM size limit exceeded. ERROR\0', { kind: 'limit' }],
    ['other error', 'stream: Can\'t allocate memory ERROR\0', { kind: 'error', message: "Can't allocate memory ERROR" }],
    ['garbage', 'hello\0', { kind: 'error', message: 'unexpected reply "hello"' }],
    ['empty', '\0', { kind: 'error', message: 'empty reply' }],
  ];
  for (const [name, raw, want] of cases) it(name, () => assert.deepEqual(parseInstreamReply(raw), want));
});

describe('parseClamdAddress', () => {
  const cases: [string, string, unknown][] = [
    ['host:port', '127.0.0.1:3310', { host: '127.0.0.1', port: 3310 }],
    ['name:port', 'clamd.local:3310', { host: 'clamd.local', port: 3310 }],
    ['ipv6', '[::1]:3310', { host: '::1', port: 3310 }],
    ['unix socket', '/run/clamav/clamd.ctl', { path: '/run/clamav/clamd.ctl' }],
    ['relative socket', './clamd.sock', { path: './clamd.sock' }],
  ];
  for (const [name, text, want] of cases) it(name, () => assert.deepEqual(parseClamdAddress(text), want));
  for (const bad of ['localhost', '127.0.0.1:0', '127.0.0.1:70000', ':3310', '']) {
    it(`rejects "${bad}"`, () => assert.throws(() => parseClamdAddress(bad), { code: 'PC_ERR_CONFIG' }));
  }
});

for (const transport of ['tcp', 'unix'] as const) {
  describe(`ClamdScanner over ${transport}`, () => {
    let fake: FakeClamd;
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'pc-clamd-'));
      fake = transport === 'tcp' ? await startFake(0) : await listenUnix(join(dir, 'clamd.sock'));
    });
    after(async () => {
      fake.server.close();
      await rm(dir, { recursive: true, force: true });
    });

    const replies: [string, Behaviour, { verdict: string; names: string[]; code?: string }][] = [
      ['OK is clean', (_b, s) => s.end('stream: OK\0'), { verdict: 'clean', names: [] }],
      ['FOUND is infected', (_b, s) => s.end('stream: Test.Sig FOUND\0'), { verdict: 'infected', names: ['Test.Sig'] }],
      ['size limit is a limits finding', (_b, s) => s.end('INSTREAM size limit exceeded. ERROR\0'), { verdict: 'infected', names: [STREAM_LIMIT_FINDING] }],
      ['ERROR is a scanner error', (_b, s) => s.end('stream: Something broke ERROR\0'), { verdict: 'error', names: [], code: 'PC_ERR_SCANNER' }],
      ['close without reply is an error', (_b, s) => s.end(), { verdict: 'error', names: [], code: 'PC_ERR_SCANNER' }],
    ];
    for (const [name, behaviour, want] of replies) {
      it(name, async () => {
        fake.setBehaviour(behaviour);
        const scanner = new ClamdScanner({ address: fake.address, timeoutMs: 5000 });
        const report = await scanner.scan({ name: 'x.bin', data: pattern(1000) });
        assert.equal(report.verdict, want.verdict);
        assert.deepEqual(report.findings.map((f) => f.name), want.names);
        for (const f of report.findings) assert.deepEqual([f.path, f.scanner], [['x.bin'], 'clamd']);
        assert.equal(report.errors[0]?.code, want.code);
        await scanner.close();
      });
    }

    const sizes: [string, number, number][] = [['empty', 0, 1024], ['one chunk', 700, 1024], ['exact chunks', 4096, 1024], ['ragged', 5000, 1024]];
    for (const [name, size, chunkSize] of sizes) {
      for (const source of ['data', 'path'] as const) {
        it(`sends the exact bytes (${name}, from ${source})`, async () => {
          fake.setBehaviour((_b, s) => s.end('stream: OK\0'));
          fake.received.length = 0;
          const bytes = pattern(size);
          const scanner = new ClamdScanner({ address: fake.address, chunkSize });
          let target;
          if (source === 'data') target = { name: 'a', data: bytes };
          else {
            const path = join(dir, `f-${size}`);
            await writeFile(path, bytes);
            target = { name: 'a', path, size };
          }
          const report = await scanner.scan(target);
          assert.equal(report.verdict, 'clean');
          assert.equal(report.bytesScanned, size);
          assert.deepEqual(fake.received[0], bytes);
          await scanner.close();
        });
      }
    }

    for (const source of ['data', 'path'] as const) {
      for (const [name, reply, names] of [['clean', 'stream: OK\0', [STREAM_LIMIT_FINDING]], ['found', 'stream: Sig FOUND\0', ['Sig', STREAM_LIMIT_FINDING]]] as const) {
        it(`sends no more than streamMaxLength and says so (${name}, from ${source})`, async () => {
          fake.setBehaviour((_b, s) => s.end(reply));
          fake.received.length = 0;
          const bytes = pattern(5000);
          const scanner = new ClamdScanner({ address: fake.address, chunkSize: 1024, streamMaxLength: 3000 });
          let target;
          if (source === 'data') target = { name: 'a', data: bytes };
          else {
            const path = join(dir, `cut-${name}`);
            await writeFile(path, bytes);
            target = { name: 'a', path, size: bytes.length };
          }
          const report = await scanner.scan(target);
          assert.deepEqual(fake.received[0], bytes.subarray(0, 3000));
          assert.equal(report.verdict, 'infected');
          assert.deepEqual(report.findings.map((f) => f.name), names);
          await scanner.close();
        });
      }
    }

    it('keeps the size-limit reply clamd sends while we are still sending', async () => {
      fake.setBehaviour((_b, s) => { s.write('INSTREAM size limit exceeded. ERROR\0'); s.destroy(); }, { early: true });
      const scanner = new ClamdScanner({ address: fake.address, chunkSize: 64 * 1024 });
      const report = await scanner.scan({ name: 'big', data: pattern(8 * 1024 * 1024) });
      assert.equal(report.verdict, 'infected');
      assert.deepEqual(report.findings.map((f) => f.name), [STREAM_LIMIT_FINDING]);
      await scanner.close();
    });

    it('a timed-out scan reports PC_ERR_SCAN_TIMEOUT and closes its socket', async () => {
      fake.setBehaviour(() => undefined);
      const closedBefore = fake.closedSockets;
      const scanner = new ClamdScanner({ address: fake.address, timeoutMs: 200 });
      const t0 = performance.now();
      const report = await scanner.scan({ name: 'slow', data: pattern(10) });
      assert.equal(report.verdict, 'error');
      assert.equal(report.errors[0]?.code, 'PC_ERR_SCAN_TIMEOUT');
      assert.ok(performance.now() - t0 < 2000);
      for (let i = 0; i < 50 && fake.closedSockets === closedBefore; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(fake.closedSockets, closedBefore + 1, 'the server saw the socket close');
      await scanner.close();
    });

    it('never has more connections open than maxConnections', async () => {
      fake.setBehaviour((_b, s) => setTimeout(() => s.end('stream: OK\0'), 30));
      fake.maxConcurrent = 0;
      const scanner = new ClamdScanner({ address: fake.address, maxConnections: 2 });
      const reports = await Promise.all(Array.from({ length: 7 }, (_, i) => scanner.scan({ name: `f${i}`, data: pattern(100) })));
      assert.deepEqual(reports.map((r) => r.verdict), Array(7).fill('clean'));
      assert.equal(fake.maxConcurrent, 2);
      await scanner.close();
    });

    it('PING answers PONG', async () => {
      const scanner = new ClamdScanner({ address: fake.address });
      await scanner.ping();
      await scanner.close();
    });
  });
}

describe('ClamdScanner failures', () => {
  it('an unreachable clamd is PC_ERR_SCANNER', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const scanner = new ClamdScanner({ address: `127.0.0.1:${port}` });
    const report = await scanner.scan({ name: 'x', data: pattern(10) });
    assert.equal(report.verdict, 'error');
    assert.equal(report.errors[0]?.code, 'PC_ERR_SCANNER');
    await assert.rejects(scanner.ping(), { code: 'PC_ERR_SCANNER' });
  });

  it('a missing file is PC_ERR_SCAN_INPUT', async () => {
    const fake = await startFake(0);
    const scanner = new ClamdScanner({ address: fake.address });
    const report = await scanner.scan({ name: 'x', path: '/nonexistent/portcullis-test', size: 10 });
    assert.equal(report.verdict, 'error');
    assert.equal(report.errors[0]?.code, 'PC_ERR_SCAN_INPUT');
    fake.server.close();
  });
});
