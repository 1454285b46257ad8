/**
 * The vocabulary of the config table: each leaf type knows its name for the
 * docs, its bounds, how to show a value, and how to check and convert what
 * the YAML file holds. `table.ts` is written in this vocabulary; `schema.ts`
 * turns the table into a zod schema and `gen-docs.ts` into docs/CONFIG.md.
 *
 * Reads untrusted text (the config file): every check returns a message of
 * the form `expected <type>, got <value>` and never throws.
 * Sizes are 1024-based (k, M, G, T); durations take ms, s, m, h, d, w and a
 * bare number means milliseconds.
 */
import { z } from 'zod';
import { parseCidr } from '../policy/cidr.js';

/** One row of the table: a value with a type, default, bounds and one line of documentation. */
export interface Leaf<T> {
  readonly kind: 'leaf';
  /** Type as the docs name it ("host:port", "size", "list of CIDR" …). */
  readonly type: string;
  /** Bounds as the docs show them ("1k … 4G"), or "" when any value of the type is allowed. */
  readonly bounds: string;
  readonly default: T;
  readonly doc: string;
  /** Checks and converts one present (non-null) value. */
  readonly check: (input: unknown) => Checked<T>;
  /** Shows a value the way a user would write it in YAML. */
  readonly show: (value: T) => string;
}

/** A group of keys; a switchable section may be `false` to turn that part off. */
export interface Section<F extends Fields, S extends boolean = false> {
  readonly kind: 'section';
  readonly doc: string;
  readonly fields: F;
  readonly switchable: S;
}

export type Node = Leaf<any> | Section<any, boolean>;
export interface Fields { readonly [key: string]: Node }

/** The value a node yields once validated. */
export type ValueOf<N> = N extends Leaf<infer T>
  ? T
  : N extends Section<infer F, infer S>
    ? S extends true ? SectionValue<F> | false : SectionValue<F>
    : never;
export type SectionValue<F extends Fields> = { readonly [K in keyof F]: ValueOf<F[K]> };

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string; /** Where inside the value, e.g. [2] for a list item. */ readonly at?: readonly (string | number)[] };

export function section<F extends Fields>(doc: string, fields: F): Section<F, false> {
  return { kind: 'section', doc, fields, switchable: false };
}

export function switchable<F extends Fields>(doc: string, fields: F): Section<F, true> {
  return { kind: 'section', doc, fields, switchable: true };
}

/** How a bad value is shown in an error: short, quoted like YAML would. */
export function showInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (typeof input === 'string') return JSON.stringify(input.length > 60 ? `${input.slice(0, 57)}...` : input);
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object' && input !== null) return 'a mapping';
  return String(input);
}

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = (expected: string, input: unknown): Checked<never> => ({ ok: false, message: `expected ${expected}, got ${showInput(input)}` });

/** A zod schema that runs one leaf's check with its own message. */
export function leafSchema<T>(leaf: Leaf<T>): z.ZodType<T> {
  return z.unknown().transform((input, ctx) => {
    const r = leaf.check(input);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.message, input, path: [...(r.at ?? [])] });
    return z.NEVER;
  }) as unknown as z.ZodType<T>;
}

// ---- sizes and durations --------------------------------------------------

const SIZE_UNITS: readonly [string, number][] = [['T', 1024 ** 4], ['G', 1024 ** 3], ['M', 1024 ** 2], ['k', 1024]];
const DURATION_UNITS: readonly [string, number][] = [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];

