/**
 * The control-channel codecs and address parsers: tables of named cases, each
 * command/reply stream also fed split at every byte boundary, and seeded
 * random bytes that must never throw anything but the documented errors.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseGatewayUser } from './access.js';
import { activeCommand, formatPasv, parseEprt, parseEpsvReply, parsePasvReply, parsePort, sameHost } from './addresses.js';
import { CommandReader, formatReply, ReplyError, ReplyReader, type CommandEvent } from './codec.js';

function feedAll(input: Buffer, splits: number[]): CommandEvent[] {
  const r = new CommandReader(32);
  const out: CommandEvent[] = [];
  let at = 0;
  for (const s of [...splits, input.length]) {
    out.push(...r.feed(input.subarray(at, s)));
    at = s;
  }
  return out;
}

const lines = (...ls: string[]): CommandEvent[] => ls.map((line) => ({ kind: 'line', line }));

describe('CommandReader', () => {
  const cases: [string, Buffer, CommandEvent[]][] = [
    ['one command', Buffer.from('NOOP\r\n'), lines('NOOP')],
    ['pipelined commands', Buffer.from('USER a\r\nPASS b\r\nPWD\r\n'), lines('USER a', 'PASS b', 'PWD')],
    ['bare LF', Buffer.from('NOOP\nPWD\n'), lines('NOOP', 'PWD')],
    ['no end yet', Buffer.from('NOO'), []],
    ['IAC IP IAC DM before ABOR', Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('ABOR\r\n')]), lines('ABOR')],
    ['IAC IP then IAC with DM sent out of band', Buffer.from([0xff, 0xf4, 0xff, ...Buffer.from('ABOR\r\n')]), lines('ABOR')],
    ['IAC IAC is a literal 0xFF', Buffer.from([...Buffer.from('RETR a'), 0xff, 0xff, ...Buffer.from('b\r\n')]), lines('RETR a\u00ffb')],
    ['option negotiation is dropped', Buffer.from([0xff, 0xfb, 0x01, ...Buffer.from('NOOP\r\n'), 0xff, 0xfd, 0x03]), lines('NOOP')],
    ['subnegotiation is dropped', Buffer.from([0xff, 0xfa, 0x18, 0x01, 0xff, 0xf0, ...Buffer.from('PWD\r\n')]), lines('PWD')],
    ['over-long line, then a good one', Buffer.from(`RETR ${'x'.repeat(40)}\r\nNOOP\r\n`), [{ kind: 'tooLong' }, ...lines('NOOP')]],
    ['exactly the limit', Buffer.from(`${'y'.repeat(31)}\r\n`), lines('y'.repeat(31))],
    ['UTF-8 bytes survive as latin1', Buffer.from('STOR Grüße.txt\r\n'), lines(Buffer.from('STOR Grüße.txt').toString('latin1'))],
  ];
  for (const [name, input, expected] of cases) {
    it(`${name}: whole and split at every byte`, () => {
      assert.deepEqual(feedAll(input, []), expected);
      for (let i = 1; i < input.length; i++) assert.deepEqual(feedAll(input, [i]), expected, `split at ${i}`);
    });
  }

  it('never throws and never holds more than its limit on random bytes (seeded)', () => {
    let seed = 7;
    const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    for (let n = 0; n < 200; n++) {
      const bytes = Buffer.from(Array.from({ length: rnd() % 400 }, () => rnd() % 256));
      for (const ev of new CommandReader(32).feed(bytes)) if (ev.kind === 'line') assert.ok(ev.line.length <= 32);
    }
  });
});

describe('ReplyReader', () => {
  const cases: [string, string, { code: number; lines: string[] }[]][] = [
    ['single line', '220 hello\r\n', [{ code: 220, lines: ['220 hello'] }]],
    ['multi-line with digit-led continuation lines', '211-Features:\r\n 123 x\r\n226 not the end\r\n211-still not\r\n211 End\r\n',
      [{ code: 211, lines: ['211-Features:', ' 123 x', '226 not the end', '211-still not', '211 End'] }]],
    ['two replies in one segment', '150 go\r\n226 done\r\n', [{ code: 150, lines: ['150 go'] }, { code: 226, lines: ['226 done'] }]],
    ['bare code line', '200\r\n', [{ code: 200, lines: ['200'] }]],
  ];
  for (const [name, text, expected] of cases) {
    it(`${name}: whole and split at every byte`, () => {
      const input = Buffer.from(text, 'latin1');
      for (let i = 0; i < input.length; i++) {
        const r = new ReplyReader();
        const got = [...r.feed(input.subarray(0, i)), ...r.feed(input.subarray(i))];
        assert.deepEqual(got.map((x) => ({ code: x.code, lines: [...x.lines] })), expected, `split at ${i}`);
      }
    });
  }

  const broken: [string, string][] = [
    ['no code', 'hello\r\n'],
    ['code out of range', '999 what\r\n'],
    ['over-long line', `200 ${'x'.repeat(9000)}`],
  ];
  for (const [name, text] of broken) {
    it(`refuses ${name} with ReplyError`, () => {
      assert.throws(() => new ReplyReader().feed(Buffer.from(text)), ReplyError);
    });
  }

  it('refuses a multi-line reply of too many lines', () => {
    const r = new ReplyReader(100, 10);
    assert.throws(() => r.feed(Buffer.from(`211-x\r\n${' f\r\n'.repeat(20)}`)), ReplyError);
  });
});

describe('formatReply', () => {
  it('puts the code on every line and lets no CR/LF through', () => {
    const text = formatReply(550, 'refused\r\n226 fake', ['evil\r\n226 Transfer complete', 'ok']);
    const ls = text.split('\r\n').slice(0, -1);
    assert.deepEqual(ls, ['550-evil 226 Transfer complete', '550-ok', '550 refused 226 fake']);
  });

  it('caps line length and line count', () => {
    const text = formatReply(550, 'x'.repeat(1000), Array.from({ length: 50 }, (_, i) => `finding ${i} ${'y'.repeat(500)}`));
    const ls = text.split('\r\n').slice(0, -1);
    assert.ok(ls.length <= 22, `${ls.length} lines`);
    assert.ok(ls.every((l) => l.length <= 205));
    assert.ok(ls.slice(0, -1).every((l) => l.startsWith('550-')));
    assert.match(ls.at(-1) ?? '', /^550 x+\.\.\.$/);
  });
});

describe('data addresses', () => {
  const ports: [string, string, { host: string; port: number } | undefined][] = [
    ['PORT', '127,0,0,1,4,1', { host: '127.0.0.1', port: 1025 }],
    ['PORT with spaces around', ' 10,0,0,2,200,10 ', { host: '10.0.0.2', port: 51210 }],
    ['PORT with a number over 255', '127,0,0,1,256,1', undefined],
    ['PORT with five numbers', '127,0,0,1,4', undefined],
    ['PORT with text', '127,0,0,1,4,1x', undefined],
  ];
  for (const [name, arg, expected] of ports) it(name, () => assert.deepEqual(parsePort(arg), expected));

  const eprts: [string, string, { host: string; port: number } | undefined][] = [
    ['EPRT |1|', '|1|127.0.0.1|5282|', { host: '127.0.0.1', port: 5282 }],
    ['EPRT |2|', '|2|::1|5282|', { host: '::1', port: 5282 }],
    ['EPRT with another delimiter', '!1!10.1.2.3!6000!', { host: '10.1.2.3', port: 6000 }],
    ['EPRT family mismatch', '|1|::1|5282|', undefined],
    ['EPRT unknown family', '|3|x|5282|', undefined],
    ['EPRT port 0', '|1|127.0.0.1|0|', undefined],
    ['EPRT port too big', '|1|127.0.0.1|70000|', undefined],
    ['EPRT missing fields', '|1|127.0.0.1|', undefined],
  ];
  for (const [name, arg, expected] of eprts) it(name, () => assert.deepEqual(parseEprt(arg), expected));

  it('227 and 229 replies', () => {
    assert.deepEqual(parsePasvReply('Entering Passive Mode (192,168,1,2,195,80).'), { host: '192.168.1.2', port: 50000 });
    assert.deepEqual(parsePasvReply('Entering Passive Mode 192,168,1,2,195,80'), { host: '192.168.1.2', port: 50000 });
    assert.equal(parsePasvReply('Entering Passive Mode'), undefined);
    assert.equal(parseEpsvReply('Entering Extended Passive Mode (|||6446|)'), 6446);
    assert.equal(parseEpsvReply('Entering Extended Passive Mode (!!!6446!)'), 6446);
    assert.equal(parseEpsvReply('Entering Extended Passive Mode (||6446|)'), undefined);
  });

  it('formats PASV, PORT and EPRT', () => {
    assert.equal(formatPasv('10.0.0.1', 50000), '10,0,0,1,195,80');
    assert.equal(activeCommand('::ffff:127.0.0.1', 1025), 'PORT 127,0,0,1,4,1');
    assert.equal(activeCommand('::1', 1025), 'EPRT |2|::1|1025|');
  });

  it('an IPv4-mapped address is the same host as its IPv4 form', () => {
    assert.ok(sameHost('::ffff:127.0.0.1', '127.0.0.1'));
    assert.ok(!sameHost('127.0.0.2', '127.0.0.1'));
    assert.ok(!sameHost(undefined, '127.0.0.1'));
  });
});

describe('gateway USER', () => {
  const cases: [string, string, { user: string; host: string; port: number } | undefined][] = [
    ['name@host', 'anonymous@ftp.example.org', { user: 'anonymous', host: 'ftp.example.org', port: 21 }],
    ['name@host:port', 'anonymous@127.0.0.1:2121', { user: 'anonymous', host: '127.0.0.1', port: 2121 }],
    ['split on the last @', 'me@example.org@ftp.example.org', { user: 'me@example.org', host: 'ftp.example.org', port: 21 }],
    ['IPv6 in brackets', 'ftp@[2001:db8::1]:21', { user: 'ftp', host: '2001:db8::1', port: 21 }],
    ['no host', 'anonymous', undefined],
    ['empty user', '@host', undefined],
    ['port 0', 'a@host:0', undefined],
    ['port too big', 'a@host:99999', undefined],
    ['junk host', 'a@ho st', undefined],
    ['brackets around a non-address', 'a@[host]:21', undefined],
  ];
  for (const [name, arg, expected] of cases) it(name, () => assert.deepEqual(parseGatewayUser(arg), expected));
});
