import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openMemoryDatabase } from './db.js';
import { openEventStore, type EventQuery } from './store.js';
import type { EventInput } from './types.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

function base(over: Partial<EventInput>): EventInput {
  return {
    time: T0, protocol: 'smtp', direction: 'inbound', client: '192.0.2.1:4000', server: '127.0.0.1:10026',
    objectName: 'mail.eml', size: 100, verdict: 'clean', findings: [], action: 'pass', durationMs: 5, ...over,
  };
}

const SAMPLE: readonly EventInput[] = [
  base({ time: T0, objectName: 'a.txt' }),
  base({ time: T0 + MIN, protocol: 'ftp', direction: 'outbound', objectName: 'setup.exe', verdict: 'infected', action: 'quarantine',
    findings: [{ name: 'Eicar-Test-Signature', path: ['setup.exe'], scanner: 'builtin' }], quarantineId: 'ABCD-EFGH-JKMN', size: 68 }),
  base({ time: T0 + 2 * MIN, objectName: '100%_sure.doc', verdict: 'error', action: 'tempfail',
    errors: [{ scanner: 'clamd', code: 'PC_ERR_SCAN_TIMEOUT', message: 'late' }] }),
  base({ time: T0 + 3 * MIN, protocol: 'upload', objectName: 'report.pdf', envelope: { from: 'alice@example.org', rcpts: ['bob@example.net'] } }),
  base({ time: T0 + 4 * MIN, protocol: 'ftp', objectName: '1000 sure.doc', size: 1000 }),
];

function store(now = () => T0 + 10 * MIN, retention?: { maxAgeMs?: number; maxRows?: number }) {
  const db = openMemoryDatabase();
  const events = openEventStore({ db, now, ...(retention !== undefined ? { retention } : {}) });
  for (const e of SAMPLE) events.record(e);
  return { db, events };
}

describe('event store', () => {
  it('records every field and reads it back', () => {
    const { events } = store();
    const page = events.query({ verdict: 'infected' });
    assert.equal(page.total, 1);
    const e = page.items[0];
    assert.ok(e !== undefined);
    assert.equal(e.objectName, 'setup.exe');
    assert.deepEqual(e.findings, [{ name: 'Eicar-Test-Signature', path: ['setup.exe'], scanner: 'builtin' }]);
    assert.equal(e.quarantineId, 'ABCD-EFGH-JKMN');
    assert.equal(e.direction, 'outbound');
    assert.deepEqual(events.get(e.id), e);
    const withEnvelope = events.query({ protocol: 'upload' }).items[0];
    assert.deepEqual(withEnvelope?.envelope, { from: 'alice@example.org', rcpts: ['bob@example.net'] });
    assert.deepEqual(events.query({ verdict: 'error' }).items[0]?.errors, [{ scanner: 'clamd', code: 'PC_ERR_SCAN_TIMEOUT', message: 'late' }]);
  });

  const cases: { name: string; q: EventQuery; names: string[]; total?: number }[] = [
    { name: 'no filter, newest first', q: {}, names: ['1000 sure.doc', 'report.pdf', '100%_sure.doc', 'setup.exe', 'a.txt'] },
    { name: 'by protocol', q: { protocol: 'ftp' }, names: ['1000 sure.doc', 'setup.exe'] },
    { name: 'by direction', q: { direction: 'outbound' }, names: ['setup.exe'] },
    { name: 'by verdict', q: { verdict: 'clean' }, names: ['1000 sure.doc', 'report.pdf', 'a.txt'] },
    { name: 'by action', q: { action: 'tempfail' }, names: ['100%_sure.doc'] },
    { name: 'time range from inclusive, to exclusive', q: { from: T0 + MIN, to: T0 + 3 * MIN }, names: ['100%_sure.doc', 'setup.exe'] },
    { name: 'text in name', q: { text: 'REPORT' }, names: ['report.pdf'] },
    { name: 'text in finding', q: { text: 'eicar' }, names: ['setup.exe'] },
    { name: 'text in envelope', q: { text: 'bob@example' }, names: ['report.pdf'] },
    { name: 'text in quarantine id', q: { text: 'EFGH' }, names: ['setup.exe'] },
    { name: '% is literal, not a wildcard', q: { text: '100%' }, names: ['100%_sure.doc'] },
    { name: '_ is literal, not a wildcard', q: { text: '%_s' }, names: ['100%_sure.doc'] },
    { name: 'combined filters', q: { protocol: 'ftp', verdict: 'clean' }, names: ['1000 sure.doc'] },
    { name: 'paging: limit', q: { limit: 2 }, names: ['1000 sure.doc', 'report.pdf'], total: 5 },
    { name: 'paging: offset', q: { limit: 2, offset: 2 }, names: ['100%_sure.doc', 'setup.exe'], total: 5 },
    { name: 'paging: past the end', q: { offset: 10 }, names: [], total: 5 },
    { name: 'limit is clamped to at least 1', q: { limit: 0 }, names: ['1000 sure.doc'], total: 5 },
  ];
  for (const c of cases) {
    it(`query: ${c.name}`, () => {
      const page = store().events.query(c.q);
      assert.deepEqual(page.items.map((e) => e.objectName), c.names);
      assert.equal(page.total, c.total ?? c.names.length);
    });
  }

  it('lists recent detections (infected and error), newest first', () => {
    assert.deepEqual(store().events.recentDetections(5).map((e) => e.objectName), ['100%_sure.doc', 'setup.exe']);
  });

  it('summarises counts, bytes and per-minute throughput', () => {
    const s = store().events.summary(T0 + MIN);
    assert.deepEqual(s.byVerdict, { clean: 2, infected: 1, error: 1 });
    assert.equal(s.bytes, 68 + 100 + 100 + 1000);
    assert.deepEqual(s.perMinute.map((m) => [m.minute - T0, m.events, m.bytes]), [[MIN, 1, 68], [2 * MIN, 1, 100], [3 * MIN, 1, 100], [4 * MIN, 1, 1000]]);
  });

  it('prunes by age', () => {
    const { events } = store(() => T0 + 2 * MIN + 30_000, { maxAgeMs: MIN, maxRows: 0 });
    assert.equal(events.prune(), 2);
    assert.deepEqual(events.query().items.map((e) => e.objectName), ['1000 sure.doc', 'report.pdf', '100%_sure.doc']);
  });

  it('prunes by row count, oldest first', () => {
    const { events } = store(() => T0, { maxAgeMs: 0, maxRows: 2 });
    assert.equal(events.prune(), 3);
    assert.deepEqual(events.query().items.map((e) => e.objectName), ['1000 sure.doc', 'report.pdf']);
    assert.equal(events.prune(), 0);
  });

  it('keeps everything when retention is 0', () => {
    const { events } = store(() => T0 + 1000 * MIN, { maxAgeMs: 0, maxRows: 0 });
    assert.equal(events.prune(), 0);
    assert.equal(events.query().total, 5);
  });

  it('stores hostile text as given', () => {
    const { events } = store();
    const name = "'); DROP TABLE events; --<script>\u0000";
    const r = events.record(base({ objectName: name }));
    assert.equal(events.get(r.id)?.objectName, name);
    assert.equal(events.query({ text: 'DROP TABLE' }).total, 1);
  });

  it('shares one database with other components without clashing', () => {
    const db = openMemoryDatabase();
    openEventStore({ db });
    openEventStore({ db }); // a second open migrates nothing
    const versions = db.prepare('SELECT component, version FROM schema_versions').all();
    assert.deepEqual(versions, [{ component: 'events', version: 1 }]);
  });
});
