/**
 * ClamAV logical signatures (.ldb/.ldu): parsing and evaluation.
 *
 * Format (ClamAV "Logical signatures"):
 *   `Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1;…` (up to 64 subsigs)
 * - Target block: comma separated `Key:Value`. `Engine:X-Y`, `Target:N` and
 *   `FileSize:X-Y` are honoured; `EntryPoint`, `NumberOfSections`, `IconGroup1/2`
 *   need a PE parser, `Container`/`Intermediates` need the walker's ancestry,
 *   `HandlerType` re-types files: signatures using them are skipped by reason.
 * - Expression: subsig indexes, `&`, `|`, parentheses, and `A=X`, `A>X`, `A<X`
 *   with an optional `,Y` (at least Y distinct subsigs of block A matched).
 *   Without parentheses `&` and `|` group to the right, as in clamscan:
 *   `0&1|2` is `0&(1|2)`.
 * - Subsigs: `[Offset:]Hex[::iwfa]` body patterns (compiled by the matcher),
 *   PCRE `[Offset:]Trigger/regex/flags` (translated to a JS RegExp and run on
 *   the buffered object at end of scan), byte-compare subsigs
 *   `N(>>off#[hdai][lb][e]len#cmp[,cmp])` (read at the trigger's last match,
 *   checked against clamscan 1.4), macro subsigs (skipped).
 *
 * Evaluation: a sub-expression's value is (match count, set of distinct subsigs
 * that matched). `|` adds counts, `&` adds them only when every side matched,
 * a comparison yields one match when it holds. The signature fires when the
 * whole expression's count is above zero at end of scan.
 *
 * Reads untrusted bytes (signature lines): malformed lines are reported with a
 * reason, never thrown.
 */

/**
 * The functionality level we claim against `Engine:X-Y` and .ndb MinFL/MaxFL:
 * ClamAV 1.4's (sigtool 1.4.6 writes 216), so we load the lines clamscan 1.4
 * loads and let the parsers report what we cannot use.
 */
export const ENGINE_FLEVEL = 216;
export const MAX_SUBSIGS = 64;
const MAX_EXPRESSION_DEPTH = 64;

export type Expr =
  | { readonly t: 'sub'; readonly id: number }
  | { readonly t: 'and' | 'or'; readonly items: readonly Expr[] }
  | { readonly t: 'cmp'; readonly op: '=' | '>' | '<'; readonly x: number; readonly y?: number; readonly of: Expr };

export interface BodyModifiers {
  readonly nocase: boolean;
  readonly wide: boolean;
  readonly fullword: boolean;
  readonly ascii: boolean;
}

export interface BodySubsig {
  readonly kind: 'body';
  /** ClamAV offset text ("*" when none was given). */
  readonly offset: string;
  readonly hex: string;
  readonly modifiers: BodyModifiers;
}

export interface PcreSubsig {
  readonly kind: 'pcre';
  readonly offset: PcreOffset;
  readonly trigger: Expr;
  /** The translated pattern, compiled for searching ("g") and for matching at one offset ("y"). */
  readonly scanning: RegExp;
  readonly sticky: RegExp;
  /** PCRE `A`: match only at the start offset. */
  readonly anchored: boolean;
  /** ClamAV `g`: count every match, not only the first. */
  readonly global: boolean;
  /** ClamAV `r`: search from the offset onward instead of only at it. */
  readonly rolling: boolean;
  /** ClamAV `e`: the whole match must lie within offset..offset+maxshift. */
  readonly encompass: boolean;
}

export type PcreOffset =
  | { readonly kind: 'any' }
  | { readonly kind: 'abs' | 'eof'; readonly n: number; readonly shift?: number };

export interface ByteCompareSubsig {
  readonly kind: 'bytecmp';
  /** The body subsig whose last match anchors the read. */
  readonly trigger: number;
  /** Signed distance from the trigger's match start (`>>n` positive, `<<n` negative). */
  readonly offset: number;
  /** hex or decimal text, auto (hex when it starts with 0x), or a binary integer. */
  readonly base: 'hex' | 'dec' | 'auto' | 'bin';
  readonly littleEndian: boolean;
  /** `e`: the text must be exactly `length` digits. */
  readonly exact: boolean;
  readonly length: number;
  /** All must hold. */
  readonly comparisons: readonly { readonly op: '<' | '>' | '='; readonly value: bigint }[];
}

