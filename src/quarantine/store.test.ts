import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isPortcullisError } from '../errors.js';
import { openDatabase, type Db } from '../events/db.js';
import type { QuarantineId } from './id.js';
import { openQuarantine, safeFileName, type Quarantine, type QuarantineAddInput, type ReleaseMailHook } from './store.js';

const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 10);

let dir: string;
let db: Db;
let now: number;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-q-'));
  db = openDatabase({ dir });
  now = T0;
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(extra: { releaseMail?: ReleaseMailHook; maxAgeMs?: number; maxTotalBytes?: number } = {}): Quarantine {
  return openQuarantine({
    dir: join(dir, 'quarantine'), db, now: () => now,
    ...(extra.releaseMail !== undefined ? { releaseMail: extra.releaseMail } : {}),
    retention: { maxAgeMs: extra.maxAgeMs ?? 0, maxTotalBytes: extra.maxTotalBytes ?? 0 },
  });
}

function input(over: Partial<QuarantineAddInput> = {}): QuarantineAddInput {
  return {
    source: { data: Buffer.from(EICAR) }, originalName: 'eicar.com', protocol: 'ftp', direction: 'inbound',
    client: '192.0.2.7:5000', server: '198.51.100.1:21', findings: [{ name: 'Eicar-Test-Signature', path: ['eicar.com'], scanner: 'builtin' }],
    ...over,
  };
}

const HOSTILE_NAMES = [
  '../../../../etc/passwd',
  '..\\..\\windows\\system32\\evil.dll',
  '/absolute/path.exe',
  'name\u0000with-nul.exe',
  '<script>alert(1)</script>.html',
  'line\r\nbreak.exe',
  '.hidden',
  '\u202egnp.exe',
];

