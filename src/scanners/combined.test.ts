// CombinedScanner's verdict table with stub scanners.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CombinedScanner } from './combined.js';
import type { ScanReport, Scanner, Verdict } from './types.js';

function stub(name: string, verdict: Verdict): Scanner & { closed: boolean } {
  const report: ScanReport = {
    verdict,
    findings: verdict === 'infected' ? [{ name: `${name}.Sig`, path: ['obj'], scanner: name }] : [],
    errors: verdict === 'error' ? [{ scanner: name, code: 'PC_ERR_SCANNER', message: `${name} failed` }] : [],
    bytesScanned: name.length,
    durationMs: 1,
    output: `${name} said ${verdict}`,
  };
  return { name, closed: false, scan: async () => report, async close() { this.closed = true; } };
}

describe('CombinedScanner', () => {
  const cases: [string, Verdict[], boolean, Verdict, number, number][] = [
    // name, member verdicts, failOpen, verdict, findings, errors
    ['all clean', ['clean', 'clean'], false, 'clean', 0, 0],
    ['one infected', ['clean', 'infected'], false, 'infected', 1, 0],
    ['both infected, findings merged', ['infected', 'infected'], false, 'infected', 2, 0],
    ['one failed: fail closed', ['clean', 'error'], false, 'error', 0, 1],
    ['one failed: fail open', ['clean', 'error'], true, 'clean', 0, 1],
    ['infected beats a failure', ['error', 'infected'], false, 'infected', 1, 1],
    ['all failed, fail open', ['error', 'error'], true, 'clean', 0, 2],
  ];
  for (const [name, verdicts, failOpen, verdict, nFindings, nErrors] of cases) {
    it(name, async () => {
      const members = verdicts.map((v, i) => stub(`s${i}x`, v));
      const combined = new CombinedScanner(members, { failOpen });
      const report = await combined.scan({ name: 'obj', data: new Uint8Array(1) });
      assert.equal(report.verdict, verdict);
      assert.equal(report.findings.length, nFindings);
      assert.equal(report.errors.length, nErrors);
      for (const f of report.findings) assert.ok(members.some((m) => m.name === f.scanner));
      assert.equal(report.output, verdicts.map((v, i) => `s${i}x said ${v}`).join('\n'));
      await combined.close();
      assert.ok(members.every((m) => m.closed));
    });
  }
  it('is named after its members', () => assert.equal(new CombinedScanner([stub('a', 'clean'), stub('b', 'clean')]).name, 'a+b'));
});
