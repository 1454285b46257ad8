/**
 * The `scanners` key: a list of scanner specs, each one of
 *   builtin                                  the built-in engine + content walker
 *   { clamd: "host:port" | "/path.sock", timeout?, maxConnections?, streamMaxLength? }
 *   { command: ["prog", "--opt", "{}"] or "prog --opt {}", clean?: [0], infected?: [1], timeout? }
 * Several are combined: infected if any finds something, a failure if any
 * fails (policy's `scannerFailure` action decides what that leads to).
 *
 * Reads untrusted text (the config file); errors name the item and field.
 */
import { splitCommandLine } from '../scanners/command.js';
import { ENDPOINT, formatDuration, parseDuration, parseSize, showInput, type Checked, type Leaf } from './fields.js';

export type ScannerSpec =
  | { readonly kind: 'builtin' }
  | { readonly kind: 'clamd'; readonly address: string; readonly timeoutMs?: number; readonly maxConnections?: number; readonly streamMaxLength?: number }
  | {
    readonly kind: 'command';
    readonly argv: readonly string[];
    readonly clean?: readonly number[];
    readonly infected?: readonly number[];
    readonly timeoutMs?: number;
  };

type Fail = Extract<Checked<never>, { ok: false }>;
const fail = (at: readonly (string | number)[], message: string): Fail => ({ ok: false, message, at });

function checkKeys(item: Record<string, unknown>, allowed: readonly string[], at: number): Fail | undefined {
  for (const key of Object.keys(item)) if (!allowed.includes(key)) return fail([at, key], `unknown key (allowed: ${allowed.join(', ')})`);
  return undefined;
}

function checkTimeout(v: unknown, at: readonly (string | number)[]): number | Fail | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined || ms < 100 || ms > 3_600_000) return fail(at, `expected a duration 100ms … 1h, got ${showInput(v)}`);
  return ms;
}

function checkCodes(v: unknown, at: readonly (string | number)[]): readonly number[] | Fail | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0 || !v.every((c) => Number.isInteger(c) && c >= 0 && c <= 255)) {
    return fail(at, `expected a list of exit codes 0 … 255, got ${showInput(v)}`);
  }
  return v as number[];
}

const isFail = (v: unknown): v is Fail => typeof v === 'object' && v !== null && 'ok' in v;

function checkOne(raw: unknown, i: number): ScannerSpec | Fail {
  if (raw === 'builtin') return { kind: 'builtin' };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail([i], `expected builtin, { clamd: "host:port" } or { command: [...] }, got ${showInput(raw)}`);
  }
  const item = raw as Record<string, unknown>;
  if ('clamd' in item) {
    const bad = checkKeys(item, ['clamd', 'timeout', 'maxConnections', 'streamMaxLength'], i);
    if (bad) return bad;
    const address = item['clamd'];
    if (typeof address !== 'string' || !ENDPOINT.test(address)) return fail([i, 'clamd'], `expected ${ENDPOINT.what}, got ${showInput(address)}`);
    const timeoutMs = checkTimeout(item['timeout'], [i, 'timeout']);
    if (isFail(timeoutMs)) return timeoutMs;
    const mc = item['maxConnections'];
    if (mc !== undefined && mc !== null && !(Number.isInteger(mc) && (mc as number) >= 1 && (mc as number) <= 256)) {
      return fail([i, 'maxConnections'], `expected 1 … 256, got ${showInput(mc)}`);
    }
    // clamd's own StreamMaxLength: the scanner sends no more than this and reports the rest as a limits finding.
    const sml = item['streamMaxLength'];
    const streamMaxLength = sml === undefined || sml === null ? undefined : parseSize(sml);
    if (streamMaxLength !== undefined && !(streamMaxLength >= 1024 && streamMaxLength <= 4 * 1024 ** 3)) {
      return fail([i, 'streamMaxLength'], `expected a size 1K … 4G (clamd's StreamMaxLength), got ${showInput(sml)}`);
    }
    if (sml !== undefined && sml !== null && streamMaxLength === undefined) {
      return fail([i, 'streamMaxLength'], `expected a size like 25M (clamd's StreamMaxLength), got ${showInput(sml)}`);
    }
    return {
      kind: 'clamd', address,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(typeof mc === 'number' ? { maxConnections: mc } : {}),
      ...(streamMaxLength !== undefined ? { streamMaxLength } : {}),
    };
  }
  if ('command' in item) {
    const bad = checkKeys(item, ['command', 'clean', 'infected', 'timeout'], i);
    if (bad) return bad;
    // A command line as one string is split like a shell would (quotes, backslashes), without running a shell.
    const raw = item['command'];
    const argv = typeof raw === 'string' ? splitCommandLine(raw) : raw;
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string' && a.length > 0)) {
      return fail([i, 'command'], `expected a list of program and arguments like ["clamscan", "--no-summary", "{}"], got ${showInput(argv)}`);
    }
    if (!argv.some((a: string) => a.includes('{}'))) return fail([i, 'command'], 'expected "{}" (the file to scan) in one of the arguments');
    const clean = checkCodes(item['clean'], [i, 'clean']);
    if (isFail(clean)) return clean;
    const infected = checkCodes(item['infected'], [i, 'infected']);
    if (isFail(infected)) return infected;
    if (clean !== undefined && infected !== undefined && clean.some((c) => infected.includes(c))) {
      return fail([i, 'infected'], 'expected exit codes different from "clean"');
    }
    const timeoutMs = checkTimeout(item['timeout'], [i, 'timeout']);
    if (isFail(timeoutMs)) return timeoutMs;
    return {
      kind: 'command', argv: argv as string[],
      ...(clean !== undefined ? { clean } : {}),
      ...(infected !== undefined ? { infected } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    };
  }
  return fail([i], `expected builtin, { clamd: "host:port" } or { command: [...] }, got ${showInput(raw)}`);
}

export function showScannerSpec(s: ScannerSpec): string {
  switch (s.kind) {
    case 'builtin': return 'builtin';
    case 'clamd': return `{ clamd: ${JSON.stringify(s.address)}${s.timeoutMs !== undefined ? `, timeout: ${formatDuration(s.timeoutMs)}` : ''} }`;
    case 'command': return `{ command: ${JSON.stringify(s.argv)} }`;
  }
}

export function scannerList(def: readonly ScannerSpec[], doc: string): Leaf<readonly ScannerSpec[]> {
  return {
    kind: 'leaf',
    type: 'list of scanner',
    bounds: '1 … 8 items',
    default: def,
    doc,
    show: (v) => `[${v.map(showScannerSpec).join(', ')}]`,
    check(input) {
      const items = typeof input === 'string' ? [input] : input;
      if (!Array.isArray(items)) return { ok: false, message: `expected a list of scanners, got ${showInput(input)}` };
      if (items.length === 0 || items.length > 8) return { ok: false, message: `expected 1 … 8 scanners, got ${items.length}` };
      const out: ScannerSpec[] = [];
      for (let i = 0; i < items.length; i++) {
        const r = checkOne(items[i], i);
        if (isFail(r)) return r;
        out.push(r);
      }
      return { ok: true, value: out };
    },
  };
}
