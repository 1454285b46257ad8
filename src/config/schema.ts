/**
 * The zod schema, built from the config table (table.ts), and the checker
 * that turns a parsed YAML document into a `Config` or a list of errors, each
 * naming its key: `smtp.listen: expected "host:port", got "abc"`.
 *
 * Reads untrusted data (the parsed config file). Unknown keys are errors, so
 * a typo never silently falls back to a default.
 */
import { z } from 'zod';
import { leafSchema, splitHostPort, type Fields, type Node } from './fields.js';
import { CONFIG_TABLE, type Config } from './table.js';

function nodeSchema(node: Node): z.ZodType {
  if (node.kind === 'leaf') {
    const s = leafSchema(node);
    return node.default === undefined ? s.optional() : s.default(node.default);
  }
  const obj = z.strictObject(fieldShapes(node.fields));
  return (node.switchable ? z.union([z.literal(false), obj]) : obj).prefault({});
}

function fieldShapes(fields: Fields): Record<string, z.ZodType> {
  return Object.fromEntries(Object.entries(fields).map(([k, n]) => [k, nodeSchema(n)]));
}

/** The whole config file's schema; `parse({})` yields the built-in defaults. */
export const configSchema = z.strictObject(fieldShapes(CONFIG_TABLE.fields)) as unknown as z.ZodType<Config>;

export interface ConfigProblem {
  /** Dotted key, with list indexes in brackets: "scanners[1].clamd". */
  readonly key: string;
  readonly message: string;
}

export function formatKey(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out === '' ? '' : '.'}${String(p)}`;
  return out === '' ? '(top level)' : out;
}

type Issue = z.core.$ZodIssue;

/** Of the branches of a failed union, the one that got furthest explains the error best. */
function bestBranch(branches: readonly (readonly Issue[])[]): readonly Issue[] {
  let best: readonly Issue[] = [];
  let depth = -1;
  for (const issues of branches) {
    const d = Math.max(...issues.map((i) => (i.code === 'invalid_value' ? -1 : i.path.length)));
    if (d > depth) { depth = d; best = issues; }
  }
  return best;
}

function describe(issue: Issue, base: readonly PropertyKey[], out: ConfigProblem[], orFalse = false): void {
  const path = [...base, ...issue.path];
  switch (issue.code) {
    case 'invalid_union': {
      // A switchable section is a union of `false` and its mapping.
      const switchable = issue.errors.some((b) => b.some((i) => i.code === 'invalid_value' && i.values.includes(false)));
      for (const i of bestBranch(issue.errors)) describe(i, path, out, switchable);
      return;
    }
    case 'unrecognized_keys':
      for (const k of issue.keys) out.push({ key: formatKey([...path, k]), message: 'unknown key' });
      return;
    case 'invalid_type':
      // Only sections reach here (leaves check their own types): a section must be a mapping.
      out.push({ key: formatKey(path), message: `expected a mapping of keys${orFalse && path.length === base.length ? ' or false' : ''}, got ${kindOf(issue.input)}` });
      return;
    default:
      out.push({ key: formatKey(path), message: issue.message });
  }
}

function kindOf(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'a mapping' : JSON.stringify(v) ?? String(v);
}

/** YAML's empty value (`key:`) means "use the default", like leaving the key out. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNulls(v);
  return out;
}

/** Same address, for comparing listeners and next hops: lower-case, IPv6 brackets dropped. */
function sameEndpoint(a: string, b: string): boolean {
  const x = splitHostPort(a);
  const y = splitHostPort(b);
  if (x === undefined || y === undefined || x.port === 0 || y.port === 0 || x.port !== y.port) return false;
  const host = (h: string): string => (h === 'localhost' ? '127.0.0.1' : h.toLowerCase());
  return host(x.host) === host(y.host);
}

/**
 * Rules that span several keys, checked after each key is valid on its own:
 * a proxy relaying to itself would loop every message or file forever, and
 * two listeners on one address cannot both bind.
 */
export function crossChecks(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { smtp, ftp, admin } = config;
  if (smtp !== false && sameEndpoint(smtp.listen, smtp.nextHop)) problems.push({ key: 'smtp.nextHop', message: `is smtp.listen (${smtp.listen}): the proxy would relay to itself` });
  if (ftp !== false && ftp.upstream !== undefined && sameEndpoint(ftp.listen, ftp.upstream)) problems.push({ key: 'ftp.upstream', message: `is ftp.listen (${ftp.listen}): the proxy would connect to itself` });
  const listeners: [string, string][] = [];
  if (smtp !== false) listeners.push(['smtp.listen', smtp.listen]);
  if (ftp !== false) listeners.push(['ftp.listen', ftp.listen]);
  if (admin !== false) listeners.push(['admin.listen', admin.listen]);
  listeners.forEach(([key, value], i) => {
    const earlier = listeners.slice(0, i).find(([, v]) => sameEndpoint(v, value));
    if (earlier !== undefined) problems.push({ key, message: `is the same address as ${earlier[0]} (${value})` });
  });
  if (smtp !== false) {
    const tls = smtp as { tlsCert?: string; tlsKey?: string };
    if ((tls.tlsCert === undefined) !== (tls.tlsKey === undefined) && ('tlsCert' in smtp || 'tlsKey' in smtp)) {
      problems.push(tls.tlsCert === undefined
        ? { key: 'smtp.tlsCert', message: 'is needed when smtp.tlsKey is set' }
        : { key: 'smtp.tlsKey', message: 'is needed when smtp.tlsCert is set' });
    }
  }
  return problems;
}

export type CheckResult = { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** Checks a parsed config document (null or undefined: an empty file, all defaults). */
export function checkConfig(document: unknown): CheckResult {
  const input = document === null || document === undefined ? {} : dropNulls(document);
  const r = configSchema.safeParse(input, { reportInput: true });
  if (r.success) {
    const problems = crossChecks(r.data);
    return problems.length === 0 ? { ok: true, config: r.data } : { ok: false, problems };
  }
  const problems: ConfigProblem[] = [];
  for (const issue of r.error.issues) describe(issue, [], problems);
  return { ok: false, problems };
}

/** The built-in defaults: what `portcullis start` runs on with no config file. */
export function defaultConfig(): Config {
  const r = checkConfig({});
  if (!r.ok) throw new Error(`config table defaults are invalid: ${r.problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`);
  return r.config;
}
