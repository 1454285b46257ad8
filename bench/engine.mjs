// Engine benchmark (`npm run bench:engine`): `portcullis scan -r` against
// `clamscan -r` and clamd INSTREAM (4 in flight, the rig's python client) on
// the same synthetic database (100k .ndb + 1M .hdb) and the same ~300 MB
// corpus, in one run. Our own clamd client (`portcullis scan --scanner
// clamd=…`) is measured as well, against the same clamd.
//
// The rig is copied from RIG_SRC (default ../shared/rig next to the checkout)
// to bench/out/rig; the database and corpus are generated there when absent.
// Every timing runs REPEATS times (default 3); medians are reported. MB = 10^6
// bytes over the bytes listed in MANIFEST.tsv. Peak RSS: /usr/bin/time %M for
// processes we run, VmHWM for clamd. Detections are compared with
// MANIFEST.tsv; limits findings (Heuristics.Limits.*) are counted apart from
// virus detections, because they are policy input, not a verdict on the file.
// PROFILE=1 adds one `node --cpu-prof` run and prints where the time goes.
// Results: a table on stdout and bench/out/engine-<timestamp>.json.
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { exec, exitText, freePort, log, MAIN, median, OUT, RIG, RIG_SRC, ROOT } from './lib.mjs';

const N_NDB = Number(process.env.N_NDB ?? 100_000);
const N_HDB = Number(process.env.N_HDB ?? 1_000_000);
const DB = join(RIG, 'data', `sigs-${N_NDB / 1000}k-${N_HDB / 1_000_000}m`);
const CORPUS = join(RIG, 'data', 'corpus');
const REPEATS = Math.max(1, Number(process.env.REPEATS ?? 3));

/** Wall time (ms) and peak RSS (KB, from GNU time) of one run. */
async function measured(program, args, options = {}) {
  const rssFile = join(OUT, `.maxrss-${process.pid}`);
  const t0 = performance.now();
  const r = await exec('/usr/bin/time', ['-f', '%M', '-o', rssFile, program, ...args], { timeoutMs: 1_800_000, ...options });
  const ms = performance.now() - t0;
  const rssKb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
  rmSync(rssFile, { force: true });
  if (r.code !== 0 && r.code !== 1) throw new Error(`${program} ${args.join(' ')} exited ${exitText(r)}: ${r.stderr.slice(-2000)}`);
  return { ms, rssKb, ...r };
}

function prepare() {
  if (!existsSync(RIG)) {
    log(`copying the rig ${RIG_SRC} → ${RIG}`);
    cpSync(RIG_SRC, RIG, { recursive: true });
    const writable = (p) => {
      chmodSync(p, statSync(p).mode | 0o200);
      if (statSync(p).isDirectory()) for (const n of readdirSync(p)) writable(join(p, n));
    };
    writable(RIG);
  }
  return (async () => {
    if (!existsSync(join(DB, 'synth.ndb')) && !existsSync(join(DB, 'synth.hdb'))) {
      log(`generating the database (${N_NDB} ndb + ${N_HDB} hdb) in ${DB}`);
      const r = await exec('bash', [join(RIG, 'sigs', 'make-sigs.sh'), String(N_NDB), String(N_HDB), DB]);
      if (r.code !== 0) throw new Error(`make-sigs.sh failed: ${r.stderr}`);
    }
    if (!existsSync(join(CORPUS, 'MANIFEST.tsv'))) {
      log(`generating the corpus in ${CORPUS} (a few minutes)`);
      const r = await exec('bash', [join(RIG, 'corpus', 'make-corpus.sh'), CORPUS]);
      if (r.code !== 0) throw new Error(`make-corpus.sh failed: ${r.stderr}`);
    }
  })();
}

function readManifest() {
  const [header, ...rows] = readFileSync(join(CORPUS, 'MANIFEST.tsv'), 'utf8').trimEnd().split('\n');
  const cols = header.split('\t');
  const files = rows.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [cols[i], v])));
  return {
    files: files.length,
    bytes: files.reduce((n, f) => n + Number(f.bytes), 0),
    infected: new Set(files.filter((f) => f.expect === 'infected').map((f) => f.path)),
  };
}

/** Detections from clamscan-style output, split into virus names and limits/heuristics findings. */
function detections(stdout, manifest) {
  const virus = new Map();
  const heuristics = new Map();
  for (const line of stdout.split('\n')) {
    if (!line.endsWith(' FOUND')) continue;
    const at = line.lastIndexOf(': ');
    const rel = relative(CORPUS, resolve(line.slice(0, at)));
    const name = line.slice(at + 2, -' FOUND'.length);
    (name.startsWith('Heuristics.') ? heuristics : virus).set(rel, name);
  }
  const tp = [...manifest.infected].filter((p) => virus.has(p)).length;
  const fn = [...manifest.infected].filter((p) => !virus.has(p));
  const fp = [...virus.keys()].filter((p) => !manifest.infected.has(p));
  return { detected: virus.size, expected: manifest.infected.size, tp, fn: fn.length, fp: fp.length, fnPaths: fn.slice(0, 10), fpPaths: fp.slice(0, 10), heuristics: Object.fromEntries(heuristics) };
}

