// Runs the compiled test files of one suite with Node's own test runner.
//   unit:    dist/src/**/*.test.js   (needs only Node)
//   interop: dist/test/interop/**/*.test.js   (needs Debian's real peers, see .ci/run)
// Node 20's --test takes no globs, so the files are listed here.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const suite = process.argv[2] ?? 'unit';
const roots = { unit: ['dist/src'], interop: ['dist/test/interop'] }[suite];
if (!roots) { console.error(`unknown suite ${suite}`); process.exit(2); }

function find(dir, out) {
  let names;
  try { names = readdirSync(dir); } catch { return out; }
  for (const name of names.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const files = roots.flatMap((r) => find(r, []));
if (files.length === 0) { console.error(`no test files for suite ${suite}`); process.exit(1); }
const extra = process.argv.slice(3);
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...extra, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
