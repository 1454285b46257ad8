/**
 * The mail and document extractors on golden inputs built in code: each
 * case walks the input with our extractors only (recursively, as the walker
 * will) and checks that the payload is reached under the expected name.
 * Then truncated, corrupted and random (seeded) inputs, which must never
 * throw, and the byte limits, which must be reported.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { describe, test } from 'node:test';
import CFB from 'cfb';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import type { ExtractContext, Extractor, FileType } from '../types.js';
import { ascii, binhexEncode, concatBytes, corrupt, randomBytes, rng, tnefBuild, uuencode, yencode } from '../decoders/testkit.js';
import { documentExtractors } from './documents.js';
import { mimeExtractor } from './mime.js';
import { tnefExtractor } from './tnef.js';
import { decodeMsiName } from './ole2.js';

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');
/** A stand-in for an executable: MZ and seeded noise. */
const PAYLOAD = concatBytes([ascii('MZ'), randomBytes(rng(99), 700)]);
const b64 = (b: Uint8Array): string => (Buffer.from(b).toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');

const TYPES: Readonly<Record<string, FileType>> = Object.fromEntries(
  ['mail', 'text', 'binary', 'html', 'pdf', 'rtf', 'ole2', 'tnef', 'binhex'].map((n) => [n, { name: n, target: 0, container: true }]),
);

function context(over: Partial<Limits> = {}, remaining = 1 << 26): { ctx: ExtractContext; reports: string[] } {
  const reports: string[] = [];
  const ctx: ExtractContext = {
    limits: { ...DEFAULT_LIMITS, ...over },
    remainingScanBytes: () => remaining,
    report: (name, child) => reports.push(child === undefined ? name : `${name} ${child}`),
  };
  return { ctx, reports };
}

/** Every path (names joined by " › ") our extractors reach, with the md5 of its bytes. */
async function walk(data: Uint8Array, type: string, ctx: ExtractContext, depth = 0): Promise<{ path: string; md5: string }[]> {
  const out: { path: string; md5: string }[] = [];
  if (depth > 6) return out;
  const t = TYPES[type] as FileType;
  for (const ex of documentExtractors) {
    if (!ex.accepts(t, data)) continue;
    for await (const child of ex.extract(data, ctx)) {
      out.push({ path: child.name, md5: md5(child.data) });
      for (const inner of await walk(child.data, sniff(child.data), ctx, depth + 1)) out.push({ path: `${child.name} › ${inner.path}`, md5: inner.md5 });
    }
  }
  return out;
}

/** A rough type guess standing in for filetype.ts in these tests. */
function sniff(b: Uint8Array): string {
  const head = Buffer.from(b.subarray(0, 64)).toString('latin1');
  if (head.startsWith('%PDF')) return 'pdf';
  if (head.startsWith('{\\rt')) return 'rtf';
  if (b[0] === 0xd0 && b[1] === 0xcf) return 'ole2';
  if (b[0] === 0x78 && b[1] === 0x9f) return 'tnef';
  if (/^[\t\r\n -~]*$/.test(Buffer.from(b.subarray(0, 512)).toString('latin1'))) return 'text';
  return 'binary';
}

function mail(headers: string, body: string): Uint8Array {
  return ascii(`${headers.trim().replace(/\n/g, '\r\n')}\r\n\r\n${body.replace(/\r?\n/g, '\r\n')}`);
}

const MULTI = (boundary: string, parts: string[], close = true): string =>
  `${parts.map((p) => `--${boundary}\n${p}\n`).join('')}${close ? `--${boundary}--\n` : ''}`;

const ATTACH = (extraHeaders: string, body = b64(PAYLOAD)): string =>
  `Content-Type: application/octet-stream\n${extraHeaders}\n\n${body}`;

/** A file wrapped by Windows Packager: its native data, and that data behind an OLE 1.0 header (as RTF carries it). */
function packageParts(name: string, data: Uint8Array): { native: Uint8Array; ole1: Uint8Array } {
  const u16 = (v: number): number[] => [v & 0xff, v >> 8];
  const u32 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
  const temp = ascii(`C:\\Temp\\${name}\0`);
  const native = concatBytes([Uint8Array.from(u16(2)), ascii(`${name}\0C:\\src\\${name}\0`), Uint8Array.from([...u16(0), ...u16(3), ...u32(temp.length)]), temp, Uint8Array.from(u32(data.length)), data]);
  const ole1 = concatBytes([Uint8Array.from([...u32(0x0501), ...u32(2), ...u32(8)]), ascii('Package\0'), Uint8Array.from([...u32(0), ...u32(0), ...u32(native.length)]), native]);
  return { native, ole1 };
}

function hexOf(b: Uint8Array): string {
  return (Buffer.from(b).toString('hex').match(/.{1,64}/g) ?? []).join('\r\n');
}

function ole2With(streams: Record<string, Uint8Array>): Uint8Array {
  const c = CFB.utils.cfb_new();
  for (const [path, data] of Object.entries(streams)) CFB.utils.cfb_add(c, path, Buffer.from(data));
  return new Uint8Array(CFB.write(c, { type: 'buffer' }) as Buffer);
}

function pdfWith(objects: string[]): Uint8Array {
  return ascii(`%PDF-1.4\n${objects.map((o, i) => `${i + 1} 0 obj\n${o}\nendobj\n`).join('')}trailer\n<< /Root 1 0 R >>\n%%EOF\n`);
}
const latin = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const a85 = (b: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < b.length; i += 4) {
    const n = Math.min(4, b.length - i);
    let v = 0;
    for (let k = 0; k < 4; k++) v = v * 256 + (b[i + k] ?? 0);
    if (v === 0 && n === 4) { s += 'z'; continue; }
    const d: string[] = [];
    for (let k = 0; k < 5; k++) { d.unshift(String.fromCharCode((v % 85) + 33)); v = Math.floor(v / 85); }
    s += d.slice(0, n + 1).join('');
  }
  return `${s}~>`;
};

