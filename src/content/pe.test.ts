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

/** `pe32` whose overlay starts with a COFF symbol table of `count` records (+ `aux` aux records on the first) and a string table, then `extra` bytes. */
function withSymbols(opts: { count: number; aux?: number; section?: number; storage?: number; strings?: string; extra?: number }): Uint8Array {
  const aux = opts.aux ?? 0;
  const records = new Uint8Array((opts.count) * 18);
  const rv = new DataView(records.buffer);
  for (let i = 0; i < opts.count; i++) {
    const r = i * 18;
    records.set([0x5f, 0x6d, 0x61, 0x69, 0x6e], r);
    rv.setInt16(r + 12, opts.section ?? 1, true);
    records[r + 16] = opts.storage ?? 2;
    records[r + 17] = i === 0 ? aux : 0;
    // Aux records hold anything (here: bytes that would not parse as a symbol).
    if (i > 0 && i <= aux) records.fill(0xee, r, r + 18);
  }
  const text = new TextEncoder().encode(opts.strings ?? 'a_long_symbol_name\0another_one\0');
  const strings = new Uint8Array(4 + text.length);
  new DataView(strings.buffer).setUint32(0, strings.length, true);
  strings.set(text, 4);
  const d = pe32(records.length + strings.length + (opts.extra ?? 0));
  d.set(records, 0x400);
  d.set(strings, 0x400 + records.length);
  const dv = new DataView(d.buffer);
  dv.setUint32(0x40 + 12, 0x400, true);
  dv.setUint32(0x40 + 16, opts.count, true);
  return d;
}

const SYMBOLS_BYTES = (count: number, strings = 'a_long_symbol_name\0another_one\0'): number => count * 18 + 4 + strings.length;

const CASES: readonly { name: string; data: () => Uint8Array; start: number; payload: number }[] = [
  { name: 'no overlay', data: () => pe32(0), start: 0, payload: 0 },
  { name: 'plain overlay', data: () => pe32(3000), start: 0x400, payload: 3000 },
  { name: 'signed, the overlay is only the certificate table', data: () => pe32(2048, { at: 0x400, size: 2048 }), start: 0x400, payload: 0 },
  { name: 'signed installer: payload then certificate', data: () => pe32(5000, { at: 0x400 + 3000, size: 2000 }), start: 0x400, payload: 3000 },
  { name: 'certificate pointing outside the file is ignored', data: () => pe32(1000, { at: 0x400, size: 99999 }), start: 0x400, payload: 1000 },
  { name: 'minimal header without optional header', data: () => peWithOverlay(new Uint8Array(700)), start: 0x400, payload: 700 },
  { name: 'MinGW build: the overlay is only the COFF symbol and string tables', data: () => withSymbols({ count: 40 }), start: 0x400, payload: 0 },
  { name: 'symbol table with aux records is skipped whole', data: () => withSymbols({ count: 40, aux: 3 }), start: 0x400, payload: 0 },
  { name: 'symbol table followed by an installer payload: the payload counts', data: () => withSymbols({ count: 40, extra: 3000 }), start: 0x400, payload: 3000 },
  {
    name: 'records naming a section that does not exist: not a symbol table, all payload',
    data: () => withSymbols({ count: 40, section: 7 }), start: 0x400, payload: SYMBOLS_BYTES(40),
  },
  {
    name: 'records with an unknown storage class: all payload',
    data: () => withSymbols({ count: 40, storage: 60 }), start: 0x400, payload: SYMBOLS_BYTES(40),
  },
  {
    name: 'string table with control bytes (packed data): all payload',
    data: () => withSymbols({ count: 4, strings: 'x\u0001\u0002yz\0' }), start: 0x400, payload: SYMBOLS_BYTES(4, 'x\u0001\u0002yz\0'),
  },
  { name: 'not a PE (no PE signature)', data: () => new Uint8Array([0x4d, 0x5a, 0, 0]), start: 0, payload: 0 },
  { name: 'e_lfanew past the end', data: () => { const d = pe32(10); new DataView(d.buffer).setUint32(0x3c, 0xfffffff0, true); return d; }, start: 0, payload: 0 },
];

for (const c of CASES) {
  test(`peOverlay: ${c.name}`, () => {
    assert.deepEqual(peOverlay(c.data()), { start: c.start, payload: c.payload });
  });
}
