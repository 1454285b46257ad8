/**
 * The SMTP proxy end to end on loopback: raw protocol lines to the real
 * listener (inside a real Gateway with the built-in scanner, quarantine and
 * events), an in-process next hop that keeps what it receives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NextHopClient } from './client.js';
import { eicar, startNextHop, startProxy, type ProxyRig } from './testing.js';

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

/** A zip holding one stored file, built by hand (local header, data, central directory, end record). */
function storedZip(name: string, data: Buffer): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const b of data) crc = (crcTable[(crc ^ b) & 0xff] as number) ^ (crc >>> 8);
  crc = (crc ^ 0xffffffff) >>> 0;
  const fname = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(10, 4); local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(fname.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(20, 4); central.writeUInt16LE(10, 6); central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(fname.length, 28);
  const cdOffset = local.length + fname.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fname.length, 12); end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, fname, data, central, fname, end]);
}

function actions(action: string): Record<string, unknown> {
  return { policy: { actions: { smtp: { inbound: { virus: action }, outbound: { virus: action } } } } };
}

const INFECTED = mimeWith('eicar.zip', storedZip('eicar.com', Buffer.from(eicar())));

describe('smtp proxy: each action on EICAR in a zip', () => {
  test('quarantine: 554 with the id, the whole message stored, a notice to each recipient with the null sender', async () => {
    const rig = await startProxy({}, {}, actions('quarantine'));
    try {
      const r = await send(rig, INFECTED, ['bob@example.org', 'carol@example.org']);
      assert.deepEqual([r?.code, r?.enhanced], [554, '5.7.1']);
      const id = /quarantined as (\S+?)[,;]/.exec(r?.lines[0] ?? '')?.[1];
      assert.ok(id !== undefined, r?.lines[0]);
      const page = rig.gateway.stores.quarantine.list({});
      const entry = page.items.find((e) => e.id === id);
      assert.ok(entry !== undefined, 'the quarantine holds the message');
      assert.equal(entry.size, Buffer.byteLength(INFECTED));
      assert.equal(rig.hop.messages.length, 2, 'two notices, no message');
      for (const [i, m] of rig.hop.messages.entries()) {
        assert.equal(m.from, '', 'null sender');
        assert.deepEqual(m.rcpts, [['bob@example.org', 'carol@example.org'][i]]);
        assert.match(m.data.toString(), new RegExp(`quarantine id is ${id}`));
        assert.ok(!m.data.toString().includes('EICAR'), 'the notice does not carry the virus');
      }
    } finally {
      await rig.close();
    }
  });

  test('a quarantined mail released from the quarantine is re-delivered to its envelope through the next hop', async () => {
    const rig = await startProxy({ notifyRecipients: false }, {}, actions('quarantine'));
    try {
      const r = await send(rig, INFECTED);
      const id = /quarantined as (\S+?)[,;]/.exec(r?.lines[0] ?? '')?.[1] ?? '';
      assert.equal(rig.hop.messages.length, 0);
      const released = await rig.gateway.stores.quarantine.release(id);
      assert.equal(released.releasedTo, 'smtp');
      const m = rig.hop.messages.at(-1);
      assert.equal(m?.from, 'alice@example.net');
      assert.deepEqual(m?.rcpts, ['bob@example.org']);
      assert.equal(m?.data.toString('latin1'), `X-Portcullis-Released: ${id} on ${/on ([^\r]*)\r\n/.exec(m?.data.toString('latin1') ?? '')?.[1]}\r\n${INFECTED}`);
    } finally {
      await rig.close();
    }
  });

  test('quarantine with quarantineReply accept: 250 naming the id', async () => {
    const rig = await startProxy({ quarantineReply: 'accept', notifyRecipients: false }, {}, actions('quarantine'));
    try {
      const r = await send(rig, INFECTED);
      assert.equal(r?.code, 250);
      assert.match(r?.lines[0] ?? '', /quarantined as/);
      assert.equal(rig.hop.messages.length, 0);
    } finally {
      await rig.close();
    }
  });

  test('block with blockReply discard: 250, dropped, logged', async () => {
    const rig = await startProxy({ blockReply: 'discard' }, {}, actions('block'));
    try {
      const r = await send(rig, INFECTED);
      assert.equal(r?.code, 250);
      assert.match(r?.lines[0] ?? '', /dropped/);
      assert.equal(rig.hop.messages.length, 0);
      await rig.log.waitFor((l) => l['msg'] === 'message' && l['result'] === 'discarded');
    } finally {
      await rig.close();
    }
  });

  for (const action of ['strip', 'replace'] as const) {
    test(`${action}: the infected part is replaced by a text part, every other byte of the message kept`, async () => {
      const rig = await startProxy({ subjectTag: '[VIRUS]' }, {}, actions(action));
      try {
        const r = await send(rig, INFECTED);
        assert.equal(r?.code, 250);
        const got = rig.hop.messages.at(-1)?.data.toString('latin1') ?? '';
        assert.match(got, new RegExp(`^X-Virus-Scanned: [^\\r]*\\r\\nX-Virus-Status: ${action === 'strip' ? 'Stripped' : 'Replaced'} \\(Eicar`));
        assert.ok(!got.includes(storedZip('eicar.com', Buffer.from(eicar())).toString('base64').slice(0, 40)), 'the zip is gone');
        assert.match(got, /Subject: \[VIRUS\] with attachment/);
        // Everything before the infected part is byte-identical (after the tag).
        const body = got.slice(got.indexOf('To: bob'));
        const orig = INFECTED.slice(INFECTED.indexOf('To: bob')).replace('Subject: with', 'Subject: [VIRUS] with');
        const cut = orig.indexOf('Content-Type: application/octet-stream');
        assert.equal(body.slice(0, cut), orig.slice(0, cut));
        assert.match(body, /--XYZ--\r\n$/);
        assert.match(body, action === 'strip' ? /was removed by the virus scanner: Eicar/ : /Found: Eicar/);
      } finally {
        await rig.close();
      }
    });
  }

  test('pass: delivered as is, headers say what was found', async () => {
    const rig = await startProxy({}, {}, actions('pass'));
    try {
      const r = await send(rig, INFECTED);
      assert.equal(r?.code, 250);
      const got = rig.hop.messages.at(-1)?.data.toString('latin1') ?? '';
      assert.match(got, /^X-Virus-Scanned: portcullis on proxy\.test\r\nX-Virus-Status: Infected \(Eicar/);
      assert.ok(got.endsWith(INFECTED));
    } finally {
      await rig.close();
    }
  });

  test('uuencoded EICAR inside a text part is found', async () => {
    const rig = await startProxy({}, {}, actions('block'));
    try {
      const uu = (data: Buffer): string => {
        const lines = ['begin 644 eicar.com'];
        for (let i = 0; i < data.length; i += 45) {
          const chunk = data.subarray(i, i + 45);
          let line = String.fromCharCode(32 + chunk.length);
          for (let j = 0; j < chunk.length; j += 3) {
            const [a = 0, b = 0, c = 0] = [chunk[j], chunk[j + 1], chunk[j + 2]];
            for (const v of [a >> 2, ((a & 3) << 4) | (b >> 4), ((b & 15) << 2) | (c >> 6), c & 63]) line += String.fromCharCode(v === 0 ? 96 : v + 32);
          }
          lines.push(line);
        }
        return [...lines, '`', 'end'].join('\r\n');
      };
      const r = await send(rig, `From: a@example.net\r\nSubject: uu\r\n\r\nHere it is:\r\n${uu(Buffer.from(eicar()))}\r\n`);
      assert.deepEqual([r?.code, r?.enhanced], [554, '5.7.1']);
    } finally {
      await rig.close();
    }
  });

  test('a failing scanner is a 451 4.7.1 and nothing is delivered', async () => {
    const rig = await startProxy({}, {}, { scanners: [{ command: ['/bin/sh', '-c', 'exit 7', '{}'] }] });
    try {
      const r = await send(rig, CLEAN);
      assert.deepEqual([r?.code, r?.enhanced], [451, '4.7.1']);
      assert.equal(rig.hop.messages.length, 0);
    } finally {
      await rig.close();
    }
  });
});

describe('smtp proxy: fail-open by choice', () => {
  test('scannerFailure: pass delivers, and the header and the reply say the message was not scanned', async () => {
    const rig = await startProxy({}, {}, {
      scanners: [{ command: ['/bin/sh', '-c', 'exit 7', '{}'] }],
      policy: { actions: { smtp: { inbound: { scannerFailure: 'pass' }, outbound: { scannerFailure: 'pass' } } } },
    });
    try {
      const r = await send(rig, CLEAN);
      assert.equal(r?.code, 250);
      assert.match(r?.lines.join(' ') ?? '', /delivered unscanned by policy: could not be scanned \(/);
      assert.doesNotMatch(r?.lines.join(' ') ?? '', /despite/);
      const got = rig.hop.messages.at(-1)?.data.toString('latin1') ?? '';
      assert.match(got, /^X-Virus-Scanned: portcullis on proxy\.test\r\nX-Virus-Status: Unscanned \(scanner failure\)\r\n/);
      assert.ok(got.endsWith(CLEAN));
    } finally {
      await rig.close();
    }
  });
});

describe('smtp proxy: the builtin scanner on a worker thread (engine.scanWorkers)', () => {
  test('clean mail is delivered as it came; EICAR in an attachment is refused with its finding, nothing delivered', async () => {
    const rig = await startProxy({}, {}, { engine: { scanWorkers: 1 }, policy: { actions: { smtp: { inbound: { virus: 'block' }, outbound: { virus: 'block' } } } } });
    try {
      assert.equal((await send(rig, CLEAN))?.code, 250);
      assert.ok(rig.hop.messages.at(-1)?.data.toString('latin1').endsWith(CLEAN));
      const delivered = rig.hop.messages.length;
      const r = await send(rig, mimeWith('e.com', Buffer.from(eicar())));
      assert.deepEqual([r?.code, r?.enhanced], [554, '5.7.1'], r?.lines.join(' '));
      assert.match(r?.lines.join(' ') ?? '', /Eicar-Test-Signature/);
      assert.equal(rig.hop.messages.length, delivered);
    } finally {
      await rig.close();
    }
  });
});

describe('smtp proxy: limits and smuggling', () => {
  let rig: ProxyRig;
  before(async () => { rig = await startProxy({ maxMessageSize: '64k' }, { size: 32 * 1024 }); });
  after(async () => { await rig.close(); });

  test('SIZE is the smaller of ours and the next hop\'s, and a larger SIZE= is refused at MAIL', async () => {
    const { c, ehlo } = await rig.open();
    assert.ok(ehlo.lines.includes('SIZE 32768'), ehlo.lines.join('|'));
    const r = await c.cmd('MAIL FROM:<a@example.net> SIZE=40000');
    assert.deepEqual([r?.code, r?.enhanced], [552, '5.3.4']);
    assert.equal((await c.cmd('MAIL FROM:<a@example.net> SIZE=1000'))?.code, 250);
    c.close();
  });

  test('a message larger than the limit is refused after DATA and not delivered', async () => {
    const before = rig.hop.messages.length;
    const r = await send(rig, `Subject: big\r\n\r\n${'x'.repeat(70).concat('\r\n').repeat(700)}`);
    assert.equal(r?.code, 552);
    assert.equal(rig.hop.messages.length, before);
  });

  test('bare LF (the <LF>.<LF> smuggling form) is refused by default, and nothing after it runs as a command', async () => {
    const before = rig.hop.messages.length;
    const { c } = await rig.open();
    c.write('MAIL FROM:<a@example.net>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n');
    for (let i = 0; i < 3; i++) await c.reply();
    c.write('Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n');
    const r = await c.reply();
    assert.deepEqual([r?.code, r?.enhanced], [554, '5.5.2']);
    assert.equal(rig.hop.messages.length, before);
    c.close();
  });
});

describe('smtp proxy: XFORWARD from a trusted front MTA', () => {
  test('the front MTA\'s XFORWARD (original client) is what the next hop gets', async () => {
    const rig = await startProxy({ trustedProxyClients: ['127.0.0.1'] });
    try {
      const { c, ehlo } = await rig.open();
      assert.ok(ehlo.lines.some((l) => l.startsWith('XFORWARD')), 'offered to a trusted client');
      assert.equal((await c.cmd('XFORWARD NAME=client.example ADDR=192.0.2.9 PROTO=ESMTP HELO=client.test'))?.code, 250);
      assert.equal((await c.cmd('MAIL FROM:<alice@example.net>'))?.code, 250);
      assert.equal((await c.cmd('RCPT TO:<bob@example.org>'))?.code, 250);
      assert.equal((await c.cmd('DATA'))?.code, 354);
      c.write(`${WIRE}.\r\n`);
      assert.equal((await c.reply())?.code, 250);
      c.close();
      const xf = rig.hop.messages.at(-1)?.xforward;
      assert.deepEqual([xf?.['ADDR'], xf?.['NAME'], xf?.['HELO']], ['192.0.2.9', 'client.example', 'client.test']);
    } finally {
      await rig.close();
    }
  });

  test('an untrusted client is not offered XFORWARD and cannot use it', async () => {
    const rig = await startProxy();
    try {
      const { c, ehlo } = await rig.open();
      assert.ok(!ehlo.lines.some((l) => l.startsWith('XFORWARD') || l.startsWith('XCLIENT')));
      assert.equal((await c.cmd('XFORWARD ADDR=192.0.2.9'))?.code, 550);
      c.close();
    } finally {
      await rig.close();
    }
  });
});

describe('smtp proxy: error limit', () => {
  test('after maxErrors error replies the session is closed with 421 4.7.0', async () => {
    const rig = await startProxy({ maxErrors: 3 }, { refuse: { 'nobody@example.org': { code: 550, text: '5.1.1 User unknown' } } });
    try {
      const { c } = await rig.open();
      assert.equal((await c.cmd('MAIL FROM:<alice@example.net>'))?.code, 250);
      assert.equal((await c.cmd('RCPT TO:<nobody@example.org>'))?.code, 550);
      assert.equal((await c.cmd('RCPT TO:<nobody@example.org>'))?.code, 550);
      assert.equal((await c.cmd('RCPT TO:<nobody@example.org>'))?.code, 550);
      const bye = await c.reply();
      assert.deepEqual([bye?.code, bye?.enhanced], [421, '4.7.0']);
      assert.equal(await c.reply(), undefined, 'closed');
    } finally {
      await rig.close();
    }
  });
});

describe('smtp proxy: bare LF normalised', () => {
  test('normalise mode turns bare LF into CRLF, and the smuggled dot line is stuffed', async () => {
    const rig = await startProxy({ bareNewline: 'normalise' });
    try {
      const r = await send(rig, 'Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@example.net>\r\n');
      assert.equal(r?.code, 250);
      const got = rig.hop.messages.at(-1)?.data.toString('latin1') ?? '';
      assert.ok(got.endsWith('Subject: x\r\n\r\nhello\r\n.\r\nMAIL FROM:<evil@example.net>\r\n'), JSON.stringify(got));
      assert.equal(rig.hop.messages.length, 1, 'one message, the dot line did not end it');
    } finally {
      await rig.close();
    }
  });
});

describe('smtp proxy: TLS to the next hop', () => {
  const cases: { name: string; mode: string; offers: boolean; delivered: boolean; tls?: boolean }[] = [
    { name: 'required, offered: delivered over TLS', mode: 'required', offers: true, delivered: true, tls: true },
    { name: 'opportunistic, offered: delivered over TLS', mode: 'opportunistic', offers: true, delivered: true, tls: true },
    { name: 'opportunistic, not offered: delivered in the clear', mode: 'opportunistic', offers: false, delivered: true, tls: false },
    { name: 'off, offered: delivered in the clear', mode: 'off', offers: true, delivered: true, tls: false },
    { name: 'required, not offered: refused with 421 4.7.5 at the greeting', mode: 'required', offers: false, delivered: false },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const rig = await startProxy({ nextHopTls: c.mode }, { starttls: c.offers });
      try {
        if (!c.delivered) {
          const { RawSmtp } = await import('./testing.js');
          const raw = await RawSmtp.open(rig.port);
          const greet = await raw.reply();
          assert.deepEqual([greet?.code, greet?.enhanced], [421, '4.7.5']);
          raw.close();
          return;
        }
        const r = await send(rig, CLEAN);
        assert.equal(r?.code, 250);
        assert.equal(rig.hop.messages.at(-1)?.tls, c.tls);
      } finally {
        await rig.close();
      }
    });
  }
});

