// SMTP benchmark (`npm run bench:smtp`): Postfix's smtp-source → X →
// smtp-sink, where X is nothing (the ceiling), portcullis (built-in engine),
// or clamsmtpd + clamd (the peer we compare with), on the same signature
// set (the rig's 100k .ndb + 1M .hdb plus EICAR) and the same ~100 KB MIME
// message with a base64 attachment (the rig's make_msg.py). Runs alternate
// direct / portcullis / clamsmtp for each concurrency.
//
// Also: added latency at one session (p50/p99 of connect → 250 after the
// dot, our own small client, portcullis minus direct), and peak RSS of
// portcullis with 20 sessions each sending a 25 MB message.
//
// The rig is copied from RIG_SRC (default ../shared/rig) to bench/out/rig;
// the database is generated there when absent. Env: SMTP_MSGS (2000),
// SMTP_RUNS (2), SMTP_CONCS ("4,20"; "" runs the 20 × BIG_MB part alone,
// without clamsmtp, throughput or latency), SKIP_CLAMSMTP=1, BIG_MB (25),
// BIG_RUNS (1: fresh processes for the big part, each one's peak reported),
// BIG_SESSIONS (20: sessions, one big message each, all at once),
// BIG_MODE (plain: smtp-source's text body; mime: a base64 attachment),
// SCAN_MEMORY (engine.scanMemory of portcullis, e.g. 4G to A/B the byte budget),
// PC_NODE_ARGS (extra node flags for every portcullis process, e.g. V8 heap flags),
// SCAN_WORKERS (N: a second portcullis with engine.scanWorkers N joins the
// throughput and latency alternation, "portcullis N workers").
// Results: a table on stdout and bench/out/smtp-<timestamp>.json.
import { spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { exec, freePort, log, MAIN, median, OUT, RIG, RIG_SRC, waitPort } from './lib.mjs';

const DB = join(RIG, 'data', 'sigs-100k-1m');
const RUN = join(OUT, 'smtp-run');
const MSGS = Number(process.env.SMTP_MSGS ?? 2000);
const RUNS = Math.max(1, Number(process.env.SMTP_RUNS ?? 2));
const CONCS = (process.env.SMTP_CONCS ?? '4,20').split(',').filter((c) => c.trim() !== '').map(Number);
const BIG_ONLY = CONCS.length === 0;
const BIG_MB = Number(process.env.BIG_MB ?? 25);
const BIG_RUNS = Math.max(1, Number(process.env.BIG_RUNS ?? 1));
const BIG_SESSIONS = Math.max(1, Number(process.env.BIG_SESSIONS ?? 20));
const BIG_MODE = process.env.BIG_MODE ?? 'plain';

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Peak and current RSS (KB) of a process, from /proc. */
function rss(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0), now: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) };
  } catch {
    return { hwm: 0, now: 0 };
  }
}

async function prepare() {
  if (!existsSync(RIG)) {
    log(`copying the rig ${RIG_SRC} → ${RIG}`);
    mkdirSync(OUT, { recursive: true });
    cpSync(RIG_SRC, RIG, { recursive: true });
  }
  if (!existsSync(join(DB, 'sigs-info.txt'))) {
    log(`generating the signature set in ${DB} (100k ndb + 1M hdb)`);
    const r = await exec('bash', [join(RIG, 'sigs', 'make-sigs.sh'), '100000', '1000000', DB]);
    if (r.code !== 0) throw new Error(`make-sigs.sh failed: ${r.stderr}`);
  }
  rmSync(RUN, { recursive: true, force: true });
  mkdirSync(RUN, { recursive: true });
}

