/**
 * Who the client is, end to end: the PROXY header reader (v1, v2, split at
 * every byte), XFORWARD/XCLIENT from a trusted front MTA (refused to
 * others), and what the next hop is told (XFORWARD, XCLIENT or nothing) —
 * with the client facts checked where they are used: the transfer event,
 * the policy direction (protectedNetworks) and the next hop.
 */
import assert from 'node:assert/strict';
import { createServer, isIP, SocketAddress, type AddressInfo } from 'node:net';
import { corrupt, randomBytes, rng } from '../content/decoders/testkit.js';
import { describe, test } from 'node:test';
import { identityMethod, xclientCommands, xforwardCommands, type ForwardFacts } from './params.js';
import { ProxyHeaderReader, type ProxyHeaderResult } from '../gateway/proxy-header.js';
import { clientIdentity, type ClientFacts } from './session.js';
import { eicar, RawSmtp, startProxy, type ProxyRig } from './testing.js';

const MESSAGE = 'From: a@example.net\r\nTo: bob@example.org\r\nSubject: identity\r\n\r\nhello\r\n';

describe('which identity command the next hop gets', () => {
  const offers = (...k: string[]) => ({ has: (x: string) => k.includes(x) });
  const cases: { name: string; xforward: boolean; xclient: 'off' | 'fallback' | 'prefer'; offered: string[]; want: string }[] = [
    { name: 'both offered, default: XFORWARD wins', xforward: true, xclient: 'fallback', offered: ['XFORWARD', 'XCLIENT'], want: 'xforward' },
    { name: 'both offered, xclient prefer', xforward: true, xclient: 'prefer', offered: ['XFORWARD', 'XCLIENT'], want: 'xclient' },
    { name: 'XCLIENT only, fallback', xforward: true, xclient: 'fallback', offered: ['XCLIENT'], want: 'xclient' },
    { name: 'XCLIENT only, off', xforward: true, xclient: 'off', offered: ['XCLIENT'], want: 'none' },
    { name: 'both offered, xforward false, fallback', xforward: false, xclient: 'fallback', offered: ['XFORWARD', 'XCLIENT'], want: 'xclient' },
    { name: 'XFORWARD only, xforward false', xforward: false, xclient: 'prefer', offered: ['XFORWARD'], want: 'none' },
    { name: 'nothing offered', xforward: true, xclient: 'prefer', offered: [], want: 'none' },
  ];
  for (const c of cases) test(c.name, () => assert.equal(identityMethod({ xforward: c.xforward, xclient: c.xclient }, offers(...c.offered)), c.want));
});

