/**
 * Builders of container bytes for the content walker's tests: zip (through
 * fflate, plus hand-made headers for encrypted, overlapping and
 * local-header-only archives), tar (ustar, GNU long names, pax), cpio (newc,
 * crc, odc, binary LE/BE), SZDD, and small fixed bzip2/xz/7z samples (made
 * once with the bzip2, xz and 7-Zip tools; no compressor for them exists in
 * Node). Used by tests only; reads no untrusted bytes.
 */
import { deflateSync, gzipSync, zipSync, zlibSync, type Zippable } from 'fflate';
import { walk, type WalkOptions } from './walker.js';
import type { WalkItem } from './types.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (d: Uint8Array): string => new TextDecoder('latin1').decode(d);

/** The text inside every fixed sample below. */
export const SAMPLE_TEXT = 'portcullis test payload: hello from inside\n';
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
export const SAMPLE_BZ2 = b64('QlpoOTFBWSZTWUbxuqMAABBZgAAQQAAAEC9n3iAgACIgyNNMhiFMJpoDTEwwq7oXhThcFQOvQhrSqXCWP0ZzKLo5f4u5IpwoSCN43VGA');
export const SAMPLE_XZ = b64('/Td6WFoAAATm1rRGAgAhARYAAAB0L+WjAQAqcG9ydGN1bGxpcyB0ZXN0IHBheWxvYWQ6IGhlbGxvIGZyb20gaW5zaWRlCgAAbY9akeX/hwQAAUMrrVBuVx+2830BAAAAAARZWg==');
/** 7z with payload.txt (LZMA). */
export const SAMPLE_7Z = b64('N3q8ryccAAT2+8o6LwAAAAAAAABiAAAAAAAAAJV6BlkBACpwb3J0Y3VsbGlzIHRlc3QgcGF5bG9hZDogaGVsbG8gZnJvbSBpbnNpZGUKAAEEBgABCS8ABwsBAAEhIQEADCsACAoB9Gb5tQAABQEZDAAAAAAAAAAAAAAAABEZAHAAYQB5AGwAbwBhAGQALgB0AHgAdAAAABkCAAAUCgEA4AeM2dJ93QEVBgEAIIC2gQAA');
/** 7z with payload.txt encrypted with the password "secret" (names visible). */
export const SAMPLE_7Z_ENCRYPTED = b64('N3q8ryccAATfUNWGMAAAAAAAAAByAAAAAAAAACMMoOjxPMSFpbcHYddBGEU04+swU2g2bW8ODSsBJSRkkuRrI+17u6PNsYm3AJWGrNOOHH4BBAYAAQkwAAcLAQACJAbxBwESUw+fXWlPToUdZyf5f2Mw0DWQISEBAAEADC8rAAgKAfRm+bUAAAUBGQEAERkAcABhAHkAbABvAGEAZAAuAHQAeAB0AAAAGQIAABQKAQDgB4zZ0n3dARUGAQAggLaBAAA=');

/** 7z with payload.txt and its names encrypted too (-mhe=on, password "secret"): not even listable without the password. */
export const SAMPLE_7Z_HEADERS_ENCRYPTED = b64('N3q8ryccAASb6lNssAAAAAAAAAAvAAAAAAAAAETcn5j7R7c/5lINEXyUXVjVLumDGdjxBAes/EeTrLacfUcwstTQeAXzVZJ7DqrQPt3eOxUNaCeqbKLuZQNWUus73iLatf+7YbsEpJQrO6jwId1dXJnTf/SFnPjkOttSIb6fR/EqDlufxDVIfcTFirfiEX4+SyBctoeY0nSzaZpL+AhnMz9GZhAVXNjdxyhMbX0r1itettexwtl+5KfhikOMr1e0yskS0B8meFsQGZrsXvGQsBcGMAEJgIAABwsBAAEkBvEHARJTDxAvJmvJTsxjkrunMncBPtAMcgoBGBXd5gAA');

/** zstd of SAMPLE_TEXT (made with the zstd tool). */
export const SAMPLE_ZSTD = b64('KLUv/SQrWQEAcG9ydGN1bGxpcyB0ZXN0IHBheWxvYWQ6IGhlbGxvIGZyb20gaW5zaWRlCvgicBM=');

