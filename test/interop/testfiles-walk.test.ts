/**
 * Acceptance of the content walker on Debian's clamav-testfiles: every file
 * wraps clam.exe (544 bytes, MD5 aa15bcf478d165efd2065190eb473bcb) in some
 * container or packer. The walker must reach clam.exe in each archive and
 * installer it claims to open, and in at least 20 of the 44 files together
 * with the mail/document extractors. Packed executables (UPX, ASPack, FSG …)
 * need unpackers, which are out of the walker's scope.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { walk } from '../../src/content/index.js';

const DIR = '/usr/share/clamav-testfiles';
const CLAM_MD5 = 'aa15bcf478d165efd2065190eb473bcb';

/** Files whose container format the walker itself opens (archives, compressors, installers). */
const ARCHIVES = [
  'clam.exe', 'clam.zip', 'clam.bz2.zip', 'clam.d64.zip', 'clam.impl.zip', 'clam.tar.gz', 'clam_cache_emax.tgz',
  'clam.exe.bz2', 'clam.7z', 'clam.arj', 'clam.cab', 'clam.chm', 'clam.exe.szdd', 'clam.sis',
  'clam.newc.cpio', 'clam.odc.cpio', 'clam.bin-le.cpio', 'clam.bin-be.cpio',
  'clam.ea05.exe', 'clam.ea06.exe', 'clam-nsis.exe', 'clam_IScab_ext.exe', 'clam_IScab_int.exe', 'clam_ISmsi_ext.exe', 'clam_ISmsi_int.exe',
];

interface Outcome { readonly reached: boolean; readonly errors: string[]; readonly ms: number }

async function reach(name: string): Promise<Outcome> {
  const data = readFileSync(join(DIR, name));
  const errors: string[] = [];
  const t0 = performance.now();
  let reached = false;
  for await (const item of walk({ name, data }, { onError: (e, path) => errors.push(`${path.join(' › ')}: ${String(e)}`) })) {
    if (item.kind === 'object' && item.node.data.length === 544 && createHash('md5').update(item.node.data).digest('hex') === CLAM_MD5) reached = true;
  }
  return { reached, errors, ms: performance.now() - t0 };
}

test('clamav-testfiles is installed (apt-get install clamav-testfiles)', () => {
  assert.ok(existsSync(DIR), `${DIR} is missing`);
  assert.equal(readdirSync(DIR).length, 44);
});

for (const name of ARCHIVES) {
  test(`walker reaches clam.exe in ${name}`, async () => {
    const r = await reach(name);
    assert.deepEqual(r.errors, []);
    assert.ok(r.reached, `clam.exe not reached in ${name}`);
  });
}

test('at least 20 of the 44 test files reach clam.exe, none makes an extractor throw', async () => {
  const reached: string[] = [];
  const errors: string[] = [];
  for (const name of readdirSync(DIR).sort()) {
    const r = await reach(name);
    if (r.reached) reached.push(name);
    errors.push(...r.errors);
  }
  assert.deepEqual(errors, []);
  assert.ok(reached.length >= 20, `only ${reached.length}: ${reached.join(' ')}`);
});
