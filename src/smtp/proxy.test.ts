/**
 * The SMTP proxy end to end on loopback: raw protocol lines to the real
 * listener (inside a real Gateway with the built-in scanner, quarantine and
 * events), an in-process next hop that keeps what it receives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eicar, startProxy, type ProxyRig } from './testing.js';

const CLEAN = [
  'From: Alice <alice@example.net>',
  'To: bob@example.org',
  'Subject: hello',
  'Message-ID: <1@example.net>',
  '',
  'Just text.',
  '.leading dot line',
  '',
].join('\r\n');

/** CLEAN as a client writes it in DATA (dot-stuffed). */
const WIRE = CLEAN.replace(/^\./gm, '..');

function mimeWith(attachmentName: string, payload: Buffer): string {
  const b64 = payload.toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    'From: alice@example.net',
    'To: bob@example.org',
    'Subject: with attachment',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="XYZ"',
    '',
    'preamble',
    '--XYZ',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'See attached.',
    '--XYZ',
    `Content-Type: application/octet-stream; name="${attachmentName}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${attachmentName}"`,
    '',
    b64,
    '--XYZ--',
    '',
  ].join('\r\n');
}

/** Sends one message through an open session; returns the final reply. */
async function send(rig: ProxyRig, message: string, rcpts = ['bob@example.org']) {
  const { c } = await rig.open();
  try {
    assert.equal((await c.cmd('MAIL FROM:<alice@example.net>'))?.code, 250);
    for (const r of rcpts) await c.cmd(`RCPT TO:<${r}>`);
    assert.equal((await c.cmd('DATA'))?.code, 354);
    c.write(`${message.replace(/^\./gm, '..')}${message.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    return await c.reply();
  } finally {
    c.close();
  }
}

describe('smtp proxy: clean mail and the envelope', () => {
  let rig: ProxyRig;
  before(async () => { rig = await startProxy({}, { refuse: { 'nobody@example.org': { code: 550, text: '5.1.1 <nobody@example.org>: Recipient address rejected: User unknown' }, 'later@example.org': { code: 450, text: '4.2.1 Mailbox busy' } } }); });
  after(async () => { await rig.close(); });

  test('a clean message reaches the next hop byte for byte after the two prepended headers', async () => {
    const r = await send(rig, CLEAN);
    assert.equal(r?.code, 250);
    assert.match(r?.lines[0] ?? '', /TESTQUEUEID/, 'the next hop\'s own final reply is relayed');
    const got = rig.hop.messages.at(-1);
    assert.ok(got !== undefined);
    const text = got.data.toString('latin1');
    assert.match(text, /^X-Virus-Scanned: portcullis on proxy\.test\r\nX-Virus-Status: Clean\r\n/);
    assert.equal(text, `X-Virus-Scanned: portcullis on proxy.test\r\nX-Virus-Status: Clean\r\n${CLEAN}`);
  });

  test('per-recipient refusals of the next hop are relayed with code, enhanced code and text', async () => {
    const { c } = await rig.open();
    assert.equal((await c.cmd('MAIL FROM:<alice@example.net>'))?.code, 250);
    const ok = await c.cmd('RCPT TO:<bob@example.org>');
    const no = await c.cmd('RCPT TO:<nobody@example.org>');
    const later = await c.cmd('RCPT TO:<later@example.org>');
    assert.equal(ok?.code, 250);
    assert.deepEqual([no?.code, no?.enhanced], [550, '5.1.1']);
    assert.match(no?.lines[0] ?? '', /User unknown/);
    assert.deepEqual([later?.code, later?.enhanced], [450, '4.2.1']);
    assert.equal((await c.cmd('DATA'))?.code, 354);
    c.write(`${WIRE}.\r\n`);
    assert.equal((await c.reply())?.code, 250);
    assert.deepEqual(rig.hop.messages.at(-1)?.rcpts, ['bob@example.org']);
    c.close();
  });

  test('pipelined envelope and message get their replies in order', async () => {
    const { c } = await rig.open();
    const before = rig.hop.messages.length;
    c.write(`MAIL FROM:<alice@example.net>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n`);
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await c.reply())?.code);
    assert.deepEqual(codes, [250, 250, 550, 354]);
    c.write(`${WIRE}.\r\nMAIL FROM:<carol@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n`);
    const more = [];
    for (let i = 0; i < 4; i++) more.push((await c.reply())?.code);
    assert.deepEqual(more, [250, 250, 250, 354]);
    c.write(`${WIRE}.\r\nQUIT\r\n`);
    assert.equal((await c.reply())?.code, 250);
    assert.equal((await c.reply())?.code, 221);
    assert.equal(rig.hop.messages.length, before + 2);
    assert.equal(rig.hop.messages.at(-1)?.from, 'carol@example.net');
    c.close();
  });

  test('EHLO offers what the proxy relays', async () => {
    const { c, ehlo } = await rig.open();
    const kws = ehlo.lines.slice(1).map((l) => l.split(' ')[0]);
    for (const k of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'DSN', 'SIZE']) assert.ok(kws.includes(k), `${k} in ${kws.join(' ')}`);
    assert.ok(!kws.includes('STARTTLS'), 'no STARTTLS without a certificate');
    c.close();
  });

  test('the next hop sees the real client through XFORWARD', async () => {
    await send(rig, CLEAN);
    const xf = rig.hop.messages.at(-1)?.xforward;
    assert.equal(xf?.['ADDR'], '127.0.0.1');
    assert.equal(xf?.['HELO'], 'client.test');
  });
});

describe('smtp proxy: actions', () => {
  test('EICAR in a base64 attachment is rejected with 554 5.7.1 naming it, and nothing reaches the next hop', async () => {
    const rig = await startProxy({}, {}, { policy: { actions: { smtp: { inbound: { virus: 'block' }, outbound: { virus: 'block' } } } } });
    try {
      const r = await send(rig, mimeWith('eicar.com', Buffer.from(eicar())));
      assert.deepEqual([r?.code, r?.enhanced], [554, '5.7.1']);
      assert.match(r?.lines[0] ?? '', /Eicar/i);
      assert.equal(rig.hop.messages.length, 0);
    } finally {
      await rig.close();
    }
  });
});
