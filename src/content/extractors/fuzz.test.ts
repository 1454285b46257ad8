/**
 * Every extractor fed truncated, corrupted and random inputs (seeded, so a
 * failure repeats): the walk must end, never throw, and always yield the
 * root first. A hang fails the test through the per-input deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SAMPLE_7Z, SAMPLE_BZ2, SAMPLE_XZ, SAMPLE_ZSTD, ar, au3Lzss, au3Script, collect, concat, cpio, enc, gzip, installShieldObfuscated, installShieldPlain, isCabSet, peWithOverlay,
  seeded, sis, szdd, tar, zip,
} from '../testing.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { ExtractContext } from '../types.js';
import { archiveExtractors } from './archives.js';
import { EA05, EA06, unmask } from './autoit.js';

const A = enc('fuzz member alpha '.repeat(20));
const B = enc('fuzz member bravo '.repeat(30));

const SAMPLES: Readonly<Record<string, () => Uint8Array>> = {
  zip: () => zip({ 'a.txt': A, 'b/c.txt': B, 'inner.zip': zip({ 'd.txt': A }) }),
  'zip-stored': () => zip({ 'a.txt': A, 'b.txt': B }, 0),
  gzip: () => gzip(A, 'a.txt'),
  'tar.gz': () => gzip(tar([{ name: 'a.txt', data: A }, { name: 'b.txt', data: B }])),
  tar: () => tar([{ name: 'a.txt', data: A }, { name: `${'x/'.repeat(60)}b`, data: B, style: 'gnu-long' }]),
  bzip2: () => SAMPLE_BZ2,
  xz: () => SAMPLE_XZ,
  '7z': () => SAMPLE_7Z,
  zstd: () => SAMPLE_ZSTD,
  ar: () => ar({ 'debian-binary': enc('2.0\n'), 'data.tar.gz': gzip(tar([{ name: 'a', data: A }])) }),
  'cpio-newc': () => cpio('newc', [{ name: 'a', data: A }, { name: 'b', data: B }]),
  'cpio-odc': () => cpio('odc', [{ name: 'a', data: A }]),
  'cpio-bin-le': () => cpio('bin-le', [{ name: 'a', data: A }]),
  'cpio-bin-be': () => cpio('bin-be', [{ name: 'a', data: A }]),
  szdd: () => szdd(A),
  sis: () => sis('a.exe', A),
  'installshield-plain': () => peWithOverlay(installShieldPlain({ 'a.exe': A, 'b.txt': B })),
  'installshield-cabinet': () => { const [hdr, cab] = isCabSet('a.exe', A); return peWithOverlay(installShieldPlain({ 'data1.hdr': hdr, 'data1.cab': cab })); },
  'autoit-ea05': () => peWithOverlay(au3Script(EA05, [{ subtype: 'FILE', name: 'a.exe', content: au3Lzss(A, 'EA05'), compressed: true }], (b, s) => unmask(b, s, EA05))),
  'autoit-ea06': () => peWithOverlay(au3Script(EA06, [{ subtype: 'FILE', name: 'a.exe', content: au3Lzss(A, 'EA06'), compressed: true }], (b, s) => unmask(b, s, EA06))),
  'installshield-obfuscated': () => peWithOverlay(installShieldObfuscated({ 'a.exe': A }, (p) => p.map((b) => b ^ 0x5a))),
};

const DEADLINE_MS = 10_000;

async function walkSafely(label: string, data: Uint8Array): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: walk did not end within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    const { objects } = await Promise.race([collect('fuzz.bin', data, { limits: { MaxFileSize: 1024 * 1024, MaxScanSize: 4 * 1024 * 1024 } }), deadline]);
    assert.equal(objects[0]?.path, 'fuzz.bin', `${label}: root first`);
    assert.equal(objects[0]?.data.length, data.length, `${label}: root whole`);
  } finally {
    clearTimeout(timer);
  }
}

for (const [format, make] of Object.entries(SAMPLES)) {
  test(`fuzz ${format}: every truncation`, async () => {
    const sample = make();
    const step = Math.max(1, Math.floor(sample.length / 40));
    for (let cut = 0; cut < sample.length; cut += step) await walkSafely(`${format} cut at ${cut}`, sample.subarray(0, cut));
  });

  test(`fuzz ${format}: seeded corruption`, async () => {
    const sample = make();
    const rand = seeded(format.length * 7919 + sample.length);
    for (let round = 0; round < 60; round++) {
      const bad = sample.slice();
      const flips = 1 + Math.floor(rand() * 8);
      for (let i = 0; i < flips; i++) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
      await walkSafely(`${format} corruption round ${round}`, bad);
    }
  });

  test(`fuzz ${format}: its magic followed by random bytes`, async () => {
    const sample = make();
    const rand = seeded(sample.length);
    for (let round = 0; round < 30; round++) {
      const tail = Uint8Array.from({ length: 16 + Math.floor(rand() * 2000) }, () => Math.floor(rand() * 256));
      await walkSafely(`${format} random round ${round}`, concat(sample.subarray(0, 8), tail));
    }
  });
}

test('every archive extractor, called directly on random bytes after its magic, returns without throwing', async () => {
  const rand = seeded(20261126);
  const reported: string[] = [];
  const ctx: ExtractContext = {
    limits: { ...DEFAULT_LIMITS, MaxFileSize: 1024 * 1024 },
    remainingScanBytes: () => 4 * 1024 * 1024,
    report: (name) => { reported.push(name); },
    containerName: 'fuzz.bin',
  };
  for (const extractor of archiveExtractors) {
    for (const [format, make] of Object.entries(SAMPLES)) {
      const head = make().subarray(0, 16);
      for (let round = 0; round < 5; round++) {
        const data = concat(head, Uint8Array.from({ length: Math.floor(rand() * 3000) }, () => Math.floor(rand() * 256)));
        try {
          for await (const child of extractor.extract(data, ctx)) assert.ok(child.data.length <= 1024 * 1024);
        } catch (err) {
          assert.fail(`${extractor.name} threw on ${format} round ${round}: ${String(err)}`);
        }
      }
    }
  }
  assert.ok(reported.length > 0, 'broken inputs were reported');
});