/** A Unix ar archive (the container of .deb packages) of `files`. */
export function ar(files: Record<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [enc('!<arch>\n')];
  for (const [name, data] of Object.entries(files)) {
    const field = (v: string, w: number): string => v.padEnd(w, ' ').slice(0, w);
    // Names without the GNU "/" terminator, as dpkg writes them.
    parts.push(enc(`${field(name, 16)}${field('1676086491', 12)}${field('0', 6)}${field('0', 6)}${field('100644', 8)}${field(String(data.length), 10)}\x60\n`), data);
    if (data.length % 2 === 1) parts.push(enc('\n'));
  }
  return concat(...parts);
}

export function zip(files: Record<string, Uint8Array>, level: 0 | 6 = 6): Uint8Array {
  const z: Zippable = {};
  for (const [name, data] of Object.entries(files)) z[name] = [data, { level }];
  return zipSync(z);
}

export function gzip(data: Uint8Array, filename?: string): Uint8Array {
  return gzipSync(data, filename === undefined ? {} : { filename });
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** A copy of a zip with `local` applied to every local header and `central` to every central one (at their offsets). */
function patchZipHeaders(z: Uint8Array, local: (dv: DataView, o: number) => void, central: (dv: DataView, o: number) => void): Uint8Array {
  const out = z.slice();
  const dv = new DataView(out.buffer);
  for (let o = 0; o + 4 <= out.length; o++) {
    const sig = dv.getUint32(o, true);
    if (sig === 0x04034b50) local(dv, o);
    if (sig === 0x02014b50) central(dv, o);
  }
  return out;
}

/** Sets general-purpose flag bits in every local and central header of a zip (e.g. 1 = encrypted). */
export function setZipFlags(z: Uint8Array, bits: number): Uint8Array {
  return patchZipHeaders(z, (dv, o) => dv.setUint16(o + 6, dv.getUint16(o + 6, true) | bits, true), (dv, o) => dv.setUint16(o + 8, dv.getUint16(o + 8, true) | bits, true));
}

/** Sets the compression method of every member of a zip (local and central headers), e.g. to one nobody implements. */
export function setZipMethod(z: Uint8Array, method: number): Uint8Array {
  return patchZipHeaders(z, (dv, o) => dv.setUint16(o + 8, method, true), (dv, o) => dv.setUint16(o + 10, method, true));
}

/** Sets the stated unpacked size of every member of a zip (local and central headers), e.g. to a lie. */
export function setZipSize(z: Uint8Array, size: number): Uint8Array {
  return patchZipHeaders(z, (dv, o) => dv.setUint32(o + 22, size, true), (dv, o) => dv.setUint32(o + 24, size, true));
}

/** A zip whose central directory lists `copies` members that all point at the one stored local entry. */
export function overlappingZip(data: Uint8Array, copies: number): Uint8Array {
  const one = zip({ a: data }, 0);
  const dv = new DataView(one.buffer);
  const eocd = one.length - 22;
  const cdOffset = dv.getUint32(eocd + 16, true);
  const cdSize = dv.getUint32(eocd + 12, true);
  const local = one.subarray(0, cdOffset);
  const central = one.subarray(cdOffset, cdOffset + cdSize);
  const cds = Array.from({ length: copies }, (_, i) => {
    const c = central.slice();
    c[46] = 0x61 + i; // distinct names a, b, c …
    return c;
  });
  const end = one.slice(eocd);
  const edv = new DataView(end.buffer);
  edv.setUint16(8, copies, true);
  edv.setUint16(10, copies, true);
  edv.setUint32(12, cdSize * copies, true);
  return concat(local, ...cds, end);
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One tar header block (ustar) for `name` of `size` bytes and type flag. */
export function tarHeader(name: string, size: number, type = '0', prefix = ''): Uint8Array {
  const h = new Uint8Array(512);
  const put = (at: number, s: string): void => { h.set(enc(s).subarray(0, s.length), at); };
  put(0, name.slice(0, 100));
  put(100, octal(0o644, 8)); put(108, octal(0, 8)); put(116, octal(0, 8));
  put(124, octal(size, 12)); put(136, octal(0, 12));
  put(156, type); put(257, 'ustar\0'); put(263, '00'); put(345, prefix);
  put(148, '        ');
  let sum = 0;
  for (const b of h) sum += b;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

function padBlock(d: Uint8Array): Uint8Array {
  return concat(d, new Uint8Array((512 - (d.length % 512)) % 512));
}

export interface TarMember { readonly name: string; readonly data: Uint8Array; readonly style?: 'ustar' | 'gnu-long' | 'pax' | 'prefix' }

export function tar(members: readonly TarMember[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    if (m.style === 'gnu-long') {
      const nameBytes = enc(`${m.name}\0`);
      parts.push(tarHeader('././@LongLink', nameBytes.length, 'L'), padBlock(nameBytes));
      parts.push(tarHeader(m.name.slice(0, 99), m.data.length));
    } else if (m.style === 'pax') {
      const body = `path=${m.name}\n`;
      let len = body.length + 3;
      if (`${len} ${body}`.length !== len) len = `${len} ${body}`.length;
      const rec = enc(`${len} ${body}`);
      parts.push(tarHeader('PaxHeader', rec.length, 'x'), padBlock(rec));
      parts.push(tarHeader(m.name.slice(0, 99), m.data.length));
    } else if (m.style === 'prefix') {
      const cut = m.name.lastIndexOf('/');
      parts.push(tarHeader(m.name.slice(cut + 1), m.data.length, '0', m.name.slice(0, cut)));
    } else {
      parts.push(tarHeader(m.name, m.data.length));
    }
    parts.push(padBlock(m.data));
  }
  parts.push(new Uint8Array(1024));
  return concat(...parts);
}

export type CpioFormat = 'newc' | 'crc' | 'odc' | 'bin-le' | 'bin-be';

export function cpio(format: CpioFormat, members: readonly { name: string; data: Uint8Array; mode?: number }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  const push = (p: Uint8Array): void => { parts.push(p); at += p.length; };
  const pad = (a: number): void => { if (at % a !== 0) push(new Uint8Array(a - (at % a))); };
  const all = [...members, { name: 'TRAILER!!!', data: new Uint8Array(0), mode: 0 }];
  for (const m of all) {
    const mode = m.mode ?? 0o100644;
    const name = enc(`${m.name}\0`);
    if (format === 'newc' || format === 'crc') {
      const hex = (n: number): string => n.toString(16).padStart(8, '0');
      const fields = [1, mode, 0, 0, 1, 0, m.data.length, 0, 0, 0, 0, name.length, 0];
      push(enc((format === 'newc' ? '070701' : '070702') + fields.map(hex).join('')));
      push(name); pad(4); push(m.data); pad(4);
    } else if (format === 'odc') {
      const o = (n: number, w: number): string => n.toString(8).padStart(w, '0');
      push(enc(`070707${o(0, 6)}${o(1, 6)}${o(mode, 6)}${o(0, 6)}${o(0, 6)}${o(1, 6)}${o(0, 6)}${o(0, 11)}${o(name.length, 6)}${o(m.data.length, 11)}`));
      push(name); push(m.data);
    } else {
      const h = new Uint8Array(26);
      const dv = new DataView(h.buffer);
      const le = format === 'bin-le';
      const words = [0o070707, 0, 1, mode, 0, 0, 1, 0, 0, 0, name.length, Math.floor(m.data.length / 0x10000), m.data.length & 0xffff];
      words.forEach((w, i) => dv.setUint16(i * 2, w, le));
      push(h); push(name); pad(2); push(m.data); pad(2);
    }
  }
  return concat(...parts);
}

/** SZDD with every byte a literal (flag byte 0xFF before each 8). */
export function szdd(data: Uint8Array, missing = 'e'): Uint8Array {
  const header = new Uint8Array(14);
  header.set(enc('SZDD'), 0);
  header.set([0x88, 0xf0, 0x27, 0x33, 0x41, missing.charCodeAt(0)], 4);
  new DataView(header.buffer).setUint32(10, data.length, true);
  const body: number[] = [];
  for (let i = 0; i < data.length; i += 8) {
    body.push(0xff, ...data.subarray(i, i + 8));
  }
  return concat(header, new Uint8Array(body));
}

/** Everything a walk yields, split by kind. */
export async function collect(name: string, data: Uint8Array, options: WalkOptions = {}): Promise<{
  objects: { path: string; data: Uint8Array; type: string; depth: number }[];
  findings: { name: string; path: string; detail?: string }[];
}> {
  const objects: { path: string; data: Uint8Array; type: string; depth: number }[] = [];
  const findings: { name: string; path: string; detail?: string }[] = [];
  for await (const item of walk({ name, data }, options) as AsyncGenerator<WalkItem>) {
    if (item.kind === 'object') {
      objects.push({ path: item.node.path.join('/'), data: item.node.data, type: item.node.type.name, depth: item.node.depth });
    } else {
      const f = item.finding;
      findings.push(f.detail === undefined ? { name: f.name, path: f.path.join('/') } : { name: f.name, path: f.path.join('/'), detail: f.detail });
    }
  }
  return { objects, findings };
}

/** Deterministic pseudo-random numbers (mulberry32), so fuzz cases are repeatable: the decoders' test kit's generator. */
export { rng as seeded } from './decoders/testkit.js';

/** A minimal PE image (one 512-byte section, image ends at 0x400) with `overlay` appended. */
export function peWithOverlay(overlay: Uint8Array): Uint8Array {
  const image = new Uint8Array(0x400);
  const dv = new DataView(image.buffer);
  image.set(enc('MZ'), 0);
  dv.setUint32(0x3c, 0x40, true);
  image.set(enc('PE\0\0'), 0x40);
  dv.setUint16(0x40 + 6, 1, true); // sections
  dv.setUint16(0x40 + 20, 0, true); // size of optional header
  const section = 0x40 + 24;
  image.set(enc('.text'), section);
  dv.setUint32(section + 16, 0x200, true); // SizeOfRawData
  dv.setUint32(section + 20, 0x200, true); // PointerToRawData
  return concat(image, overlay);
}

/** InstallShield plain overlay records: name, path, version, decimal size, data. */
export function installShieldPlain(files: Record<string, Uint8Array>): Uint8Array {
  return concat(...Object.entries(files).flatMap(([name, data]) => [enc(`${name}\0Disk1\\${name}\0${'0.0.0.0'}\0${data.length}\0`), data]));
}

/** The obfuscated "InstallShield" layout, every file zlib-compressed, as setup.exe writes it. */
export function installShieldObfuscated(files: Record<string, Uint8Array>, obfuscate: (plain: Uint8Array, name: Uint8Array) => Uint8Array): Uint8Array {
  const header = new Uint8Array(46);
  header.set(enc('InstallShield\0'), 0);
  new DataView(header.buffer).setUint16(14, Object.keys(files).length, true);
  const parts: Uint8Array[] = [enc('NB10 debug info padding\0'), header];
  for (const [name, data] of Object.entries(files)) {
    const body = obfuscate(zlibSync(data), enc(name));
    const rec = new Uint8Array(312);
    rec.set(enc(name), 0);
    const dv = new DataView(rec.buffer);
    dv.setUint32(260, 6, true);
    dv.setBigUint64(268, BigInt(body.length), true);
    parts.push(rec, body);
  }
  return concat(...parts);
}

/** An EPOC release 6 SIS file with one simple file record, zlib-compressed. */
export function sis(name: string, data: Uint8Array): Uint8Array {
  const packed = zlibSync(data);
  const dst = new Uint8Array(Buffer.from(`!:\\sys\\bin\\${name}`, 'utf16le'));
  const head = new Uint8Array(0x66);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, 0x10000000, true); dv.setUint32(4, 0x10003a12, true); dv.setUint32(8, 0x10000419, true);
  dv.setUint16(0x12, 1, true); dv.setUint16(0x14, 1, true); dv.setUint16(0x24, 1, true);
  dv.setUint32(0x34, 0x66, true);
  const rec = new Uint8Array(48);
  const rv = new DataView(rec.buffer);
  const dstAt = 0x66 + rec.length;
  const dataAt = dstAt + dst.length;
  rv.setUint32(20, dst.length, true); rv.setUint32(24, dstAt, true);
  rv.setUint32(28, packed.length, true); rv.setUint32(32, dataAt, true); rv.setUint32(36, data.length, true);
  return concat(head, rec, dst, packed);
}

/** An InstallShield 9 cabinet set holding one compressed file: [data1.hdr, data1.cab]. */
export function isCabSet(name: string, data: Uint8Array): [Uint8Array, Uint8Array] {
  const common = (cdSize: number): Uint8Array => {
    const h = new Uint8Array(512);
    const dv = new DataView(h.buffer);
    h.set(enc('ISc('), 0);
    dv.setUint32(4, 0x01009500, true);
    dv.setUint32(12, 512, true);
    dv.setUint32(16, cdSize, true);
    return h;
  };
  const packed = deflateSync(data);
  const chunk = concat(new Uint8Array([packed.length & 0xff, packed.length >> 8]), packed);
  const cab = concat(common(0), chunk);
  const cd = new Uint8Array(0x200 + 16 + 0x57);
  const cdv = new DataView(cd.buffer);
  cdv.setUint32(0x0c, 0x200, true); // file table, relative to the descriptor
  cdv.setUint32(0x28, 1, true); // file count
  cdv.setUint32(0x2c, 16, true); // descriptors, relative to the file table
  cd.set(enc(`${name}\0`), 0x200);
  const fd = 0x200 + 16;
  cdv.setUint16(fd, 4, true); // compressed
  cdv.setUint32(fd + 2, data.length, true);
  cdv.setUint32(fd + 0x0a, chunk.length, true);
  cdv.setUint32(fd + 0x12, 512, true);
  cdv.setUint16(fd + 0x55, 1, true);
  return [concat(common(cd.length), cd), cab];
}

/**
 * A zip written as a stream writer does: deflated members with the
 * data-descriptor flag, sizes zero in the local headers and given after the
 * data. `central: false` leaves out the central directory (a cut download).
 */
export function streamedZip(files: Record<string, Uint8Array>, central = true): Uint8Array {
  const parts: Uint8Array[] = [];
  const cds: Uint8Array[] = [];
  let at = 0;
  for (const [name, data] of Object.entries(files)) {
    const packed = deflateSync(data);
    const nameBytes = enc(name);
    const local = new Uint8Array(30);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true); lv.setUint16(4, 20, true); lv.setUint16(6, 0x0008, true); lv.setUint16(8, 8, true);
    lv.setUint16(26, nameBytes.length, true);
    const desc = new Uint8Array(16);
    const dv = new DataView(desc.buffer);
    dv.setUint32(0, 0x08074b50, true); dv.setUint32(8, packed.length, true); dv.setUint32(12, data.length, true);
    const cd = new Uint8Array(46);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true); cv.setUint16(8, 0x0008, true); cv.setUint16(10, 8, true);
    cv.setUint32(20, packed.length, true); cv.setUint32(24, data.length, true); cv.setUint16(28, nameBytes.length, true);
    cv.setUint32(42, at, true);
    cds.push(cd, nameBytes);
    parts.push(local, nameBytes, packed, desc);
    at += local.length + nameBytes.length + packed.length + desc.length;
  }
  if (!central) return concat(...parts);
  const cdBytes = concat(...cds);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, Object.keys(files).length, true); ev.setUint16(10, Object.keys(files).length, true);
  ev.setUint32(12, cdBytes.length, true); ev.setUint32(16, at, true);
  return concat(...parts, cdBytes, end);
}

