import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EA05, EA06, Mt, unmask } from './autoit.js';
import { headersEncrypted } from './sevenzip.js';
import {
  SAMPLE_7Z, SAMPLE_7Z_ENCRYPTED, SAMPLE_7Z_HEADERS_ENCRYPTED, SAMPLE_ZSTD, ar, au3Lzss, au3Script, SAMPLE_BZ2, SAMPLE_TEXT, SAMPLE_XZ, collect, concat, cpio, dec, enc, gzip, overlappingZip,
  installShieldObfuscated, installShieldPlain, isCabSet, peWithOverlay, setZipFlags, setZipMethod, setZipSize, seeded, sis, streamedZip, szdd, tar, zip, zip64, type CpioFormat,
} from '../testing.js';

const A = enc('first member: alpha alpha alpha\n');
const B = enc('second member: bravo\n');
/** Incompressible: packs to more than the zip extractor inflates in one call. */
const RANDOM = (() => { const r = seeded(7); return Uint8Array.from({ length: 48 * 1024 }, () => Math.floor(r() * 256)); })();

interface Case {
  readonly name: string;
  readonly file: string;
  readonly input: () => Uint8Array;
  /** path (names joined with "/") → text expected there. */
  readonly objects: Readonly<Record<string, string>>;
  /** "finding-name@path" expected exactly (sorted). */
  readonly findings?: readonly string[];
}

const cpioCase = (format: CpioFormat): Case => ({
  name: `cpio ${format}`,
  file: `x.${format}.cpio`,
  input: () => cpio(format, [{ name: 'dir', data: new Uint8Array(0), mode: 0o040755 }, { name: 'dir/a.txt', data: A }, { name: 'b', data: B }]),
  objects: { [`x.${format}.cpio/dir/a.txt`]: dec(A), [`x.${format}.cpio/b`]: dec(B) },
});

