import { test } from 'node:test';
import assert from 'node:assert/strict';
import { peOverlay } from './pe.js';
import { concat, peWithOverlay } from './testing.js';

/** A PE32 image with a full optional header, one section ending at 0x400, then `overlay`; `cert` marks part of the overlay as the certificate table. */
function pe32(overlay: number, cert?: { at: number; size: number }): Uint8Array {
  const image = new Uint8Array(0x400);
  const dv = new DataView(image.buffer);
  image.set([0x4d, 0x5a], 0);
  dv.setUint32(0x3c, 0x40, true);
  dv.setUint32(0x40, 0x4550, true);
  dv.setUint16(0x40 + 6, 1, true);
  dv.setUint16(0x40 + 20, 224, true);
  const opt = 0x40 + 24;
  dv.setUint16(opt, 0x10b, true);
  dv.setUint32(opt + 92, 16, true);
  if (cert !== undefined) { dv.setUint32(opt + 96 + 32, cert.at, true); dv.setUint32(opt + 96 + 36, cert.size, true); }
  const section = opt + 224;
  dv.setUint32(section + 16, 0x200, true);
  dv.setUint32(section + 20, 0x200, true);
  return concat(image, new Uint8Array(overlay));
}

const CASES: readonly { name: string; data: () => Uint8Array; start: number; payload: number }[] = [
  { name: 'no overlay', data: () => pe32(0), start: 0, payload: 0 },
  { name: 'plain overlay', data: () => pe32(3000), start: 0x400, payload: 3000 },
  { name: 'signed, the overlay is only the certificate table', data: () => pe32(2048, { at: 0x400, size: 2048 }), start: 0x400, payload: 0 },
  { name: 'signed installer: payload then certificate', data: () => pe32(5000, { at: 0x400 + 3000, size: 2000 }), start: 0x400, payload: 3000 },
  { name: 'certificate pointing outside the file is ignored', data: () => pe32(1000, { at: 0x400, size: 99999 }), start: 0x400, payload: 1000 },
  { name: 'minimal header without optional header', data: () => peWithOverlay(new Uint8Array(700)), start: 0x400, payload: 700 },
  { name: 'not a PE (no PE signature)', data: () => new Uint8Array([0x4d, 0x5a, 0, 0]), start: 0, payload: 0 },
  { name: 'e_lfanew past the end', data: () => { const d = pe32(10); new DataView(d.buffer).setUint32(0x3c, 0xfffffff0, true); return d; }, start: 0, payload: 0 },
];

for (const c of CASES) {
  test(`peOverlay: ${c.name}`, () => {
    assert.deepEqual(peOverlay(c.data()), { start: c.start, payload: c.payload });
  });
}