/** A one-member stored zip in zip64 form: 0xFFFFFFFF sizes and offset with the zip64 extra field, zip64 end records. */
export function zip64(name: string, data: Uint8Array): Uint8Array {
  const nameBytes = enc(name);
  const local = new Uint8Array(30);
  const lv = new DataView(local.buffer);
  lv.setUint32(0, 0x04034b50, true); lv.setUint16(4, 45, true);
  // As zip64 writers do: the real sizes only in the central directory's extra field, so only a zip64 reader gets them.
  lv.setUint32(18, 0xffffffff, true); lv.setUint32(22, 0xffffffff, true); lv.setUint16(26, nameBytes.length, true);
  const extra = new Uint8Array(4 + 24);
  const xv = new DataView(extra.buffer);
  xv.setUint16(0, 0x0001, true); xv.setUint16(2, 24, true);
  xv.setBigUint64(4, BigInt(data.length), true); xv.setBigUint64(12, BigInt(data.length), true); xv.setBigUint64(20, 0n, true);
  const cd = new Uint8Array(46);
  const cv = new DataView(cd.buffer);
  cv.setUint32(0, 0x02014b50, true); cv.setUint16(6, 45, true);
  cv.setUint32(20, 0xffffffff, true); cv.setUint32(24, 0xffffffff, true); cv.setUint16(28, nameBytes.length, true);
  cv.setUint16(30, extra.length, true); cv.setUint32(42, 0xffffffff, true);
  const localPart = concat(local, nameBytes, data);
  const cdPart = concat(cd, nameBytes, extra);
  const z64 = new Uint8Array(56);
  const zv = new DataView(z64.buffer);
  zv.setUint32(0, 0x06064b50, true); zv.setBigUint64(4, 44n, true);
  zv.setBigUint64(24, 1n, true); zv.setBigUint64(32, 1n, true);
  zv.setBigUint64(40, BigInt(cdPart.length), true); zv.setBigUint64(48, BigInt(localPart.length), true);
  const locator = new Uint8Array(20);
  const lcv = new DataView(locator.buffer);
  lcv.setUint32(0, 0x07064b50, true); lcv.setBigUint64(8, BigInt(localPart.length + cdPart.length), true); lcv.setUint32(16, 1, true);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, 0xffff, true); ev.setUint16(10, 0xffff, true);
  ev.setUint32(12, 0xffffffff, true); ev.setUint32(16, 0xffffffff, true);
  return concat(localPart, cdPart, z64, locator, end);
}

