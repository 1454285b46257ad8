/**
 * Test helpers for the scanners' tests: filler bytes that look random and
 * are the same on every run. Not imported by the scanners themselves.
 */

/** `n` bytes of a xorshift stream from `seed`: no signature is in them by chance, and a failing case replays. */
export function filler(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
