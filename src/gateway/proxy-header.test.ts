/** readProxyHeader and its cap on real loopback sockets: what is read, what is put back, who is refused. */
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ProxyHeaderWaits, readProxyHeader } from './proxy-header.js';

let server: Server;
let port = 0;
const accepted: Socket[] = [];
const clients: Socket[] = [];

before(async () => {
  server = createServer((s) => {
    s.pause();
    accepted.push(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as { port: number }).port;
});
after(async () => {
  for (const s of [...accepted, ...clients]) s.destroy();
  server.close();
  await once(server, 'close');
});

/** A connected pair: our client end and the server's accepted end. */
async function pair(): Promise<{ client: Socket; socket: Socket }> {
  const seen = accepted.length;
  const client = connect({ host: '127.0.0.1', port });
  clients.push(client);
  client.on('error', () => undefined);
  await once(client, 'connect');
  while (accepted.length === seen) await new Promise((r) => setTimeout(r, 5));
  return { client, socket: accepted[accepted.length - 1] as Socket };
}

describe('readProxyHeader', () => {
  it('reads a v1 header split across writes and puts back the bytes after it', async () => {
    const { client, socket } = await pair();
    const outcome = readProxyHeader(socket, 5000);
    client.write('PROXY TCP4 192.0.2.7 ');
    await new Promise((r) => setTimeout(r, 20));
    client.write('198.51.100.1 40000 25\r\nEHLO x\r\n');
    const h = await outcome;
    assert.deepEqual(h, { ok: true, version: 1, client: { address: '192.0.2.7', port: 40000 } });
    socket.resume();
    const [rest] = (await once(socket, 'data')) as [Buffer];
    assert.equal(rest.toString('latin1'), 'EHLO x\r\n');
  });

  const failures: readonly { name: string; act: (c: Socket) => void; reason: RegExp; timeoutMs?: number }[] = [
    { name: 'a malformed header', act: (c) => c.write('HELO there\r\n'), reason: /./ },
    { name: 'the peer closing first', act: (c) => c.end(), reason: /closed the connection before the PROXY header/ },
    { name: 'no header within the timeout', act: () => undefined, reason: /no PROXY header within 100 ms/, timeoutMs: 100 },
  ];
  for (const c of failures) {
    it(`is refused with a reason: ${c.name}`, async () => {
      const { client, socket } = await pair();
      const outcome = readProxyHeader(socket, c.timeoutMs ?? 5000);
      c.act(client);
      const h = await outcome;
      assert.equal(h.ok, false);
      assert.match(h.ok ? '' : h.reason, c.reason);
    });
  }
});

describe('ProxyHeaderWaits', () => {
  it('refuses a connection past the cap at once, and counts a finished wait out', async () => {
    const waits = new ProxyHeaderWaits();
    const a = await pair();
    const b = await pair();
    const first = waits.read(a.socket, 5000, 1);
    assert.equal(waits.waiting, 1);
    const second = await waits.read(b.socket, 5000, 1);
    assert.deepEqual(second, { ok: false, reason: 'too many connections waiting for their PROXY header (1)' });
    a.client.write('PROXY UNKNOWN\r\n');
    assert.equal((await first).ok, true);
    assert.equal(waits.waiting, 0);
    const c = await pair();
    const third = waits.read(c.socket, 5000, 1);
    c.client.write('PROXY TCP6 2001:db8::1 2001:db8::2 1234 21\r\n');
    assert.deepEqual(await third, { ok: true, version: 1, client: { address: '2001:db8::1', port: 1234 } });
  });
});
