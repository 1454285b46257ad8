import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPortcullisError } from '../errors.js';
import { eventQuery, pick, quarantineQuery } from './queries.js';

describe('admin query strings', () => {
  const good: { name: string; q: Record<string, string>; want: object }[] = [
    { name: 'empty values are no filter', q: { protocol: '', verdict: '', q: '' }, want: {} },
    { name: 'enums', q: { protocol: 'ftp', direction: 'outbound', verdict: 'infected', action: 'quarantine' }, want: { protocol: 'ftp', direction: 'outbound', verdict: 'infected', action: 'quarantine' } },
    { name: 'ms since epoch', q: { from: '1700000000000' }, want: { from: 1700000000000 } },
    { name: 'datetime-local is UTC', q: { from: '2026-01-02T03:04' }, want: { from: Date.UTC(2026, 0, 2, 3, 4) } },
    { name: 'ISO with zone', q: { to: '2026-01-02T03:04:05+01:00' }, want: { to: Date.UTC(2026, 0, 2, 2, 4, 5) } },
    { name: 'paging', q: { limit: '25', offset: '50' }, want: { limit: 25, offset: 50 } },
    { name: 'text is capped', q: { q: 'x'.repeat(500) }, want: { text: 'x'.repeat(200) } },
  ];
  for (const c of good) {
    it(`reads events: ${c.name}`, () => assert.deepEqual(eventQuery(c.q), c.want));
  }

  const bad: { name: string; q: Record<string, string> }[] = [
    { name: 'unknown protocol', q: { protocol: 'http' } },
    { name: 'unknown verdict', q: { verdict: 'INFECTED' } },
    { name: 'negative limit', q: { limit: '-1' } },
    { name: 'fractional offset', q: { offset: '1.5' } },
    { name: 'huge number', q: { limit: '1'.repeat(30) } },
    { name: 'not a time', q: { from: 'yesterday' } },
    { name: 'prototype key as value', q: { action: '__proto__' } },
  ];
  for (const c of bad) {
    it(`refuses events: ${c.name}`, () => assert.throws(() => eventQuery(c.q), (e) => isPortcullisError(e, 'PC_ERR_USAGE')));
  }

  it('reads quarantine filters', () => {
    assert.deepEqual(quarantineQuery({ state: 'held', protocol: 'smtp', q: 'abc', limit: '5' }), { state: 'held', protocol: 'smtp', text: 'abc', limit: 5 });
    assert.throws(() => quarantineQuery({ state: 'lost' }), (e) => isPortcullisError(e, 'PC_ERR_USAGE'));
  });

  it('passes on only the named, non-empty keys', () => {
    assert.deepEqual(pick({ protocol: 'ftp', q: '', offset: '5', evil: 'x' }, ['protocol', 'q']), { protocol: 'ftp' });
  });
});
