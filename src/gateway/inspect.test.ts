// inspect() with stand-in stores and scanners: every failure path fails closed.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compilePolicy } from '../policy/index.js';
import type { ScanReport, Scanner } from '../scanners/types.js';
import { createInspect, type InspectDeps } from './inspect.js';
import type { Snapshot, SnapshotSource } from './snapshot.js';
import { captureLog, testConfig } from './testing.js';

const DATA = new TextEncoder().encode('payload');

function source(scanner: Scanner, overrides: Record<string, unknown> = {}): SnapshotSource & { released: number } {
  const config = testConfig('/tmp/unused', { limits: { MaxScanTime: 100 }, ...overrides });
  const snapshot = { generation: 3, config, policy: compilePolicy(config), scanner } as unknown as Snapshot;
  const s = {
    released: 0,
    current: () => snapshot,
    acquire: () => ({ snapshot, release: () => { s.released++; } }),
  };
  return s;
}

const infected: ScanReport = { verdict: 'infected', findings: [{ name: 'Eicar-Test-Signature', path: ['x'], scanner: 'fake' }], errors: [], bytesScanned: 7, durationMs: 1 };
const scannerOf = (scan: Scanner['scan']): Scanner => ({ name: 'fake', scan, close: async () => undefined });

interface Recorded { events: unknown[]; observed: unknown[]; errors: string[] }
function deps(snapshots: SnapshotSource, extra: Partial<InspectDeps> = {}): InspectDeps & { rec: Recorded; logs: ReturnType<typeof captureLog> } {
  const rec: Recorded = { events: [], observed: [], errors: [] };
  const logs = captureLog();
  return {
    rec, logs, snapshots, log: logs.log,
    events: { record: (e) => { rec.events.push(e); return { ...e, id: rec.events.length, time: 0 } as never; } },
    metrics: { observeInspection: (e) => { rec.observed.push(e); }, scannerError: (_s, code) => { rec.errors.push(code); } },
    ...extra,
  };
}

