// The scanner factory and the command-line scanner spec.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BuiltinScanner } from './builtin.js';
import { ClamdScanner } from './clamd.js';
import { CombinedScanner } from './combined.js';
import { CommandScanner } from './command.js';
import { createScanner, loadDatabase, parseScannerSpec, type ScannerSpec } from './index.js';

const EICAR = Buffer.from('X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*');

describe('parseScannerSpec', () => {
  const cases: [string, string, ScannerSpec][] = [
    ['builtin', 'builtin', 'builtin'],
    ['clamd tcp', 'clamd=127.0.0.1:3310', { clamd: '127.0.0.1:3310' }],
    ['clamd socket', 'clamd=/run/clamav/clamd.ctl', { clamd: '/run/clamav/clamd.ctl' }],
    ['command with quotes', "command=clamscan --no-summary '{}'", { command: ['clamscan', '--no-summary', '{}'] }],
  ];
  for (const [name, text, want] of cases) it(name, () => assert.deepEqual(parseScannerSpec(text), want));
  for (const bad of ['', 'clamd', 'clamd=', 'command=', 'sophos=x', 'builtin=1']) {
    it(`rejects "${bad}"`, () => assert.throws(() => parseScannerSpec(bad), { code: 'PC_ERR_USAGE' }));
  }
});

describe('createScanner', () => {
  const kinds: [string, ScannerSpec, Function, string][] = [
    ['builtin', 'builtin', BuiltinScanner, 'builtin'],
    ['clamd', { clamd: '127.0.0.1:3310' }, ClamdScanner, 'clamd'],
    ['command', { command: ['/bin/true', '{}'] }, CommandScanner, 'command'],
    ['combined', { combined: ['builtin', { clamd: '/tmp/x.sock' }] }, CombinedScanner, 'builtin+clamd'],
    ['combined of one is that one', { combined: [{ command: ['/bin/true', '{}'] }] }, CommandScanner, 'command'],
  ];
  for (const [name, spec, cls, scannerName] of kinds) {
    it(name, async () => {
      const scanner = await createScanner(spec);
      assert.ok(scanner instanceof cls);
      assert.equal(scanner.name, scannerName);
      await scanner.close();
    });
  }

  it('builtin members of a combined scanner share one database', async () => {
    const scanner = await createScanner({ combined: ['builtin', 'builtin'] });
    assert.ok(scanner instanceof CombinedScanner);
    const [a, b] = scanner.members as BuiltinScanner[];
    assert.ok(a !== undefined && a.db === b?.db);
  });

  it('the default builtin scanner finds EICAR with the built-in database', async () => {
    const scanner = await createScanner('builtin');
    const report = await scanner.scan({ name: 'e.com', data: EICAR });
    assert.equal(report.verdict, 'infected');
    assert.deepEqual(report.findings.map((f) => f.path), [['e.com']]);
  });

  it('passes limits and a given database to builtin', async () => {
    const { db } = await loadDatabase();
    const scanner = await createScanner('builtin', { db, limits: { MaxRecursion: 3 } });
    assert.ok(scanner instanceof BuiltinScanner);
    assert.equal(scanner.db, db);
    assert.equal(scanner.limits.MaxRecursion, 3);
  });

  it('an empty combined list is PC_ERR_CONFIG', () => assert.rejects(createScanner({ combined: [] }), { code: 'PC_ERR_CONFIG' }));
  it('a command without placeholder is PC_ERR_CONFIG', () => assert.rejects(createScanner({ command: ['/bin/true'] }), { code: 'PC_ERR_CONFIG' }));
  it('an unreadable database is PC_ERR_DB_READ', () => assert.rejects(createScanner('builtin', { dbPaths: ['/nonexistent/x.ndb'] }), { code: 'PC_ERR_DB_READ' }));
});