const CASES: readonly Case[] = [
  { name: 'zip deflate', file: 'a.zip', input: () => zip({ 'a.txt': A, 'sub/b.txt': B }), objects: { 'a.zip/a.txt': dec(A), 'a.zip/sub/b.txt': dec(B) } },
  // Small members are inflated into a buffer of their stated size; a wrong size must not lose bytes.
  { name: 'zip deflate member stating fewer bytes than it holds', file: 'l.zip', input: () => setZipSize(zip({ 'a.txt': A }), 5), objects: { 'l.zip/a.txt': dec(A) } },
  { name: 'zip deflate member stating more bytes than it holds', file: 'm.zip', input: () => setZipSize(zip({ 'a.txt': A }), 4000), objects: { 'm.zip/a.txt': dec(A) } },
  { name: 'zip deflate member stating zero bytes', file: 'z.zip', input: () => setZipSize(zip({ 'a.txt': A }), 0), objects: { 'z.zip/a.txt': dec(A) } },
  { name: 'zip deflate member too big to inflate in one call', file: 'r.zip', input: () => zip({ 'r.bin': RANDOM }), objects: { 'r.zip/r.bin': dec(RANDOM) } },
  { name: 'zip stored', file: 'a.zip', input: () => zip({ 'a.txt': A }, 0), objects: { 'a.zip/a.txt': dec(A) } },
  { name: 'zip with an SFX stub in front', file: 'sfx.bin', input: () => concat(new Uint8Array(300).fill(0), zip({ 'a.txt': A })), objects: { 'sfx.bin/a.txt': dec(A) } },
  {
    name: 'zip without central directory (local headers only)', file: 'cut.zip',
    input: () => { const z = zip({ 'a.txt': A, 'b.txt': B }); return z.subarray(0, z.length - 22 - 2 * 46 - 10); },
    objects: { 'cut.zip/a.txt': dec(A), 'cut.zip/b.txt': dec(B) },
  },
  { name: 'zip with data descriptors', file: 's.zip', input: () => streamedZip({ 'a.txt': A, 'b.txt': B }), objects: { 's.zip/a.txt': dec(A), 's.zip/b.txt': dec(B) } },
  {
    name: 'zip with data descriptors and no central directory', file: 's.zip', input: () => streamedZip({ 'a.txt': A, 'b.txt': B }, false),
    objects: { 's.zip/a.txt': dec(A), 's.zip/b.txt': dec(B) },
  },
  { name: 'zip64', file: 'z.zip', input: () => zip64('big.txt', A), objects: { 'z.zip/big.txt': dec(A) } },
  { name: 'empty zip', file: 'e.zip', input: () => zip({}), objects: {} },
  {
    name: 'zip encrypted member', file: 'enc.zip', input: () => setZipFlags(zip({ 'secret.txt': A }), 1),
    objects: {}, findings: ['Heuristics.Encrypted.Zip@enc.zip/secret.txt'],
  },
  {
    name: 'zip member in a method nobody implements', file: 'm.zip', input: () => setZipMethod(zip({ 'a.txt': A }, 0), 200),
    objects: {}, findings: ['Heuristics.Unscannable.Zip.UnsupportedMethod@m.zip/a.txt'],
  },
  {
    name: 'zip overlapping members', file: 'ov.zip', input: () => overlappingZip(A, 3),
    objects: { 'ov.zip/a': dec(A) }, findings: ['Heuristics.Zip.OverlappingFiles@ov.zip'],
  },
  { name: 'zip in zip', file: 'outer.zip', input: () => zip({ 'inner.zip': zip({ 'deep.txt': A }) }), objects: { 'outer.zip/inner.zip/deep.txt': dec(A) } },
  { name: 'gzip with FNAME', file: 'x.gz', input: () => gzip(A, 'named.txt'), objects: { 'x.gz/named.txt': dec(A) } },
  { name: 'gzip named from container', file: 'report.txt.gz', input: () => gzip(A), objects: { 'report.txt.gz/report.txt': dec(A) } },
  { name: 'gzip multi-member', file: 'm.gz', input: () => concat(gzip(A), gzip(B)), objects: { 'm.gz/m': dec(A) + dec(B) } },
  { name: 'gzip trailing zeros ignored', file: 'p.gz', input: () => concat(gzip(A), new Uint8Array(64)), objects: { 'p.gz/p': dec(A) } },
  {
    name: 'tar.gz', file: 'x.tar.gz', input: () => gzip(tar([{ name: 'a.txt', data: A }, { name: 'b.txt', data: B }])),
    objects: { 'x.tar.gz/x.tar/a.txt': dec(A), 'x.tar.gz/x.tar/b.txt': dec(B) },
  },
  {
    name: 'tar name styles (ustar prefix, GNU long name, pax path)', file: 't.tar',
    input: () => tar([
      { name: 'some/dir/p.txt', data: A, style: 'prefix' },
      { name: `${'long/'.repeat(30)}g.txt`, data: B, style: 'gnu-long' },
      { name: `${'pax/'.repeat(30)}x.txt`, data: A, style: 'pax' },
    ]),
    objects: { 't.tar/some/dir/p.txt': dec(A), [`t.tar/${'long/'.repeat(30)}g.txt`]: dec(B), [`t.tar/${'pax/'.repeat(30)}x.txt`]: dec(A) },
  },
  { name: 'bzip2', file: 'p.txt.bz2', input: () => SAMPLE_BZ2, objects: { 'p.txt.bz2/p.txt': SAMPLE_TEXT } },
  { name: 'bzip2 multi-stream', file: 'p.bz2', input: () => concat(SAMPLE_BZ2, SAMPLE_BZ2), objects: { 'p.bz2/p': SAMPLE_TEXT + SAMPLE_TEXT } },
  { name: 'xz', file: 'p.txt.xz', input: () => SAMPLE_XZ, objects: { 'p.txt.xz/p.txt': SAMPLE_TEXT } },
  { name: '7z (7-Zip in wasm)', file: 'p.7z', input: () => SAMPLE_7Z, objects: { 'p.7z/payload.txt': SAMPLE_TEXT } },
  {
    name: '7z encrypted', file: 'e.7z', input: () => SAMPLE_7Z_ENCRYPTED,
    objects: {}, findings: ['Heuristics.Encrypted.7z@e.7z/payload.txt'],
  },
  {
    name: '7z with encrypted names', file: 'h.7z', input: () => SAMPLE_7Z_HEADERS_ENCRYPTED,
    objects: {}, findings: ['Heuristics.Encrypted.7z@h.7z'],
  },
  { name: 'zstd (7-Zip)', file: 'p.txt.zst', input: () => SAMPLE_ZSTD, objects: { 'p.txt.zst/p.txt': SAMPLE_TEXT } },
  {
    name: 'ar, as in a .deb, with tar.gz members', file: 'pkg.deb',
    // The control scripts must be reached too, not only data.tar.
    input: () => ar({
      'debian-binary': enc('2.0\n'),
      'control.tar.gz': gzip(tar([{ name: './postinst', data: B }])),
      'data.tar.gz': gzip(tar([{ name: './usr/bin/tool', data: A }])),
    }),
    objects: { 'pkg.deb/control.tar.gz/control.tar/./postinst': dec(B), 'pkg.deb/data.tar.gz/data.tar/./usr/bin/tool': dec(A) },
  },
  {
    name: 'ar, as in a .deb, with a zstd member (the member, not the .deb, goes to 7-Zip)', file: 'z.deb',
    input: () => ar({ 'debian-binary': enc('2.0\n'), 'data.tar.zst': SAMPLE_ZSTD }),
    objects: { 'z.deb/debian-binary': '2.0\n', 'z.deb/data.tar.zst/data.tar': SAMPLE_TEXT },
  },
  cpioCase('newc'), cpioCase('crc'), cpioCase('odc'), cpioCase('bin-le'), cpioCase('bin-be'),
  { name: 'SZDD named by the missing character', file: 'setup.ex_', input: () => szdd(A, 'e'), objects: { 'setup.ex_/setup.exe': dec(A) } },
  {
    name: 'SZDD with a back-reference', file: 'r.szdd',
    // "abcabcabc": literals a b c, then window position 4080 (where "abc" starts) length 6.
    input: () => concat(enc('SZDD'), new Uint8Array([0x88, 0xf0, 0x27, 0x33, 0x41, 0x78, 9, 0, 0, 0, 0x07, 0x61, 0x62, 0x63, 0xf0, 0xf3])),
    objects: { 'r.szdd/r': 'abcabcabc' },
  },
  { name: 'Symbian SIS (release 6, zlib)', file: 'app.sis', input: () => sis('app.exe', A), objects: { 'app.sis/app.exe': dec(A) } },
  {
    name: 'InstallShield plain overlay records', file: 'setup.exe', input: () => peWithOverlay(installShieldPlain({ 'a.exe': A, 'b.ini': B })),
    objects: { 'setup.exe/Disk1/a.exe': dec(A), 'setup.exe/Disk1/b.ini': dec(B) },
  },
  {
    name: 'InstallShield obfuscated records', file: 'setup.exe',
    input: () => peWithOverlay(installShieldObfuscated({ 'a.exe': A, 'b.ini': B }, obfuscateForTest)),
    objects: { 'setup.exe/a.exe': dec(A), 'setup.exe/b.ini': dec(B) },
  },
  ...([EA05, EA06] as const).map((v): Case => ({
    name: `AutoIt ${v.marker}: a script and a FileInstall member, stored and compressed`, file: 'tool.exe',
    input: () => peWithOverlay(au3Script(v, [
      { subtype: '>>>AUTOIT SCRIPT<<<', name: 'script', content: B, compressed: false },
      { subtype: 'FILE', name: 'C:\\tmp\\payload.exe', content: au3Lzss(A, v.marker === 'AU3!EA05' ? 'EA05' : 'EA06'), compressed: true },
    ], (bytes, seed) => unmask(bytes, seed, v))),
    objects: { 'tool.exe/autoit script 1': dec(B), 'tool.exe/payload.exe': dec(A) + dec(A).slice(-4) },
  })),
  {
    name: 'InstallShield cabinet set (data1.hdr + data1.cab) among the records', file: 'setup.exe',
    input: () => { const [hdr, cab] = isCabSet('a.exe', A); return peWithOverlay(installShieldPlain({ 'data1.hdr': hdr, 'data1.cab': cab })); },
    objects: { 'setup.exe/Disk1/a.exe': dec(A) },
  },
];