export type Subsig = BodySubsig | PcreSubsig | ByteCompareSubsig;

export interface LogicalSignature {
  readonly name: string;
  readonly target: number;
  readonly fileSize?: readonly [number, number];
  readonly expr: Expr;
  readonly subsigs: readonly Subsig[];
}

export type LdbParse =
  | { readonly ok: true; readonly sig: LogicalSignature }
  | { readonly ok: false; readonly reason: string; readonly detail: string };

const fail = (reason: string, detail: string): LdbParse => ({ ok: false, reason, detail });

class ExprError extends Error {}

/** Parses a logical expression; `subsigCount` bounds the indexes. Throws ExprError. */
export function parseExpression(text: string, subsigCount: number): Expr {
  let at = 0;
  const peek = (): string => text[at] ?? '';
  const number = (): number => {
    const m = /^\d+/.exec(text.slice(at));
    if (m === null) throw new ExprError(`expected a number at ${at} in "${text}"`);
    at += m[0].length;
    return Number(m[0]);
  };
  let depth = 0;
  const primary = (): Expr => {
    let e: Expr;
    if (peek() === '(') {
      // A hostile line of nested parentheses must not exhaust the stack.
      if (++depth > MAX_EXPRESSION_DEPTH) throw new ExprError(`parentheses nested deeper than ${MAX_EXPRESSION_DEPTH}`);
      at++;
      e = alternatives();
      depth--;
      if (peek() !== ')') throw new ExprError(`expected ")" at ${at} in "${text}"`);
      at++;
    } else {
      const id = number();
      if (id >= subsigCount) throw new ExprError(`subsig ${id} does not exist (there are ${subsigCount})`);
      e = { t: 'sub', id };
    }
    for (let chain = 0; peek() === '=' || peek() === '>' || peek() === '<'; chain++) {
      if (chain === MAX_EXPRESSION_DEPTH) throw new ExprError(`more than ${MAX_EXPRESSION_DEPTH} comparisons in a row`);
      const op = peek() as '=' | '>' | '<';
      at++;
      const x = number();
      if (peek() === ',') {
        at++;
        e = { t: 'cmp', op, x, y: number(), of: e };
      } else {
        e = { t: 'cmp', op, x, of: e };
      }
    }
    return e;
  };
  // ClamAV gives & and | one precedence and groups to the right: 0&1|2 is 0&(1|2)
  // (checked against clamscan 1.4). Runs of one operator are flattened.
  const alternatives = (): Expr => {
    const operands = [primary()];
    const operators: string[] = [];
    while (peek() === '&' || peek() === '|') {
      operators.push(peek());
      at++;
      operands.push(primary());
    }
    // Fold from the right, runs of one operator into one node: iteratively and
    // in linear time, so a long chain can neither exhaust the stack nor stall.
    let t: 'and' | 'or' | undefined;
    let reversed: Expr[] = [operands[operands.length - 1] as Expr];
    for (let k = operators.length - 1; k >= 0; k--) {
      const op = operators[k] === '&' ? 'and' : 'or';
      if (t !== undefined && t !== op) reversed = [{ t, items: reversed.reverse() }];
      t = op;
      reversed.push(operands[k] as Expr);
    }
    return t === undefined ? reversed[0] as Expr : { t, items: reversed.reverse() };
  };
  if (/\s/.test(text)) throw new ExprError(`whitespace in expression "${text}"`);
  const e = alternatives();
  if (at !== text.length) throw new ExprError(`unexpected "${peek()}" at ${at} in "${text}"`);
  return e;
}

interface Value { readonly count: number; readonly ids: ReadonlySet<number> }
const NONE: Value = { count: 0, ids: new Set() };

