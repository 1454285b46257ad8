/**
 * Admin password hashes, node:crypto scrypt in one self-describing string:
 *
 *     scrypt$N$r$p$<salt base64url>$<hash base64url>
 *
 * e.g. `scrypt$32768$8$1$…$…` (N = 2^15, r = 8, p = 1, 16-byte salt, 32-byte
 * key). Make one with `portcullis passwd` (reads the password from stdin)
 * and put it in the config as `admin.passwordHash`.
 * Verification compares in constant time. Bounds on N, r, p keep a crafted
 * hash in a config from making login cost seconds of CPU or memory.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { PortcullisError } from '../errors.js';

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function derive(password: string, salt: Buffer, params: ScryptParams, keyLength: number): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolveKey, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, options, (err, key) => (err ? reject(err) : resolveKey(key)));
  });
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, params, KEY_LENGTH);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export interface ParsedHash extends ScryptParams {
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** Parses and bounds-checks a hash string; throws PC_ERR_CONFIG naming what is wrong. */
export function parsePasswordHash(text: string): ParsedHash {
  const bad = (why: string): PortcullisError =>
    new PortcullisError('PC_ERR_CONFIG', `Cannot use admin.passwordHash: ${why} (expected scrypt$N$r$p$salt$hash)`);
  const parts = text.trim().split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') throw bad('not an scrypt hash');
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (!Number.isInteger(N) || N < 2 ** 10 || N > 2 ** 20 || (N & (N - 1)) !== 0) throw bad('N must be a power of two from 1024 to 1048576');
  if (!Number.isInteger(r) || r < 1 || r > 32) throw bad('r must be 1..32');
  if (!Number.isInteger(p) || p < 1 || p > 16) throw bad('p must be 1..16');
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const key = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length < 8) throw bad('salt is too short');
  if (key.length < 16 || key.length > 64) throw bad('hash must be 16..64 bytes');
  return { N, r, p, salt, key };
}

export async function verifyPassword(password: string, hash: ParsedHash): Promise<boolean> {
  if (password.length > 1024) return false;
  const key = await derive(password, hash.salt, hash, hash.key.length);
  return timingSafeEqual(key, hash.key);
}

/** A random password for a process started without a configured hash. */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}