/** The setup.exe side: c = swap-nibbles(NOT p XOR key), the inverse of what the extractor undoes. */
function obfuscateForTest(plain: Uint8Array, name: Uint8Array): Uint8Array {
  const magic = [0x13, 0x35, 0x86, 0x07];
  const key = name.map((b, i) => b ^ (magic[i % 4] ?? 0));
  return plain.map((p, i) => {
    const x = (~p ^ (key[(i % 1024) % key.length] ?? 0)) & 0xff;
    return ((x << 4) | (x >> 4)) & 0xff;
  });
}

for (const c of CASES) {
  test(`extracts: ${c.name}`, async () => {
    const { objects, findings } = await collect(c.file, c.input());
    assert.equal(objects[0]?.path, c.file, 'the root comes first');
    const leaves = Object.fromEntries(objects.slice(1).filter((o) => o.path in c.objects).map((o) => [o.path, dec(o.data)]));
    assert.deepEqual(leaves, c.objects);
    assert.deepEqual(findings.map((f) => `${f.name}@${f.path}`).sort(), [...(c.findings ?? [])].sort());
  });
}

test('cpio: a member cut short is scanned and the archive reported broken', async () => {
  const full = cpio('newc', [{ name: 'a.txt', data: A }]);
  const { objects, findings } = await collect('cut.cpio', full.subarray(0, 116 + 10));
  assert.equal(dec(objects[1]?.data ?? new Uint8Array(0)), dec(A).slice(0, 10));
  assert.deepEqual(findings.map((f) => f.name), ['Heuristics.Broken.CPIO']);
});

