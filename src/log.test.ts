import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { captureLog } from './gateway/testing.js';
import { logSession, logTransfer, SESSION_LOG_FIELDS, TRANSFER_LOG_FIELDS } from './log.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

describe('docs/LOGGING.md', () => {
  for (const [kind, fields] of [['session', SESSION_LOG_FIELDS], ['transfer', TRANSFER_LOG_FIELDS]] as const) {
    it(`documents every ${kind} field in its section`, async () => {
      const md = await readFile(join(repoRoot, 'docs', 'LOGGING.md'), 'utf8');
      const section = md.split(`## \`${kind}\``)[1]?.split('\n## ')[0] ?? '';
      for (const f of fields) assert.match(section, new RegExp(`^\\| \`${f}\` \\|`, 'm'), `${kind}.${f} is not documented`);
    });
  }
});

describe('log lines', () => {
  it('session and transfer lines carry their event and keep hostile names inside one JSON line', () => {
    const c = captureLog();
    logSession(c.log, { protocol: 'smtp', sessionId: 'abc', client: '192.0.2.1:25', durationMs: 5, transfers: 1, bytes: 10, end: 'quit', generation: 1 });
    logTransfer(c.log, {
      protocol: 'ftp', direction: 'inbound', name: 'evil\n{"event":"forged"}', size: 1, scanned: true, verdict: 'infected',
      findings: ['Eicar-Test-Signature'], action: 'block', class: 'virus', reply: 550, durationMs: 1, generation: 1,
    });
    assert.equal(c.lines.length, 2, 'one line each, nothing forged');
    assert.equal(c.lines[0]?.['event'], 'session');
    assert.equal(c.lines[1]?.['event'], 'transfer');
    assert.equal(c.lines[1]?.['level'], 'warn');
    assert.equal(c.lines[1]?.['name'], 'evil\n{"event":"forged"}');
  });
});