/** smtp-source through the rig's load.sh; returns its RESULT fields. */
async function load(port, msgs, conc, mode = 'mime', size = 102400) {
  const r = await exec('bash', [join(RIG, 'smtp', 'load.sh'), `127.0.0.1:${port}`, String(msgs), String(size), String(conc), mode]);
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT')) ?? '';
  const f = Object.fromEntries([...line.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  return { rc: Number(f.rc ?? r.code), msgsPerS: Number(f.msgs_per_s), MBps: Number(f.MBps), secs: Number(f.secs), overflows: Number(f.listen_overflows ?? 0), raw: line || r.stderr.slice(-500) };
}

/** One message per connection, sequentially; returns each transaction's ms (connect → reply to the dot). */
async function latencies(port, message, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await new Promise((resolvePromise, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      s.setNoDelay(true);
      let buf = '';
      let step = 0;
      const script = ['EHLO bench.test', 'MAIL FROM:<bench@rig.test>', 'RCPT TO:<rcpt@rig.test>', 'DATA'];
      s.on('data', (d) => {
        buf += d.toString('latin1');
        let nl;
        while ((nl = buf.indexOf('\r\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          if (/^\d{3}-/.test(line)) continue;
          const code = Number(line.slice(0, 3));
          if (step < script.length) {
            if (code >= 400) { s.destroy(); reject(new Error(`${script[step - 1] ?? 'greeting'}: ${line}`)); return; }
            s.write(`${script[step++]}\r\n`);
          } else if (step === script.length) {
            step++;
            s.write(message);
          } else {
            out.push(performance.now() - t0);
            if (code !== 250) { s.destroy(); reject(new Error(`final: ${line}`)); return; }
            s.end('QUIT\r\n');
            resolvePromise();
            return;
          }
        }
      });
      s.on('error', reject);
    });
  }
  return out;
}

async function startSink(port) {
  const dir = join(RUN, 'sink');
  const r = await exec('bash', [join(RIG, 'smtp', 'start-sink.sh'), dir, `127.0.0.1:${port}`]);
  if (r.code !== 0) throw new Error(`start-sink.sh: ${r.stderr}`);
  return { stop: () => exec('bash', [join(RIG, 'smtp', 'stop.sh'), dir]) };
}

async function startPortcullis(port, sinkPort, workers = 0) {
  const dir = join(RUN, workers > 0 ? `portcullis-w${workers}` : 'portcullis');
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, 'portcullis.yaml');
  writeFileSync(cfg, [
    `data: ${join(dir, 'data')}`,
    'admin: false',
    'ftp: false',
    'log: { level: warn }',
    'smtp:',
    `  listen: 127.0.0.1:${port}`,
    `  nextHop: 127.0.0.1:${sinkPort}`,
    '  hostname: portcullis.bench',
    '  maxSessions: 2000',
    '  maxSessionsPerClient: 2000',
    'engine:',
    `  databases: [${DB}]`,
    ...(process.env.SCAN_MEMORY ? [`  scanMemory: ${process.env.SCAN_MEMORY}`] : []),
    ...(workers > 0 ? [`  scanWorkers: ${workers}`] : []),
    '',
  ].join('\n'));
  const logFd = openSync(join(dir, `portcullis-${port}.log`), 'w');
  const nodeArgs = (process.env.PC_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, MAIN, 'start', '--config', cfg], { stdio: ['ignore', logFd, logFd] });
  closeSync(logFd);
  const t0 = performance.now();
  await waitPort(port, 120_000);
  log(`portcullis up in ${((performance.now() - t0) / 1000).toFixed(1)} s (pid ${child.pid}), RSS ${(rss(child.pid).now / 1024).toFixed(0)} MB`);
  let exited = false;
  child.once('exit', (code, signal) => {
    exited = true;
    if (code !== 0) log(`portcullis pid ${child.pid} exited: code ${code} signal ${signal}`);
  });
  return {
    pid: child.pid,
    stop: () => new Promise((r) => {
      if (exited) return r();
      child.once('exit', r);
      child.kill('SIGTERM');
    }),
  };
}

async function startClamsmtp(port, sinkPort) {
  const clamRun = join(RUN, 'clamd');
  const r1 = await exec('bash', [join(RIG, 'clamd', 'start.sh'), DB, clamRun], { env: { CLAMD_TCP_PORT: String(await freePort()) } });
  if (r1.code !== 0) throw new Error(`clamd start.sh: ${r1.stderr}`);
  const dir = join(RUN, 'clamsmtp');
  const r2 = await exec('bash', [join(RIG, 'smtp', 'start-clamsmtp.sh'), dir, join(clamRun, 'clamd.sock'), `127.0.0.1:${port}`, `127.0.0.1:${sinkPort}`]);
  if (r2.code !== 0) throw new Error(`start-clamsmtp.sh: ${r2.stderr}`);
  const pids = [join(clamRun, 'clamd.pid'), join(dir, 'clamsmtpd.pid')].map((f) => Number(readFileSync(f, 'utf8').trim()));
  return {
    pids,
    stop: async () => {
      await exec('bash', [join(RIG, 'smtp', 'stop.sh'), dir]);
      await exec('bash', [join(RIG, 'clamd', 'stop.sh'), clamRun]);
    },
  };
}

export async function run() {
  await prepare();
  const sinkPort = await freePort();
  const pcPort = await freePort();
  const csPort = await freePort();
  const sink = await startSink(sinkPort);
  const pc = BIG_ONLY ? undefined : await startPortcullis(pcPort, sinkPort);
  const workers = Number(process.env.SCAN_WORKERS ?? 0);
  const pcwPort = await freePort();
  const pcw = BIG_ONLY || !(workers > 0) ? undefined : await startPortcullis(pcwPort, sinkPort, workers);
  const cs = process.env.SKIP_CLAMSMTP === '1' || BIG_ONLY ? undefined : await startClamsmtp(csPort, sinkPort);
  const targets = [['direct', sinkPort], ['portcullis', pcPort], ...(pcw ? [[`portcullis ${workers} workers`, pcwPort]] : []), ...(cs ? [['clamsmtp', csPort]] : [])];
  const results = { msgs: MSGS, runs: RUNS, throughput: {}, latency: {}, rss: {} };
  try {
    if (!BIG_ONLY) await throughputAndLatency(targets, results);
    if (pc) results.rss.portcullisAfterThroughputKb = rss(pc.pid).hwm;
    if (pcw) results.rss.portcullisWorkersAfterThroughputKb = rss(pcw.pid).hwm;
    await pcw?.stop();
    if (cs) results.rss.clamsmtpPlusClamdKb = cs.pids.map((p) => rss(p).hwm).reduce((a, b) => a + b, 0);
    // A fresh process, so its peak RSS is the big run's alone.
    await pc?.stop();
    results.bigRuns = [];
    for (let i = 0; i < BIG_RUNS; i++) {
      const bigPort = await freePort();
      const fresh = await startPortcullis(bigPort, sinkPort);
      log(`big: ${BIG_SESSIONS} sessions × ${BIG_MB} MB (${BIG_MODE}) through a fresh portcullis`);
      try {
        const before = rss(fresh.pid);
        const big = await load(bigPort, BIG_SESSIONS, BIG_SESSIONS, BIG_MODE, BIG_MB * 1_000_000);
        results.bigRuns.push({ ...big, hwmBeforeKb: before.hwm, hwmAfterKb: rss(fresh.pid).hwm });
        log(`big run ${i + 1}: rc=${big.rc} ${big.secs} s, peak RSS ${(rss(fresh.pid).hwm / 1024).toFixed(0)} MB (before: ${(before.hwm / 1024).toFixed(0)} MB)`);
      } finally {
        await fresh.stop();
      }
    }
    results.big = results.bigRuns[results.bigRuns.length - 1];
  } finally {
    await cs?.stop();
    await pc?.stop();
    await sink.stop();
  }
  report(targets, results);
  return 0;
}

async function throughputAndLatency(targets, results) {
  log('warm-up: 200 messages through each');
  for (const [, port] of targets) await load(port, 200, 4);
  for (const conc of CONCS) {
    for (let i = 0; i < RUNS; i++) {
      for (const [name, port] of targets) {
        const r = await load(port, MSGS, conc);
        log(`conc ${conc} run ${i + 1} ${name}: ${r.msgsPerS} msgs/s ${r.MBps} MB/s rc=${r.rc} overflows=${r.overflows}`);
        ((results.throughput[conc] ??= {})[name] ??= []).push(r);
      }
    }
  }
  const msgFile = join(RUN, 'latency.eml');
  const mk = await exec('python3', [join(RIG, 'smtp', 'make_msg.py'), 'load', msgFile, '102400']);
  if (mk.code !== 0) throw new Error(`make_msg.py: ${mk.stderr}`);
  const wire = `${readFileSync(msgFile, 'latin1').replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}.\r\n`;
  for (const [name, port] of targets.slice(0, 2)) {
    await latencies(port, wire, 30);
    results.latency[name] = await latencies(port, wire, 300);
  }
}

function report(targets, results) {
  const table = [];
  for (const conc of CONCS) {
    for (const [name] of targets) {
      const rs = results.throughput[conc]?.[name] ?? [];
      table.push({ conc, path: name, 'msgs/s': median(rs.map((r) => r.msgsPerS)).toFixed(1), 'MB/s': median(rs.map((r) => r.MBps)).toFixed(2), runs: rs.map((r) => r.msgsPerS).join(' / '), 'rc≠0': rs.filter((r) => r.rc !== 0).length, overflows: rs.reduce((a, r) => a + r.overflows, 0) });
    }
  }
  console.log(`\nsmtp bench: ${MSGS} messages of ~100 KB MIME per run, ${RUNS} runs alternating; signatures ${DB}; MB = 10^6 bytes\n`);
  console.table(table);
  const lat = Object.fromEntries(Object.entries(results.latency).map(([k, v]) => [k, { p50: pct(v, 50), p99: pct(v, 99) }]));
  if (lat.direct && lat.portcullis) {
    console.log(`latency at one session, connect → 250 (ms): direct p50 ${lat.direct.p50.toFixed(2)} p99 ${lat.direct.p99.toFixed(2)}; portcullis p50 ${lat.portcullis.p50.toFixed(2)} p99 ${lat.portcullis.p99.toFixed(2)}; added p50 ${(lat.portcullis.p50 - lat.direct.p50).toFixed(2)} p99 ${(lat.portcullis.p99 - lat.direct.p99).toFixed(2)}`);
  }
  if (results.rss.portcullisAfterThroughputKb) console.log(`peak RSS: portcullis ${(results.rss.portcullisAfterThroughputKb / 1024).toFixed(0)} MB after the throughput runs${results.rss.clamsmtpPlusClamdKb ? `, clamsmtpd + clamd ${(results.rss.clamsmtpPlusClamdKb / 1024).toFixed(0)} MB` : ''}`);
  if (results.rss.portcullisWorkersAfterThroughputKb) console.log(`peak RSS: portcullis with scan workers ${(results.rss.portcullisWorkersAfterThroughputKb / 1024).toFixed(0)} MB after the throughput runs (main thread; the workers share the process)`);
  for (const big of results.bigRuns) console.log(`${BIG_SESSIONS} × ${BIG_MB} MB: rc=${big.rc}, ${big.MBps} MB/s, portcullis peak RSS ${(big.hwmAfterKb / 1024).toFixed(0)} MB (before: ${(big.hwmBeforeKb / 1024).toFixed(0)} MB)`);
  const file = join(OUT, `smtp-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ ...results, latencySummary: lat }, null, 2));
  log(`results in ${file}`);
}
