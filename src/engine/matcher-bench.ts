/**
 * Matcher benchmark, a developer tool (not a test, not imported by the
 * engine, and the only file in this folder that touches the file system):
 *
 *   node dist/src/engine/matcher-bench.js [--ndb FILE] [--patterns N] [--mb M] [--chunk BYTES] [DIR…]
 *
 * Builds N rig-like body patterns (random 16-40 bytes, ~10% with one to three
 * `??`, ~10% with one `{n-m}` gap, as ../shared/rig/sigs/make-sigs.sh does;
 * seeded, so every run sees the same set) or reads the hex field of an .ndb
 * file, then scans up to M MB of regular files from the given folders
 * (default /usr/bin and /usr/lib) in chunks. Prints one JSON line: compile
 * time, memory of the compiled set, MB/s (CPU time, best of several passes,
 * because shared machines make wall time noisy) and the matches found.
 * Run with --expose-gc for meaningful memory numbers.
 */
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PatternSet, type PatternInput } from './matcher.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] as string : fallback;
}

function rigPatterns(n: number, seed: number): PatternInput[] {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (a: number, b: number): number => a + Math.floor(rnd() * (b - a + 1));
  const out: PatternInput[] = [];
  for (let id = 0; id < n; id++) {
    const hex = Array.from({ length: int(16, 40) }, () => int(0, 255).toString(16).padStart(2, '0'));
    const r = rnd();
    let pattern: string;
    if (r < 0.1) {
      for (let k = int(1, 3); k > 0; k--) hex[int(4, hex.length - 5)] = '??';
      pattern = hex.join('');
    } else if (r < 0.2) {
      const cut = int(6, hex.length - 6);
      const lo = int(0, 16);
      pattern = `${hex.slice(0, cut).join('')}{${lo}-${lo + int(1, 32)}}${hex.slice(cut).join('')}`;
    } else {
      pattern = hex.join('');
    }
    out.push({ id, pattern });
  }
  return out;
}

function corpus(dirs: string[], limit: number): Buffer[] {
  const files: Buffer[] = [];
  let total = 0;
  const walk = (dir: string): void => {
    let names: string[];
    try { names = readdirSync(dir).sort(); } catch { return; }
    for (const name of names) {
      if (total >= limit) return;
      const p = join(dir, name);
      try {
        const st = lstatSync(p);
        if (st.isDirectory()) walk(p);
        else if (st.isFile() && st.size > 0 && st.size < 64e6) { const b = readFileSync(p); files.push(b); total += b.length; }
      } catch {
        // Unreadable files are simply not part of the corpus.
      }
    }
  };
  for (const d of dirs) walk(d);
  return files;
}

const cpuSeconds = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

/** Collects garbage until freed array buffers are really gone (V8 frees them in the background). */
async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4 && gc; i++) { gc(); await sleep(100); }
}

async function main(): Promise<void> {
  const ndb = arg('--ndb', '');
  const inputs = ndb
    ? readFileSync(ndb, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l, id) => ({ id, pattern: l.split(':')[3] ?? '' }))
    : rigPatterns(Number(arg('--patterns', '100000')), 1);
  const chunk = Number(arg('--chunk', '65536'));
  const dirs = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
  const files = corpus(dirs.length > 0 ? dirs : ['/usr/bin', '/usr/lib'], Number(arg('--mb', '300')) * 1e6);
  const bytes = files.reduce((s, f) => s + f.length, 0);

  await settle();
  const before = process.memoryUsage();
  const t0 = cpuSeconds();
  const set = PatternSet.compile(inputs);
  const compileMs = (cpuSeconds() - t0) * 1000;
  const peakRss = process.memoryUsage().rss;
  await settle();
  const after = process.memoryUsage();

  let found = 0;
  const pass = (): number => {
    const t = cpuSeconds();
    for (const f of files) {
      const s = set.newScan({ size: f.length, target: 0, onMatch: () => { found++; return false; } });
      for (let o = 0; o < f.length; o += chunk) s.write(f.subarray(o, o + chunk));
      s.end();
    }
    return cpuSeconds() - t;
  };
  const first = pass();
  let best = first;
  for (let i = 0; i < 4; i++) best = Math.min(best, pass());
  console.log(JSON.stringify({
    patterns: inputs.length,
    compileMs: Math.round(compileMs),
    compiledMB: +((after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / 1e6).toFixed(1),
    rssGrowthAtCompileMB: +((peakRss - before.rss) / 1e6).toFixed(1),
    files: files.length,
    MB: +(bytes / 1e6).toFixed(1),
    chunk,
    firstPassMBps: Math.round(bytes / 1e6 / first),
    bestPassMBps: Math.round(bytes / 1e6 / best),
    matchesPerPass: found / 5,
  }));
}

await main();
