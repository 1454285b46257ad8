import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPortcullisError } from '../errors.js';
import { parseCvdHeader, readTar, unpackCvd } from './cvd.js';
import { makeCvd, makeTar } from './testing.js';

const ndb = 'T.Body:0:*:414243\n';

test('cvd: header fields as sigtool writes them', () => {
  const h = parseCvdHeader(makeCvd({ files: [{ name: 'x.ndb', data: ndb }] }), 'main.cvd');
  assert.equal(h.buildTime, '09 Nov 2023 07-33 -0500');
  assert.equal(h.version, 27088);
  assert.equal(h.signatures, 1);
  assert.equal(h.flevel, 90);
  assert.equal(h.builder, 'tester');
  assert.equal(h.buildTimeMs, 1699533208000);
});

test('cvd: a colon inside the build time does not shift the fields', () => {
  const h = parseCvdHeader(makeCvd({ files: [], buildTime: '09 Nov 2023 07:33 -0500' }), 'main.cvd');
  assert.equal(h.buildTime, '09 Nov 2023 07:33 -0500');
  assert.equal(h.version, 27088);
  assert.equal(h.buildTimeMs, 1699533208000);
});

const buildTimes: [string, number][] = [
  ['09 Nov 2023 07-33 -0500', Date.UTC(2023, 10, 9, 12, 33)],
  ['09 Nov 2023 07:33 -0500', Date.UTC(2023, 10, 9, 12, 33)],
];
for (const [text, ms] of buildTimes) {
  test(`cvd: build time "${text}" parsed when STime is not a number`, () => {
    assert.equal(parseCvdHeader(makeCvd({ files: [], stime: 'none', buildTime: text }), 'main.cvd').buildTimeMs, ms);
  });
}

test('cvd: unpack gives the files inside with the container as prefix', () => {
  const r = unpackCvd({ name: 'main.cvd', data: makeCvd({ files: [{ name: 'main.ndb', data: ndb }, { name: 'main.info', data: 'x' }] }) });
  assert.deepEqual(r.files.map((f) => f.name), ['main.cvd/main.ndb', 'main.cvd/main.info']);
  assert.equal(Buffer.from(r.files[0]?.data ?? []).toString('latin1'), ndb);
});

test('cvd: a .cld with a plain tar body and "X" for MD5 unpacks', () => {
  const data = makeCvd({ files: [{ name: 'daily.ndb', data: ndb }], gzip: false, md5: 'X' });
  assert.deepEqual(unpackCvd({ name: 'daily.cld', data }).files.map((f) => f.name), ['daily.cld/daily.ndb']);
});

const broken: { name: string; file: string; data: () => Uint8Array; message: RegExp }[] = [
  { name: 'md5 mismatch', file: 'main.cvd', data: () => makeCvd({ files: [{ name: 'a.ndb', data: ndb }], md5: '0'.repeat(32) }), message: /MD5 .* does not match/ },
  { name: 'body altered after signing', file: 'main.cvd', data: () => { const b = makeCvd({ files: [{ name: 'a.ndb', data: ndb }] }); b.writeUInt8((b.at(-20) ?? 0) ^ 0xff, b.length - 20); return b; }, message: /does not match/ },
  { name: 'shorter than a header', file: 'main.cvd', data: () => Buffer.from('ClamAV-VDB:1'), message: /shorter than the 512-byte header/ },
  { name: 'wrong magic', file: 'main.cvd', data: () => Buffer.alloc(600, 0x41), message: /does not start with/ },
  { name: 'too few header fields', file: 'main.cvd', data: () => Buffer.from('ClamAV-VDB:a:b:c'.padEnd(512)), message: /fields, expected 9/ },
  { name: 'version not a number', file: 'main.cvd', data: () => Buffer.from('ClamAV-VDB:t:v:1:90:X:d:b:1'.padEnd(512)), message: /version "v"/ },
  { name: 'corrupt gzip', file: 'main.cld', data: () => Buffer.concat([Buffer.from('ClamAV-VDB:t:1:1:90:X:d:b:1'.padEnd(512)), Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3])]), message: /gzip body is corrupt/ },
  { name: 'truncated tar entry', file: 'main.cld', data: () => Buffer.concat([Buffer.from('ClamAV-VDB:t:1:1:90:X:d:b:1'.padEnd(512)), makeTar([{ name: 'a.ndb', data: 'x'.repeat(600) }]).subarray(0, 700)]), message: /truncated/ },
];

for (const c of broken) {
  test(`cvd: refused with PC_ERR_DB_BUILD: ${c.name}`, () => {
    assert.throws(() => unpackCvd({ name: c.file, data: c.data() }), (e: unknown) => {
      assert.ok(isPortcullisError(e, 'PC_ERR_DB_BUILD'), String(e));
      assert.match(e.message, c.message);
      assert.match(e.message, new RegExp(`^Cannot load ${c.file.replace('.', '\\.')}:`));
      return true;
    });
  });
}

test('tar: a header with a wrong checksum is refused', () => {
  const tar = makeTar([{ name: 'a.ndb', data: ndb }]);
  tar[0] = 0x62;
  assert.throws(() => readTar(tar, 'x.cld'), /checksum/);
});
