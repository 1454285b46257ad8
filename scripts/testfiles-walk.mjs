// Progress meter for the content walker (issue 2 acceptance): walks every file of
// Debian's clamav-testfiles and reports which ones yield an object whose MD5 is
// clam.exe's (aa15bcf478d165efd2065190eb473bcb). Run after `npx tsc -p .`:
//   node scripts/testfiles-walk.mjs [DIR]
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { walk } from '../dist/src/content/index.js';

const dir = process.argv[2] ?? '/usr/share/clamav-testfiles';
const want = 'aa15bcf478d165efd2065190eb473bcb';
const found = [];
const missed = [];
for (const name of readdirSync(dir).sort()) {
  const data = readFileSync(join(dir, name));
  const t0 = performance.now();
  let hit;
  const findings = [];
  const types = [];
  for await (const item of walk({ name, data }, { onError: (e) => findings.push(`error ${e}`) })) {
    if (item.kind === 'finding') { findings.push(`${item.finding.name}@${item.finding.path.slice(1).join('>')}${item.finding.detail ? ' ' + item.finding.detail : ''}`); continue; }
    types.push(item.node.type.name);
    if (item.node.data.length === 544 && createHash('md5').update(item.node.data).digest('hex') === want) hit ??= item.node.path.join(' › ');
  }
  const ms = (performance.now() - t0).toFixed(1);
  (hit ? found : missed).push(name);
  console.log(`${hit ? 'FOUND' : 'miss '} ${name.padEnd(24)} ${ms.padStart(7)} ms  ${hit ?? types.slice(0, 6).join(',')}  ${findings.join('; ')}`);
}
console.log(`\n${found.length}/${found.length + missed.length} reached clam.exe`);
console.log(`missed: ${missed.join(' ')}`);
