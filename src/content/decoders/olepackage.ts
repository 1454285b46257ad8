/**
 * The two wrappers around a file embedded with Windows "Packager": the OLE
 * 1.0 object header (as RTF \objdata carries it: version, format id, class
 * name, topic, item, native data size; MS-OLEDS 2.2.4) and the Package
 * native data (label, source path, temp path, size, bytes), which an OLE2
 * document keeps in its "\x01Ole10Native" stream behind a 4-byte size.
 * Whole-buffer parsers of untrusted bytes: every length is checked against
 * what is there; they return undefined instead of throwing.
 */

export interface Ole1Object {
  readonly className: string;
  readonly native: Uint8Array;
}

export interface PackagedFile {
  readonly name: string;
  readonly data: Uint8Array;
}

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  u16(): number | undefined {
    if (this.pos + 2 > this.b.length) return undefined;
    const v = (this.b[this.pos] as number) | ((this.b[this.pos + 1] as number) << 8);
    this.pos += 2;
    return v;
  }
  u32(): number | undefined {
    if (this.pos + 4 > this.b.length) return undefined;
    const b = this.b, p = this.pos;
    this.pos += 4;
    return ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0;
  }
  /** A NUL-terminated string of at most `max` bytes. */
  cstr(max = 4096): string | undefined {
    const end = this.b.indexOf(0, this.pos);
    if (end < 0 || end - this.pos > max) return undefined;
    const s = String.fromCharCode(...this.b.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  /** A string preceded by its 4-byte length (which counts the NUL). */
  lpstr(max = 4096): string | undefined {
    const n = this.u32();
    if (n === undefined || n > max || this.pos + n > this.b.length) return undefined;
    const s = String.fromCharCode(...this.b.subarray(this.pos, this.pos + n)).replace(/\0+$/, '');
    this.pos += n;
    return s;
  }
}

/** Parses an OLE 1.0 embedded object; undefined when it is not one. */
export function parseOle1Object(data: Uint8Array): Ole1Object | undefined {
  const r = new Reader(data);
  const version = r.u32();
  const format = r.u32();
  if (version === undefined || format !== 2) return undefined;
  const className = r.lpstr(256);
  const topic = className === undefined ? undefined : r.lpstr();
  const item = topic === undefined ? undefined : r.lpstr();
  const size = item === undefined ? undefined : r.u32();
  if (className === undefined || size === undefined) return undefined;
  return { className, native: data.subarray(r.pos, Math.min(data.length, r.pos + size)) };
}

/** Parses Package native data (without a leading size); undefined when it is not one. */
export function parsePackage(native: Uint8Array): PackagedFile | undefined {
  const r = new Reader(native);
  if (r.u16() === undefined) return undefined;
  const label = r.cstr();
  const source = label === undefined ? undefined : r.cstr();
  if (label === undefined || source === undefined) return undefined;
  r.u16(); // reserved
  r.u16(); // type: 3 = embedded file
  const tempLen = r.u32();
  if (tempLen === undefined || r.pos + tempLen > native.length) return undefined;
  r.pos += tempLen;
  const size = r.u32();
  if (size === undefined) return undefined;
  const name = label || source.split(/[\\/]/).pop() || '';
  return { name, data: native.subarray(r.pos, Math.min(native.length, r.pos + size)) };
}

/** Parses an Ole10Native stream: a 4-byte size, then Package native data. */
export function parseOle10Native(stream: Uint8Array): PackagedFile | undefined {
  if (stream.length < 4) return undefined;
  const size = ((stream[0] as number) | ((stream[1] as number) << 8) | ((stream[2] as number) << 16) | ((stream[3] as number) << 24)) >>> 0;
  return parsePackage(stream.subarray(4, Math.min(stream.length, 4 + size)));
}