async function warmCache() {
  const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
  for (const f of [...walk(CORPUS), ...walk(DB)]) readFileSync(f);
}

/** One measured run of `fn`, logged. */
async function once(label, i, fn) {
  const r = await fn();
  log(`${label} run ${i + 1}/${REPEATS}: ${(r.ms / 1000).toFixed(3)} s${r.rssKb ? `, ${Math.round(r.rssKb / 1024)} MB RSS` : ''}`);
  return r;
}

async function startClamd() {
  const runDir = join(OUT, 'clamd-run');
  const port = await freePort();
  const start = await exec('bash', [join(RIG, 'clamd', 'start.sh'), DB, runDir], { env: { CLAMD_TCP_PORT: String(port) } });
  if (start.code !== 0) throw new Error(`clamd/start.sh failed: ${start.stderr}`);
  return {
    runDir,
    sock: join(runDir, 'clamd.sock'),
    loadSecs: Number(/load_secs=([\d.]+)/.exec(start.stdout)?.[1] ?? NaN),
    pid: readFileSync(join(runDir, 'clamd.pid'), 'utf8').trim(),
    stop: () => exec('bash', [join(RIG, 'clamd', 'stop.sh'), runDir]),
  };
}

async function pythonInstream(sock) {
  const r = await exec('python3', [join(RIG, 'clamd', 'clamd_client.py'), 'bench', sock, CORPUS, '--concurrency', '4']);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT')) ?? '';
  const field = (k) => Number(new RegExp(`\\b${k}=([\\d.]+)`).exec(line)?.[1] ?? NaN);
  return { ms: field('secs') * 1000, detected: field('detected'), tp: field('tp'), fn: field('fn'), fp: field('fp'), errors: field('errors') };
}

/**
 * All tools in turn within each repeat (not all repeats of one tool, then the
 * next): on a shared, noisy machine the load then weighs on every tool alike.
 */
