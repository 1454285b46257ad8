/**
 * Acceptance of the mail and document extractors on Debian's
 * clamav-testfiles: for each file that wraps clam.exe (544 bytes, md5
 * aa15bcf4…) in a mail or document format, walk it with the content walker
 * (all extractors) and check that an object with that md5 appears. Needs
 * the clamav-testfiles package.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { walk } from '../../src/content/index.js';
import { PATH_SEPARATOR } from '../../src/content/types.js';

const DIR = '/usr/share/clamav-testfiles';
const CLAM_MD5 = 'aa15bcf478d165efd2065190eb473bcb';

/** Files that hold clam.exe in a format of ours, and whether we must reach it. */
const CASES: readonly { file: string; expect: boolean }[] = [
  { file: 'clam.exe.mbox.base64', expect: true },
  { file: 'clam.exe.mbox.uu', expect: true },
  { file: 'clam.mail', expect: true },
  { file: 'clam.exe.binhex', expect: true },
  { file: 'clam.tnef', expect: true },
  { file: 'clam.exe.html', expect: true },
  { file: 'clam.exe.rtf', expect: true },
  { file: 'clam.pdf', expect: true },
  { file: 'clam.ole.doc', expect: true },
  { file: 'clam.ppt', expect: true },
  // MSI (OLE2, names in MSI's packed code) inside an InstallShield PE.
  { file: 'clam_ISmsi_int.exe', expect: true },
];

function md5(b: Uint8Array): string {
  return createHash('md5').update(b).digest('hex');
}

/** Every path at which the walk reaches bytes with the wanted md5. */
async function reach(data: Uint8Array, name: string, want: string): Promise<string[]> {
  const hits: string[] = [];
  for await (const item of walk({ name, data })) {
    if (item.kind === 'object' && md5(item.node.data) === want) hits.push(item.node.path.join(PATH_SEPARATOR));
  }
  return hits;
}

test('clamav-testfiles: clam.exe is reached inside each mail and document format', async (t) => {
  const reached: string[] = [];
  for (const c of CASES) {
    const data = new Uint8Array(readFileSync(`${DIR}/${c.file}`));
    const hits = await reach(data, c.file, CLAM_MD5);
    if (hits.length > 0) reached.push(c.file);
    t.diagnostic(`${c.file}: ${hits.length > 0 ? `reached (${hits[0]})` : 'not reached'}`);
    if (c.expect) assert.ok(hits.length > 0, `${c.file}: clam.exe not reached`);
  }
  t.diagnostic(`reached ${reached.length} of ${CASES.length}`);
});
