// readIntoReusedBuffer over real loopback sockets: an accepted (passive)
// socket taken over before it has read arrives byte-identical through
// ChunkReader with every chunk from the reused buffer, its peer address and
// writes still work, the endpoint's listener still closes; a socket that has
// already read, or is not a plain TCP socket object, is returned unchanged.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, Socket } from 'node:net';
import { ChunkReader, PassiveEndpoint, readIntoReusedBuffer } from './data.js';
import { pattern } from './testing.js';


/** A passive endpoint, a client that connects and sends `data` (then ends), and the accepted socket. */
async function accepted(data: Buffer): Promise<{ socket: Socket; client: Socket; ep: PassiveEndpoint }> {
  const ep = await PassiveEndpoint.listen({ host: '127.0.0.1', peer: '127.0.0.1', timeoutMs: 5000 });
  const client = connect({ host: '127.0.0.1', port: ep.port });
  client.on('error', () => client.destroy());
  const socket = await ep.open();
  client.end(data);
  return { socket, client, ep };
}

/** Everything the socket's ChunkReader hands out, copied, and whether every chunk came from a reused buffer. */
function readAllChunks(s: Socket): Promise<{ data: Buffer; allReused: boolean }> {
  const reader = ChunkReader.of(s);
  const parts: Buffer[] = [];
  let allReused = true;
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve({ data: Buffer.concat(parts), allReused }));
    s.once('error', reject);
    reader.set((chunk, reused) => { parts.push(Buffer.from(chunk)); allReused &&= reused; return true; });
    reader.resume();
  });
}

describe('readIntoReusedBuffer', () => {
  const sizes = [
    { name: 'empty upload', size: 0 },
    { name: 'one byte', size: 1 },
    { name: '1 MiB + 1 crosses the buffer size', size: 1024 * 1024 + 1 },
    { name: '7 MiB + 5', size: 7 * 1024 * 1024 + 5 },
  ];
  for (const c of sizes) {
    it(`${c.name}: a fresh accepted socket is taken over and its bytes arrive identical, all from the reused buffer`, async () => {
      const body = pattern(c.size);
      const { socket, client, ep } = await accepted(body);
      try {
        const adopted = readIntoReusedBuffer(socket);
        assert.notEqual(adopted, socket, 'taken over');
        assert.equal(socket.destroyed, true, 'the old object is let go');
        assert.equal(adopted.remoteAddress, '127.0.0.1');
        const got = await readAllChunks(adopted);
        assert.ok(got.data.equals(body));
        assert.equal(got.allReused, true);
        assert.equal(adopted.bytesRead, c.size);
        adopted.end();
      } finally { ep.close(); client.destroy(); }
    });
  }

  it('the adopted socket still writes to its peer', async () => {
    const { socket, client, ep } = await accepted(Buffer.alloc(0));
    try {
      const adopted = readIntoReusedBuffer(socket);
      const echoed = new Promise<string>((resolve) => { let t = ''; client.on('data', (d: Buffer) => { t += d.toString(); }); client.on('end', () => resolve(t)); });
      adopted.end('reply');
      assert.equal(await echoed, 'reply');
    } finally { ep.close(); client.destroy(); }
  });

  it('a socket that has read already is returned unchanged (its bytes would be lost)', async () => {
    const { socket, client, ep } = await accepted(Buffer.from('early'));
    try {
      socket.resume();
      await new Promise((r) => socket.once('data', r));
      assert.equal(readIntoReusedBuffer(socket), socket);
    } finally { ep.close(); client.destroy(); socket.destroy(); }
  });

  it('an object that is not a plain TCP socket is returned unchanged', () => {
    class Wrapped extends Socket {}
    const w = new Wrapped();
    assert.equal(readIntoReusedBuffer(w), w);
    w.destroy();
  });
});
