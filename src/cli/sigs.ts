/**
 * `portcullis sigs info [--json] [PATH…]` — loads signature files or folders
 * (or, with no PATH, the built-in database) the way the scanner does and
 * prints what the engine made of them: signatures loaded by kind, what it
 * skipped and why (with example lines), each file's contribution, the
 * newest .cvd build time and the load time (read + compile).
 * Exit code 0, or 2 when the database cannot be read or compiled.
 */
import { parseArgs } from 'node:util';
import { loadDatabase } from '../scanners/index.js';

const HELP = `usage: portcullis sigs info [--json] [PATH…]

Loads signature files or folders (default: the built-in database) and prints
the signatures loaded by kind, those skipped with reasons and examples, and
the load time.
`;

export async function run(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'info') {
    process.stderr.write(`portcullis sigs: unknown subcommand "${sub}"\n\n${HELP}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    process.stderr.write(`portcullis sigs info: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const { db, loadMs } = await loadDatabase(parsed.positionals);
  const s = db.stats;
  if (parsed.values.json === true) {
    process.stdout.write(`${JSON.stringify({ sources: parsed.positionals.length > 0 ? parsed.positionals : ['builtin'], ...s, loadMs: Math.round(loadMs) })}\n`);
    return 0;
  }
  const lines: string[] = [];
  lines.push(`Database: ${parsed.positionals.length > 0 ? parsed.positionals.join(', ') : 'built-in'}`);
  lines.push(`Signatures loaded: ${s.total}`);
  for (const [kind, n] of sortedEntries(s.loaded)) lines.push(`  ${kind.padEnd(12)} ${n}`);
  const skipped = sortedEntries(s.skipped);
  const skippedTotal = skipped.reduce((n, [, c]) => n + c, 0);
  lines.push(`Signatures skipped: ${skippedTotal}`);
  for (const [reason, n] of skipped) {
    lines.push(`  ${reason.padEnd(20)} ${n}`);
    for (const example of s.skippedExamples[reason] ?? []) lines.push(`      e.g. ${example.length > 160 ? `${example.slice(0, 157)}...` : example}`);
  }
  lines.push(`Files: ${s.files.length}`);
  for (const f of s.files) lines.push(`  ${f.name.padEnd(28)} ${f.signatures}`);
  if (s.newestBuildTime !== undefined) lines.push(`Newest build: ${new Date(s.newestBuildTime).toISOString()}`);
  lines.push(`Load time: ${(loadMs / 1000).toFixed(3)} sec`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

function sortedEntries(record: Readonly<Record<string, number>>): [string, number][] {
  return Object.entries(record).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
