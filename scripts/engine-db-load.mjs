// Measures how long the engine takes to compile a signature database and how
// much memory it then holds. Not a test: it prints numbers for reports.
//   node scripts/engine-db-load.mjs DIR|FILE…   (build first: npx tsc -p .)
// Reading the files is timed apart from compiling them.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const { compileDatabase } = await import('../dist/src/engine/index.js');
const args = process.argv.slice(2);
if (args.length === 0) { console.error('usage: node scripts/engine-db-load.mjs DIR|FILE…'); process.exit(2); }

const mb = (b) => (b / 1e6).toFixed(0);
const rss0 = process.memoryUsage().rss;
const t0 = performance.now();
const files = [];
for (const a of args) {
  const names = statSync(a).isDirectory() ? readdirSync(a).sort().map((n) => join(a, n)) : [a];
  for (const p of names) if (statSync(p).isFile()) files.push({ name: p, data: readFileSync(p) });
}
const t1 = performance.now();
const db = compileDatabase(files);
const t2 = performance.now();
files.length = 0; // what a long-running gateway keeps is the compiled database only
globalThis.gc?.();
const mem = process.memoryUsage();
console.log(JSON.stringify({
  readMs: Math.round(t1 - t0),
  compileMs: Math.round(t2 - t1),
  loadMs: Math.round(t2 - t0),
  rssStartMB: +mb(rss0),
  rssAfterMB: +mb(mem.rss),
  peakRssMB: +mb(process.resourceUsage().maxRSS * 1024),
  heapUsedMB: +mb(mem.heapUsed),
  arrayBuffersMB: +mb(mem.arrayBuffers),
  loaded: db.stats.loaded,
  skipped: db.stats.skipped,
  total: db.stats.total,
}, null, 1));
