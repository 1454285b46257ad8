// Memory of scanning big mail (`node bench/run.mjs scan-memory`, or one
// configuration alone: `node bench/scan-memory.mjs`), in a fresh process:
// loads the signature set as the gateway does (the rig's 100k .ndb + 1M .hdb
// plus the built-in database), writes one message to a file as the SMTP
// spool does for anything above smtp.spoolMemory, then scans it with the
// builtin scanner. Prints RSS after the load and the peak RSS (VmHWM, reset
// through /proc/self/clear_refs after the load) of the scans, plus heap and
// external memory at the end.
//
// Env: KIND (text | base64, default text), MB (25), SCANS (1: scans run at
// once on the same message), REPEAT (1: rounds, peak reset before each),
// DB (the rig set; "builtin" for the built-in database only), GATEWAY=1 to
// go through the gateway's inspect (as the SMTP proxy does), not the scanner.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, log, OUT, RIG, ROOT } from './lib.mjs';

const KIND = process.env.KIND ?? 'text';
const MB = Number(process.env.MB ?? 25);
const SCANS = Number(process.env.SCANS ?? 1);
const REPEAT = Number(process.env.REPEAT ?? 1);
const DB = process.env.DB ?? join(RIG, 'data', 'sigs-100k-1m');
const DIST = join(ROOT, 'dist');

function status() {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { hwm: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 };
}

function resetPeak() {
  writeFileSync('/proc/self/clear_refs', '5');
}

function message(kind, bytes) {
  const head = ['From: a@rig.test', 'To: b@rig.test', 'Subject: big', 'Message-ID: <big@rig.test>', 'MIME-Version: 1.0'];
  if (kind === 'text') {
    const line = `${'X'.repeat(78)}\r\n`;
    return Buffer.concat([Buffer.from(`${[...head, 'Content-Type: text/plain', ''].join('\r\n')}\r\n`), Buffer.from(line.repeat(Math.ceil(bytes / line.length)))]);
  }
  const raw = Buffer.alloc(Math.floor((bytes * 3) / 4));
  let x = 12345;
  for (let i = 0; i < raw.length; i++) { x = (x * 1103515245 + 12345) >>> 0; raw[i] = x >>> 24; }
  const b64 = raw.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from([...head, 'Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: text/plain', '', 'see attached', '--b1',
    'Content-Type: application/octet-stream; name="big.bin"', 'Content-Transfer-Encoding: base64', 'Content-Disposition: attachment; filename="big.bin"', '',
    b64, '--b1--', ''].join('\r\n'));
}

const mb = (n) => (n / 1024 / 1024).toFixed(0);

async function main() {
  const t0 = performance.now();
  const { loadDatabase, createScanner } = await import(join(DIST, 'src', 'scanners', 'index.js'));
  const { loadDbFiles } = await import(join(DIST, 'src', 'scanners', 'dbload.js'));
  const engine = await import(join(DIST, 'src', 'engine', 'index.js'));
  const files = [...engine.builtinDbFiles(), ...(DB === 'builtin' ? [] : await loadDbFiles([DB]))];
  const db = engine.compileDatabase(files);
  void loadDatabase;
  const scanner = await createScanner('builtin', { db });
  const dir = join(OUT, 'scan-memory');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${KIND}-${MB}.eml`);
  const size = (() => {
    const data = message(KIND, MB * 1_000_000);
    writeFileSync(path, data);
    return data.length;
  })();
  global.gc?.();
  await new Promise((r) => setTimeout(r, 50));
  const loaded = status();
  console.log(`db loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${db.stats.total} signatures, RSS ${loaded.rss.toFixed(0)} MB (peak so far ${loaded.hwm.toFixed(0)})`);
  for (let r = 0; r < REPEAT; r++) {
    global.gc?.();
    resetPeak();
    const before = status();
    const s0 = performance.now();
    const reports = await Promise.all(Array.from({ length: SCANS }, () => scanner.scan({ name: 'big.eml', path, size })));
    const after = status();
    const m = process.memoryUsage();
    const rep = reports[0];
    console.log(`round ${r + 1}: ${SCANS} × ${KIND} ${(size / 1e6).toFixed(1)} MB in ${((performance.now() - s0) / 1000).toFixed(2)} s: ` +
      `peak RSS ${after.hwm.toFixed(0)} MB (+${(after.hwm - before.rss).toFixed(0)} over ${before.rss.toFixed(0)}), RSS now ${after.rss.toFixed(0)}; ` +
      `heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} ext ${mb(m.external)} ab ${mb(m.arrayBuffers)}; ` +
      `verdict ${rep.verdict} findings ${rep.findings.map((f) => f.name).join(',') || '-'} bytes ${rep.bytesScanned}`);
  }
  if (process.env.KEEP !== "1") rmSync(path, { force: true });
}

/** The section: text and base64 mail, one scan and two at once (smtp.maxConcurrentScans' default), each in its own process. */
export async function run() {
  let code = 0;
  for (const [kind, scans] of [['text', 1], ['base64', 1], ['text', 2], ['base64', 2]]) {
    const r = await exec(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, KIND: kind, SCANS: String(scans), REPEAT: '2' } });
    if (r.code !== 0) code = 1;
    log(`${kind} × ${scans}:\n${r.stdout}${r.code !== 0 ? r.stderr : ''}`);
  }
  return code;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