interface Case {
  readonly name: string;
  readonly type: string;
  readonly input: () => Uint8Array;
  /** The path at which PAYLOAD (or `want`) must appear. */
  readonly path: string;
  readonly want?: Uint8Array;
}

const H = 'From: a@example.com\nTo: b@example.com\nSubject: test\nMIME-Version: 1.0';
const CASES: readonly Case[] = [
  { name: 'multipart with a base64 attachment', type: 'mail', path: 'part 2 invoice.zip', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary="b1"`, MULTI('b1', ['Content-Type: text/plain\n\nhello', ATTACH('Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="invoice.zip"')])) },
  { name: 'quoted-printable part', type: 'mail', path: 'part 1', want: ascii('caf\xe9 = ok\r\nnext line'), input: () => mail(`${H}\nContent-Type: text/plain; charset=latin1\nContent-Transfer-Encoding: quoted-printable`, 'caf=E9 =3D ok\nnext =\nline') },
  { name: 'nested message/rfc822', type: 'mail', path: 'part 2 message.eml › part 1 inner.exe', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=outer`, MULTI('outer', ['Content-Type: text/plain\n\nsee attached mail', `Content-Type: message/rfc822\n\n${H}\nContent-Type: application/octet-stream; name=inner.exe\nContent-Transfer-Encoding: base64\n\n${b64(PAYLOAD)}`])) },
  { name: 'RFC 2231 file name split in pieces', type: 'mail', path: 'part 2 €uro rates.exe', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=b2`, MULTI('b2', ['\nbody', ATTACH("Content-Transfer-Encoding: base64\nContent-Disposition: attachment;\n filename*0*=utf-8''%E2%82%ACuro%20;\n filename*1=\"rates.exe\"")])) },
  { name: 'RFC 2047 file name', type: 'mail', path: 'part 1 äz.exe', input: () => mail(`${H}\nContent-Type: application/octet-stream; name="=?UTF-8?B?w6R6LmV4ZQ==?="\nContent-Transfer-Encoding: base64`, b64(PAYLOAD)) },
  { name: 'missing final boundary', type: 'mail', path: 'part 2 open.exe', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=b3`, MULTI('b3', ['\nbody', ATTACH('Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=open.exe')], false)) },
  { name: 'wrong Content-Transfer-Encoding (7bit on base64)', type: 'mail', path: 'part 2 wrong.exe (as base64)', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=b4`, MULTI('b4', ['\nbody', ATTACH('Content-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename=wrong.exe')])) },
  { name: 'repeated Content-Transfer-Encoding', type: 'mail', path: 'part 2 twice.exe (as base64)', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=b5`, MULTI('b5', ['\nbody', ATTACH('Content-Transfer-Encoding: 8bit\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=twice.exe')])) },
  { name: 'boundary declared but never used (guessed)', type: 'mail', path: 'alt 2 guessed.exe', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=declared`, MULTI('actual', ['\nbody', ATTACH('Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=guessed.exe')])) },
  { name: 'boundary in other case', type: 'mail', path: 'alt 2 case.exe', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=CaseB`, MULTI('caseb', ['\nbody', ATTACH('Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=case.exe')])) },
  { name: 'junk line inside a base64 body', type: 'mail', path: 'part 2 junk.exe (base64 lines)', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=b6`, MULTI('b6', ['\nbody', ATTACH('Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=junk.exe', b64(PAYLOAD).replace('\r\n', '\r\nThis line is junk\r\n'))])) },
  { name: 'headers with no blank line before the body', type: 'mail', path: 'alt 2 noblank.exe', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=b7`, MULTI('b7', ['\nbody', ATTACH('Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=noblank.exe').replace('\n\n', '\n')])) },
  { name: 'base64 in the preamble (raw scan)', type: 'mail', path: 'fallback 1 base64 line 7', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=b8`, `${b64(PAYLOAD)}\n${MULTI('b8', ['\nbody'])}`) },
  { name: 'x-uuencode transfer encoding', type: 'mail', path: 'part 1 uu.exe', input: () => mail(`${H}\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: x-uuencode`, uuencode(PAYLOAD, 'uu.exe')) },
  { name: 'uuencode in a text part', type: 'mail', path: 'part 1 › inline.exe', input: () => mail(`${H}\nContent-Type: multipart/mixed; boundary=b9`, MULTI('b9', [`Content-Type: text/plain\n\nSee:\n${uuencode(PAYLOAD, 'inline.exe')}`])) },
  { name: 'yEnc with CRC in a text', type: 'text', path: 'post.exe', input: () => ascii(`Hi\r\n${yencode(PAYLOAD, 'post.exe', 128)}`) },
  { name: 'BinHex with RLE', type: 'text', path: 'mac.exe', input: () => ascii(binhexEncode(concatBytes([PAYLOAD, new Uint8Array(50)]), 'mac.exe')), want: concatBytes([PAYLOAD, new Uint8Array(50)]) },
  { name: 'TNEF attachment', type: 'tnef', path: 'winmail.exe', input: () => tnefBuild([{ name: 'winmail.exe', data: PAYLOAD, titleAfter: true }]) },
  { name: 'TNEF inside mail', type: 'mail', path: 'part 1 winmail.dat › tnef.exe', input: () => mail(`${H}\nContent-Type: application/ms-tnef; name=winmail.dat\nContent-Transfer-Encoding: base64`, b64(tnefBuild([{ name: 'tnef.exe', data: PAYLOAD }]))) },
  { name: 'PDF FlateDecode stream', type: 'pdf', path: 'obj 2 0', input: () => { const z = deflateSync(PAYLOAD); return pdfWith(['<< /Type /Catalog >>', `<< /Length ${z.length} /Filter /FlateDecode >>\nstream\n${latin(z)}\nendstream`]); } },
  { name: 'PDF Flate behind ASCIIHex, indirect length', type: 'pdf', path: 'obj 1 0 embedded file', input: () => { const h = Buffer.from(deflateSync(PAYLOAD)).toString('hex') + '>'; return pdfWith([`<< /Type /EmbeddedFile /Length 2 0 R /Filter [/AHx /Fl] >>\nstream\r\n${h}\r\nendstream`, `${h.length}`]); } },
  { name: 'PDF ASCII85 with a wrong length', type: 'pdf', path: 'obj 1 0', input: () => pdfWith([`<< /Length 3 /Filter /ASCII85Decode >>\nstream\n${a85(PAYLOAD)}\nendstream`]) },
  { name: 'HTML data: URI', type: 'html', path: 'data 1 application/x-msdownload', input: () => ascii(`<html><a href="data:application/x-msdownload;base64,${Buffer.from(PAYLOAD).toString('base64')}">x</a></html>`) },
  { name: 'HTML percent-encoded data: URI', type: 'html', path: 'data 1 text/plain', want: ascii('a b<c'), input: () => ascii(`<img src='data:text/plain,a%20b%3Cc'>`) },
  { name: 'RTF objdata with a Packager object', type: 'rtf', path: 'object 1 packed.exe', input: () => ascii(`{\\rtf1\\ansi{\\object\\objemb{\\*\\objclass Package}{\\*\\objdata \r\n${hexOf(packageParts('packed.exe', PAYLOAD).ole1)}}}}`) },
  { name: 'RTF objdata obfuscated with a destination group and spaces', type: 'rtf', path: 'object 1 obf.exe', input: () => { const h = hexOf(packageParts('obf.exe', PAYLOAD).ole1); return ascii(`{\\rtf1{\\object{\\*\\objdata ${h.slice(0, 10)}{\\*\\junk 0123}\n ${h.slice(10).replace(/(..)/g, '$1 ')}}}}`); } },
  { name: 'OLE2 Ole10Native package', type: 'ole2', path: 'ObjectPool/_1/Ole10Native ole.exe', input: () => { const n = packageParts('ole.exe', PAYLOAD).native; return ole2With({ 'Root Entry/ObjectPool/_1/\u0001Ole10Native': concatBytes([Uint8Array.from([n.length & 0xff, (n.length >> 8) & 0xff, 0, 0]), n]) }); } },
  { name: 'OLE2 VBA stream as stored', type: 'ole2', path: 'Macros/VBA/Module1', input: () => ole2With({ 'Root Entry/Macros/VBA/Module1': PAYLOAD, 'Root Entry/WordDocument': ascii('doc') }) },
];

describe('golden cases reach the payload', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const { ctx } = context();
      const found = await walk(c.input(), c.type, ctx);
      const want = md5(c.want ?? PAYLOAD);
      const at = found.filter((f) => f.md5 === want).map((f) => f.path);
      assert.ok(at.includes(c.path), `wanted at "${c.path}", found at ${JSON.stringify(at)} among ${JSON.stringify(found.map((f) => f.path))}`);
    });
  }
});

test('a well-formed mail gives each part once, in order, with nothing from the fallbacks', async () => {
  const { ctx } = context();
  const m = mail(`${H}\nContent-Type: multipart/mixed; boundary=b1`, MULTI('b1', ['Content-Type: text/plain\n\nhello', ATTACH('Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="a.exe"')]));
  const names: string[] = [];
  for await (const c of mimeExtractor.extract(m, ctx)) names.push(c.name);
  assert.deepEqual(names, ['part 1', 'part 2 a.exe']);
});

describe('TNEF findings', () => {
  const tnefCases: { name: string; edit: (b: Uint8Array) => Uint8Array; broken: boolean }[] = [
    // signature (4) + key (2), then the first attribute: level (1), id (4), length (4), 4 data bytes, checksum at 19
    { name: 'a bad checksum is no finding (the bytes are all decoded)', edit: (b) => { const c = b.slice(); c[19] = (c[19] as number) ^ 0xff; return c; }, broken: false },
    { name: 'a stream cut inside the attachment data is Broken', edit: (b) => b.subarray(0, b.length - 40), broken: true },
  ];
  for (const c of tnefCases) {
    test(c.name, async () => {
      const { ctx, reports } = context();
      const input = c.edit(tnefBuild([{ name: 'winmail.exe', data: PAYLOAD }]));
      const got: string[] = [];
      for await (const child of tnefExtractor.extract(input, ctx)) got.push(child.name);
      assert.deepEqual(got, ['winmail.exe']);
      assert.equal(reports.some((r) => r.startsWith('Heuristics.Broken.TNEF')), c.broken, JSON.stringify(reports));
    });
  }
});

test('MSI stream names are decoded', () => {
  const enc = (s: string): string => {
    const A = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._';
    let out = '';
    for (let i = 0; i < s.length; i += 2) {
      const a = A.indexOf(s[i] as string);
      out += i + 1 < s.length ? String.fromCharCode(0x3800 + a + (A.indexOf(s[i + 1] as string) << 6)) : String.fromCharCode(0x4800 + a);
    }
    return out;
  };
  assert.equal(decodeMsiName(enc('Binary.setup')), 'Binary.setup');
  assert.equal(decodeMsiName(`\u4840${enc('_Tables')}`), '!_Tables');
});

describe('limits are kept and reported', () => {
  test('a child over MaxFileSize is cut and reported', async () => {
    const { ctx, reports } = context({ MaxFileSize: 100 });
    const got: number[] = [];
    for await (const c of documentExtractors[0]!.extract(mail(`${H}\nContent-Type: application/octet-stream; name=x.exe\nContent-Transfer-Encoding: base64`, b64(PAYLOAD)), ctx)) got.push(c.data.length);
    assert.ok(got.length > 0 && got.every((n) => n <= 100), JSON.stringify(got));
    assert.ok(reports.some((r) => r.startsWith('Heuristics.Limits.Exceeded.MaxFileSize')), JSON.stringify(reports));
  });
  test('nothing is handed on once MaxScanSize is spent', async () => {
    const { ctx, reports } = context({}, 0);
    const got: string[] = [];
    for await (const c of documentExtractors[0]!.extract(mail(`${H}\nContent-Type: application/octet-stream; name=x.exe\nContent-Transfer-Encoding: base64`, b64(PAYLOAD)), ctx)) got.push(c.name);
    assert.deepEqual(got, []);
    assert.ok(reports.some((r) => r.startsWith('Heuristics.Limits.Exceeded.MaxScanSize')), JSON.stringify(reports));
  });
  test('MaxFiles bounds the parts of one mail', async () => {
    const { ctx, reports } = context({ MaxFiles: 3 });
    const parts = Array.from({ length: 10 }, (_, i) => `Content-Type: text/plain\n\npart number ${i}`);
    const got: string[] = [];
    for await (const c of mimeExtractor.extract(mail(`${H}\nContent-Type: multipart/mixed; boundary=m`, MULTI('m', parts)), ctx)) got.push(c.name);
    assert.ok(got.filter((n) => n.startsWith('part ')).length <= 3, JSON.stringify(got));
    assert.ok(reports.includes('Heuristics.Limits.Exceeded.MaxFiles'), JSON.stringify(reports));
  });
});

async function drain(ex: Extractor, data: Uint8Array, type: string): Promise<number> {
  const { ctx } = context({ MaxFileSize: 1 << 20 });
  let n = 0;
  if (!ex.accepts(TYPES[type] as FileType, data)) return 0;
  for await (const c of ex.extract(data, ctx)) n += c.data.length >= 0 ? 1 : 0;
  return n;
}

describe('damaged and random input never throws and always returns', () => {
  const golden = CASES.map((c) => ({ type: c.type, data: c.input() }));
  for (const ex of documentExtractors) {
    test(ex.name, { timeout: 60_000 }, async () => {
      const next = rng(0x5eed ^ ex.name.length);
      for (const g of golden) {
        for (let cut = 0; cut < g.data.length; cut += Math.max(1, Math.floor(g.data.length / 25))) await drain(ex, g.data.subarray(0, cut), g.type);
        for (let i = 0; i < 15; i++) await drain(ex, corrupt(next, g.data, 1 + Math.floor(next() * 10)), g.type);
      }
      for (let i = 0; i < 60; i++) {
        const junk = randomBytes(next, Math.floor(next() * 3000));
        for (const type of ['mail', 'text', 'binary', 'pdf', 'rtf', 'ole2', 'tnef', 'html']) await drain(ex, junk, type);
      }
    });
  }
});
