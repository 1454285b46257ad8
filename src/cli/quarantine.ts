/**
 * `portcullis quarantine list|show|release|download|delete|prune` — the
 * quarantine from the command line, on the same data folder (and SQLite
 * file) the running gateway uses; WAL lets both work at once.
 *
 * Names, addresses and findings are untrusted: control characters are shown
 * as \xNN so a hostile file name cannot drive the terminal.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { hostname } from 'node:os';
import { PortcullisError } from '../errors.js';
import { DATABASE_FILE_NAME, openDatabase, type Db } from '../events/db.js';
import { PROTOCOLS, type Protocol } from '../events/types.js';
import {
  openQuarantine, quarantineDirIn, QUARANTINE_STATES, safeFileName,
  type Quarantine, type QuarantineEntry, type QuarantineRetention, type QuarantineState,
} from '../quarantine/index.js';

const USAGE = `usage: portcullis quarantine <command> [--config FILE | --data DIR]

commands:
  list [--state S] [--protocol P] [--search TEXT] [--limit N] [--offset N] [--json]
                          list quarantined objects, newest first
  show ID [--json]        everything known about one object
  release ID [--to DIR]   mail: re-deliver to its recipients through smtp.nextHop of --config;
                          file (or mail with --to): export a copy into DIR or to a new file path
  download ID [--output FILE]
                          write the stored bytes to FILE ("-" for stdout; default: a new
                          file in the current folder named after the original)
  delete ID               remove the stored bytes (the record stays, state "deleted")
  prune                   apply the configured retention now

The data folder is --data DIR, else "data" from --config FILE, else the default config's.
`;

interface Args {
  readonly positional: string[];
  readonly flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['--config', '--data', '--state', '--protocol', '--search', '--limit', '--offset', '--to', '--output']);
const BOOL_FLAGS = new Set(['--json', '--help', '-h']);

export function parseArgs(argv: readonly string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    if (VALUE_FLAGS.has(name)) {
      const value = eq > 0 && name !== a ? a.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new PortcullisError('PC_ERR_USAGE', `Cannot read ${name}: it needs a value`);
      flags.set(name, value);
    } else if (BOOL_FLAGS.has(a)) {
      flags.set(a, true);
    } else if (a.startsWith('-') && a !== '-') {
      throw new PortcullisError('PC_ERR_USAGE', `Cannot read option ${a}: unknown (see --help)`);
    } else {
      positional.push(a);
    }
  }
  return { positional, flags };
}

function flag(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** Shows untrusted text on a terminal: control and bidi characters as \xNN / \u{…}. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    return n < 256 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}

function intFlag(args: Args, name: string): number | undefined {
  const v = flag(args, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw new PortcullisError('PC_ERR_USAGE', `Cannot read ${name}: "${printable(v)}" is not a whole number`);
  return Number(v);
}

async function dataDirAndRetention(args: Args): Promise<{ data: string; retention?: QuarantineRetention }> {
  const data = flag(args, '--data');
  if (data !== undefined) return { data: resolve(data) };
  const { loadConfig } = await import('../config/index.js');
  const { config } = await loadConfig(flag(args, '--config'));
  return { data: config.data, retention: { maxAgeMs: config.quarantine.maxAge, maxTotalBytes: config.quarantine.maxSize } };
}

function requireId(args: Args, command: string): string {
  const id = args.positional[1];
  if (id === undefined || args.positional.length > 2) throw new PortcullisError('PC_ERR_USAGE', `Cannot run "quarantine ${command}": give exactly one ID`);
  return id;
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

function describe(e: QuarantineEntry): string {
  const lines: [string, string][] = [
    ['id', e.id], ['state', e.state], ['original name', e.originalName], ['time', time(e.time)],
    ['protocol', `${e.protocol} (${e.direction})`], ['client', e.client ?? ''], ['server', e.server ?? ''],
  ];
  if (e.envelope !== undefined) lines.push(['mail from', e.envelope.from], ['recipients', e.envelope.rcpts.join(', ')]);
  lines.push(['size', String(e.size)], ['sha256', e.sha256]);
  for (const f of e.findings) lines.push(['finding', `${f.name}${f.path.length > 1 ? ` in ${f.path.join(' › ')}` : ''} (${f.scanner})`]);
  if (e.releasedAt !== undefined) lines.push(['released', `${time(e.releasedAt)} to ${e.releasedTo ?? ''}`]);
  if (e.deletedAt !== undefined) lines.push(['deleted', time(e.deletedAt)]);
  return lines.map(([k, v]) => `${k.padEnd(14)}${printable(v)}`).join('\n') + '\n';
}

function listTable(items: readonly QuarantineEntry[]): string {
  const rows = items.map((e) => [e.id, time(e.time), e.state, e.protocol, String(e.size),
    printable(e.findings.map((f) => f.name).join(',')), printable(e.originalName)]);
  const header = ['ID', 'TIME', 'STATE', 'PROTO', 'SIZE', 'FINDINGS', 'NAME'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

function entryOrFail(q: Quarantine, id: string): QuarantineEntry {
  const e = q.get(id);
  if (e === undefined) throw new PortcullisError('PC_ERR_NOT_FOUND', `Cannot find quarantined object "${printable(id.slice(0, 40))}"`);
  return e;
}

async function command(q: Quarantine, args: Args): Promise<number> {
  const out = (s: string): void => { process.stdout.write(s); };
  const json = args.flags.has('--json');
  switch (args.positional[0]) {
    case 'list': {
      const state = flag(args, '--state');
      const protocol = flag(args, '--protocol');
      if (state !== undefined && !(QUARANTINE_STATES as readonly string[]).includes(state)) {
        throw new PortcullisError('PC_ERR_USAGE', `Cannot read --state: one of ${QUARANTINE_STATES.join(', ')}`);
      }
      if (protocol !== undefined && !(PROTOCOLS as readonly string[]).includes(protocol)) {
        throw new PortcullisError('PC_ERR_USAGE', `Cannot read --protocol: one of ${PROTOCOLS.join(', ')}`);
      }
      const search = flag(args, '--search');
      const limit = intFlag(args, '--limit');
      const offset = intFlag(args, '--offset');
      const page = q.list({
        ...(state !== undefined ? { state: state as QuarantineState } : {}),
        ...(protocol !== undefined ? { protocol: protocol as Protocol } : {}),
        ...(search !== undefined ? { text: search } : {}),
        ...(limit !== undefined ? { limit } : {}), ...(offset !== undefined ? { offset } : {}),
      });
      if (json) out(`${JSON.stringify(page, null, 2)}\n`);
      else if (page.total === 0) out('The quarantine is empty (or nothing matches).\n');
      else out(`${listTable(page.items)}${page.offset + page.items.length < page.total ? `… ${page.total} in all; use --offset\n` : ''}`);
      return 0;
    }
    case 'show': {
      const e = entryOrFail(q, requireId(args, 'show'));
      out(json ? `${JSON.stringify(e, null, 2)}\n` : describe(e));
      return 0;
    }
    case 'release': {
      const id = requireId(args, 'release');
      const entry = entryOrFail(q, id);
      const to = flag(args, '--to');
      if (entry.protocol === 'smtp' && to === undefined) {
        // The same re-delivery the running proxy does: a session of our own to the configured next hop.
        const { loadConfig } = await import('../config/index.js');
        const { config } = await loadConfig(flag(args, '--config'));
        if (config.smtp === false) {
          throw new PortcullisError('PC_ERR_QUARANTINE', `Cannot re-deliver mail ${entry.id}: smtp is off in the config, so there is no next hop; export it with --to FILE`);
        }
        const { redeliver } = await import('../smtp/release.js');
        q.setReleaseMail(redeliver(config.smtp, config.smtp.hostname ?? hostname()));
      }
      const r = await q.release(id, to !== undefined ? { to } : {});
      out(`Released ${r.entry.id} ${r.releasedTo === 'smtp' ? 'to its recipients through the SMTP next hop' : `to ${printable(r.releasedTo)}`}\n`);
      return 0;
    }
    case 'download': {
      const id = requireId(args, 'download');
      const { entry, stream } = q.read(id);
      const output = flag(args, '--output');
      if (output === '-') {
        await pipeline(stream, process.stdout);
        return 0;
      }
      const path = resolve(output ?? safeFileName(entry.originalName, `quarantine-${entry.id}`));
      if (existsSync(path)) {
        stream.destroy();
        throw new PortcullisError('PC_ERR_USAGE', `Cannot write ${printable(path)}: the file exists (choose another with --output)`);
      }
      await pipeline(stream, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
      out(`Wrote ${entry.size} bytes of ${entry.id} to ${printable(path)}\n`);
      return 0;
    }
    case 'delete': {
      const e = await q.delete(requireId(args, 'delete'));
      out(`Deleted ${e.id}\n`);
      return 0;
    }
    case 'prune': {
      const n = await q.prune();
      out(`Pruned ${n} object${n === 1 ? '' : 's'}\n`);
      return 0;
    }
    default:
      throw new PortcullisError('PC_ERR_USAGE', `Cannot run "quarantine ${printable(args.positional[0] ?? '')}": unknown command (see --help)`);
  }
}

export async function run(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`portcullis quarantine: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.flags.has('--help') || args.flags.has('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.positional.length === 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  const { data, retention } = await dataDirAndRetention(args);
  if (!existsSync(join(data, DATABASE_FILE_NAME))) {
    process.stderr.write(`portcullis quarantine: no quarantine in ${printable(data)} (no ${DATABASE_FILE_NAME}); is --data or --config right?\n`);
    return 1;
  }
  let db: Db | undefined;
  try {
    db = openDatabase({ dir: data });
    const q = openQuarantine({ dir: quarantineDirIn(data), db, ...(retention !== undefined ? { retention } : {}) });
    return await command(q, args);
  } catch (err) {
    if (err instanceof PortcullisError && (err.code === 'PC_ERR_NOT_FOUND' || err.code === 'PC_ERR_USAGE' || err.code === 'PC_ERR_QUARANTINE' || err.code === 'PC_ERR_NEXT_HOP')) {
      process.stderr.write(`portcullis quarantine: ${err.message}\n`);
      return err.code === 'PC_ERR_USAGE' ? 2 : 1;
    }
    throw err;
  } finally {
    db?.close();
  }
}