describe('XFORWARD and XCLIENT lines', () => {
  const facts: ForwardFacts = { addr: '2001:db8::7', port: 4242, name: 'mx.example.net', helo: 'helo.example.net', proto: 'ESMTP', ident: 'ABC123', source: 'REMOTE' };
  const cases: { name: string; got: () => string[]; want: string[] }[] = [
    {
      name: 'XFORWARD: IPv6 address with IPV6: prefix, IDENT and SOURCE when offered',
      got: () => xforwardCommands('NAME ADDR PORT PROTO HELO IDENT SOURCE', facts),
      want: ['XFORWARD NAME=mx.example.net ADDR=IPV6:2001:db8::7 PORT=4242 PROTO=ESMTP HELO=helo.example.net IDENT=ABC123 SOURCE=REMOTE'],
    },
    {
      name: 'XFORWARD: IDENT/SOURCE left out when unknown, not [UNAVAILABLE]',
      got: () => xforwardCommands('ADDR IDENT SOURCE', { addr: '::ffff:192.0.2.1' }),
      want: ['XFORWARD ADDR=192.0.2.1'],
    },
    {
      name: 'XCLIENT: only offered attributes, ADDR last',
      got: () => xclientCommands('NAME ADDR PROTO HELO LOGIN', facts),
      want: ['XCLIENT NAME=mx.example.net PROTO=ESMTP HELO=helo.example.net ADDR=IPV6:2001:db8::7'],
    },
    {
      name: 'XCLIENT: long values split in two lines, ADDR in the last',
      got: () => xclientCommands('NAME ADDR HELO', { addr: '192.0.2.1', name: `${'n'.repeat(250)}.example`, helo: `${'h'.repeat(250)}.example` }),
      want: [`XCLIENT NAME=${'n'.repeat(250)}.exam`, `XCLIENT HELO=${'h'.repeat(250)}.exam ADDR=192.0.2.1`],
    },
    {
      name: 'XCLIENT: a bracketed name (no verified name) is [UNAVAILABLE], values are xtext',
      got: () => xclientCommands('NAME HELO ADDR', { addr: '192.0.2.1', name: '[192.0.2.1]', helo: 'a=b c' }),
      want: ['XCLIENT NAME=[UNAVAILABLE] HELO=a+3Db+20c ADDR=192.0.2.1'],
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(c.got(), c.want));
});

describe('clientIdentity: the facts a session forwards', () => {
  const base: ClientFacts = {
    id: 'x', remoteAddress: '127.0.0.1', remotePort: 5000, clientHostname: '[127.0.0.1]', hostNameAppearsAs: 'front.example', openingCommand: 'EHLO',
    envelope: { mailFrom: false, rcptTo: [] },
  };
  const cases: { name: string; facts: ClientFacts; want: ForwardFacts }[] = [
    { name: 'a plain client', facts: base, want: { addr: '127.0.0.1', port: 5000, name: '[127.0.0.1]', helo: 'front.example', proto: 'ESMTP' } },
    { name: 'HELO opening is SMTP', facts: { ...base, openingCommand: 'HELO' }, want: { addr: '127.0.0.1', port: 5000, name: '[127.0.0.1]', helo: 'front.example', proto: 'SMTP' } },
    {
      name: 'XFORWARD from the front: its HELO/PROTO/IDENT/SOURCE, not the front\'s EHLO',
      facts: { ...base, remoteAddress: '203.0.113.9', clientHostname: 'c.example', xForward: new Map<string, unknown>([['HELO', 'c.helo'], ['PROTO', 'smtp'], ['IDENT', 'Q1'], ['SOURCE', 'remote'], ['NAME', 'c.example']]) },
      want: { addr: '203.0.113.9', port: 5000, name: 'c.example', helo: 'c.helo', proto: 'SMTP', ident: 'Q1', source: 'REMOTE' },
    },
    {
      name: 'XCLIENT from the front: its HELO although the front said EHLO after it',
      facts: { ...base, remoteAddress: '203.0.113.9', xClient: new Map<string, unknown>([['HELO', 'x.helo'], ['PROTO', false]]) },
      want: { addr: '203.0.113.9', port: 5000, name: '[127.0.0.1]', helo: 'x.helo', proto: 'ESMTP' },
    },
    {
      name: 'a PROTO that is not a word is not forwarded',
      facts: { ...base, xForward: new Map<string, unknown>([['PROTO', 'E SMTP']]) },
      want: { addr: '127.0.0.1', port: 5000, name: '[127.0.0.1]', helo: 'front.example', proto: 'ESMTP' },
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(clientIdentity(c.facts), c.want));
});

function v2(cmd: number, fam: number, body: Buffer): Buffer {
  const head = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20 | cmd, fam, 0, 0]);
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

function v2tcp4(src: string, sport: number, tlv = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(12);
  src.split('.').forEach((x, i) => b.writeUInt8(Number(x), i));
  [192, 0, 2, 25].forEach((x, i) => b.writeUInt8(x, 4 + i));
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(25, 10);
  return v2(1, 0x11, Buffer.concat([b, tlv]));
}

function v2tcp6(src: Buffer, sport: number): Buffer {
  const b = Buffer.alloc(36);
  src.copy(b, 0);
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(25, 34);
  return v2(1, 0x21, b);
}

type Want = { client: { address: string; port: number } | undefined; version: 1 | 2 } | { error: RegExp };

describe('PROXY header reader', () => {
  const ip6 = Buffer.from('20010db8000000000000000000000007', 'hex');
  const mapped = Buffer.from('00000000000000000000ffffc6336407', 'hex');
  const cases: { name: string; bytes: Buffer; want: Want }[] = [
    { name: 'v1 TCP4', bytes: Buffer.from('PROXY TCP4 198.51.100.7 192.0.2.25 4242 25\r\n'), want: { version: 1, client: { address: '198.51.100.7', port: 4242 } } },
    { name: 'v1 TCP6', bytes: Buffer.from('PROXY TCP6 2001:DB8::7 2001:db8::1 4242 25\r\n'), want: { version: 1, client: { address: '2001:db8::7', port: 4242 } } },
    { name: 'v1 UNKNOWN: the socket\'s own peer', bytes: Buffer.from('PROXY UNKNOWN\r\n'), want: { version: 1, client: undefined } },
    { name: 'v2 TCP4 with a TLV', bytes: v2tcp4('198.51.100.7', 4242, Buffer.from([0x04, 0x00, 0x01, 0x00])), want: { version: 2, client: { address: '198.51.100.7', port: 4242 } } },
    { name: 'v2 TCP6', bytes: v2tcp6(ip6, 4242), want: { version: 2, client: { address: '2001:db8::7', port: 4242 } } },
    { name: 'v2 TCP6 IPv4-mapped is the IPv4 client', bytes: v2tcp6(mapped, 4242), want: { version: 2, client: { address: '198.51.100.7', port: 4242 } } },
    { name: 'v2 LOCAL (health check): the socket\'s own peer', bytes: v2(0, 0x00, Buffer.alloc(0)), want: { version: 2, client: undefined } },
    { name: 'not a PROXY header (an SMTP command)', bytes: Buffer.from('EHLO x\r\n'), want: { error: /not a PROXY header/ } },
    { name: 'v1 without CRLF in 107 bytes', bytes: Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`), want: { error: /longer than 107|too long/ } },
    { name: 'v1 bad address', bytes: Buffer.from('PROXY TCP4 198.51.100.999 192.0.2.25 4242 25\r\n'), want: { error: /bad address or port/ } },
    { name: 'v1 bad port', bytes: Buffer.from('PROXY TCP4 198.51.100.7 192.0.2.25 70000 25\r\n'), want: { error: /bad address or port/ } },
    { name: 'v1 IPv6 address under TCP4', bytes: Buffer.from('PROXY TCP4 2001:db8::7 192.0.2.25 4242 25\r\n'), want: { error: /bad address or port/ } },
    { name: 'v2 UDP family refused', bytes: v2(1, 0x12, Buffer.alloc(12)), want: { error: /not TCP/ } },
    { name: 'v2 truncated TCP4 addresses', bytes: v2(1, 0x11, Buffer.alloc(6)), want: { error: /truncated/ } },
    { name: 'v2 unknown command', bytes: v2(5, 0x11, Buffer.alloc(12)), want: { error: /unknown command/ } },
    { name: 'v2 body over 1024 bytes', bytes: v2(1, 0x11, Buffer.alloc(2000)), want: { error: /longer than 1024/ } },
  ];
  const rest = Buffer.from('EHLO after.header\r\n');
  for (const c of cases) {
    test(`${c.name} (whole and split at every byte)`, () => {
      const input = Buffer.concat([c.bytes, rest]);
      for (let cut = 0; cut <= input.length; cut++) {
        const r = new ProxyHeaderReader();
        const parts = [input.subarray(0, cut), input.subarray(cut)].filter((p) => p.length > 0);
        let got: ProxyHeaderResult = { kind: 'more' };
        let tail: Buffer[] = [];
        for (const p of parts) {
          if (got.kind === 'more') got = r.push(Buffer.from(p));
          else tail.push(p);
        }
        if ('error' in c.want) {
          assert.equal(got.kind, 'error', `cut at ${cut}`);
          if (got.kind === 'error') assert.match(got.reason, c.want.error);
          continue;
        }
        assert.equal(got.kind, 'done', `cut at ${cut}: ${JSON.stringify(got)}`);
        if (got.kind !== 'done') continue;
        assert.deepEqual({ version: got.version, client: got.client }, c.want, `cut at ${cut}`);
        tail = [got.rest, ...tail];
        assert.equal(Buffer.concat(tail).toString(), rest.toString(), `cut at ${cut}: bytes after the header kept`);
      }
    });
  }
});

describe('PROXY header reader: property and fuzz', () => {
  /** Random cuts of the input into 1..4 chunks fed one by one; the result and the bytes after the header. */
  function feed(next: () => number, input: Uint8Array): { result: ProxyHeaderResult; after: Buffer } {
    const r = new ProxyHeaderReader();
    const cuts = [...new Set(Array.from({ length: Math.floor(next() * 4) }, () => Math.floor(next() * input.length)))].sort((a, b) => a - b);
    let result: ProxyHeaderResult = { kind: 'more' };
    const after: Buffer[] = [];
    let at = 0;
    for (const end of [...cuts, input.length]) {
      const part = Buffer.from(input.subarray(at, end));
      at = end;
      if (part.length === 0) continue;
      if (result.kind === 'more') result = r.push(part);
      else after.push(part);
    }
    return { result, after: Buffer.concat([...(result.kind === 'done' ? [result.rest] : []), ...after]) };
  }

  test('random valid v1/v2 headers over TCP4/TCP6 come out as they went in, in any chunking', () => {
    const next = rng(0x5eed);
    for (let i = 0; i < 2000; i++) {
      const v6 = next() < 0.5;
      const raw = Buffer.from(randomBytes(next, v6 ? 16 : 4));
      if (v6 && raw.subarray(0, 12).equals(Buffer.from('00000000000000000000ffff', 'hex'))) raw[0] = 0x20;
      const address = v6 ? ipv6Text(raw) : [...raw].join('.');
      const port = Math.floor(next() * 65536);
      const tail = Buffer.from(randomBytes(next, Math.floor(next() * 20)));
      let header: Buffer;
      if (next() < 0.5) header = Buffer.from(`PROXY ${v6 ? 'TCP6' : 'TCP4'} ${address} ${v6 ? '::1' : '127.0.0.1'} ${port} 25\r\n`);
      else if (v6) header = v2tcp6(raw, port);
      else header = v2tcp4(address, port);
      const { result, after } = feed(next, Buffer.concat([header, tail]));
      assert.equal(result.kind, 'done', `case ${i}: ${header.toString('latin1')}`);
      if (result.kind !== 'done') continue;
      assert.deepEqual(result.client, { address, port }, `case ${i}`);
      assert.ok(after.equals(tail), `case ${i}: the bytes after the header`);
    }
  });

  test('random and damaged input never throws, and a parsed client is always a real address and port', () => {
    const next = rng(0xbad);
    const seeds = [Buffer.from('PROXY TCP4 198.51.100.7 192.0.2.25 4242 25\r\n'), v2tcp4('198.51.100.7', 4242), v2tcp6(Buffer.from('20010db8000000000000000000000007', 'hex'), 1)];
    for (let i = 0; i < 5000; i++) {
      const base = seeds[i % seeds.length] as Buffer;
      const input = i % 2 === 0 ? corrupt(next, base, 1 + Math.floor(next() * 4)) : randomBytes(next, Math.floor(next() * 200));
      const { result } = feed(next, input);
      assert.ok(['more', 'done', 'error'].includes(result.kind));
      if (result.kind === 'done' && result.client !== undefined) {
        assert.ok(isIP(result.client.address) !== 0, `case ${i}: ${result.client.address}`);
        assert.ok(result.client.port >= 0 && result.client.port <= 65535);
      }
    }
  });
});

/** An IPv6 address as Node writes it (RFC 5952): an oracle independent of the reader's own formatter. */
function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

async function waitUntil<T>(get: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** MAIL, RCPT, DATA, message on an open client; returns the final reply code. */
async function mail(c: RawSmtp, rcpt = 'bob@example.org'): Promise<number | undefined> {
  assert.equal((await c.cmd('MAIL FROM:<alice@example.net>'))?.code, 250);
  assert.equal((await c.cmd(`RCPT TO:<${rcpt}>`))?.code, 250);
  assert.equal((await c.cmd('DATA'))?.code, 354);
  c.write(`${MESSAGE}.\r\n`);
  return (await c.reply())?.code;
}

/** Waits for the n-th transfer event (1-based). */
function nthTransfer(rig: ProxyRig, n: number): Promise<Record<string, unknown>> {
  return rig.log.waitFor(() => rig.log.lines.filter((l) => l['event'] === 'transfer').length >= n)
    .then(() => rig.log.lines.filter((l) => l['event'] === 'transfer')[n - 1] as Record<string, unknown>);
}

describe('XFORWARD/XCLIENT from clients', () => {
  test('an untrusted client is not offered them, is refused like Postfix, and stays itself (events, direction, next hop)', async () => {
    const rig = await startProxy({ trustedProxyClients: ['192.0.2.0/24'] });
    try {
      const { c, ehlo } = await rig.open();
      assert.ok(!ehlo.lines.some((l) => /^X(FORWARD|CLIENT)\b/.test(l)), ehlo.lines.join('|'));
      for (const cmd of ['XFORWARD ADDR=203.0.113.9 HELO=evil.example', 'XCLIENT ADDR=203.0.113.9 NAME=evil.example']) {
        const r = await c.cmd(cmd);
        assert.deepEqual([r?.code, r?.enhanced, r?.lines[0]], [550, '5.7.0', 'Error: insufficient authorization'], cmd);
      }
      assert.equal(await mail(c), 250);
      c.close();
      const ev = await nthTransfer(rig, 1);
      assert.match(String(ev['client']), /^127\.0\.0\.1:\d+$/);
      assert.equal(ev['direction'], 'outbound', '127.0.0.1 is a protected network and example.org is not local');
      assert.equal(rig.hop.messages.at(-1)?.xforward?.['ADDR'], '127.0.0.1');
      assert.equal(rig.hop.messages.at(-1)?.xforward?.['HELO'], 'client.test');
    } finally {
      await rig.close();
    }
  });

  test('a trusted front (CIDR block) with XFORWARD: the forwarded client is the session\'s client everywhere', async () => {
    const rig = await startProxy({ trustedProxyClients: ['127.0.0.0/8'] });
    try {
      const { c, ehlo } = await rig.open();
      assert.ok(ehlo.lines.some((l) => l.startsWith('XFORWARD ')), 'offered to the trusted front');
      assert.equal((await c.cmd('XFORWARD NAME=mx.example.net ADDR=203.0.113.9 PORT=4711 PROTO=SMTP HELO=orig.helo.example'))?.code, 250);
      assert.equal((await c.cmd('XFORWARD IDENT=FRONTQ1 SOURCE=REMOTE'))?.code, 250);
      assert.equal(await mail(c), 250);
      c.close();
      const ev = await nthTransfer(rig, 1);
      assert.equal(ev['client'], '203.0.113.9:4711');
      assert.equal(ev['direction'], 'inbound', '203.0.113.9 is outside protectedNetworks');
      const xf = rig.hop.messages.at(-1)?.xforward;
      assert.deepEqual(
        [xf?.['ADDR'], xf?.['NAME'], xf?.['HELO'], xf?.['PROTO'], xf?.['PORT'], xf?.['IDENT'], xf?.['SOURCE']],
        ['203.0.113.9', 'mx.example.net', 'orig.helo.example', 'SMTP', 4711, 'FRONTQ1', 'REMOTE'],
      );
    } finally {
      await rig.close();
    }
  });

  test('trustedProxyClients follows a reload: a new session from a newly trusted address is offered XFORWARD and may use it', async () => {
    const rig = await startProxy();
    try {
      const before = await rig.open();
      assert.ok(!before.ehlo.lines.some((l) => l.startsWith('XFORWARD')));
      assert.equal((await before.c.cmd('XFORWARD ADDR=203.0.113.9'))?.code, 550);
      before.c.close();
      await rig.reload({ trustedProxyClients: ['127.0.0.0/8'] });
      const after = await rig.open();
      assert.ok(after.ehlo.lines.some((l) => l.startsWith('XFORWARD')));
      assert.equal((await after.c.cmd('XFORWARD ADDR=203.0.113.9'))?.code, 250);
      after.c.close();
    } finally {
      await rig.close();
    }
  });

  test('a trusted front with XCLIENT: new greeting, and the forwarded client is the session\'s client', async () => {
    const rig = await startProxy({ trustedProxyClients: ['127.0.0.1'] });
    try {
      const { c } = await rig.open();
      const g = await c.cmd('XCLIENT NAME=[UNAVAILABLE] ADDR=198.51.100.20 HELO=xc.helo.example PROTO=ESMTP');
      assert.equal(g?.code, 220, 'XCLIENT starts the session over');
      assert.equal((await c.cmd('EHLO front.example'))?.code, 250);
      assert.equal(await mail(c), 250);
      c.close();
      const ev = await nthTransfer(rig, 1);
      assert.match(String(ev['client']), /^198\.51\.100\.20:/);
      assert.equal(ev['direction'], 'inbound');
      const xf = rig.hop.messages.at(-1)?.xforward;
      assert.deepEqual([xf?.['ADDR'], xf?.['HELO']], ['198.51.100.20', 'xc.helo.example'], 'the client\'s HELO, not the front\'s EHLO');
    } finally {
      await rig.close();
    }
  });
});

describe('XCLIENT to the next hop', () => {
  test('next hop offers XCLIENT only: it is sent, and the next hop sees the real client', async () => {
    const rig = await startProxy({ trustedProxyClients: ['127.0.0.1'] }, { xforward: false, xclient: true });
    try {
      const { c } = await rig.open();
      assert.equal((await c.cmd('XFORWARD ADDR=203.0.113.9 NAME=mx.example.net HELO=orig.helo.example PROTO=ESMTP'))?.code, 250);
      assert.equal(await mail(c), 250);
      c.close();
      const got = rig.hop.messages.at(-1);
      assert.equal(got?.xforward, undefined);
      assert.deepEqual([got?.xclient?.['ADDR'], got?.xclient?.['NAME'], got?.xclient?.['HELO']], ['203.0.113.9', 'mx.example.net', 'orig.helo.example']);
      assert.equal(got?.client.addr, '203.0.113.9', 'the next hop\'s session belongs to the real client');
      assert.equal(got?.client.helo, 'orig.helo.example', 'the EHLO after XCLIENT is said as the client (Postfix takes HELO from it)');
    } finally {
      await rig.close();
    }
  });

  const both = [
    { name: 'both offered, default: XFORWARD', smtp: {}, want: 'xforward' },
    { name: 'both offered, xclient: prefer: XCLIENT', smtp: { xclient: 'prefer' }, want: 'xclient' },
    { name: 'XCLIENT only offered, xclient: off: neither', smtp: { xclient: 'off' }, hopXforward: false, want: 'none' },
  ];
  for (const c of both) {
    test(c.name, async () => {
      const rig = await startProxy(c.smtp, { xforward: c.hopXforward ?? true, xclient: true });
      try {
        const { c: cl } = await rig.open();
        assert.equal(await mail(cl), 250);
        cl.close();
        const got = rig.hop.messages.at(-1);
        const used = got?.xclient !== undefined ? 'xclient' : got?.xforward !== undefined ? 'xforward' : 'none';
        assert.equal(used, c.want);
      } finally {
        await rig.close();
      }
    });
  }

  test('a second forwarded client in the same session gets a fresh next-hop connection for its XCLIENT', async () => {
    const rig = await startProxy({ trustedProxyClients: ['127.0.0.1'], xclient: 'prefer' }, { xclient: true });
    try {
      const { c } = await rig.open();
      assert.equal((await c.cmd('XFORWARD ADDR=203.0.113.1 HELO=one.example'))?.code, 250);
      assert.equal(await mail(c), 250);
      assert.equal(await mail(c), 250, 'same client again: same connection');
      const afterFirst = rig.hop.connections();
      assert.equal((await c.cmd('XFORWARD ADDR=203.0.113.2 HELO=two.example'))?.code, 250);
      assert.equal(await mail(c), 250);
      c.close();
      assert.deepEqual(rig.hop.messages.map((m) => m.client.addr), ['203.0.113.1', '203.0.113.1', '203.0.113.2']);
      assert.deepEqual(rig.hop.messages.map((m) => m.xclient?.['HELO']), ['one.example', 'one.example', 'two.example']);
      assert.equal(rig.hop.connections(), afterFirst + 1);
    } finally {
      await rig.close();
    }
  });
});

describe('XCLIENT to the next hop: quarantine notices', () => {
  test('a notice is portcullis\'s own mail: sent on a connection without XCLIENT, not as the virus sender', async () => {
    const rig = await startProxy({ trustedProxyClients: ['127.0.0.1'], xclient: 'prefer' }, { xclient: true });
    try {
      const { c } = await rig.open();
      assert.equal((await c.cmd('XFORWARD ADDR=203.0.113.66 HELO=sender.example'))?.code, 250);
      assert.equal((await c.cmd('MAIL FROM:<alice@example.net>'))?.code, 250);
      assert.equal((await c.cmd('RCPT TO:<bob@example.org>'))?.code, 250);
      assert.equal((await c.cmd('DATA'))?.code, 354);
      c.write(`Subject: virus\r\n\r\n${eicar()}\r\n.\r\n`);
      const r = await c.reply();
      assert.deepEqual([r?.code, r?.enhanced], [554, '5.7.1'], 'inbound virus: quarantined and refused');
      c.close();
      const notice = await waitUntil(() => rig.hop.messages.find((m) => m.from === ''));
      assert.equal(notice.xclient, undefined);
      assert.equal(notice.client.addr, '127.0.0.1');
      assert.equal(notice.client.helo, 'proxy.test');
    } finally {
      await rig.close();
    }
  });
});

describe('XCLIENT to the next hop: failures', () => {
  test('the next hop drops the connection during the scan: the replayed envelope gets XCLIENT again', async () => {
    const rig = await startProxy({ trustedProxyClients: ['127.0.0.1'], xclient: 'prefer' }, { xclient: true, dropFirstSessionAfterRcpt: true });
    try {
      const { c } = await rig.open();
      assert.equal((await c.cmd('XFORWARD ADDR=203.0.113.9 HELO=orig.helo.example'))?.code, 250);
      assert.equal((await c.cmd('MAIL FROM:<alice@example.net>'))?.code, 250);
      assert.equal((await c.cmd('RCPT TO:<bob@example.org>'))?.code, 250);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await c.cmd('DATA'))?.code, 354);
      c.write(`${MESSAGE}.\r\n`);
      assert.equal((await c.reply())?.code, 250);
      c.close();
      await rig.log.waitFor((l) => l['msg'] === 'next hop reconnected, envelope replayed');
      const got = rig.hop.messages.at(-1);
      assert.equal(rig.hop.messages.length, 1);
      assert.deepEqual([got?.client.addr, got?.client.helo], ['203.0.113.9', 'orig.helo.example']);
      assert.ok(rig.hop.connections() >= 2, 'a second connection carried the message');
    } finally {
      await rig.close();
    }
  });

  test('a next hop that offers XCLIENT but refuses it: MAIL gets 451 4.7.0 and a log line, nothing is sent as portcullis', async () => {
    const seen: string[] = [];
    const fake = createServer((s) => {
      s.write('220 fake.test ESMTP\r\n');
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          seen.push(line);
          const verb = line.split(' ')[0]?.toUpperCase();
          if (verb === 'EHLO') s.write('250-fake.test\r\n250-PIPELINING\r\n250 XCLIENT NAME ADDR PROTO HELO\r\n');
          else if (verb === 'XCLIENT') s.write('550 5.7.0 Error: insufficient authorization\r\n');
          else if (verb === 'QUIT') s.end('221 2.0.0 Bye\r\n');
          else s.write('250 2.0.0 Ok\r\n');
        }
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', () => resolve()));
    const port = (fake.address() as AddressInfo).port;
    const rig = await startProxy({ nextHop: `127.0.0.1:${port}` });
    try {
      const { c } = await rig.open();
      const r = await c.cmd('MAIL FROM:<alice@example.net>');
      assert.deepEqual([r?.code, r?.enhanced], [451, '4.7.0']);
      await rig.log.waitFor((l) => l['msg'] === 'next hop refused XCLIENT');
      c.close();
      assert.ok(seen.some((l) => l.startsWith('XCLIENT ')), seen.join('|'));
      assert.ok(!seen.some((l) => l.startsWith('MAIL ')), 'no MAIL FROM as portcullis after the refusal');
    } finally {
      await rig.close();
      fake.close();
    }
  });
});

describe('PROXY protocol on the listener', () => {
  async function proxied(rig: ProxyRig, header: Buffer | string): Promise<RawSmtp> {
    const c = await RawSmtp.open(rig.port);
    c.write(header);
    const greet = await c.reply();
    assert.equal(greet?.code, 220);
    assert.equal((await c.cmd('EHLO lb-client.test'))?.code, 250);
    return c;
  }

  test('v2 and v1 headers: the address in the header is the session\'s client (event, direction, XFORWARD)', async () => {
    const rig = await startProxy({ proxyProtocol: true });
    try {
      const c2 = await proxied(rig, v2tcp4('198.51.100.7', 4242));
      assert.equal(await mail(c2), 250);
      c2.close();
      const ev2 = await nthTransfer(rig, 1);
      assert.equal(ev2['client'], '198.51.100.7:4242');
      assert.equal(ev2['direction'], 'inbound');
      assert.deepEqual([rig.hop.messages.at(-1)?.xforward?.['ADDR'], rig.hop.messages.at(-1)?.xforward?.['PORT']], ['198.51.100.7', 4242]);

      const c1 = await proxied(rig, 'PROXY TCP4 10.1.2.3 192.0.2.25 5555 25\r\n');
      assert.equal(await mail(c1), 250);
      c1.close();
      const ev1 = await nthTransfer(rig, 2);
      assert.equal(ev1['client'], '10.1.2.3:5555');
      assert.equal(ev1['direction'], 'outbound', '10.0.0.0/8 is protected');
      assert.equal(rig.hop.messages.at(-1)?.xforward?.['ADDR'], '10.1.2.3');

      const local = await proxied(rig, v2(0, 0x00, Buffer.alloc(0)));
      assert.equal(await mail(local), 250);
      local.close();
      assert.match(String((await nthTransfer(rig, 3))['client']), /^127\.0\.0\.1:/, 'LOCAL: the socket\'s own peer');

      const six = await proxied(rig, v2tcp6(Buffer.from('20010db8000000000000000000000007', 'hex'), 6000));
      assert.equal(await mail(six), 250);
      six.close();
      const ev6 = await nthTransfer(rig, 4);
      assert.match(String(ev6['client']), /^\[?2001:db8::7\]?:6000$/);
      assert.equal(ev6['direction'], 'inbound');
      assert.equal(rig.hop.messages.at(-1)?.xforward?.['ADDR'], '2001:db8::7', 'sent as IPV6:2001:db8::7, read back by the next hop');
    } finally {
      await rig.close();
    }
  });

  test('no header, a bad header, or a peer outside proxyProtocolFrom: closed with a log line, the listener goes on', async () => {
    const rig = await startProxy({ proxyProtocol: true, proxyProtocolTimeout: '1s' });
    try {
      const silent = await RawSmtp.open(rig.port);
      assert.equal(await silent.reply(5000), undefined, 'closed without a greeting');
      await rig.log.waitFor((l) => l['msg'] === 'connection closed: no valid PROXY header' && /no PROXY header within 1000 ms/.test(String(l['reason'])));

      const smtpFirst = await RawSmtp.open(rig.port);
      smtpFirst.write('EHLO plain.client\r\n');
      assert.equal(await smtpFirst.reply(5000), undefined);
      await rig.log.waitFor((l) => l['msg'] === 'connection closed: no valid PROXY header' && /not a PROXY header/.test(String(l['reason'])));

      const ok = await proxied(rig, 'PROXY TCP4 198.51.100.8 192.0.2.25 4000 25\r\n');
      assert.equal(await mail(ok), 250, 'still serving');
      ok.close();
    } finally {
      await rig.close();
    }
    const fenced = await startProxy({ proxyProtocol: true, proxyProtocolFrom: ['192.0.2.0/24'] });
    try {
      const c = await RawSmtp.open(fenced.port);
      c.write('PROXY TCP4 198.51.100.8 192.0.2.25 4000 25\r\n');
      assert.equal(await c.reply(5000), undefined);
      await fenced.log.waitFor((l) => /proxyProtocolFrom/.test(String(l['reason'])));
      assert.equal(fenced.hop.messages.length, 0);
    } finally {
      await fenced.close();
    }
  });
});