describe('smtp proxy: next hop failures', () => {
  test('next hop down at connect: 421', async () => {
    const rig = await startProxy();
    await rig.hop.close();
    try {
      const c = await (await import('./testing.js')).RawSmtp.open(rig.port);
      const greet = await c.reply();
      assert.equal(greet?.code, 421);
      c.close();
    } finally {
      await rig.close().catch(() => undefined);
    }
  });

  test('next hop closes mid-DATA: the client gets 451, never 250', async () => {
    const rig = await startProxy({}, { onDataStart: (s) => s.destroy() });
    try {
      const r = await send(rig, CLEAN);
      assert.deepEqual([r?.code, r?.enhanced], [451, '4.4.2']);
      assert.equal(rig.hop.messages.length, 0);
    } finally {
      await rig.close();
    }
  });

  test('next hop drops the connection while the message is being received: reconnect, replay the envelope, deliver once', async () => {
    const rig = await startProxy({}, { dropFirstSessionAfterRcpt: true });
    try {
      const { c } = await rig.open();
      assert.equal((await c.cmd('MAIL FROM:<alice@example.net>'))?.code, 250);
      assert.equal((await c.cmd('RCPT TO:<bob@example.org>'))?.code, 250);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await c.cmd('DATA'))?.code, 354);
      c.write(`${WIRE}.\r\n`);
      const r = await c.reply();
      assert.equal(r?.code, 250);
      c.close();
      assert.equal(rig.hop.messages.length, 1);
      assert.deepEqual(rig.hop.messages[0]?.rcpts, ['bob@example.org']);
      await rig.log.waitFor((l) => l['msg'] === 'next hop reconnected, envelope replayed');
    } finally {
      await rig.close();
    }
  });

  test('next hop refuses the message: its own 5xx reaches the client', async () => {
    const rig = await startProxy({}, { dataCode: 554 });
    try {
      const r = await send(rig, CLEAN);
      assert.equal(r?.code, 554);
      assert.match(r?.lines[0] ?? '', /test next hop/);
    } finally {
      await rig.close();
    }
  });
});

