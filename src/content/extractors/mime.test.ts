/**
 * The MIME extractor's shortcuts (see the header of mime.ts): the line
 * reading skipping a part mailsplit already decoded whole, the raw scan not
 * decoding again a base64 run that is exactly such a part's body, the
 * message's line table answering for a part's body, the native decoding of
 * clean base64, and mailsplit driven in one synchronous pass. Each named
 * case hides a file where a shortcut too eager would lose it; the two ways
 * of driving mailsplit are held equal on golden and damaged mail.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_LIMITS } from '../limits.js';
import type { ExtractContext } from '../types.js';
import { ascii, concatBytes, corrupt, randomBytes, rng, uuencode } from '../decoders/testkit.js';
import { libraryReading, mimeExtractor } from './mime.js';

/** Stand-ins for executables: MZ and seeded noise, of lengths that need padding (700 % 3 = 1, 500 % 3 = 2). */
const P1 = concatBytes([ascii('MZ'), randomBytes(rng(1), 698)]);
const P2 = concatBytes([ascii('MZ'), randomBytes(rng(2), 498)]);
const P3 = concatBytes([ascii('MZ'), randomBytes(rng(3), 900)]);
const b64 = (b: Uint8Array, width = 76): string => (Buffer.from(b).toString('base64').match(new RegExp(`.{1,${width}}`, 'g')) ?? []).join('\r\n');
const H = 'From: a@example.com\r\nTo: b@example.com\r\nSubject: test\r\nMIME-Version: 1.0';

function mail(boundary: string, parts: readonly string[], epilogue = '', preamble = ''): Uint8Array {
  const body = `${preamble}${parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('')}--${boundary}--\r\n${epilogue}`;
  return ascii(`${H}\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n${body}`);
}

const attach = (name: string, body: string, headers = 'Content-Transfer-Encoding: base64'): string =>
  `Content-Type: application/octet-stream\r\n${headers}\r\nContent-Disposition: attachment; filename="${name}"\r\n\r\n${body}`;

const TEXT = 'Content-Type: text/plain\r\n\r\nhello';

async function children(data: Uint8Array): Promise<{ name: string; data: Uint8Array }[]> {
  const ctx: ExtractContext = { limits: DEFAULT_LIMITS, remainingScanBytes: () => 1 << 26, report: () => undefined };
  const out: { name: string; data: Uint8Array }[] = [];
  for await (const c of mimeExtractor.extract(data, ctx)) out.push({ name: c.name, data: c.data });
  return out;
}

interface Case {
  readonly name: string;
  readonly input: () => Uint8Array;
  /** Bytes that must be handed on, each under the given name. */
  readonly want: readonly (readonly [string, Uint8Array])[];
}

