import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectType, detectTypeAsync } from './filetype.js';
import { Target } from '../engine/types.js';
import { SAMPLE_7Z, SAMPLE_BZ2, SAMPLE_XZ, SAMPLE_ZSTD, ar, concat, cpio, enc, gzip, peWithOverlay, sis, szdd, tar, zip } from './testing.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const pad = (d: Uint8Array, n = 64): Uint8Array => concat(d, new Uint8Array(n));

const CASES: readonly { name: string; data: () => Uint8Array; type: string; target?: number }[] = [
  { name: 'PE (MZ + PE header)', data: () => peWithOverlay(new Uint8Array(0)), type: 'pe', target: Target.PE },
  { name: 'ELF', data: () => pad(bytes(0x7f, 0x45, 0x4c, 0x46, 2, 1, 1)), type: 'elf', target: Target.ELF },
  { name: 'Mach-O 64', data: () => pad(bytes(0xcf, 0xfa, 0xed, 0xfe)), type: 'macho', target: Target.MachO },
  { name: 'Java class (CAFEBABE, major 52)', data: () => pad(bytes(0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52)), type: 'java', target: Target.Java },
  { name: 'fat Mach-O (CAFEBABE, 2 archs)', data: () => pad(bytes(0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2)), type: 'macho', target: Target.MachO },
  { name: 'zip', data: () => zip({ a: enc('x') }), type: 'zip' },
  { name: 'empty zip', data: () => zip({}), type: 'zip' },
  { name: 'gzip', data: () => gzip(enc('x')), type: 'gzip' },
  { name: 'bzip2', data: () => SAMPLE_BZ2, type: 'bzip2' },
  { name: 'xz', data: () => SAMPLE_XZ, type: 'xz' },
  { name: '7z', data: () => SAMPLE_7Z, type: '7z' },
  { name: 'tar (ustar)', data: () => tar([{ name: 'a', data: enc('x') }]), type: 'tar' },
  { name: 'cpio newc', data: () => cpio('newc', [{ name: 'a', data: enc('x') }]), type: 'cpio' },
  { name: 'cpio odc', data: () => cpio('odc', [{ name: 'a', data: enc('x') }]), type: 'cpio' },
  { name: 'cpio binary LE', data: () => cpio('bin-le', [{ name: 'a', data: enc('x') }]), type: 'cpio' },
  { name: 'cpio binary BE', data: () => cpio('bin-be', [{ name: 'a', data: enc('x') }]), type: 'cpio' },
  { name: 'SZDD', data: () => szdd(enc('x')), type: 'szdd' },
  { name: 'SIS', data: () => sis('a', enc('x')), type: 'sis' },
  { name: 'zstd', data: () => SAMPLE_ZSTD, type: 'zstd' },
  { name: 'ar (.deb)', data: () => ar({ a: enc('x') }), type: 'ar' },
  { name: 'RPM', data: () => pad(bytes(0xed, 0xab, 0xee, 0xdb, 3, 0)), type: 'rpm' },
  { name: 'Unix compress (.Z)', data: () => pad(bytes(0x1f, 0x9d, 0x90)), type: 'compress' },
  { name: 'XAR (.pkg)', data: () => pad(concat(enc('xar!'), bytes(0, 0x1c))), type: 'xar' },
  { name: 'WIM', data: () => pad(concat(enc('MSWIM'), bytes(0, 0, 0))), type: 'wim' },
  { name: 'SquashFS', data: () => pad(enc('hsqs')), type: 'squashfs' },
  { name: 'CAB', data: () => pad(enc('MSCF\0\0\0\0')), type: 'cab' },
  { name: 'RAR', data: () => pad(concat(enc('Rar!'), bytes(0x1a, 7, 0))), type: 'rar' },
  { name: 'ARJ', data: () => pad(bytes(0x60, 0xea, 0x26, 0, 0x22, 0x0b, 1, 2, 0x10, 0, 2)), type: 'arj' },
  { name: 'CHM', data: () => pad(enc('ITSF\x03\0\0\0')), type: 'chm' },
  { name: 'OLE2', data: () => pad(bytes(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1)), type: 'ole2', target: Target.OLE2 },
  { name: 'TNEF', data: () => pad(bytes(0x78, 0x9f, 0x3e, 0x22, 0, 0)), type: 'tnef' },
  { name: 'PDF', data: () => enc('%PDF-1.4\n1 0 obj\n'), type: 'pdf', target: Target.PDF },
  { name: 'PDF after junk', data: () => concat(bytes(0, 1, 2, 3), enc('%PDF-1.7\n')), type: 'pdf', target: Target.PDF },
  { name: 'RTF', data: () => enc('{\\rtf1\\ansi hello}'), type: 'rtf' },
  { name: 'BinHex', data: () => enc('(This file must be converted with BinHex 4.0)\n:abc'), type: 'binhex' },
  { name: 'mail (RFC 5322 headers)', data: () => enc('From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody'), type: 'mail', target: Target.Mail },
  { name: 'mbox', data: () => enc('From a@example.com Thu Jul 31 13:49:50 2008\nFrom: a@example.com\nMIME-Version: 1.0\n\nbody'), type: 'mail', target: Target.Mail },
  { name: 'text with one header-like line stays text', data: () => enc('Note: this is a memo\nnothing else\n'), type: 'text', target: Target.Ascii },
  { name: 'HTML by doctype', data: () => enc('<!DOCTYPE html><html><body>x</body></html>'), type: 'html', target: Target.HTML },
  { name: 'HTML fragment starting with a link', data: () => enc('<a href="data:application/octet-stream;base64,TVo=">x</a>'), type: 'html', target: Target.HTML },
  { name: 'HTML script later in the text', data: () => enc('hello\n<script>alert(1)</script>'), type: 'html', target: Target.HTML },
  { name: 'plain text', data: () => enc('just some words\nand more\n'), type: 'text', target: Target.Ascii },
  { name: 'JPEG', data: () => pad(bytes(0xff, 0xd8, 0xff, 0xe0)), type: 'jpeg', target: Target.Graphics },
  { name: 'PNG', data: () => pad(concat(bytes(0x89), enc('PNG\r\n\x1a\n'))), type: 'png', target: Target.Graphics },
  { name: 'GIF', data: () => pad(enc('GIF89a')), type: 'gif', target: Target.Graphics },
  { name: 'SWF', data: () => pad(enc('FWS\x0a')), type: 'swf', target: Target.Flash },
  { name: 'random binary', data: () => bytes(0, 1, 2, 3, 250, 251, 252, 0, 0, 7), type: 'binary', target: Target.Any },
  { name: 'empty', data: () => new Uint8Array(0), type: 'binary', target: Target.Any },
  { name: 'a text starting with 07070 is not cpio', data: () => enc('0707012345 is my number\n'), type: 'text' },
  { name: 'binary starting with the cpio magic but no name is not cpio', data: () => bytes(0xc7, 0x71, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 0xff, 0xff, 0, 0, 0, 0, 0), type: 'binary' },
  { name: 'LZH', data: () => pad(concat(bytes(0x20, 0x00), enc('-lh5-'))), type: 'lzh' },
  { name: 'text with -lh at offset 2 is not LZH', data: () => enc('# -lh means human sizes\n'), type: 'text' },
  { name: '"BM" text is not a bitmap', data: () => enc('BMW cars are fast\n'), type: 'text' },
];

for (const c of CASES) {
  test(`detectType: ${c.name}`, () => {
    const t = detectType(c.data());
    assert.equal(t.name, c.type);
    if (c.target !== undefined) assert.equal(t.target, c.target);
  });
}

test('detectType looks only at the head: a 32 MiB text file is classified fast', () => {
  const big = new Uint8Array(32 * 1024 * 1024).fill(0x61);
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) detectType(big);
  const per = (performance.now() - t0) / 100;
  assert.equal(detectType(big).name, 'text');
  assert.ok(per < 5, `detectType took ${per.toFixed(2)} ms per call`);
});

test('detectTypeAsync refines binary through file-type and keeps our own answers', async () => {
  const webp = concat(enc('RIFF'), bytes(30, 0, 0, 0), enc('WEBPVP8 '), new Uint8Array(30));
  assert.equal((await detectTypeAsync(webp)).name, 'webp');
  assert.equal((await detectTypeAsync(webp)).target, Target.Graphics);
  assert.equal((await detectTypeAsync(zip({ a: enc('x') }))).name, 'zip');
  assert.equal((await detectTypeAsync(bytes(0, 1, 2, 3, 4, 5, 6, 7))).name, 'binary');
});
