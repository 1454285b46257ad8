/**
 * Quarantine ids: what a user is told ("ask for 7KQM-2XWD-91TB") and what an
 * operator types. 12 Crockford base32 symbols (60 random bits) in three
 * groups: short enough to read over the phone, far too many to guess, and
 * free of look-alike letters (no I, L, O, U).
 *
 * Parsing is the only way a typed or URL-supplied id reaches the store, and
 * it admits nothing but the 12 symbols, so an id can never carry a path.
 * Reads untrusted text (ids from URLs and the command line).
 */
import { randomBytes } from 'node:crypto';

declare const quarantineIdBrand: unique symbol;
/** A canonical id, "XXXX-XXXX-XXXX". */
export type QuarantineId = string & { readonly [quarantineIdBrand]: true };

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const SYMBOLS = 12;

export function newQuarantineId(): QuarantineId {
  const bytes = randomBytes(SYMBOLS);
  let s = '';
  // 256 is a multiple of 32, so taking each byte mod 32 is unbiased.
  for (const b of bytes) s += ALPHABET[b & 31];
  return format(s);
}

function format(symbols: string): QuarantineId {
  return `${symbols.slice(0, 4)}-${symbols.slice(4, 8)}-${symbols.slice(8, 12)}` as QuarantineId;
}

/**
 * Reads an id as a person might type it: any case, with or without the
 * dashes or with spaces, O for 0 and I/L for 1 (Crockford's decoding rules).
 * Returns undefined for anything else.
 */
export function parseQuarantineId(text: string): QuarantineId | undefined {
  if (text.length > 32) return undefined;
  const s = text.toUpperCase().replace(/[-\s]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (s.length !== SYMBOLS) return undefined;
  for (const c of s) if (!ALPHABET.includes(c)) return undefined;
  return format(s);
}