describe('smtp proxy: DKIM survives a clean pass-through', () => {
  test('signed (simple/simple and relaxed/relaxed), passed through, still verifies', async () => {
    const { createRequire } = await import('node:module');
    const { generateKeyPairSync } = await import('node:crypto');
    const require = createRequire(import.meta.url);
    const { dkimSign } = require('mailauth/lib/dkim/sign') as { dkimSign: (m: Buffer, o: unknown) => Promise<{ signatures: string; errors: unknown[] }> };
    const { dkimVerify } = require('mailauth/lib/dkim/verify') as { dkimVerify: (m: Buffer, o: unknown) => Promise<{ results: { status: { result: string } }[] }> };
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const resolver = async (name: string): Promise<string[][]> => {
      if (name !== 'sel._domainkey.example.net') throw Object.assign(new Error('NXDOMAIN'), { code: 'ENOTFOUND' });
      return [[`v=DKIM1; k=rsa; p=${p}`]];
    };
    const message = Buffer.from(mimeWith('report.pdf', Buffer.from('%PDF-1.4 not really a pdf, but bytes\n'.repeat(50))), 'latin1');
    const rig = await startProxy();
    try {
      for (const canonicalization of ['simple/simple', 'relaxed/relaxed']) {
        const signed = await dkimSign(message, {
          canonicalization, signatureData: [{ signingDomain: 'example.net', selector: 'sel', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) }],
        });
        assert.deepEqual(signed.errors, []);
        const full = Buffer.concat([Buffer.from(signed.signatures.replace(/\r?\n/g, '\r\n')), message]);
        const before = await dkimVerify(full, { resolver });
        assert.equal(before.results[0]?.status.result, 'pass', 'control: the signature verifies before the proxy');
        const r = await send(rig, full.toString('latin1'));
        assert.equal(r?.code, 250);
        const delivered = rig.hop.messages.at(-1)?.data as Buffer;
        const after = await dkimVerify(delivered, { resolver });
        assert.equal(after.results[0]?.status.result, 'pass', `${canonicalization} after the proxy`);
        const tampered = Buffer.from(delivered);
        tampered[tampered.length - 20] = (tampered[tampered.length - 20] ?? 0) ^ 1;
        assert.notEqual((await dkimVerify(tampered, { resolver })).results[0]?.status.result, 'pass', 'control: one changed body byte fails');
      }
    } finally {
      await rig.close();
    }
  });
});

