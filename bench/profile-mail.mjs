// Profile of one mail inspection (`node bench/profile-mail.mjs`, or the
// section "profile-mail" of bench/run.mjs): loads the rig's signature set the way the
// gateway does (a snapshot from a config with engine.databases), builds the
// rig's ~100 KB MIME message (make_msg.py, CRLF as smtp-source sends it) and
// times, per message, N rounds of each stage:
//   walk     the content walker alone (MIME readings + decoders, no engine)
//   scan     the builtin scanner (walker + hashing + matcher on every object)
//   record   the events insert alone
//   inspect  the gateway's whole inspect() (scan + policy + event + log line)
// Prints median / p99 per stage in ms, and the objects the walker yields.
// Env: N (2000), STAGES ("walk,scan,record,inspect"), MSG (a .eml file to use
// instead), DB (signature folder). `node --cpu-prof bench/profile-mail.mjs`
// for a CPU profile. Needs `npx tsc -p .` first (it imports dist/).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { log, ROOT, RIG } from './lib.mjs';

const N = Number(process.env.N ?? 2000);
const STAGES = (process.env.STAGES ?? 'walk,scan,record,inspect').split(',');
const DB = process.env.DB ?? join(RIG, 'data', 'sigs-100k-1m');
const dist = (p) => join(process.env.DIST ?? join(ROOT, 'dist'), 'src', p);

export async function run() {
  const { checkConfig } = await import(dist('config/schema.js'));
  const { buildSnapshot } = await import(dist('gateway/snapshot.js'));
  const { createInspect } = await import(dist('gateway/inspect.js'));
  const { walk } = await import(dist('content/walker.js'));
  const { openDatabase, openEventStore } = await import(dist('events/index.js'));
  const { createLogger } = await import(dist('log.js'));

  const dir = mkdtempSync(join(tmpdir(), 'pc-profile-mail-'));
  try {
    let message;
    if (process.env.MSG) {
      message = readFileSync(process.env.MSG);
    } else {
      const file = join(dir, 'load.eml');
      execFileSync('python3', [join(RIG, 'smtp', 'make_msg.py'), 'load', file]);
      message = Buffer.from(readFileSync(file, 'latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    }
    const checked = checkConfig({ data: dir, admin: false, engine: { databases: [DB] } });
    if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
    const config = checked.config;
    let t = performance.now();
    const snapshot = await buildSnapshot(config, 1);
    log(`signatures loaded in ${(performance.now() - t).toFixed(0)} ms (${snapshot.signatures.total})`);
    const db = openDatabase({ dir });
    const events = openEventStore({ db });
    // The log line goes where the gateway's goes (a sync write to a descriptor), here /dev/null.
    const logger = createLogger({ level: 'info', destination: (await import('pino')).default.destination({ dest: '/dev/null', sync: true }) });
    const inspect = createInspect({ snapshots: { current: () => snapshot, acquire: () => ({ snapshot, release() {} }) }, log: logger, events });

    const objects = [];
    for await (const item of walk({ name: 'm.eml', data: message }, { limits: config.limits })) {
      objects.push(item.kind === 'object' ? `${item.node.path.join(' / ')} [${item.node.type.name}, ${item.node.data.length} B]` : `finding ${item.finding.name}`);
    }
    log(`message ${message.length} B; walker yields:\n  ${objects.join('\n  ')}`);

    const event = { protocol: 'smtp', direction: 'inbound', objectName: 'message x.eml', size: message.length, verdict: 'clean', findings: [], action: 'pass', durationMs: 1.5, sessionId: 'abc', envelope: { from: 'a@b.test', rcpts: ['c@d.test'] } };
    const run = {
      walk: async () => { for await (const _ of walk({ name: 'm.eml', data: message }, { limits: config.limits })) { /* only the walk */ } },
      scan: async () => { const r = await snapshot.scanner.scan({ name: 'm.eml', data: message }); if (r.verdict !== 'clean') throw new Error(JSON.stringify(r)); },
      record: async () => { events.record(event); },
      inspect: async () => { await inspect({ protocol: 'smtp', direction: 'inbound', name: 'message x.eml', target: { name: 'm.eml', data: message }, envelope: { from: 'a@b.test', rcpts: ['c@d.test'] }, sessionId: 'abc', snapshot }); },
    };
    const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))];
    const rows = {};
    for (const stage of STAGES) {
      const f = run[stage];
      if (!f) throw new Error(`unknown stage ${stage}`);
      for (let i = 0; i < 100; i++) await f();
      const times = [];
      for (let i = 0; i < N; i++) {
        t = performance.now();
        await f();
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      rows[stage] = { median: +pct(times, 0.5).toFixed(3), p99: +pct(times, 0.99).toFixed(3), mean: +(times.reduce((a, b) => a + b, 0) / N).toFixed(3) };
      log(`${stage.padEnd(8)} median ${rows[stage].median} ms  p99 ${rows[stage].p99} ms  mean ${rows[stage].mean} ms`);
    }
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await run();