function value(e: Expr, counts: ArrayLike<number>): Value {
  switch (e.t) {
    case 'sub': {
      const c = counts[e.id] ?? 0;
      return c > 0 ? { count: c, ids: new Set([e.id]) } : NONE;
    }
    case 'or':
    case 'and': {
      let count = 0;
      const ids = new Set<number>();
      for (const item of e.items) {
        const v = value(item, counts);
        if (v.count === 0 && e.t === 'and') return NONE;
        count += v.count;
        for (const id of v.ids) ids.add(id);
      }
      return count === 0 ? NONE : { count, ids };
    }
    case 'cmp': {
      const v = value(e.of, counts);
      const countOk = e.op === '=' ? v.count === e.x : e.op === '>' ? v.count > e.x : v.count < e.x;
      const distinctOk = e.y === undefined || e.of.t === 'sub' || v.ids.size >= e.y;
      return countOk && distinctOk ? { count: 1, ids: v.ids } : NONE;
    }
  }
}

/** True when the expression holds for these per-subsig match counts. */
export function evaluate(e: Expr, counts: ArrayLike<number>): boolean {
  return value(e, counts).count > 0;
}

function parseRange(v: string): readonly [number, number] | undefined {
  const m = /^(\d+)(?:-(\d*))?$/.exec(v);
  if (m === null) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : m[2] === '' ? Number.MAX_SAFE_INTEGER : Number(m[2]);
  return lo <= hi ? [lo, hi] : undefined;
}

const PE_KEYS = new Set(['EntryPoint', 'NumberOfSections', 'IconGroup1', 'IconGroup2']);
const CONTAINER_KEYS = new Set(['Container', 'Intermediates']);

/** True for offsets that need a PE/ELF/Mach-O parser (entry point, sections, version info). */
export function isExecutableOffset(offset: string): boolean {
  return /^(EP[+-]|S\d+[+-]|SE\d|SL[+-]|VI)/.test(offset);
}

/** Parses one .ldb line (already trimmed, not a comment). */
export function parseLdbLine(line: string): LdbParse {
  const parts = line.split(';');
  if (parts.length < 4) return fail('malformed-ldb', 'fewer than 4 ";"-separated fields');
  const [name, block, exprText, ...subsigTexts] = parts as [string, string, string, ...string[]];
  if (name === '') return fail('malformed-ldb', 'empty signature name');
  if (subsigTexts.length > MAX_SUBSIGS) return fail('malformed-ldb', `${subsigTexts.length} subsigs, at most ${MAX_SUBSIGS}`);

  let target = 0;
  let fileSize: readonly [number, number] | undefined;
  for (const pair of block.split(',')) {
    const colon = pair.indexOf(':');
    if (colon < 0) return fail('malformed-ldb', `target block entry "${pair}" has no ":"`);
    const key = pair.slice(0, colon);
    const val = pair.slice(colon + 1);
    if (key === 'Target') {
      if (!/^\d+$/.test(val)) return fail('malformed-ldb', `Target "${val}" is not a number`);
      target = Number(val);
    } else if (key === 'Engine') {
      const r = parseRange(val);
      if (r === undefined) return fail('malformed-ldb', `Engine range "${val}" is malformed`);
      if (ENGINE_FLEVEL < r[0] || ENGINE_FLEVEL > r[1]) return fail('flevel', `needs engine level ${val}`);
    } else if (key === 'FileSize') {
      fileSize = parseRange(val);
      if (fileSize === undefined) return fail('malformed-ldb', `FileSize range "${val}" is malformed`);
    } else if (PE_KEYS.has(key)) {
      return fail('pe-condition', `${key} needs a PE parser`);
    } else if (CONTAINER_KEYS.has(key)) {
      return fail('container-condition', `${key} needs the container chain`);
    } else if (key === 'HandlerType') {
      return fail('handler-type', 'HandlerType re-types files');
    } else {
      return fail('malformed-ldb', `unknown target block key "${key}"`);
    }
  }

  const subsigs: Subsig[] = [];
  for (let i = 0; i < subsigTexts.length; i++) {
    const parsed = parseSubsig(subsigTexts[i] as string, i, subsigs);
    if ('reason' in parsed) return fail(parsed.reason, `subsig ${i}: ${parsed.detail}`);
    subsigs.push(parsed);
  }
  if (subsigs.length === 0) return fail('malformed-ldb', 'no subsignatures');

  let expr: Expr;
  try {
    expr = parseExpression(exprText, subsigs.length);
  } catch (e) {
    if (e instanceof ExprError) return fail('malformed-ldb', e.message);
    throw e;
  }
  return { ok: true, sig: { name, target, ...(fileSize !== undefined ? { fileSize } : {}), expr, subsigs } };
}