describe('next hop client: the message leaves corked', () => {
  // Far above the corked queue (256 KiB), so the flush-and-drain path runs many times; lines of
  // dots and chunk edges right before a dot, so the stuffing must hold across pieces.
  const lines: string[] = ['Subject: big', ''];
  for (let i = 0; lines.join('\r\n').length < 3_000_000; i++) lines.push(i % 7 === 0 ? `.line ${i}` : i % 11 === 0 ? '.' : `line ${i} ${'x'.repeat(i % 200)}`);
  const message = Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
  const cut = (): Buffer[] => {
    const out: Buffer[] = [];
    for (let at = 0, n = 1; at < message.length; n = (n * 7 + 3) % 70_000 + 1) {
      // Every few pieces end right after LF, so the next one starts with a dot.
      const end = Math.min(message.length, at + n);
      const lf = message.indexOf(0x0a, end);
      const stop = n % 3 === 0 && lf >= 0 ? lf + 1 : end;
      out.push(message.subarray(at, stop));
      at = stop;
    }
    return out;
  };
  const cases: { name: string; source: () => Iterable<Uint8Array> | AsyncIterable<Uint8Array> }[] = [
    { name: 'one buffer', source: () => [message] },
    { name: 'many pieces (array)', source: cut },
    {
      name: 'many pieces from a slow async source',
      source: () => (async function* () {
        for (const [i, c] of cut().entries()) {
          if (i % 16 === 0) await new Promise((r) => setTimeout(r, 1));
          yield c;
        }
      })(),
    },
  ];
  for (const c of cases) {
    test(`${c.name}: byte for byte at the next hop, one final reply`, async () => {
      const hop = await startNextHop();
      const client = await NextHopClient.connect({ host: '127.0.0.1', port: hop.port, heloName: 'test', connectTimeout: 5000, replyTimeout: 10_000, tls: 'off' });
      try {
        assert.equal((await client.command('MAIL FROM:<a@example.net>')).code, 250);
        assert.equal((await client.command('RCPT TO:<b@example.org>')).code, 250);
        const r = await client.data(c.source());
        assert.equal(r.code, 250);
        assert.equal(hop.messages.length, 1);
        assert.ok((hop.messages[0]?.data as Buffer).equals(message), 'the next hop got the message unchanged');
        assert.equal((await client.command('NOOP')).code, 250, 'the session goes on after the message');
      } finally {
        await client.quit();
        await hop.close();
      }
    });
  }
});