export function formatSize(bytes: number): string {
  for (const [unit, n] of SIZE_UNITS) if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`;
  return String(bytes);
}

export function formatDuration(ms: number): string {
  for (const [unit, n] of DURATION_UNITS) if (ms >= n && ms % n === 0) return `${ms / n}${unit}`;
  return `${ms}ms`;
}

export function parseSize(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*$/.exec(input);
  if (m === null) return undefined;
  const unit = (m[2] ?? '').toUpperCase();
  const factor = unit === '' ? 1 : SIZE_UNITS.find(([u]) => u.toUpperCase() === unit)?.[1] ?? 1;
  const value = Math.round(Number(m[1]) * factor);
  return Number.isSafeInteger(value) ? value : undefined;
}

export function parseDuration(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  if (typeof input !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(input);
  if (m === null) return undefined;
  const unit = m[2] ?? 'ms';
  const factor = unit === 'ms' ? 1 : DURATION_UNITS.find(([u]) => u === unit)?.[1] ?? 1;
  const value = Math.round(Number(m[1]) * factor);
  return Number.isSafeInteger(value) ? value : undefined;
}

// ---- leaf constructors ---------------------------------------------------

interface Range { readonly min: number; readonly max: number }

function bounded(name: string, parse: (v: unknown) => number | undefined, format: (n: number) => string) {
  return (def: number, range: Range, doc: string): Leaf<number> => ({
    kind: 'leaf',
    type: name,
    bounds: `${format(range.min)} … ${format(range.max)}`,
    default: def,
    doc,
    show: format,
    check(input) {
      const n = parse(input);
      if (n === undefined) return bad(name === 'integer' ? 'an integer' : `a ${name}`, input);
      if (n < range.min || n > range.max) return { ok: false, message: `expected ${format(range.min)} … ${format(range.max)}, got ${format(n)}` };
      return ok(n);
    },
  });
}

export const int = bounded('integer', (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined), String);
export const number = bounded('number', (v) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined), String);
export const size = bounded('size', parseSize, formatSize);
export const duration = bounded('duration', parseDuration, formatDuration);

export function bool(def: boolean, doc: string): Leaf<boolean> {
  return {
    kind: 'leaf', type: 'boolean', bounds: '', default: def, doc, show: String,
    check: (input) => (typeof input === 'boolean' ? ok(input) : bad('true or false', input)),
  };
}

export function oneOf<const V extends string>(values: readonly V[], def: V, doc: string): Leaf<V> {
  return {
    kind: 'leaf', type: values.join(' | '), bounds: '', default: def, doc, show: String,
    check: (input) => (typeof input === 'string' && (values as readonly string[]).includes(input)
      ? ok(input as V)
      : bad(values.map((v) => JSON.stringify(v)).join(' or '), input)),
  };
}

/** A string checked by a predicate; `what` names the expected form in errors. */
export interface StringForm {
  readonly type: string;
  readonly what: string;
  readonly test: (s: string) => boolean;
  /** Normalises an accepted value (e.g. lower-case a domain). */
  readonly normalise?: (s: string) => string;
}

function checkString(form: StringForm, input: unknown): Checked<string> {
  if (typeof input !== 'string' || !form.test(input)) return bad(form.what, input);
  return ok(form.normalise === undefined ? input : form.normalise(input));
}

export function str(form: StringForm, def: string, doc: string): Leaf<string> {
  return { kind: 'leaf', type: form.type, bounds: '', default: def, doc, show: (v) => JSON.stringify(v), check: (i) => checkString(form, i) };
}

/** A key that may be left out; its absence means something documented in `doc`. */
export function optional<T>(leaf: Leaf<T>): Leaf<T | undefined> {
  return {
    ...leaf,
    default: undefined,
    show: (v) => (v === undefined ? '(none)' : leaf.show(v)),
    check: leaf.check as (i: unknown) => Checked<T | undefined>,
  };
}

export function list(form: StringForm, def: readonly string[], doc: string): Leaf<readonly string[]> {
  return {
    kind: 'leaf', type: `list of ${form.type}`, bounds: '', default: def, doc,
    show: (v) => (v.length === 0 ? '[]' : `[${v.join(', ')}]`),
    check(input) {
      if (!Array.isArray(input)) return bad(`a list of ${form.type}`, input);
      const out: string[] = [];
      for (let i = 0; i < input.length; i++) {
        const r = checkString(form, input[i]);
        if (!r.ok) return { ok: false, message: r.message, at: [i, ...(r.at ?? [])] };
        out.push(r.value);
      }
      return ok(out);
    },
  };
}

// ---- string forms ------------------------------------------------------

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Splits "host:port" or "[v6]:port"; undefined when the text is not of that form. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:\s[\]]+):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const host = m[1] ?? '';
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  const isV6 = text.startsWith('[');
  if (isV6 ? parseCidr(host) === undefined : !(HOSTNAME.test(host) || parseCidr(host) !== undefined)) return undefined;
  return { host, port };
}

export const HOST_PORT: StringForm = {
  type: 'host:port', what: '"host:port"',
  test: (s) => { const hp = splitHostPort(s); return hp !== undefined && hp.port > 0; },
};

/** A listening address; port 0 asks the system for a free port (tests use it). */
export const LISTEN_ADDRESS: StringForm = {
  type: 'host:port', what: '"host:port"',
  test: (s) => splitHostPort(s) !== undefined,
};

export const ENDPOINT: StringForm = {
  type: 'host:port or socket path', what: '"host:port" or an absolute socket path',
  test: (s) => HOST_PORT.test(s) || (s.startsWith('/') && s.length > 1 && !s.includes('\0')),
};

export const CIDR: StringForm = {
  type: 'CIDR', what: 'an IPv4 or IPv6 address or CIDR block like "192.0.2.0/24"',
  test: (s) => parseCidr(s) !== undefined,
};

export const DOMAIN: StringForm = {
  type: 'domain', what: 'a domain name like "example.org" (".example.org" for its subdomains)',
  test: (s) => HOSTNAME.test(s.startsWith('.') ? s.slice(1) : s),
  normalise: (s) => s.toLowerCase().replace(/\.$/, ''),
};

export const EXTENSION: StringForm = {
  type: 'extension', what: 'a file name extension like "exe"',
  test: (s) => /^\.?[A-Za-z0-9_+-]{1,16}$/.test(s),
  normalise: (s) => s.toLowerCase().replace(/^\./, ''),
};

export const GLOB: StringForm = {
  type: 'glob', what: 'a file name pattern like "*.exe" (* and ? only)',
  test: (s) => s.length > 0 && s.length <= 200 && !s.includes('/') && !s.includes('\0'),
};

export const TYPE_NAME: StringForm = {
  type: 'type name', what: 'a true-type name like "pe" or "elf"',
  test: (s) => /^[a-z0-9][a-z0-9._-]{0,31}$/.test(s),
};

export const PATH: StringForm = {
  type: 'path', what: 'a file or folder path',
  test: (s) => s.length > 0 && !s.includes('\0'),
};

export const NAME: StringForm = {
  type: 'name', what: 'a user or group name or number',
  test: (s) => /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/.test(s),
};

export const TEXT: StringForm = {
  type: 'string', what: 'a non-empty string',
  test: (s) => s.length > 0 && s.length <= 1000,
};

/** The admin password hash as src/admin/password.ts writes it; its bounds are checked there. */
export const PASSWORD_HASH: StringForm = {
  type: 'password hash', what: 'a hash like "scrypt$32768$8$1$<salt>$<hash>" (node dist/src/admin/hash-password.js makes one)',
  test: (s) => /^scrypt\$\d{1,8}\$\d{1,3}\$\d{1,3}\$[A-Za-z0-9_-]{8,200}\$[A-Za-z0-9_-]{16,200}$/.test(s.trim()),
};

/** "min-max" TCP port range. */
export const PORT_RANGE: StringForm = {
  type: 'port range', what: 'a port range like "40000-40100"',
  test: (s) => {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(s);
    if (m === null) return false;
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    return lo >= 1024 && hi <= 65535 && lo <= hi;
  },
};