type SubsigParse = Subsig | { readonly reason: string; readonly detail: string };

function parseSubsig(text: string, index: number, subsigsSoFar: readonly Subsig[]): SubsigParse {
  if (text === '') return { reason: 'malformed-ldb', detail: 'empty subsig' };
  if (text.startsWith('${')) return { reason: 'macro', detail: text };
  if (text.includes('/')) return parsePcreSubsig(text, index);
  if (text.includes('#')) return parseByteCompare(text, subsigsSoFar);

  let body = text;
  let modifiers: BodyModifiers = { nocase: false, wide: false, fullword: false, ascii: false };
  const mod = body.indexOf('::');
  if (mod >= 0) {
    const flags = body.slice(mod + 2);
    if (!/^[iwfa]+$/.test(flags)) return { reason: 'malformed-ldb', detail: `unknown modifier "${flags}"` };
    modifiers = { nocase: flags.includes('i'), wide: flags.includes('w'), fullword: flags.includes('f'), ascii: flags.includes('a') };
    body = body.slice(0, mod);
  }
  let offset = '*';
  const colon = body.lastIndexOf(':');
  if (colon >= 0) {
    offset = body.slice(0, colon);
    body = body.slice(colon + 1);
  }
  if (isExecutableOffset(offset)) return { reason: 'ep-offset', detail: `offset ${offset}` };
  if (body === '') return { reason: 'malformed-ldb', detail: 'empty hex pattern' };
  return { kind: 'body', offset, hex: body, modifiers };
}

const NUMBER = '(?:0x[0-9a-fA-F]+|\\d+)';
const BYTE_COMPARE = new RegExp(
  `^(\\d+)\\((>>|<<)(${NUMBER})#([hdai])([lb]?)(e?)(${NUMBER})#([<>=]-?${NUMBER}(?:,[<>=]-?${NUMBER})?)\\)$`);
/** Longest text field a byte-compare may read; binary reads are 1, 2, 4 or 8 bytes. */
const MAX_BYTE_COMPARE_TEXT = 64;

function parseNumber(text: string): bigint {
  const negative = text.startsWith('-');
  const digits = negative ? text.slice(1) : text;
  const v = BigInt(digits);
  return negative ? -v : v;
}

function parseByteCompare(text: string, before: readonly Subsig[]): SubsigParse {
  const m = BYTE_COMPARE.exec(text);
  if (m === null) return { reason: 'malformed-ldb', detail: `byte-compare "${text}"` };
  const [, trigger, direction, offset, base, endian, exact, length, comparisons] = m as unknown as string[];
  const triggerId = Number(trigger);
  if (before[triggerId]?.kind !== 'body') return { reason: 'malformed-ldb', detail: `byte-compare trigger ${trigger} is not an earlier body subsig` };
  const bytes = Number(parseNumber(length as string));
  const kind = ({ h: 'hex', d: 'dec', a: 'auto', i: 'bin' } as const)[base as 'h' | 'd' | 'a' | 'i'];
  if (kind === 'dec' && endian === 'l') return { reason: 'malformed-ldb', detail: 'little-endian decimal byte-compare' };
  if (kind === 'bin' ? ![1, 2, 4, 8].includes(bytes) : bytes < 1 || bytes > MAX_BYTE_COMPARE_TEXT) {
    return { reason: 'malformed-ldb', detail: `byte-compare length ${bytes}` };
  }
  const distance = Number(parseNumber(offset as string));
  return {
    kind: 'bytecmp', trigger: triggerId, offset: direction === '<<' ? -distance : distance,
    base: kind, littleEndian: endian === 'l', exact: exact === 'e' || kind === 'bin', length: bytes,
    comparisons: (comparisons as string).split(',').map((c) => ({ op: c[0] as '<' | '>' | '=', value: parseNumber(c.slice(1)) })),
  };
}

