/**
 * Acceptance of the mail and document extractors on Debian's
 * clamav-testfiles: for each file that wraps clam.exe (544 bytes, md5
 * aa15bcf4…) in a format of ours, walk it with our own extractors only
 * (a tiny recursive walker, until the real walker is in) and check that a
 * child with that md5 appears. Needs the clamav-testfiles package.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { documentExtractors } from '../../src/content/extractors/documents.js';
import { DEFAULT_LIMITS } from '../../src/content/limits.js';
import type { ExtractContext, FileType } from '../../src/content/types.js';

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
  // MSI inside an InstallShield PE: needs PE overlay carving first.
  { file: 'clam_ISmsi_ext.exe', expect: false },
  { file: 'clam_ISmsi_int.exe', expect: false },
];

const anyType: FileType = { name: 'binary', target: 0, container: false };
const textType: FileType = { name: 'text', target: 0, container: false };

function md5(b: Uint8Array): string {
  return createHash('md5').update(b).digest('hex');
}

/** Walks with our extractors only; returns every path that reached bytes with the wanted md5. */
export async function reach(data: Uint8Array, name: string, want: string, depth = 0, budget = { files: 0 }): Promise<string[]> {
  const hits: string[] = md5(data) === want ? [name] : [];
  if (depth > 8 || budget.files > 2000) return hits;
  const ctx: ExtractContext = { limits: DEFAULT_LIMITS, remainingScanBytes: () => 64 * 1024 * 1024, report: () => {} };
  for (const ex of documentExtractors) {
    if (!ex.accepts(anyType, data) && !ex.accepts(textType, data)) continue;
    for await (const child of ex.extract(data, ctx)) {
      budget.files++;
      for (const p of await reach(child.data, child.name, want, depth + 1, budget)) hits.push(`${name} › ${p}`);
    }
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
