import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from './metrics.js';

describe('metrics', () => {
  it('exposes the expected series with their labels', async () => {
    let now = Date.UTC(2026, 0, 2);
    const m = createMetrics({ now: () => now });
    m.observeInspection({ protocol: 'smtp', direction: 'inbound', objectName: 'm', size: 1000, verdict: 'infected', findings: [], action: 'quarantine', durationMs: 20 });
    m.observeInspection({ protocol: 'ftp', direction: 'outbound', objectName: 'f', size: 24, verdict: 'error', findings: [], action: 'tempfail', durationMs: 3000,
      errors: [{ scanner: 'clamd', code: 'PC_ERR_SCAN_TIMEOUT', message: 'late' }] });
    m.scannerError('clamd', 'PC_ERR_SCAN_TIMEOUT');
    m.sessionOpened('smtp');
    m.sessionOpened('smtp');
    m.sessionClosed('smtp');
    m.setSignatures({ loaded: { md5: 10, body: 5 }, loadedAt: now - 5000, newestBuildTime: now - 86_400_000 });
    now += 1000;
    const text = await m.text();
    const expected = [
      'portcullis_inspections_total{protocol="smtp",direction="inbound",verdict="infected",action="quarantine"} 1',
      'portcullis_inspections_total{protocol="ftp",direction="outbound",verdict="error",action="tempfail"} 1',
      'portcullis_inspected_bytes_total{protocol="smtp",direction="inbound"} 1000',
      'portcullis_sessions_open{protocol="smtp"} 1',
      'portcullis_scan_duration_seconds_bucket{le="0.025",protocol="smtp"} 1',
      'portcullis_scan_duration_seconds_bucket{le="2.5",protocol="ftp"} 0',
      'portcullis_scan_duration_seconds_bucket{le="5",protocol="ftp"} 1',
      'portcullis_scan_duration_seconds_count{protocol="ftp"} 1',
      'portcullis_scanner_errors_total{scanner="clamd",code="PC_ERR_SCAN_TIMEOUT"} 1',
      'portcullis_signatures{kind="md5"} 10',
      'portcullis_signatures{kind="body"} 5',
      'portcullis_signature_database_age_seconds 86401',
      '# TYPE portcullis_scan_duration_seconds histogram',
      'portcullis_process_cpu_user_seconds_total',
    ];
    for (const line of expected) assert.ok(text.includes(line), `missing: ${line}\n${text}`);
    const snap = m.snapshot();
    assert.equal(snap.inspections, 2);
    assert.deepEqual(snap.byVerdict, { clean: 0, infected: 1, error: 1 });
    assert.equal(snap.bytes, 1024);
    assert.deepEqual(snap.sessionsOpen, { smtp: 1 });
    assert.equal(snap.scannerErrors, 1);
  });

  it('falls back to the load time for the database age when no build time is known', async () => {
    const now = 1_000_000_000;
    const m = createMetrics({ now: () => now, processMetrics: false });
    m.setSignatures({ loaded: { md5: 1 }, loadedAt: now - 42_000 });
    assert.match(await m.text(), /^portcullis_signature_database_age_seconds 42$/m);
  });

  it('reports the quarantine size at scrape time', async () => {
    const m = createMetrics({ processMetrics: false });
    assert.match(await m.text(), /^portcullis_quarantine_bytes 0$/m, 'zero before a source is set');
    let held = 2;
    m.trackQuarantine(() => ({ held, released: 1, bytes: 300 }));
    assert.match(await m.text(), /^portcullis_quarantine_objects\{state="held"\} 2$/m);
    held = 5;
    const text = await m.text();
    assert.match(text, /^portcullis_quarantine_objects\{state="held"\} 5$/m);
    assert.match(text, /^portcullis_quarantine_objects\{state="released"\} 1$/m);
    assert.match(text, /^portcullis_quarantine_bytes 300$/m);
  });

  it('keeps registries private: two instances do not share or collide', async () => {
    const a = createMetrics({ processMetrics: false });
    const b = createMetrics({ processMetrics: false });
    a.sessionOpened('ftp');
    assert.match(await a.text(), /portcullis_sessions_open\{protocol="ftp"\} 1/);
    assert.match(await b.text(), /portcullis_sessions_open\{protocol="ftp"\} 0/);
    assert.notEqual(a.registry, b.registry);
  });

  it('replaces the signature kinds on reload', async () => {
    const m = createMetrics({ processMetrics: false });
    m.setSignatures({ loaded: { md5: 1, ldb: 2 }, loadedAt: 0 });
    m.setSignatures({ loaded: { md5: 3 }, loadedAt: 0 });
    const text = await m.text();
    assert.match(text, /portcullis_signatures\{kind="md5"\} 3/);
    assert.doesNotMatch(text, /kind="ldb"/);
  });
});
