// FTP benchmark (`npm run bench:ftp`): a 200 MB file down and up with curl
// (passive, EPSV) through X, where X is nothing (vsftpd direct, the
// ceiling), portcullis (built-in engine), or SuSE's ftp-proxy (the peer we
// compare with, no scanning). Two files: one the policy skips (plain text
// named .txt, scanAll off) and one it scans (random bytes named .bin).
// Also: the time to the first data byte of a scanned 1 MB file (our own
// client: RETR sent → first byte), portcullis minus direct, and what the
// scanner alone achieves on the 200 MB file (`portcullis scan` and the
// in-process built-in scanner with the same limits as the proxy).
//
// The rig is copied from RIG_SRC (default ../shared/rig) to bench/out/rig
// when absent; vsftpd and ftp-proxy are started and stopped with its scripts.
// Env: FTP_MB (200), FTP_RUNS (3), TTFB_RUNS (20), SKIP_FTP_PROXY=1, PC_LOG=1,
// FTP_FILES (txt,bin: which of the two files), SKIP_EXTRAS=1 (no time to first
// byte, no scanner alone), PC_MAIN_B (another build's dist/src/cli/main.js, e.g.
// a copy of the last commit's dist under bench/out: run as "portcullis B" in the
// same alternation, for a before/after in one run on a loaded machine),
// (portcullis logs at debug level to stdout, with per-download phase times),
// PC_NODE_ARGS (extra node flags for the portcullis process, e.g.
// "--cpu-prof --cpu-prof-dir=bench/out/prof"; the profile is written when
// it exits on SIGTERM at the end).
// FTP_DB (a ClamAV database file or folder, or "rig" for the rig's 100k .ndb
// + 1M .hdb set): loaded by the proxy and by the scanner-alone runs, so the
// scanned rows are measured with a real-sized database, not only the small
// built-in one (with it the scanner runs at memory speed and the two network
// legs dominate). The scanned rows are also given as a share of the
// store-and-forward ceiling 1 / (1/receive + 1/scanner + 1/send): the file
// is received whole, then scanned, then sent, by the issue's rule; and of the
// holding ceiling 1 / (max(1/receive, 1/scanner) + 1/send): the best any
// proxy can do that scans while the file arrives but sends nothing before the
// verdict (portcullis does so for downloads of known size; see
// docs/ARCHITECTURE.md). Where the scanner is faster than a quarter of the
// network, that ceiling is itself under 80% of scan speed.
// Results: a table on stdout and bench/out/ftp-<timestamp>.json.
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exec, freePort, log, MAIN, median, OUT, RIG, RIG_SRC, ROOT, waitPort } from './lib.mjs';

const RUN = join(OUT, 'ftp-run');
const DB = process.env.FTP_DB === 'rig' ? join(RIG, 'data', 'sigs-100k-1m') : process.env.FTP_DB;
const MB = Number(process.env.FTP_MB ?? 200);
const RUNS = Math.max(1, Number(process.env.FTP_RUNS ?? 3));
const TTFB_RUNS = Math.max(1, Number(process.env.TTFB_RUNS ?? 20));
const FILES = (process.env.FTP_FILES ?? 'txt,bin').split(',');
const EXTRAS = process.env.SKIP_EXTRAS !== '1';
const MAIN_B = process.env.PC_MAIN_B;

/** MB of printable text (base64 lines of a keystream), so that its true type is text and the policy may skip it. */
function makeTextFile(path, mb) {
  if (existsSync(path) && statSync(path).size === mb * 1024 * 1024) return;
  const src = readFileSync(join(RUN, 'vsftpd', 'ftproot', 'pub', `big-${MB}M.bin`)).subarray(0, 48 * 1024 * 1024);
  const lines = src.toString('base64').replace(/(.{76})/g, '$1\n');
  const chunk = Buffer.from(lines, 'latin1');
  const fd = openSync(`${path}.part`, 'w');
  let left = mb * 1024 * 1024;
  while (left > 0) {
    const n = Math.min(left, chunk.length);
    writeSync(fd, chunk, 0, n);
    left -= n;
  }
  closeSync(fd);
  rmSync(path, { force: true });
  cpSync(`${path}.part`, path);
  rmSync(`${path}.part`);
  chmodSync(path, 0o644);
}