async function measureAll(manifest) {
  const empty = join(OUT, 'empty');
  mkdirSync(empty, { recursive: true });
  const clamd = await startClamd();
  const m = { pLoad: [], pScan: [], cLoad: [], cScan: [], py: [], ours: [] };
  let hwm = NaN;
  try {
    for (let i = 0; i < REPEATS; i++) {
      m.pLoad.push(await once('portcullis DB load', i, () => measured(process.execPath, [MAIN, 'sigs', 'info', DB])));
      m.pScan.push(await once('portcullis scan -r', i, () => measured(process.execPath, [MAIN, 'scan', '-r', '--no-summary', '--db', DB, CORPUS])));
      m.cLoad.push(await once('clamscan DB load', i, () => measured('clamscan', ['--no-summary', `--database=${DB}`, empty])));
      m.cScan.push(await once('clamscan -r', i, () => measured('clamscan', ['-r', '--no-summary', `--database=${DB}`, CORPUS])));
      m.py.push(await once('clamd INSTREAM x4 (python)', i, () => pythonInstream(clamd.sock)));
      m.ours.push(await once('portcullis --scanner clamd x4', i, () => measured(process.execPath, [MAIN, 'scan', '-r', '--no-summary', '--scanner', `clamd=${clamd.sock}`, CORPUS])));
    }
  } finally {
    hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${clamd.pid}/status`, 'utf8'))?.[1] ?? NaN);
    await clamd.stop();
  }
  const secs = (runs) => median(runs.map((r) => r.ms)) / 1000;
  const list = (runs) => runs.map((r) => +(r.ms / 1000).toFixed(3));
  const peak = (runs) => Math.max(...runs.map((r) => r.rssKb)) / 1024;
  const last = m.py.at(-1);
  return [
    {
      tool: 'portcullis scan -r', loadSecs: secs(m.pLoad), loadRuns: list(m.pLoad), loadRssMb: peak(m.pLoad),
      loadSecsInProcess: median(m.pLoad.map((r) => Number(/^Load time: ([\d.]+) sec$/m.exec(r.stdout)?.[1] ?? NaN))),
      scanSecs: secs(m.pScan), runs: list(m.pScan), peakRssMb: peak(m.pScan), ...detections(m.pScan[0].stdout, manifest),
    },
    {
      tool: 'clamscan -r', loadSecs: secs(m.cLoad), loadRuns: list(m.cLoad), loadRssMb: peak(m.cLoad),
      scanSecs: secs(m.cScan), runs: list(m.cScan), peakRssMb: peak(m.cScan), ...detections(m.cScan[0].stdout, manifest),
    },
    {
      tool: 'clamd INSTREAM x4 (python client)', loadSecs: clamd.loadSecs, scanSecs: secs(m.py), runs: list(m.py), peakRssMb: hwm / 1024,
      detected: last.detected, expected: manifest.infected.size, tp: last.tp, fn: last.fn, fp: last.fp, heuristics: {},
    },
    {
      tool: 'portcullis --scanner clamd x4', loadSecs: clamd.loadSecs, scanSecs: secs(m.ours), runs: list(m.ours), peakRssMb: hwm / 1024,
      clientRssMb: peak(m.ours), ...detections(m.ours[0].stdout, manifest),
    },
  ];
}

/** Self time by function from a V8 .cpuprofile, top N. */
function summarizeProfile(file, top = 20) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  prof.samples.forEach((id, i) => {
    const n = byId.get(id);
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : ''}`.trim();
    self.set(key, (self.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => ({ fn: k, ms: Math.round(us / 1000), share: +((us / total) * 100).toFixed(1) }));
}

async function profile() {
  const dir = join(OUT, `prof-${Date.now()}`);
  log(`profiling one portcullis scan into ${dir}`);
  const r = await exec(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, MAIN, 'scan', '-r', '--no-summary', '--db', DB, CORPUS], { timeoutMs: 600_000 });
  const file = existsSync(dir) ? readdirSync(dir).find((n) => n.endsWith('.cpuprofile')) : undefined;
  if (file === undefined) {
    log(`no profile written (exit ${exitText(r)})`);
    return [];
  }
  return summarizeProfile(join(dir, file));
}

function table(rows, manifest) {
  const base = rows.find((r) => r.tool === 'clamscan -r');
  const mb = manifest.bytes / 1e6;
  const head = ['tool', 'load s', 'scan s', 'MB/s', 'MB/s w/o load', 'peak RSS MB', 'found', 'tp/fn/fp', 'limits', 'MB/s vs clamscan'];
  const lines = rows.map((r) => {
    const mbps = mb / r.scanSecs;
    const net = r.tool.startsWith('clamd') || r.tool.includes('--scanner clamd') ? mbps : mb / (r.scanSecs - r.loadSecs);
    return [r.tool, r.loadSecs.toFixed(2), r.scanSecs.toFixed(2), mbps.toFixed(1), net.toFixed(1), r.peakRssMb.toFixed(0), `${r.detected}/${r.expected}`, `${r.tp}/${r.fn}/${r.fp}`, String(Object.keys(r.heuristics ?? {}).length), base ? `${(mbps / (mb / base.scanSecs)).toFixed(2)}x` : '-'];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

export async function run() {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  mkdirSync(OUT, { recursive: true });
  await prepare();
  const manifest = readManifest();
  const sigs = readFileSync(join(DB, 'sigs-info.txt'), 'utf8');
  log(`DB ${DB}, corpus ${manifest.files} files ${manifest.bytes} bytes, REPEATS=${REPEATS}; warming the page cache`);
  await warmCache();

  const rows = await measureAll(manifest);
  const ours = rows[0];
  const clam = rows[1];
  const goals = {
    mbpsRatio: +((clam.scanSecs / ours.scanSecs)).toFixed(2),
    mbpsAtLeast2x: clam.scanSecs / ours.scanSecs >= 2,
    loadNoWorse: ours.loadSecs <= clam.loadSecs,
    rssNoWorse: ours.peakRssMb <= clam.peakRssMb,
    sameDetections: ours.tp === clam.tp && ours.fp === 0 && ours.fn === 0,
  };
  const prof = process.env.PROFILE === '1' ? await profile() : undefined;

  console.log(`\nengine bench: ${DB} (${/total[^\n]*/i.exec(sigs)?.[0] ?? `${N_NDB} ndb + ${N_HDB} hdb`}); corpus ${manifest.files} files, ${(manifest.bytes / 1e6).toFixed(1)} MB; medians of ${REPEATS}; MB = 10^6 bytes\n`);
  console.log(table(rows, manifest));
  console.log(`\nportcullis vs clamscan: ${goals.mbpsRatio}x MB/s (goal ≥ 2x: ${goals.mbpsAtLeast2x ? 'met' : 'MISSED'}), load ${ours.loadSecs.toFixed(2)} s vs ${clam.loadSecs.toFixed(2)} s (${goals.loadNoWorse ? 'met' : 'MISSED'}), peak RSS ${ours.peakRssMb.toFixed(0)} MB vs ${clam.peakRssMb.toFixed(0)} MB (${goals.rssNoWorse ? 'met' : 'MISSED'}), detections ${goals.sameDetections ? 'same' : 'DIFFERENT'}`);
  for (const r of rows) {
    if (Object.keys(r.heuristics ?? {}).length > 0) console.log(`${r.tool}: limits/heuristics findings (not counted as detections): ${JSON.stringify(r.heuristics)}`);
    if (r.fn > 0 || r.fp > 0) console.log(`${r.tool}: missed ${JSON.stringify(r.fnPaths)} false positives ${JSON.stringify(r.fpPaths)}`);
  }
  if (prof !== undefined) {
    console.log('\nwhere portcullis spends its time (self time, one run):');
    for (const p of prof) console.log(`  ${String(p.ms).padStart(6)} ms ${String(p.share).padStart(5)}%  ${p.fn}`);
  }
  const file = join(OUT, `engine-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ when: new Date().toISOString(), db: DB, corpus: { files: manifest.files, bytes: manifest.bytes }, repeats: REPEATS, rows, goals, profile: prof }, null, 2)}\n`);
  console.log(`\nresults: ${relative(ROOT, file)}`);
  return goals.sameDetections ? 0 : 1;
}
