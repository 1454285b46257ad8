// Benchmark dispatcher: `node bench/run.mjs SECTION|all`. Each section is a
// module bench/<section>.mjs exporting `run(): Promise<number>` (exit code);
// `all` runs every section found here, in name order (lib.mjs holds their
// shared helpers and is not a section).
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sections = readdirSync(here).filter((n) => n.endsWith('.mjs') && n !== 'run.mjs' && n !== 'lib.mjs').map((n) => n.slice(0, -4)).sort();
const wanted = process.argv[2] ?? 'all';
const chosen = wanted === 'all' ? sections : [wanted];
for (const name of chosen) {
  if (!sections.includes(name)) {
    console.error(`unknown bench section "${name}"; known: ${sections.join(', ')}`);
    process.exit(2);
  }
}
let code = 0;
for (const name of chosen) {
  console.error(`== bench ${name}`);
  const mod = await import(pathToFileURL(`${here}/${name}.mjs`).href);
  code = Math.max(code, await mod.run());
}
process.exit(code);