const INT64_MAX = (1n << 63n) - 1n;

/** Leading digits of `text` in `radix` like C's strtol: value 0 and no digits used when none. */
function strtol(text: string, radix: 10 | 16): { value: bigint; used: number } | undefined {
  let i = 0;
  let negative = false;
  if (text[i] === '+' || text[i] === '-') { negative = text[i] === '-'; i++; }
  if (radix === 16 && /^0[xX][0-9a-fA-F]/.test(text.slice(i))) i += 2;
  const digits = (radix === 16 ? /^[0-9a-fA-F]+/ : /^[0-9]+/).exec(text.slice(i))?.[0] ?? '';
  if (digits === '') return { value: 0n, used: 0 };
  const value = BigInt(radix === 16 ? `0x${digits}` : digits);
  if (value > INT64_MAX) return undefined;
  return { value: negative ? -value : value, used: i + digits.length };
}

/**
 * Evaluates a byte-compare subsig over the whole object, anchored at the
 * trigger's last match (as clamscan does). True when every comparison holds.
 */
export function runByteCompare(sub: ByteCompareSubsig, data: Uint8Array, triggerLast: number): boolean {
  const at = triggerLast + sub.offset;
  if (sub.offset > 0 ? at + sub.length > data.length : at <= 0 || at + sub.length > data.length) return false;
  const field = data.subarray(at, at + sub.length);
  let value: bigint;
  if (sub.base === 'bin') {
    const view = new DataView(field.buffer, field.byteOffset, field.length);
    const le = sub.littleEndian;
    value = sub.length === 1 ? BigInt(view.getUint8(0))
      : sub.length === 2 ? BigInt(view.getUint16(0, le))
        : sub.length === 4 ? BigInt(view.getUint32(0, le))
          : view.getBigInt64(0, le);
  } else {
    let text = Buffer.from(field).toString('latin1');
    const pad = /^[ \t\n\v\f\r]*/.exec(text)?.[0].length ?? 0;
    text = text.slice(pad);
    let base = sub.base;
    if (base === 'auto') base = text.length >= 3 && /^0[xX]/.test(text) ? 'hex' : 'dec';
    if (base === 'dec' && sub.littleEndian) return false;
    if (base === 'hex' && sub.littleEndian) text = (text.match(/../g) ?? []).reverse().join('') + (text.length % 2 === 1 ? text.slice(-1) : '');
    const r = strtol(text, base === 'hex' ? 16 : 10);
    if (r === undefined) return false;
    if (sub.exact && (r.used !== text.length || pad !== 0)) return false;
    value = r.value;
  }
  return sub.comparisons.every((c) => (c.op === '<' ? value < c.value : c.op === '>' ? value > c.value : value === c.value));
}

