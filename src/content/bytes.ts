/**
 * Little-endian reads over untrusted bytes that never throw: a read past the
 * end yields zeros, and `fits` is how callers check bounds before trusting
 * an offset or length taken from the data. Used by the format parsers.
 */
export class LeBytes {
  readonly d: Uint8Array;
  constructor(d: Uint8Array) { this.d = d; }
  u16(o: number): number { return (this.d[o] ?? 0) | ((this.d[o + 1] ?? 0) << 8); }
  u32(o: number): number { return (this.u16(o) + this.u16(o + 2) * 0x10000) >>> 0; }
  /** 64-bit as a Number: exact below 2^53, which bounds every size we can hold anyway. */
  u64(o: number): number { return this.u32(o) + this.u32(o + 4) * 0x1_0000_0000; }
  /** True when [o, o+n) lies inside the bytes. */
  fits(o: number, n: number): boolean { return o >= 0 && n >= 0 && o + n <= this.d.length; }
}