describe('inspect with stand-in stores and scanners', () => {
  it('a scanner that never answers is a timeout failure (tempfail), and its scan is aborted', async () => {
    let aborted = false;
    const hung = scannerOf((_t, o) => new Promise<ScanReport>(() => { o?.signal?.addEventListener('abort', () => { aborted = true; }); }));
    const s = source(hung);
    const d = deps(s);
    const started = Date.now();
    const r = await createInspect(d)({ protocol: 'smtp', direction: 'inbound', name: 'm', target: { name: 'm', data: DATA } });
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual([r.report.verdict, r.decision.action, r.decision.class], ['error', 'tempfail', 'scannerFailure']);
    assert.deepEqual(r.report.errors.map((e) => e.code), ['PC_ERR_SCAN_TIMEOUT']);
    assert.match(r.decision.reply.smtp.text, /fake timed out/);
    assert.equal(aborted, true);
    assert.deepEqual(d.rec.errors, ['PC_ERR_SCAN_TIMEOUT']);
    assert.equal(s.released, 1, 'the lease taken for the inspection is released');
  });

  it('a scanner that throws is a scanner failure, never a pass', async () => {
    const d = deps(source(scannerOf(async () => { throw new Error('boom'); })));
    const r = await createInspect(d)({ protocol: 'ftp', direction: 'outbound', name: 'f', target: { name: 'f', data: DATA } });
    assert.deepEqual([r.decision.action, r.decision.reply.ftp.code], ['tempfail', 451]);
  });

  it('a quarantine that cannot store turns quarantine into tempfail (upload: block), and says so', async () => {
    const s = source(scannerOf(async () => infected));
    const broken = { add: async () => { throw new Error('disk full'); } } as unknown as NonNullable<InspectDeps['quarantine']>;
    const d = deps(s, { quarantine: broken });
    const mail = await createInspect(d)({ protocol: 'smtp', direction: 'inbound', name: 'm', target: { name: 'm', data: DATA } });
    assert.equal(mail.decision.action, 'tempfail');
    assert.equal(mail.quarantineId, undefined);
    assert.match(mail.decision.reply.smtp.text, /quarantine unavailable/);
    const upload = await createInspect(d)({ protocol: 'upload', direction: 'inbound', name: 'u', target: { name: 'u', data: DATA } });
    assert.equal(upload.decision.action, 'block');
    assert.ok(d.logs.lines.some((l) => l['msg'] === 'quarantine failed; refusing the object instead'));
  });

  it('without a quarantine store a quarantine decision is refused, not passed', async () => {
    const d = deps(source(scannerOf(async () => infected)));
    const r = await createInspect(d)({ protocol: 'ftp', direction: 'inbound', name: 'f', target: { name: 'f', data: DATA } });
    assert.equal(r.decision.action, 'tempfail');
  });

  it('an event store that fails does not change the decision; the failure is logged', async () => {
    const s = source(scannerOf(async () => infected));
    const add = async () => ({ id: 'Q1' });
    const d = deps(s, { quarantine: { add } as unknown as NonNullable<InspectDeps['quarantine']>, events: { record: () => { throw new Error('locked'); } } });
    const r = await createInspect(d)({ protocol: 'ftp', direction: 'inbound', name: 'f', target: { name: 'f', data: DATA } });
    assert.deepEqual([r.decision.action, r.quarantineId, r.eventId], ['quarantine', 'Q1', undefined]);
    assert.ok(d.logs.lines.some((l) => l['msg'] === 'event could not be recorded'));
    assert.equal(d.rec.observed.length, 1, 'metrics still count it');
  });

  it('a banned name is refused even when the scanner failed (block beats tempfail)', async () => {
    const d = deps(source(scannerOf(async () => { throw new Error('down'); }), { policy: { bannedNames: ['*.scr'] } }));
    const r = await createInspect(d)({ protocol: 'smtp', direction: 'inbound', name: 'x.scr', target: { name: 'x.scr', data: DATA } });
    assert.deepEqual([r.decision.action, r.decision.class], ['block', 'banned']);
    assert.equal(r.report.errors.length, 1, 'the failure is still reported');
  });

  it('uses the session\'s snapshot when given and takes no lease of its own', async () => {
    const s = source(scannerOf(async () => infected));
    const other = source(scannerOf(async () => ({ ...infected, findings: [], verdict: 'clean' })));
    const d = deps(s);
    const r = await createInspect(d)({ protocol: 'ftp', direction: 'inbound', name: 'f', target: { name: 'f', data: DATA }, snapshot: other.current() });
    assert.equal(r.report.verdict, 'clean');
    assert.equal(s.released, 0);
  });

  describe('a scan made as the file arrived (followed)', () => {
    const clean: ScanReport = { verdict: 'clean', findings: [], errors: [], bytesScanned: 7, durationMs: 1 };
    const cases: { name: string; follower: ScanReport | undefined; sameScanner: boolean; want: string; scans: number }[] = [
      { name: 'its report is taken in place of a scan when it stands for the file', follower: infected, sameScanner: true, want: 'infected', scans: 0 },
      { name: 'a follower that cannot stand for the file: the file is scanned', follower: undefined, sameScanner: true, want: 'clean', scans: 1 },
      { name: 'a follower of another scanner (a reload in between): the file is scanned', follower: infected, sameScanner: false, want: 'clean', scans: 1 },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        let scans = 0;
        const scanner = scannerOf(async () => { scans++; return clean; });
        let ended = 0;
        const follower = { write: () => undefined, end: () => { ended++; return c.follower; } };
        const followed = { scanner: c.sameScanner ? scanner : scannerOf(async () => clean), follower };
        const r = await createInspect(deps(source(scanner)))({ protocol: 'ftp', direction: 'inbound', name: 'f', target: { name: 'f', data: DATA }, followed });
        assert.deepEqual([r.report.verdict, scans, ended], [c.want, c.scans, c.sameScanner ? 1 : 0]);
      });
    }
  });
});
