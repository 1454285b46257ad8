// Spool receive/send over real loopback sockets: bytes arrive byte-identical
// through both kinds of data socket (one reading into a reused buffer, one
// ordinary), across staging-buffer boundaries, the size cap stops at the
// first byte over, and delivery from an offset sends the tail.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActiveEndpoint, ChunkReader } from './data.js';
import { Spool, SpoolError } from './spool.js';
import { pattern } from './testing.js';


/** A server that sends `data` to whoever connects, then ends; returns its port and a closer. */
async function source(data: Buffer): Promise<{ port: number; close: () => void }> {
  const server = createServer((s) => { s.on('error', () => s.destroy()); s.end(data); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return { port: typeof a === 'object' && a !== null ? a.port : 0, close: () => server.close() };
}

async function connectTo(port: number, reuse: boolean): Promise<Socket> {
  return new ActiveEndpoint({ host: '127.0.0.1', port, timeoutMs: 5000, reuseReadBuffer: reuse }).open();
}

describe('Spool.receive (download path)', () => {
  const cases = [
    { name: 'empty file, reused buffer', size: 0, reuse: true },
    { name: 'one byte, reused buffer', size: 1, reuse: true },
    { name: '64 KiB + 1, reused buffer', size: 65537, reuse: true },
    { name: '9 MiB + 3 crosses staging buffers, reused buffer', size: 9 * 1024 * 1024 + 3, reuse: true },
    { name: '9 MiB + 3, ordinary socket', size: 9 * 1024 * 1024 + 3, reuse: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'spool-test-'));
      const data = pattern(c.size);
      const src = await source(data);
      try {
        const spool = await Spool.create(dir, 'case');
        const s = await connectTo(src.port, c.reuse);
        assert.equal(await spool.receive(s, 1 << 30), 'complete');
        assert.equal(spool.size, c.size);
        assert.ok((await readFile(spool.path)).equals(data), 'spooled bytes differ');
        await spool.remove();
      } finally {
        src.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('after a head read through the same ChunkReader, the rest follows it in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-test-'));
    const data = pattern(3 * 1024 * 1024 + 11);
    const src = await source(data);
    try {
      const spool = await Spool.create(dir, 'head');
      const s = await connectTo(src.port, true);
      const head = await new Promise<Buffer>((resolve) => {
        const r = ChunkReader.of(s);
        r.set((c) => { r.set(undefined); resolve(Buffer.from(c)); return false; });
        r.resume();
      });
      await spool.append(head);
      assert.equal(await spool.receive(s, 1 << 30), 'complete');
      assert.ok((await readFile(spool.path)).equals(data), 'spooled bytes differ');
      await spool.remove();
    } finally {
      src.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops at the first byte over the cap and destroys the socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-test-'));
    const src = await source(pattern(6 * 1024 * 1024));
    try {
      const spool = await Spool.create(dir, 'cap');
      const s = await connectTo(src.port, true);
      assert.equal(await spool.receive(s, 1024 * 1024), 'tooBig');
      assert.ok(spool.size > 1024 * 1024);
      assert.equal(s.destroyed, true);
      await spool.remove();
    } finally {
      src.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Spool.send', () => {
  const size = 2 * 1024 * 1024 + 5;
  const cases = [
    { name: 'whole file', offset: 0 },
    { name: 'from an offset inside the second read', offset: 1024 * 1024 + 17 },
    { name: 'offset at the end sends nothing', offset: size },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'spool-test-'));
      const data = pattern(size);
      const got: Buffer[] = [];
      let ended: () => void = () => undefined;
      const closed = new Promise<void>((r) => { ended = r; });
      const server = createServer((s) => { s.on('data', (d: Buffer) => got.push(d)); s.on('end', () => ended()); });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const a = server.address();
      try {
        const spool = await Spool.create(dir, 'send');
        await spool.append(data);
        const s = await connectTo(typeof a === 'object' && a !== null ? a.port : 0, false);
        await spool.send(s, c.offset);
        await closed;
        assert.ok(Buffer.concat(got).equals(data.subarray(c.offset)), 'sent bytes differ');
        await spool.remove();
      } finally {
        server.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('Spool on a disk that fails', () => {
  /** node's open, but the file's writes fail with ENOSPC once `room` bytes are written (a full disk). */
  const fullAfter = (room: number): typeof open => (async (...args: Parameters<typeof open>) => {
    const fh = await open(...args);
    let left = room;
    const enospc = (): Error => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return new Proxy(fh, {
      get(target, prop) {
        if (prop === 'writev') {
          return async (parts: Buffer[], position: number) => {
            const n = parts.reduce((a, p) => a + p.byteLength, 0);
            if (n > left) throw enospc();
            left -= n;
            return target.writev(parts, position);
          };
        }
        if (prop === 'write') {
          return async (b: Buffer, off = 0, len = b.byteLength - off, position?: number) => {
            if (len > left) throw enospc();
            left -= len;
            return target.write(b, off, len, position);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }) as typeof open;

  const cases = [
    { name: 'mid-receive (reused buffer): a SpoolError naming ENOSPC, not a lost connection', room: 5 * 1024 * 1024, reuse: true },
    { name: 'mid-receive (ordinary socket)', room: 5 * 1024 * 1024, reuse: false },
    { name: 'at the first write', room: 0, reuse: true },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'spool-test-'));
      const src = await source(pattern(12 * 1024 * 1024));
      try {
        const spool = await Spool.create(dir, 'full', fullAfter(c.room));
        const s = await connectTo(src.port, c.reuse);
        await assert.rejects(spool.receive(s, 1 << 30), (err: unknown) => err instanceof SpoolError && /ENOSPC/.test(err.message));
        assert.equal(s.destroyed, true, 'the socket is not left reading');
        await spool.remove();
      } finally {
        src.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it('append (a head) on a full disk is a SpoolError too; create in an unusable folder as well', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spool-test-'));
    try {
      const spool = await Spool.create(dir, 'full', fullAfter(10));
      await assert.rejects(spool.append(Buffer.alloc(11)), SpoolError);
      await spool.remove();
      await writeFile(join(dir, 'file'), 'x');
      await assert.rejects(Spool.create(join(dir, 'file', 'sub'), 'x'), (err: unknown) => err instanceof SpoolError && /ENOTDIR/.test(err.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