/**
 * An AutoIt LZSS stream ("EA05"/"EA06", big-endian size, MSB-first bits):
 * `data` as literals, then one match repeating its last 4 bytes (offset 4,
 * length 4), so the output is data + its last 4 bytes.
 */
export function au3Lzss(data: Uint8Array, magic: 'EA05' | 'EA06'): Uint8Array {
  const literal = magic === 'EA05' ? 0 : 1;
  const bits: number[] = [];
  const put = (v: number, n: number): void => { for (let i = n - 1; i >= 0; i--) bits.push((v >> i) & 1); };
  for (const b of data) { put(literal, 1); put(b, 8); }
  put(1 - literal, 1); put(4, 15); put(1, 2);
  while (bits.length % 8 !== 0) bits.push(0);
  const out = new Uint8Array(8 + bits.length / 8);
  out.set(enc(magic), 0);
  new DataView(out.buffer).setUint32(4, data.length + 4, false);
  bits.forEach((bit, i) => { out[8 + (i >> 3)] = (out[8 + (i >> 3)] ?? 0) | (bit << (7 - (i & 7))); });
  return out;
}

export interface Au3Member { readonly subtype: string; readonly name: string; readonly content: Uint8Array; readonly compressed: boolean }

/**
 * The record stream of a compiled AutoIt script, marker first; `mask` is the
 * version's keystream XOR (the extractor's own `unmask`, which is its own
 * inverse) and `keys` its constants.
 */