function parsePcreSubsig(text: string, index: number): SubsigParse {
  const first = text.indexOf('/');
  const last = text.lastIndexOf('/');
  if (last === first) return { reason: 'malformed-ldb', detail: 'PCRE without a closing "/"' };
  const prefix = text.slice(0, first);
  const source = text.slice(first + 1, last);
  const flags = text.slice(last + 1);
  const colon = prefix.lastIndexOf(':');
  const offsetText = colon >= 0 ? prefix.slice(0, colon) : '';
  const triggerText = colon >= 0 ? prefix.slice(colon + 1) : prefix;
  if (source === '') return { reason: 'malformed-ldb', detail: 'empty PCRE' };
  if (!/^[grei smxAEU]*$/.test(flags)) return { reason: 'malformed-ldb', detail: `unknown PCRE flags "${flags}"` };

  let trigger: Expr;
  try {
    trigger = parseExpression(triggerText, index);
  } catch (e) {
    if (e instanceof ExprError) return { reason: 'malformed-ldb', detail: `PCRE trigger: ${e.message}` };
    throw e;
  }
  const offset = parsePcreOffset(offsetText);
  if (offset === undefined) {
    return isExecutableOffset(offsetText)
      ? { reason: 'ep-offset', detail: `offset ${offsetText}` }
      : { reason: 'malformed-ldb', detail: `PCRE offset "${offsetText}"` };
  }
  const translated = translatePcre(source, flags);
  if ('unsupported' in translated) return { reason: 'pcre-unsupported', detail: translated.unsupported };
  return {
    kind: 'pcre', offset, trigger,
    scanning: new RegExp(translated.source, `${translated.flags}g`),
    sticky: new RegExp(translated.source, `${translated.flags}y`),
    anchored: flags.includes('A'),
    global: flags.includes('g'), rolling: flags.includes('r'), encompass: flags.includes('e'),
  };
}

function parsePcreOffset(text: string): PcreOffset | undefined {
  if (text === '' || text === '*') return { kind: 'any' };
  const m = /^(EOF-)?(\d+)(?:,(\d+))?$/.exec(text);
  if (m === null) return undefined;
  const base = { kind: m[1] !== undefined ? 'eof' as const : 'abs' as const, n: Number(m[2]) };
  return m[3] !== undefined ? { ...base, shift: Number(m[3]) } : base;
}

/**
 * PCRE → JS RegExp (non-unicode mode, run over a latin1 view so one char is
 * one byte). Where the two dialects read the same text differently (`.`,
 * `$`, `\s`, `\A`, `\z`, `\Z`) the PCRE meaning is spelled out; constructs JS
 * lacks are refused rather than approximated: a refused subsig is reported,
 * a wrong one would be silent.
 */
export function translatePcre(source: string, flags: string): { source: string; flags: string } | { unsupported: string } {
  if (flags.includes('x')) return { unsupported: 'extended (x) flag' };
  if (flags.includes('U')) return { unsupported: 'ungreedy (U) flag' };
  if (hasNestedUnboundedRepeat(source)) return { unsupported: 'repeated group with a repeat inside (backtracking risk)' };
  const dotAll = flags.includes('s');
  const multiline = flags.includes('m');
  const dollarEndOnly = flags.includes('E');
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    const next = source[i + 1] ?? '';
    if (c === '\\') {
      if (next === '') return { unsupported: 'trailing backslash' };
      i++;
      if (next === 's') { out += inClass ? '\\t\\n\\v\\f\\r ' : '[\\t\\n\\v\\f\\r ]'; continue; }
      if (next === 'S') {
        if (inClass) return { unsupported: '\\S inside a class' };
        out += '[^\\t\\n\\v\\f\\r ]';
        continue;
      }
      if (!inClass && next === 'A') { out += '(?<![\\s\\S])'; continue; }
      if (!inClass && next === 'z') { out += '(?![\\s\\S])'; continue; }
      if (!inClass && next === 'Z') { out += '(?=\\n?(?![\\s\\S]))'; continue; }
      if (next === 'e') { out += '\\x1b'; continue; }
      if (next === 'x' && source[i + 1] === '{') {
        const m = /^\{([0-9a-fA-F]{1,2})\}/.exec(source.slice(i + 1));
        if (m === null) return { unsupported: '\\x{…} beyond one byte' };
        out += `\\x${(m[1] as string).padStart(2, '0')}`;
        i += m[0].length;
        continue;
      }
      if ('QEGKRXhHvVpPCgNoLlUu'.includes(next)) return { unsupported: `escape \\${next}` };
      if (next === 'k' && source[i + 1] !== '<') return { unsupported: 'escape \\k without <name>' };
      out += c + next;
      continue;
    }
    if (inClass) {
      if (c === '[' && next === ':') return { unsupported: 'POSIX class [:…:]' };
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    switch (c) {
      case '[':
        inClass = true;
        out += c;
        if (next === '^') { out += next; i++; }
        // PCRE reads a "]" right after "[" or "[^" as a literal.
        if (source[i + 1] === ']') { out += '\\]'; i++; }
        continue;
      case '(':
        if (next === '?') {
          const rest = source.slice(i + 2);
          if (rest.startsWith('P<')) { out += '(?<'; i += 3; continue; }
          if (!/^(:|=|!|<=|<!|<[A-Za-z_])/.test(rest)) return { unsupported: `group (?${rest.slice(0, 2)}` };
        }
        out += c;
        continue;
      case '.':
        out += dotAll ? '[\\s\\S]' : '[^\\n]';
        continue;
      case '$':
        out += multiline ? '(?=\\n|(?![\\s\\S]))' : dollarEndOnly ? '(?![\\s\\S])' : '(?=\\n?(?![\\s\\S]))';
        continue;
      case '+':
        if (/[*+?}]/.test(out[out.length - 1] ?? '') && out[out.length - 2] !== '\\') return { unsupported: 'possessive quantifier' };
        out += c;
        continue;
      default:
        out += c;
    }
  }
  if (inClass) return { unsupported: 'unterminated character class' };
  const jsFlags = (flags.includes('i') ? 'i' : '') + (multiline ? 'm' : '');
  try {
    new RegExp(out, jsFlags);
  } catch (e) {
    return { unsupported: `JS RegExp refuses it: ${(e as Error).message}` };
  }
  return { source: out, flags: jsFlags };
}