describe('quarantine store', () => {
  it('stores bytes under a random 0600 name and indexes every field', async () => {
    const q = open();
    const e = await q.add(input({ envelope: { from: 'a@example.org', rcpts: ['b@example.net'] }, protocol: 'smtp' }));
    assert.match(e.id, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    assert.equal(e.size, EICAR.length);
    assert.equal(e.sha256, createHash('sha256').update(EICAR).digest('hex'));
    assert.equal(e.state, 'held');
    assert.equal(e.time, T0);
    assert.deepEqual(e.envelope, { from: 'a@example.org', rcpts: ['b@example.net'] });
    const files = readdirSync(q.dir);
    assert.equal(files.length, 1);
    assert.match(files[0] as string, /^[0-9a-f]{32}$/);
    assert.equal(statSync(join(q.dir, files[0] as string)).mode & 0o777, 0o600);
    assert.equal(statSync(q.dir).mode & 0o777, 0o700);
    assert.deepEqual(q.get(e.id), e);
    assert.deepEqual(q.get(e.id.toLowerCase()), e);
  });

  for (const name of HOSTILE_NAMES) {
    it(`keeps a hostile original name out of the filesystem: ${JSON.stringify(name)}`, async () => {
      const q = open();
      const e = await q.add(input({ originalName: name }));
      assert.equal(q.get(e.id)?.originalName, name);
      const files = readdirSync(q.dir);
      assert.deepEqual(files.map((f) => /^[0-9a-f]{32}$/.test(f)), [true]);
      assert.deepEqual(readdirSync(dir).sort(), ['portcullis.db', 'portcullis.db-shm', 'portcullis.db-wal', 'quarantine'].filter((f) => existsSync(join(dir, f))));
      const out = join(dir, 'out');
      mkdirSync(out);
      const r = await q.release(e.id, { to: out });
      assert.ok(r.releasedTo.startsWith(out + '/'), r.releasedTo);
      assert.equal(readdirSync(out).length, 1);
      assert.equal(readFileSync(r.releasedTo, 'utf8'), EICAR);
    });
  }

  const sources: { name: string; source: () => QuarantineAddInput['source'] }[] = [
    { name: 'buffer', source: () => ({ data: Buffer.from(EICAR) }) },
    { name: 'file path', source: () => { const p = join(dir, 'spool'); writeFileSync(p, EICAR); return { path: p }; } },
    { name: 'stream in pieces', source: () => ({ stream: Readable.from([...EICAR].map((c) => Buffer.from(c))) }) },
  ];
  for (const s of sources) {
    it(`adds from a ${s.name}`, async () => {
      const q = open();
      const e = await q.add(input({ source: s.source() }));
      const { stream } = q.read(e.id);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), EICAR);
    });
  }

  it('leaves nothing behind when the source fails', async () => {
    const q = open();
    async function* broken(): AsyncIterable<Uint8Array> { yield Buffer.from('abc'); throw new Error('spool vanished'); }
    await assert.rejects(q.add(input({ source: { stream: broken() } })), (e) => isPortcullisError(e, 'PC_ERR_QUARANTINE'));
    assert.deepEqual(readdirSync(q.dir), []);
    assert.equal(q.list().total, 0);
  });

  const badIds = ['../../etc/passwd', '..', '', 'ZZZZ-ZZZZ-ZZZZ', '0000-0000-000/', `${'../'.repeat(4)}portcullis.db`];
  for (const id of badIds) {
    it(`refuses an unknown or traversal id everywhere: ${JSON.stringify(id)}`, async () => {
      const q = open();
      await q.add(input());
      assert.equal(q.get(id), undefined);
      assert.throws(() => q.read(id), (e) => isPortcullisError(e, 'PC_ERR_NOT_FOUND'));
      await assert.rejects(q.release(id, { to: join(dir, 'x') }), (e) => isPortcullisError(e, 'PC_ERR_NOT_FOUND'));
      await assert.rejects(q.delete(id), (e) => isPortcullisError(e, 'PC_ERR_NOT_FOUND'));
    });
  }

  it('refuses a storage name in the index that is not its own pattern', async () => {
    const q = open();
    const e = await q.add(input());
    db.prepare('UPDATE quarantine SET storage_name = ? WHERE id = ?').run('../portcullis.db', e.id);
    assert.throws(() => q.read(e.id), (err) => isPortcullisError(err, 'PC_ERR_QUARANTINE'));
  });

  it('says so when the stored file has gone missing', async () => {
    const q = open();
    const e = await q.add(input());
    for (const f of readdirSync(q.dir)) rmSync(join(q.dir, f));
    assert.throws(() => q.read(e.id), (err) => isPortcullisError(err, 'PC_ERR_QUARANTINE') && /missing/.test(err.message));
  });

  it('lists with filters, search and paging', async () => {
    const q = open();
    const a = await q.add(input({ originalName: 'a.exe' }));
    now += 1000;
    await q.add(input({ originalName: 'b_100%.zip', protocol: 'smtp', envelope: { from: 'x@example.org', rcpts: ['boss@example.net'] } }));
    now += 1000;
    await q.add(input({ originalName: 'c.doc' }));
    await q.delete(a.id);
    const names = (query: Parameters<Quarantine['list']>[0]) => q.list(query).items.map((e) => e.originalName);
    assert.deepEqual(names({}), ['c.doc', 'b_100%.zip', 'a.exe']);
    assert.deepEqual(names({ state: 'held' }), ['c.doc', 'b_100%.zip']);
    assert.deepEqual(names({ state: 'deleted' }), ['a.exe']);
    assert.deepEqual(names({ protocol: 'smtp' }), ['b_100%.zip']);
    assert.deepEqual(names({ text: 'boss@' }), ['b_100%.zip']);
    assert.deepEqual(names({ text: '_1' }), ['b_100%.zip']);
    assert.deepEqual(names({ text: a.id.slice(5, 9) }), ['a.exe']);
    assert.deepEqual(names({ limit: 1, offset: 1 }), ['b_100%.zip']);
    assert.equal(q.list({ limit: 1 }).total, 3);
    assert.deepEqual(q.stats(), { held: 2, released: 0, bytes: 2 * EICAR.length });
  });

  it('releases a file to a folder, then again without overwriting', async () => {
    const q = open();
    const e = await q.add(input({ originalName: 'report.pdf' }));
    const out = join(dir, 'out');
    mkdirSync(out);
    const first = await q.release(e.id, { to: out });
    const second = await q.release(e.id, { to: out });
    assert.equal(first.releasedTo, join(out, 'report.pdf'));
    assert.equal(second.releasedTo, join(out, 'report (1).pdf'));
    assert.equal(second.entry.state, 'released');
    assert.equal(second.entry.releasedTo, second.releasedTo);
    assert.equal(readFileSync(first.releasedTo, 'utf8'), EICAR);
  });

  it('releases a file to a new path, and refuses an existing file', async () => {
    const q = open();
    const e = await q.add(input());
    const target = join(dir, 'exported.bin');
    await q.release(e.id, { to: target });
    assert.equal(readFileSync(target, 'utf8'), EICAR);
    await assert.rejects(q.release(e.id, { to: target }), (err) => isPortcullisError(err, 'PC_ERR_QUARANTINE'));
  });

  it('releases a file to the default release folder', async () => {
    const q = open();
    const e = await q.add(input({ originalName: 'x.exe' }));
    const r = await q.release(e.id);
    assert.equal(r.releasedTo, join(dir, 'released', 'x.exe'));
  });

  it('re-delivers mail through the hook with the stored bytes', async () => {
    const seen: { rcpts: readonly string[]; body: string }[] = [];
    const q = open({
      releaseMail: async (entry, stream) => {
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        seen.push({ rcpts: entry.envelope?.rcpts ?? [], body: Buffer.concat(chunks).toString() });
      },
    });
    const e = await q.add(input({ protocol: 'smtp', envelope: { from: 'a@example.org', rcpts: ['b@example.net', 'c@example.net'] } }));
    const r = await q.release(e.id);
    assert.equal(r.releasedTo, 'smtp');
    assert.deepEqual(seen, [{ rcpts: ['b@example.net', 'c@example.net'], body: EICAR }]);
    assert.equal(q.get(e.id)?.state, 'released');
  });

  it('keeps mail held when re-delivery fails or is not set up', async () => {
    const q = open();
    const e = await q.add(input({ protocol: 'smtp', envelope: { from: 'a@example.org', rcpts: ['b@example.net'] } }));
    await assert.rejects(q.release(e.id), (err) => isPortcullisError(err, 'PC_ERR_QUARANTINE') && /no SMTP next hop/.test(err.message));
    q.setReleaseMail(async () => { throw new Error('554 no'); });
    await assert.rejects(q.release(e.id), /554 no/);
    assert.equal(q.get(e.id)?.state, 'held');
    const noRcpt = await q.add(input({ protocol: 'smtp' }));
    await assert.rejects(q.release(noRcpt.id), /no recorded recipients/);
  });

  it('deletes the bytes and keeps the record', async () => {
    const q = open();
    const e = await q.add(input());
    now += 5;
    const d = await q.delete(e.id);
    assert.equal(d.state, 'deleted');
    assert.equal(d.deletedAt, T0 + 5);
    assert.deepEqual(readdirSync(q.dir), []);
    assert.throws(() => q.read(e.id), (err) => isPortcullisError(err, 'PC_ERR_NOT_FOUND'));
    await assert.rejects(q.delete(e.id), (err) => isPortcullisError(err, 'PC_ERR_NOT_FOUND'));
  });

  it('prunes by age', async () => {
    const q = open({ maxAgeMs: 10 * DAY });
    const old = await q.add(input({ originalName: 'old' }));
    now += 5 * DAY;
    const young = await q.add(input({ originalName: 'young' }));
    now = T0 + 11 * DAY;
    assert.equal(await q.prune(), 1);
    assert.equal(q.get(old.id)?.state, 'deleted');
    assert.equal(q.get(young.id)?.state, 'held');
    assert.equal(readdirSync(q.dir).length, 1);
    now = T0 + 22 * DAY;
    assert.equal(await q.prune(), 1);
    assert.equal(q.get(old.id), undefined, 'a record deleted longer ago than the retention is dropped');
  });

  it('prunes by total size, oldest first', async () => {
    const q = open({ maxTotalBytes: 2 * EICAR.length + 1 });
    const ids: string[] = [];
    for (const name of ['1', '2', '3', '4']) {
      ids.push((await q.add(input({ originalName: name }))).id);
      now += 1000;
    }
    assert.equal(await q.prune(), 2);
    assert.deepEqual(ids.map((id) => q.get(id)?.state), ['deleted', 'deleted', 'held', 'held']);
    assert.equal(q.stats().bytes, 2 * EICAR.length);
    assert.equal(await q.prune(), 0);
  });

  it('removes stray files a crash left, but only once they are old', async () => {
    const q = open();
    await q.add(input());
    const stray = join(q.dir, 'f'.repeat(32));
    const other = join(q.dir, 'not-ours.txt');
    writeFileSync(stray, 'x');
    writeFileSync(other, 'y');
    await q.prune();
    assert.ok(existsSync(stray), 'a young stray may be an add in progress');
    const old = new Date(now - 2 * 3_600_000);
    utimesSync(stray, old, old);
    now = Date.now();
    await q.prune();
    assert.ok(!existsSync(stray));
    assert.ok(existsSync(other), 'files that are not storage names are left alone');
    assert.equal(readdirSync(q.dir).length, 2);
  });

  it('draws a new id when one clashes, and gives up cleanly after a few', async () => {
    const ids = ['AAAA-AAAA-AAAA', 'AAAA-AAAA-AAAA', 'BBBB-BBBB-BBBB'] as QuarantineId[];
    const q = openQuarantine({ dir: join(dir, 'quarantine'), db, newId: () => ids.shift() ?? ('AAAA-AAAA-AAAA' as QuarantineId) });
    assert.equal((await q.add(input())).id, 'AAAA-AAAA-AAAA');
    assert.equal((await q.add(input())).id, 'BBBB-BBBB-BBBB');
    await assert.rejects(q.add(input()), (err) => isPortcullisError(err, 'PC_ERR_QUARANTINE'));
    assert.equal(readdirSync(q.dir).length, 2, 'the refused object left no file');
  });

  it('reopens the same data and keeps ids', async () => {
    const q = open();
    const e = await q.add(input());
    const again = open();
    assert.deepEqual(again.get(e.id), e);
  });
});

describe('safeFileName', () => {
  const cases: [string, string][] = [
    ['report.pdf', 'report.pdf'],
    ['../../etc/passwd', 'passwd'],
    ['C:\\Windows\\evil.dll', 'evil.dll'],
    ['..', 'fallback'],
    ['', 'fallback'],
    ['.bashrc', 'bashrc'],
    ['a\u0000b\r\nc.exe', 'a_b__c.exe'],
    ['what?<>|*.txt', 'what_____.txt'],
    ['\u202egnp.exe', '_gnp.exe'],
    ['x'.repeat(300), 'x'.repeat(120)],
    ['dir/', 'fallback'],
  ];
  for (const [input, want] of cases) {
    it(`cleans ${JSON.stringify(input.slice(0, 30))}`, () => assert.equal(safeFileName(input, 'fallback'), want));
  }
});
