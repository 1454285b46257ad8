/**
 * Seeded property tests for everything in the operator's side that turns
 * untrusted text into something else: ids, export file names, download
 * headers, HTML. Random strings are drawn from an alphabet rich in the
 * characters that break things (separators, dots, quotes, controls, bidi).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { seeded as rng } from '../content/testing.js';
import { parseQuarantineId } from '../quarantine/id.js';
import { safeFileName } from '../quarantine/store.js';
import { escapeHtml, html } from './html.js';
import { contentDisposition } from './server.js';

const ALPHABET = ['/', '\\', '.', '..', ' ', '"', "'", '<', '>', '&', ';', ':', '%', '\u0000', '\r', '\n', '\t', '\u202e', '\u2066',
  'a', 'Z', '0', '9', '-', '_', '\u00e9', '\u4e2d', '\ud83d\ude00', 'O', 'I', 'L', '*', '?', '|', '=', '`', '\ud800', '\udc00'];

function randomString(next: () => number, maxLen: number): string {
  const n = Math.floor(next() * maxLen);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

const ROUNDS = 5000;

describe('hostile text, seeded', () => {
  it('ids parse to the canonical form or to nothing', () => {
    const next = rng(1);
    for (let i = 0; i < ROUNDS; i++) {
      const s = randomString(next, 20);
      const id = parseQuarantineId(s);
      if (id !== undefined) {
        assert.match(id, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/, JSON.stringify(s));
        assert.equal(parseQuarantineId(id), id);
      }
    }
  });

  it('export names are one harmless path segment', () => {
    const next = rng(2);
    for (let i = 0; i < ROUNDS; i++) {
      const s = randomString(next, 40);
      const name = safeFileName(s, 'fallback');
      const what = JSON.stringify(s);
      assert.ok(name.length > 0 && Array.from(name).length <= 120, what);
      assert.doesNotThrow(() => encodeURIComponent(name), what);
      assert.ok(!/[/\\\u0000-\u001f<>:"|?*\u202a-\u202e\u2066-\u2069]/.test(name), `${what} -> ${JSON.stringify(name)}`);
      assert.ok(!name.startsWith('.') && name !== '..', what);
    }
  });

  it('Content-Disposition is one printable ASCII header value with a quoted fallback name', () => {
    const next = rng(3);
    for (let i = 0; i < ROUNDS; i++) {
      const s = randomString(next, 40);
      const h = contentDisposition(s, 'quarantine-X');
      assert.match(h, /^attachment; filename="[\x20\x21\x23\x24\x26-\x3a\x3c-\x5b\x5d-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9%!._~-]*$/, `${JSON.stringify(s)} -> ${h}`);
      const encoded = h.slice(h.lastIndexOf("UTF-8''") + 7);
      assert.equal(decodeURIComponent(encoded), safeFileName(s, 'quarantine-X'));
    }
  });

  it('escaped text never contains markup characters and decodes back', () => {
    const next = rng(4);
    const decode = (t: string) => t.replace(/&(lt|gt|quot|#39|#96|amp);/g, (_m, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", '#96': '`', amp: '&' })[e] as string);
    for (let i = 0; i < ROUNDS; i++) {
      const s = randomString(next, 40);
      const e = escapeHtml(s);
      assert.ok(!/[<>"'`]/.test(e));
      assert.equal(decode(e), s);
      assert.equal(html`<td title="${s}">${s}</td>`.toString(), `<td title="${e}">${e}</td>`);
    }
  });
});