test('tar: a bad header checksum ends the archive as broken', async () => {
  const t = tar([{ name: 'a.txt', data: A }, { name: 'b.txt', data: B }]);
  t[1024 + 10] = 0x21; // second header's name changes, its checksum does not
  const { objects, findings } = await collect('bad.tar', t);
  assert.deepEqual(objects.map((o) => o.path), ['bad.tar', 'bad.tar/a.txt']);
  assert.deepEqual(findings.map((f) => f.name), ['Heuristics.Broken.Tar']);
});

test('zip: a deflate member with corrupt data is reported broken, not thrown', async () => {
  const z = zip({ 'a.txt': enc('x'.repeat(5000) + 'y'.repeat(5000)) });
  z.fill(0xff, 40, 43);
  const { findings } = await collect('bad.zip', z);
  assert.ok(findings.some((f) => f.name === 'Heuristics.Broken.Zip'), JSON.stringify(findings));
});

test('headersEncrypted: 7z -mhe, RAR 4 password flag, RAR 5 encryption header; plain archives are not', () => {
  const rar4 = (flags: number): Uint8Array => concat(enc('Rar!\x1a\x07\x00'), new Uint8Array([0, 0, 0x73, flags & 0xff, flags >> 8, 13, 0]));
  const rar5 = (type: number): Uint8Array => concat(enc('Rar!\x1a\x07\x01\x00'), new Uint8Array([1, 2, 3, 4, 12, type, 0, 0]));
  const table: [string, Uint8Array, boolean][] = [
    ['7z -mhe', SAMPLE_7Z_HEADERS_ENCRYPTED, true],
    ['7z encrypted data, plain names', SAMPLE_7Z_ENCRYPTED, false],
    ['7z plain', SAMPLE_7Z, false],
    ['RAR 4 with password flag', rar4(0x0080), true],
    ['RAR 4 without', rar4(0x0000), false],
    ['RAR 5 encryption header', rar5(4), true],
    ['RAR 5 main header', rar5(1), false],
  ];
  for (const [name, data, expected] of table) assert.equal(headersEncrypted(data), expected, name);
});

test('AutoIt EA05 keystream is MT19937: reference outputs for seed 5489, shifted right by one', () => {
  // genrand_int32 for the reference seed 5489 starts 3499211612, 581869302, 3890346734.
  const mt = new Mt(5489);
  assert.deepEqual([mt.nextByte(), mt.nextByte(), mt.nextByte()], [3499211612, 581869302, 3890346734].map((n) => (n >>> 1) & 0xff));
});

/** Cut in the middle of member data: each format must say so, not pass silently. */
const LONG = enc('a member long enough to be cut in the middle of its data. '.repeat(40));
const TRUNCATED: readonly { name: string; file: string; input: () => Uint8Array; cut: number; finding: string }[] = [
  { name: 'zip (deflate)', file: 't.zip', input: () => zip({ 'a.txt': LONG, 'b.txt': B }), cut: 0.3, finding: 'Heuristics.Broken.Zip' },
  { name: 'zip (stored)', file: 't.zip', input: () => zip({ 'a.txt': LONG }, 0), cut: 0.5, finding: 'Heuristics.Broken.Zip' },
  { name: 'gzip', file: 't.gz', input: () => gzip(LONG), cut: 0.5, finding: 'Heuristics.Broken.GZip' },
  { name: 'bzip2', file: 't.bz2', input: () => SAMPLE_BZ2, cut: 0.6, finding: 'Heuristics.Broken.BZip2' },
  { name: 'xz', file: 't.xz', input: () => SAMPLE_XZ, cut: 0.6, finding: 'Heuristics.Broken.XZ' },
  { name: 'tar', file: 't.tar', input: () => tar([{ name: 'a.txt', data: LONG }]), cut: 0.4, finding: 'Heuristics.Broken.Tar' },
  { name: '7z', file: 't.7z', input: () => SAMPLE_7Z, cut: 0.5, finding: 'Heuristics.Broken.7z' },
  { name: 'SZDD', file: 't.ex_', input: () => szdd(LONG), cut: 0.5, finding: 'Heuristics.Broken.SZDD' },
  { name: 'SIS', file: 't.sis', input: () => sis('a.exe', LONG), cut: 0.8, finding: 'Heuristics.Broken.SIS' },
];

for (const c of TRUNCATED) {
  test(`a cut ${c.name} is reported broken, its root still scanned`, async () => {
    const full = c.input();
    const { objects, findings } = await collect(c.file, full.subarray(0, Math.floor(full.length * c.cut)));
    assert.equal(objects[0]?.path, c.file);
    assert.ok(findings.some((f) => f.name === c.finding), `expected ${c.finding}, got ${JSON.stringify(findings)}`);
  });
}
