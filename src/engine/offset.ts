/**
 * Offsets of ClamAV body signatures (field 3 of .ndb lines, the `offset:`
 * prefix of .ldb subsignatures): `*`, `n`, `EOF-n`, `n,maxshift`,
 * `EOF-n,maxshift`. An offset constrains where a match may *start*.
 *
 * Reads untrusted text. Forms that need the PE/ELF/Mach-O structure (EP+n,
 * EP-n, Sx+n, SEx, SL+n) parse as `unsupported` with a reason so the loader
 * can count the signature as skipped; anything else malformed throws
 * PatternSyntaxError (a build error).
 */
import { PatternSyntaxError } from './pattern.js';

export type OffsetSpec =
  /** `*`: anywhere. */
  | { readonly kind: 'any' }
  /** `n` or `n,shift`: the match starts in [offset, offset + shift]. */
  | { readonly kind: 'absolute'; readonly offset: number; readonly shift: number }
  /** `EOF-n` or `EOF-n,shift`: the match starts in [size - back, size - back + shift]. */
  | { readonly kind: 'eof'; readonly back: number; readonly shift: number }
  /** Needs executable parsing the engine does not have; the signature is to be skipped. */
  | { readonly kind: 'unsupported'; readonly reason: string; readonly text: string };

export const ANY_OFFSET: OffsetSpec = { kind: 'any' };

const DECIMAL = /^[0-9]{1,15}$/;

function decimal(s: string, text: string, what: string): number {
  if (!DECIMAL.test(s)) throw new PatternSyntaxError(`bad ${what} in offset '${text}'`, 0);
  return Number(s);
}

/** Parses an offset field. Throws PatternSyntaxError when it is malformed. */
export function parseOffset(text: string): OffsetSpec {
  if (text === '*') return ANY_OFFSET;
  const comma = text.indexOf(',');
  const base = comma < 0 ? text : text.slice(0, comma);
  const shift = comma < 0 ? 0 : decimal(text.slice(comma + 1), text, 'max shift');
  if (/^(EP[+-]|S[0-9]+\+|SE[0-9]+$|SL\+)/.test(base)) {
    return { kind: 'unsupported', reason: 'executable-offset', text };
  }
  if (base.startsWith('VI') || base.startsWith('$')) {
    return { kind: 'unsupported', reason: 'special-offset', text };
  }
  if (base.startsWith('EOF-')) return { kind: 'eof', back: decimal(base.slice(4), text, 'EOF distance'), shift };
  return { kind: 'absolute', offset: decimal(base, text, 'offset'), shift };
}

/**
 * The window [lo, hi] of allowed start positions in an object of `size`
 * bytes, or null when no start is possible (EOF-n beyond the start of the
 * object). `any` gives [0, Infinity]; `unsupported` gives null.
 */
export function offsetWindow(spec: OffsetSpec, size: number): { lo: number; hi: number } | null {
  switch (spec.kind) {
    case 'any': return { lo: 0, hi: Infinity };
    case 'absolute': return { lo: spec.offset, hi: spec.offset + spec.shift };
    case 'eof': {
      const lo = size - spec.back;
      if (lo < 0) return null;
      return { lo, hi: lo + spec.shift };
    }
    case 'unsupported': return null;
  }
}

/** Whether a match starting at `start` satisfies the offset in an object of `size` bytes. */
export function offsetAllows(spec: OffsetSpec, start: number, size: number): boolean {
  const w = offsetWindow(spec, size);
  return w !== null && start >= w.lo && start <= w.hi;
}

/** The offset written back in ClamAV's syntax, for messages. */
export function formatOffset(spec: OffsetSpec): string {
  switch (spec.kind) {
    case 'any': return '*';
    case 'absolute': return spec.shift ? `${spec.offset},${spec.shift}` : `${spec.offset}`;
    case 'eof': return spec.shift ? `EOF-${spec.back},${spec.shift}` : `EOF-${spec.back}`;
    case 'unsupported': return spec.text;
  }
}