const CASES: readonly Case[] = [
  {
    name: 'base64 after the closing delimiter, behind a clean attachment (the raw scan still decodes it)',
    input: () => mail('b1', [TEXT, attach('a.exe', b64(P1))], `${b64(P2)}\r\n`),
    want: [['part 2 a.exe', P1], ['fallback 2 base64 line 30', P2]],
  },
  {
    name: 'base64 before the first delimiter, ahead of a clean attachment',
    input: () => mail('b2', [attach('a.exe', b64(P1))], '', `${b64(P2)}\r\n`),
    want: [['part 1 a.exe', P1], ['fallback 1 base64 line 7', P2]],
  },
  {
    name: 'a second encoding glued after a padded line (not decoded natively; its run is not the whole body)',
    input: () => mail('b3', [attach('glued.exe', `${b64(P1)}\r\n${b64(P2)}`)]),
    want: [['part 1 glued.exe', concatBytes([P1, P2])], ['fallback 1 base64 line 12', P1], ['fallback 2 base64 line 25', P2]],
  },
  {
    name: 'a junk line inside the body, seen through the message\'s line table',
    input: () => mail('b4', [TEXT, attach('junk.exe', b64(P1).replace('\r\n', '\r\nnot base64: junk!\r\n'))]),
    want: [['part 2 junk.exe (base64 lines)', P1]],
  },
  {
    name: 'a body indented with spaces and tabs (still clean, decoded natively)',
    input: () => mail('b5', [attach('indent.exe', b64(P1).split('\r\n').map((l, i) => (i % 2 ? ` \t${l}` : `${l} `)).join('\r\n'))]),
    want: [['part 1 indent.exe', P1]],
  },
  {
    name: 'a body ending in CR CR LF before the delimiter (off the line table\'s bounds)',
    input: () => ascii(`${H}\r\nContent-Type: multipart/mixed; boundary=b6\r\n\r\n--b6\r\n${attach('crcr.exe', b64(P1))}\r\r\n--b6--\r\n`),
    want: [['part 1 crcr.exe', P1]],
  },
  {
    name: 'two attachments with equal bytes and a third one different: the repeat once, the other kept',
    input: () => mail('b7', [attach('one.exe', b64(P1)), attach('two.exe', b64(P1)), attach('three.exe', b64(P3))]),
    want: [['part 1 one.exe', P1], ['part 3 three.exe', P3]],
  },
  {
    name: 'the delimiter in another case: the line reading finds a part mailsplit never saw',
    input: () => ascii(`${H}\r\nContent-Type: multipart/mixed; boundary=CaseB\r\n\r\n--caseb\r\n${TEXT}\r\n--caseb\r\n${attach('case.exe', b64(P1))}\r\n--caseb--\r\n`),
    want: [['alt 2 case.exe', P1]],
  },
  {
    name: 'Content-Transfer-Encoding given twice (7bit, then base64)',
    input: () => mail('b8', [attach('twice.exe', b64(P1), 'Content-Transfer-Encoding: 7bit\r\nContent-Transfer-Encoding: base64')]),
    want: [['part 1 twice.exe (as base64)', P1]],
  },
  {
    name: 'a base64 part with no declared encoding, followed by a uuencoded block in the epilogue',
    input: () => mail('b9', [`Content-Type: application/octet-stream\r\n\r\n${b64(P1)}`], uuencode(P2, 'uu.exe').replace(/\n/g, '\r\n')),
    want: [['part 1 (as base64)', P1], ['fallback 2 uuencode uu.exe', P2]],
  },
  {
    name: 'a short last line (the raw run stops before it and decodes something else, which is kept)',
    input: () => mail('b10', [attach('short.exe', b64(P3, 64))]),
    want: [['part 1 short.exe', P3]],
  },
];

describe('the shortcuts never hide an attachment', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const got = await children(c.input());
      for (const [name, bytes] of c.want) {
        const at = got.filter((g) => Buffer.from(g.data).equals(bytes)).map((g) => g.name);
        assert.ok(at.includes(name), `wanted under "${name}", found under ${JSON.stringify(at)} among ${JSON.stringify(got.map((g) => g.name))}`);
      }
      const distinct = new Set(got.map((g) => Buffer.from(g.data).toString('base64')));
      assert.equal(distinct.size, got.length, 'equal bytes are handed on once');
    });
  }
});

test('a clean mail: the second and third readings add nothing (each part once, no alt, no fallback)', async () => {
  const got = await children(mail('c1', [TEXT, attach('a.exe', b64(P1)), attach('b.exe', b64(P2))]));
  assert.deepEqual(got.map((g) => g.name), ['part 1', 'part 2 a.exe', 'part 3 b.exe']);
});

/** Big enough that the skeleton (over 4 KB of long base64 lines cut) is tried. */
const BIG = concatBytes([ascii('MZ'), randomBytes(rng(5), 12_000)]);

/** Mails with a big attachment, well-formed and not, where mailsplit is first shown the skeleton. */
const SKELETON_CASES: readonly { readonly name: string; readonly input: () => Uint8Array }[] = [
  { name: 'big attachment, well-formed', input: () => mail('s1', [TEXT, attach('big.exe', b64(BIG))]) },
  { name: 'big attachment, base64 lines among the headers (no blank line)', input: () => mail('s2', [attach('big.exe', b64(BIG)).replace('\r\n\r\n', '\r\n')]) },
  { name: 'big attachment, blank line only after some base64 lines', input: () => mail('s3', [attach('big.exe', b64(BIG)).replace('\r\n\r\n', '\r\n').replace(/(\r\n[A-Za-z0-9+/]{76}){3}/, '$&\r\n')]) },
  { name: 'big attachment in a nested message/rfc822', input: () => mail('s4', [TEXT, `Content-Type: message/rfc822\r\n\r\n${H}\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n${attach('in.exe', b64(BIG))}\r\n--in--`]) },
  { name: 'big attachment, indented lines and trailing spaces', input: () => mail('s5', [attach('sp.exe', b64(BIG).split('\r\n').map((l, i) => (i % 3 === 0 ? ` ${l}` : i % 3 === 1 ? `${l}  ` : l)).join('\r\n'))]) },
  { name: 'big attachment, cut in the middle of a line', input: () => { const m = mail('s6', [attach('cut.exe', b64(BIG))]); return m.subarray(0, m.length - 5000); } },
  { name: 'big attachment, delimiter in another case', input: () => ascii(`${H}\r\nContent-Type: multipart/mixed; boundary=CaseS\r\n\r\n--cases\r\n${attach('c.exe', b64(BIG))}\r\n--cases--\r\n`) },
  { name: 'big base64 in the preamble and the epilogue', input: () => mail('s7', [TEXT], `${b64(BIG)}\r\n`, `${b64(BIG)}\r\n`) },
  { name: 'big attachment, no headers at all', input: () => ascii(b64(BIG)) },
];