/** CPU time (user + system, ms) a process has used so far: the proxy's cost per transfer, which a loaded machine slows but does not change. */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function curlDown(addr, path) {
  const r = await exec('curl', ['-sS', '--max-time', '600', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', `ftp://${addr}${path}`]);
  if (r.code !== 0) throw new Error(`download ${path} via ${addr}: ${r.stderr}`);
  const [bytes, secs] = r.stdout.trim().split(' ').map(Number);
  return { bytes, mbps: bytes / secs / 1e6 };
}

async function curlUp(addr, src, name) {
  const r = await exec('curl', ['-sS', '--max-time', '600', '-T', src, '-Q', `-DELE ${name}`, '-w', '%{size_upload} %{time_total}', `ftp://${addr}/upload/${name}`]);
  if (r.code !== 0) throw new Error(`upload ${name} via ${addr}: ${r.stderr}`);
  const [bytes, secs] = r.stdout.trim().split(' ').map(Number);
  return { bytes, mbps: bytes / secs / 1e6 };
}

/** RETR sent → first data byte, in ms, with a fresh session each time (EPSV data connection open before RETR). */
async function ttfb(addr, path) {
  const { TestClient } = await import(pathToFileURL(join(ROOT, 'dist', 'src', 'ftp', 'testing.js')).href);
  const c = await TestClient.open(addr);
  try {
    await c.login();
    await c.command('TYPE I');
    const data = await c.epsv();
    const first = new Promise((res) => data.once('data', () => res(performance.now())));
    const done = new Promise((res) => { data.on('end', res); data.on('close', res); });
    data.resume();
    const t0 = performance.now();
    c.send(`RETR ${path}`);
    const t1 = await first;
    await done;
    await c.must(30_000);
    await c.must(30_000);
    return t1 - t0;
  } finally {
    c.close();
  }
}

async function scannerAlone(file) {
  const dbArgs = DB === undefined ? [] : ['--db', DB];
  const cli = await exec(process.execPath, [MAIN, 'scan', ...dbArgs, '--no-summary', file]);
  const cliSummary = await exec(process.execPath, [MAIN, 'scan', ...dbArgs, file]);
  const m = /Throughput: ([\d.]+) MB\/s/.exec(cliSummary.stdout + cliSummary.stderr);
  const { createScanner } = await import(pathToFileURL(join(ROOT, 'dist', 'src', 'scanners', 'index.js')).href);
  const { DEFAULT_LIMITS } = await import(pathToFileURL(join(ROOT, 'dist', 'src', 'content', 'limits.js')).href);
  const limits = { ...DEFAULT_LIMITS, MaxFileSize: 1024 ** 3, MaxScanSize: 1024 ** 3 };
  const scanner = await createScanner('builtin', { limits, ...(DB === undefined ? {} : { dbPaths: [DB] }) });
  const size = statSync(file).size;
  const times = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await scanner.scan({ name: 'big.bin', path: file, size });
    times.push(performance.now() - t0);
  }
  await scanner.close();
  return { cliMBps: m ? Number(m[1]) * 1.048576 : NaN, cliLine: cli.stdout.trim().slice(0, 200), inProcessMBps: size / (median(times) / 1000) / 1e6 };
}

export async function run() {
  mkdirSync(OUT, { recursive: true });
  if (!existsSync(join(RIG, 'ftp', 'start-vsftpd.sh'))) {
    log(`copying the rig from ${RIG_SRC} to ${RIG}`);
    cpSync(RIG_SRC, RIG, { recursive: true });
  }
  await exec('chmod', ['-R', 'u+w', RIG]);
  mkdirSync(RUN, { recursive: true });
  const vsPort = await freePort();
  const proxyPort = await freePort();
  const pcPort = await freePort();
  const vsDir = join(RUN, 'vsftpd');
  const fpDir = join(RUN, 'ftp-proxy');
  const pcDir = join(RUN, 'portcullis');
  const pcPortB = await freePort();
  let pc;
  let pcB;
  const results = { date: new Date().toISOString(), mb: MB, runs: RUNS, rows: [] };
  try {
    log(`starting vsftpd on ${vsPort} (${MB} MB file)`);
    const vs = await exec(join(RIG, 'ftp', 'start-vsftpd.sh'), [vsDir, String(vsPort)], { env: { FTP_FILE_MB: String(MB) } });
    if (vs.code !== 0) throw new Error(`vsftpd: ${vs.stderr}`);
    const pub = join(vsDir, 'ftproot', 'pub');
    makeTextFile(join(pub, `big-${MB}M.txt`), MB);
    const oneMb = join(pub, 'one-1M.bin');
    writeFileSync(oneMb, readFileSync(join(pub, `big-${MB}M.bin`)).subarray(0, 1024 * 1024));
    chmodSync(oneMb, 0o644);
    const srcDir = join(RUN, 'client');
    mkdirSync(srcDir, { recursive: true });
    for (const ext of ['bin', 'txt']) cpSync(join(pub, `big-${MB}M.${ext}`), join(srcDir, `src.${ext}`));

    if (process.env.SKIP_FTP_PROXY !== '1') {
      log(`starting ftp-proxy on ${proxyPort}`);
      const fp = await exec(join(RIG, 'ftp', 'start-ftp-proxy.sh'), [fpDir, String(proxyPort), String(vsPort)]);
      if (fp.code !== 0) throw new Error(`ftp-proxy: ${fp.stderr}`);
    }

    mkdirSync(pcDir, { recursive: true });
    const conf = join(pcDir, 'portcullis.yaml');
    writeFileSync(conf, [
      `data: ${join(pcDir, 'data')}`, 'admin: false', 'smtp: false', `log: { level: ${process.env.PC_LOG === '1' ? 'debug' : 'warn'} }`,
      `ftp: { listen: "127.0.0.1:${pcPort}", upstream: "127.0.0.1:${vsPort}" }`,
      'limits: { MaxFileSize: 1GB, MaxScanSize: 1GB }', 'policy: { scanAll: false }',
      ...(DB === undefined ? [] : [`engine: { databases: [${JSON.stringify(DB)}] }`]), '',
    ].join('\n'));
    log(`starting portcullis on ${pcPort}`);
    const nodeArgs = (process.env.PC_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    pc = spawn(process.execPath, [...nodeArgs, MAIN, 'start', '--config', conf], { stdio: ['ignore', process.env.PC_LOG === '1' ? 'inherit' : 'ignore', 'inherit'] });
    await waitPort(pcPort, 20_000);
    if (MAIN_B !== undefined) {
      const confB = join(pcDir, 'portcullis-b.yaml');
      writeFileSync(confB, readFileSync(conf, 'utf8').replace(`data: ${join(pcDir, 'data')}`, `data: ${join(pcDir, 'data-b')}`).replace(`127.0.0.1:${pcPort}`, `127.0.0.1:${pcPortB}`));
      log(`starting portcullis B (${MAIN_B}) on ${pcPortB}`);
      pcB = spawn(process.execPath, [...nodeArgs, MAIN_B, 'start', '--config', confB], { stdio: ['ignore', 'ignore', 'inherit'] });
      await waitPort(pcPortB, 20_000);
    }

    const targets = [['vsftpd direct', vsPort], ['portcullis', pcPort], ...(MAIN_B === undefined ? [] : [['portcullis B', pcPortB]]),
      ...(process.env.SKIP_FTP_PROXY === '1' ? [] : [['ftp-proxy (SuSE)', proxyPort]])];
    const cpuOf = (port) => (port === pcPort ? pc.pid : port === pcPortB && pcB !== undefined ? pcB.pid : undefined);
    for (const [kind, ext] of [['skipped (text .txt)', 'txt'], ['scanned (random .bin)', 'bin']].filter(([, e]) => FILES.includes(e))) {
      const samples = Object.fromEntries(targets.map(([t]) => [t, { down: [], up: [], downCpu: [], upCpu: [] }]));
      for (let i = 0; i < RUNS; i++) {
        for (const [t, port] of targets) {
          const addr = `127.0.0.1:${port}`;
          const pid = cpuOf(port);
          const own = pid !== undefined;
          const c0 = own ? cpuMs(pid) : 0;
          const d = await curlDown(addr, `/pub/big-${MB}M.${ext}`);
          if (d.bytes !== MB * 1024 * 1024) throw new Error(`${t}: got ${d.bytes} bytes`);
          const c1 = own ? cpuMs(pid) : 0;
          const u = await curlUp(addr, join(srcDir, `src.${ext}`), `bench-${process.pid}-${i}.${ext}`);
          const c2 = own ? cpuMs(pid) : 0;
          samples[t].down.push(d.mbps);
          samples[t].up.push(u.mbps);
          samples[t].downCpu.push(c1 - c0);
          samples[t].upCpu.push(c2 - c1);
          log(`${kind} run ${i + 1} ${t}: down ${d.mbps.toFixed(0)} MB/s, up ${u.mbps.toFixed(0)} MB/s${own ? ` (portcullis CPU ${c1 - c0} / ${c2 - c1} ms)` : ''} load ${loadavg()[0].toFixed(1)}`);
        }
      }
      for (const [t] of targets) {
        results.rows.push({ file: kind, target: t, downMBps: median(samples[t].down), upMBps: median(samples[t].up), down: samples[t].down, up: samples[t].up,
          ...(t.startsWith('portcullis') ? { downCpuMs: median(samples[t].downCpu), upCpuMs: median(samples[t].upCpu) } : {}) });
      }
    }

    if (EXTRAS) {
      log('time to first byte of a scanned 1 MB file');
      const tt = { direct: [], portcullis: [] };
      for (let i = 0; i < TTFB_RUNS; i++) {
        tt.direct.push(await ttfb(`127.0.0.1:${vsPort}`, '/pub/one-1M.bin'));
        tt.portcullis.push(await ttfb(`127.0.0.1:${pcPort}`, '/pub/one-1M.bin'));
      }
      results.ttfb = { directMs: median(tt.direct), portcullisMs: median(tt.portcullis), addedMs: median(tt.portcullis) - median(tt.direct) };

      log('scanner alone on the same file');
      results.scanner = await scannerAlone(join(srcDir, 'src.bin'));
    }
  } finally {
    for (const p of [pc, pcB]) {
      if (p === undefined || p.exitCode !== null) continue;
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
    await exec(join(RIG, 'ftp', 'stop.sh'), [fpDir]).catch(() => undefined);
    await exec(join(RIG, 'ftp', 'stop.sh'), [vsDir]).catch(() => undefined);
  }

  const direct = (file) => results.rows.find((r) => r.file === file && r.target === 'vsftpd direct');
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs`);
  console.log(`\nFTP, ${MB} MB, curl passive, median of ${RUNS} (MB/s, MB = 10^6 bytes)`);
  console.log('file                    target              down     up    down/direct  up/direct');
  for (const r of results.rows) {
    const d = direct(r.file);
    const cpu = r.downCpuMs === undefined ? '' : `   CPU ${r.downCpuMs} / ${r.upCpuMs} ms`;
    console.log(`${r.file.padEnd(24)}${r.target.padEnd(18)}${r.downMBps.toFixed(0).padStart(6)} ${r.upMBps.toFixed(0).padStart(6)}    ${(r.downMBps / d.downMBps * 100).toFixed(0).padStart(5)}%     ${(r.upMBps / d.upMBps * 100).toFixed(0).padStart(5)}%${cpu}`);
  }
  const scanned = results.rows.find((r) => r.file.startsWith('scanned') && r.target === 'portcullis');
  if (EXTRAS && scanned !== undefined) {
    console.log(`\nscanner alone on the ${MB} MB file: portcullis scan ${results.scanner.cliMBps.toFixed(0)} MB/s, in-process builtin ${results.scanner.inProcessMBps.toFixed(0)} MB/s`);
    console.log(`scanned through portcullis vs portcullis scan: down ${(scanned.downMBps / results.scanner.cliMBps * 100).toFixed(0)}%, up ${(scanned.upMBps / results.scanner.cliMBps * 100).toFixed(0)}% (goal ≥ 80%); vs the in-process scanner: down ${(scanned.downMBps / results.scanner.inProcessMBps * 100).toFixed(0)}%, up ${(scanned.upMBps / results.scanner.inProcessMBps * 100).toFixed(0)}%`);
    const d = direct(scanned.file);
    // Legs: a download is read from the server and sent to the client, an upload read from the client and
    // written to the server; the client leg is taken as fast as a download from the server (no disk on it).
    const ceiling = (receive, send, s) => 1 / (1 / receive + 1 / s + 1 / send);
    const holding = (receive, send, s) => 1 / (Math.max(1 / receive, 1 / s) + 1 / send);
    const scan = results.scanner.cliMBps;
    const [downCeil, upCeil] = [ceiling(d.downMBps, d.downMBps, scan), ceiling(d.downMBps, d.upMBps, scan)];
    const [downHold, upHold] = [holding(d.downMBps, d.downMBps, scan), holding(d.downMBps, d.upMBps, scan)];
    results.ceiling = { downMBps: downCeil, upMBps: upCeil, holdDownMBps: downHold, holdUpMBps: upHold };
    const share = (v, of) => `${(v / of * 100).toFixed(0)}%`;
    console.log(`store-and-forward ceiling (receive whole, scan, send): down ${downCeil.toFixed(0)} MB/s, up ${upCeil.toFixed(0)} MB/s; scanned through portcullis reaches down ${share(scanned.downMBps, downCeil)}, up ${share(scanned.upMBps, upCeil)} of it${DB === undefined ? ' (built-in database)' : ` (database ${DB})`}`);
    console.log(`holding ceiling (scan beside the receive, send after the verdict): down ${downHold.toFixed(0)} MB/s = ${share(downHold, scan)} of scan speed, up ${upHold.toFixed(0)} MB/s = ${share(upHold, scan)}; scanned through portcullis reaches down ${share(scanned.downMBps, downHold)}, up ${share(scanned.upMBps, upHold)} of it`);
    console.log(`first byte of a scanned 1 MB file: direct ${results.ttfb.directMs.toFixed(1)} ms, portcullis ${results.ttfb.portcullisMs.toFixed(1)} ms, added ${results.ttfb.addedMs.toFixed(1)} ms (goal ≤ 20)`);
  }
  const file = join(OUT, `ftp-${results.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  log(`results in ${file}`);
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exit(await run());