export function au3Script(
  version: { readonly marker: string; readonly unicode: boolean; readonly checksum: boolean; readonly tag: number; readonly subtype: readonly [number, number]; readonly name: readonly [number, number]; readonly size: number; readonly content: number },
  members: readonly Au3Member[],
  mask: (bytes: Uint8Array, seed: number) => Uint8Array,
): Uint8Array {
  const head = Uint8Array.from({ length: 16 }, (_, i) => i * 7);
  const checksum = version.checksum ? head.reduce((a, x) => a + x, 0) : 0;
  const u32 = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n >>> 0, true); return b; };
  const str = (s: string, keys: readonly [number, number]): Uint8Array => {
    const bytes = version.unicode ? new Uint8Array(Buffer.from(s, 'utf16le')) : enc(s);
    return concat(u32(s.length ^ keys[0]), mask(bytes, (s.length + keys[1]) >>> 0));
  };
  const parts: Uint8Array[] = [enc(version.marker), head];
  for (const m of members) {
    parts.push(mask(enc('FILE'), version.tag), str(m.subtype, version.subtype), str(m.name, version.name));
    parts.push(new Uint8Array([m.compressed ? 1 : 0]), u32(m.content.length ^ version.size), u32(0), u32(0), new Uint8Array(16));
    parts.push(mask(m.content, (checksum + version.content) >>> 0));
  }
  return concat(...parts);
}
