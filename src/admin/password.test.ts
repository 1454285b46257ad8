import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPortcullisError } from '../errors.js';
import { hashPassword, parsePasswordHash, verifyPassword } from './password.js';

const FAST = { N: 1024, r: 8, p: 1 };

describe('admin password hashes', () => {
  it('portcullis passwd prints a hash that verifies the password from stdin', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, 'passwd'], { input: 'a long pass phrase\nignored line\n', encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const parsed = parsePasswordHash(r.stdout.trim());
    assert.equal(await verifyPassword('a long pass phrase', parsed), true);
    assert.equal(await verifyPassword('ignored line', parsed), false);
    const short = spawnSync(process.execPath, [cli, 'passwd'], { input: 'short\n', encoding: 'utf8' });
    assert.equal(short.status, 2);
    assert.equal(short.stdout, '');
    const arg = spawnSync(process.execPath, [cli, 'passwd', 'on-the-command-line'], { input: '', encoding: 'utf8' });
    assert.equal(arg.status, 2);
  });

  it('round-trips and rejects a wrong password', async () => {
    const hash = await hashPassword('correct horse', FAST);
    assert.match(hash, /^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    const parsed = parsePasswordHash(hash);
    assert.equal(await verifyPassword('correct horse', parsed), true);
    assert.equal(await verifyPassword('correct horse ', parsed), false);
    assert.equal(await verifyPassword('', parsed), false);
    assert.equal(await verifyPassword('x'.repeat(5000), parsed), false);
  });

  it('uses a fresh salt each time', async () => {
    assert.notEqual(await hashPassword('same', FAST), await hashPassword('same', FAST));
  });

  it('uses the documented default parameters', async () => {
    assert.match(await hashPassword('pw'), /^scrypt\$32768\$8\$1\$/);
  });

  const salt = Buffer.alloc(16, 1).toString('base64url');
  const key = Buffer.alloc(32, 2).toString('base64url');
  const bad: [string, string, RegExp][] = [
    ['not scrypt', `bcrypt$1024$8$1$${salt}$${key}`, /not an scrypt hash/],
    ['too few fields', `scrypt$1024$8$1$${salt}`, /not an scrypt hash/],
    ['N not a power of two', `scrypt$1000$8$1$${salt}$${key}`, /N must be/],
    ['N too large (memory bomb)', `scrypt$${2 ** 24}$8$1$${salt}$${key}`, /N must be/],
    ['r too large', `scrypt$1024$64$1$${salt}$${key}`, /r must be/],
    ['p too large', `scrypt$1024$8$99$${salt}$${key}`, /p must be/],
    ['short salt', `scrypt$1024$8$1$AAAA$${key}`, /salt/],
    ['short hash', `scrypt$1024$8$1$${salt}$AAAA`, /hash must be/],
  ];
  for (const [name, text, message] of bad) {
    it(`refuses a bad hash: ${name}`, () => {
      assert.throws(() => parsePasswordHash(text), (e) => isPortcullisError(e, 'PC_ERR_CONFIG') && message.test(e.message));
    });
  }
});
