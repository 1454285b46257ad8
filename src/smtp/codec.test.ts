/**
 * The SMTP proxy's byte-level pieces, each run on the whole input and again
 * split at every byte boundary (STYLE principle 3): dot-stuffing, the DATA
 * guard, the reply parser; plus the envelope command builders.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dotStuff, DotStuffer } from './dotstuff.js';
import { DataGuard, type GuardOptions } from './guard.js';
import { mailCommand, rcptCommand, xforwardCommands, xtext } from './params.js';
import { formatReply, ReplyParser, type Reply } from './reply.js';

/** Every way to cut `data` in two, plus byte by byte. */
function splits(data: Buffer): Buffer[][] {
  const out: Buffer[][] = [[data]];
  for (let i = 1; i < data.length; i++) out.push([data.subarray(0, i), data.subarray(i)]);
  out.push([...data].map((b) => Buffer.from([b])));
  return out;
}

/** A naive reference: unstuffed message → wire form. */
function naiveStuff(msg: string): string {
  if (msg === '') return '.\r\n';
  const body = msg.endsWith('\r\n') ? msg : `${msg}\r\n`;
  return `${body.split('\r\n').map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n')}.\r\n`;
}

describe('dot-stuffing', () => {
  const cases: [string, string][] = [
    ['empty message', ''],
    ['plain lines', 'a\r\nb\r\n'],
    ['no final CRLF', 'a\r\nb'],
    ['leading dot on the first line', '.hidden\r\nx\r\n'],
    ['a lone dot line inside', 'a\r\n.\r\nb\r\n'],
    ['two dots', '..\r\n'],
    ['dot after CR inside a line is not at line start', 'a\r.b\r\n'],
    ['many dot lines', '.\r\n.\r\n..\r\n.x\r\n'],
  ];
  for (const [name, msg] of cases) {
    test(name, () => {
      const want = naiveStuff(msg);
      for (const parts of splits(Buffer.from(msg, 'latin1'))) {
        const s = new DotStuffer();
        const got = Buffer.concat([...parts.flatMap((p) => s.push(p)), s.end()]).toString('latin1');
        assert.equal(got, want, `split ${parts.map((p) => p.length).join('+')}`);
      }
      assert.equal(dotStuff(Buffer.from(msg, 'latin1')).toString('latin1'), want);
    });
  }
});

const GUARD: GuardOptions = { bareNewline: 'reject', maxLineLength: 20, maxHeaderSize: 40 };

describe('DATA guard', () => {
  const cases: { name: string; input: string; opts?: Partial<GuardOptions>; violation?: string; output?: string }[] = [
    { name: 'CRLF only is fine', input: 'Subject: a\r\n\r\nbody\r\n' },
    { name: 'bare LF is refused', input: 'Subject: a\r\n\r\nbo\ndy\r\n', violation: 'bareNewline' },
    { name: 'bare CR is refused', input: 'Subject: a\r\n\r\nbo\rdy\r\n', violation: 'bareNewline' },
    { name: 'the smuggling sequence LF.LF is refused', input: 'Subject: a\r\n\r\nx\n.\nMAIL FROM:<evil>\r\n', violation: 'bareNewline' },
    { name: 'a trailing bare CR is refused', input: 'Subject: a\r\n\r\nx\r', violation: 'bareNewline' },
    { name: 'bare LF normalised', input: 'S: a\n\nx\n.\ny\r\n', opts: { bareNewline: 'normalise' }, output: 'S: a\r\n\r\nx\r\n.\r\ny\r\n' },
    { name: 'bare CR normalised', input: 'S: a\r\n\r\nx\ry\r\r\n', opts: { bareNewline: 'normalise' }, output: 'S: a\r\n\r\nx\r\ny\r\n\r\n' },
    { name: 'line too long', input: 'S: a\r\n\r\n123456789012345678901\r\n', violation: 'lineTooLong' },
    { name: 'line at the limit', input: 'S: a\r\n\r\n12345678901234567890\r\n' },
    { name: 'header section too big', input: 'A: 1234567890\r\nB: 1234567890\r\nC: 1234567890\r\n\r\nx\r\n', violation: 'headerTooBig' },
    { name: 'a big body is not a big header', input: `S: a\r\n\r\n${'1234567890\r\n'.repeat(10)}` },
  ];
  for (const c of cases) {
    test(c.name, () => {
      for (const parts of splits(Buffer.from(c.input, 'latin1'))) {
        const g = new DataGuard({ ...GUARD, ...c.opts });
        const out = Buffer.concat([...parts.map((p) => g.push(p)), g.end()]).toString('latin1');
        const at = `split ${parts.map((p) => p.length).join('+')}`;
        assert.equal(g.violation, c.violation, at);
        assert.equal(out, c.output ?? c.input, at);
      }
    });
  }
});