/**
 * True for `(…x+…)*`-like patterns. JS RegExp has no match limit (PCRE has
 * PCREMatchLimit), and these can backtrack exponentially on hostile bytes:
 * a scan must never hang, so such subsigs are refused and reported.
 */
export function hasNestedUnboundedRepeat(source: string): boolean {
  const groups: boolean[] = [false];
  const unboundedAt = (i: number): boolean => {
    const c = source[i];
    return c === '*' || c === '+' || (c === '{' && /^\{\d*,\}/.test(source.slice(i)));
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') { i++; continue; }
    if (c === '[') {
      i++;
      if (source[i] === '^') i++;
      if (source[i] === ']') i++;
      while (i < source.length && source[i] !== ']') { if (source[i] === '\\') i++; i++; }
      continue;
    }
    if (c === '(') { groups.push(false); continue; }
    if (c === ')') {
      const inner = groups.length > 1 ? groups.pop() === true : false;
      if (inner && unboundedAt(i + 1)) return true;
      if (inner) groups[groups.length - 1] = true;
      continue;
    }
    if (unboundedAt(i)) groups[groups.length - 1] = true;
  }
  return false;
}

/**
 * Runs a PCRE subsig over the whole object (latin1 text, one char per byte).
 * Returns the match count (stopping at `limit`: counts beyond the largest
 * number in the expression change nothing) and the first match offset (-1 when none).
 */
export function runPcre(sub: PcreSubsig, text: string, limit = Infinity): { count: number; first: number } {
  const size = text.length;
  let start = 0;
  let lastStart = size;
  let sticky = sub.anchored;
  let haystack = text;
  if (sub.offset.kind !== 'any') {
    start = sub.offset.kind === 'abs' ? sub.offset.n : size - sub.offset.n;
    if (start < 0 || start > size) return { count: 0, first: -1 };
    if (sub.offset.shift !== undefined) {
      lastStart = Math.min(size, start + sub.offset.shift);
      if (sub.encompass) haystack = text.slice(0, lastStart);
    } else if (!sub.rolling) {
      sticky = true;
    }
  }
  const re = sticky ? sub.sticky : sub.scanning;
  let count = 0;
  let first = -1;
  re.lastIndex = start;
  for (;;) {
    const m = re.exec(haystack);
    if (m === null || m.index > lastStart) break;
    if (first < 0) first = m.index;
    count++;
    if (!sub.global || sticky || count >= limit) break;
    re.lastIndex = m[0].length === 0 ? m.index + 1 : m.index + m[0].length;
  }
  return { count, first };
}