/** Golden mails and damaged copies of them, for the two drivers of mailsplit. */
function driverInputs(): { label: string; data: Uint8Array }[] {
  const golden = [...CASES, ...SKELETON_CASES].map((c) => ({ label: c.name, data: c.input() }));
  const out = [...golden];
  const next = rng(4242);
  for (const g of golden) {
    for (let k = 0; k < 6; k++) out.push({ label: `${g.label}, corrupted #${k}`, data: corrupt(next, g.data, 1 + k * 3) });
    out.push({ label: `${g.label}, cut`, data: g.data.subarray(0, Math.floor(next() * g.data.length)) });
    out.push({ label: `${g.label}, bare LF`, data: ascii(Buffer.from(g.data).toString('latin1').replace(/\r\n/g, '\n')) });
  }
  // More nodes than mailsplit allows (1,000): it gives up part way, and both ways must say so alike.
  out.push({ label: 'too many parts', data: mail('many', Array.from({ length: 1005 }, (_, i) => `Content-Type: text/plain\r\n\r\npart ${i}`)) });
  return out;
}

describe('mailsplit driven in one synchronous pass reads as the stream does', () => {
  test('same leaves, same bytes, same failure, for golden and damaged mail', async () => {
    for (const { label, data } of driverInputs()) {
      const sync = await libraryReading(data, 'sync');
      const stream = await libraryReading(data, 'stream');
      assert.notEqual(sync.driver, 'stream', `${label}: the synchronous pass finished`);
      assert.equal(stream.driver, 'stream');
      assert.equal(sync.failed, stream.failed, `${label}: failed`);
      const view = (r: typeof sync): unknown[] => r.leaves.map((l) => [l.contentType, l.filename, l.encodings, Buffer.from(l.body).toString('base64'), l.at]);
      assert.deepEqual(view(sync), view(stream), label);
    }
  });

  test('the skeleton is what mailsplit reads for a well-formed mail, and is refused when a cut line sat among headers', async () => {
    const cases: readonly (readonly [string, 'skeleton' | 'sync'])[] = [
      ['big attachment, well-formed', 'skeleton'],
      ['big attachment in a nested message/rfc822', 'skeleton'],
      ['big attachment, indented lines and trailing spaces', 'skeleton'],
      ['big attachment, base64 lines among the headers (no blank line)', 'sync'],
      ['big attachment, no headers at all', 'sync'],
      ['big base64 in the preamble and the epilogue', 'sync'],
    ];
    for (const [name, driver] of cases) {
      const c = SKELETON_CASES.find((x) => x.name === name);
      assert.ok(c !== undefined, name);
      assert.equal((await libraryReading(c.input())).driver, driver, name);
    }
    const got = await children(mail('s1', [TEXT, attach('big.exe', b64(BIG))]));
    assert.deepEqual(got.map((g) => g.name), ['part 1', 'part 2 big.exe']);
    assert.ok(Buffer.from(got[1]?.data ?? []).equals(BIG));
  });

  test('the failure case is really met (mailsplit refuses more than 1,000 nodes)', async () => {
    const r = await libraryReading(mail('many', Array.from({ length: 1005 }, (_, i) => `Content-Type: text/plain\r\n\r\npart ${i}`)));
    assert.equal(r.failed, true);
    assert.ok(r.leaves.length > 900, `leaves read before the failure are kept (${r.leaves.length})`);
  });

  test('bodies are views of the message (no copy) and setImmediate is given back', async () => {
    const before = globalThis.setImmediate;
    const data = mail('v1', [TEXT, attach('a.exe', b64(P1))]);
    const r = await libraryReading(data);
    assert.equal(globalThis.setImmediate, before);
    const leaf = r.leaves[1];
    assert.ok(leaf !== undefined && leaf.at !== undefined);
    assert.equal(leaf.body.buffer, data.buffer);
    assert.equal(Buffer.from(data.subarray(leaf.at, leaf.at + leaf.body.length)).toString('latin1'), b64(P1));
  });
});