describe('reply parser', () => {
  const cases: { name: string; wire: string; replies: Reply[] }[] = [
    { name: 'one line with enhanced code', wire: '250 2.1.0 Ok\r\n', replies: [{ code: 250, enhanced: '2.1.0', lines: ['Ok'] }] },
    { name: 'no enhanced code', wire: '220 mx ESMTP\r\n', replies: [{ code: 220, lines: ['mx ESMTP'] }] },
    { name: 'class mismatch is text', wire: '550 2.0.0 odd\r\n', replies: [{ code: 550, lines: ['2.0.0 odd'] }] },
    {
      name: 'multi-line EHLO',
      wire: '250-mx\r\n250-PIPELINING\r\n250 SIZE 100\r\n',
      replies: [{ code: 250, lines: ['mx', 'PIPELINING', 'SIZE 100'] }],
    },
    {
      name: 'multi-line with enhanced code on each line, and a second reply',
      wire: '550-5.7.1 first\r\n550 5.7.1 second\r\n354 go\r\n',
      replies: [{ code: 550, enhanced: '5.7.1', lines: ['first', 'second'] }, { code: 354, lines: ['go'] }],
    },
    { name: 'bare LF line ends', wire: '250 ok\n', replies: [{ code: 250, lines: ['ok'] }] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      for (const parts of splits(Buffer.from(c.wire, 'latin1'))) {
        const p = new ReplyParser();
        const got = parts.flatMap((x) => p.push(x));
        assert.deepEqual(got, c.replies.map((reply) => ({ kind: 'reply', reply })));
      }
    });
  }

  test('garbage is a protocol error', () => {
    const ev = new ReplyParser().push(Buffer.from('HTTP/1.1 400 Bad\r\n'));
    assert.equal(ev[0]?.kind, 'error');
  });

  test('formatReply writes the enhanced code on every line', () => {
    assert.equal(formatReply({ code: 550, enhanced: '5.1.1', lines: ['a', 'b'] }), '550-5.1.1 a\r\n550 5.1.1 b\r\n');
  });
});

describe('envelope commands', () => {
  const all = { has: () => true };
  const none = { has: () => false };
  const cases: { name: string; got: () => string | string[]; want: string | string[] }[] = [
    { name: 'MAIL with every parameter offered', got: () => mailCommand('a@b', { SIZE: '100', BODY: '8bitmime', SMTPUTF8: true, RET: 'hdrs', ENVID: 'id+1 x' }, all), want: 'MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+20x' },
    { name: 'MAIL with nothing offered', got: () => mailCommand('a@b', { SIZE: '100', BODY: '8BITMIME', SMTPUTF8: true, RET: 'FULL' }, none), want: 'MAIL FROM:<a@b>' },
    { name: 'null sender', got: () => mailCommand('', false, all), want: 'MAIL FROM:<>' },
    { name: 'RCPT with DSN', got: () => rcptCommand('c@d', { NOTIFY: 'success,failure', ORCPT: 'rfc822;c@d' }, all), want: 'RCPT TO:<c@d> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c@d' },
    { name: 'RCPT without DSN offered', got: () => rcptCommand('c@d', { NOTIFY: 'NEVER' }, none), want: 'RCPT TO:<c@d>' },
    { name: 'xtext', got: () => xtext('a=b+c d'), want: 'a+3Db+2Bc+20d' },
    {
      name: 'XFORWARD with only offered attributes, unknown as [UNAVAILABLE]',
      got: () => xforwardCommands('ADDR HELO NAME', { addr: '::ffff:192.0.2.1', helo: 'client.example', name: '[192.0.2.1]', proto: 'ESMTP' }),
      want: ['XFORWARD NAME=[UNAVAILABLE] ADDR=192.0.2.1 HELO=client.example'],
    },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(c.got(), c.want));
});
