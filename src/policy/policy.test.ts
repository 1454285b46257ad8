// Policy tables: CIDR (v4/v6, against a naive matcher), direction, what to scan, banned names/types, the action matrix, replies.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { ACTION_CLASSES, checkConfig, defaultConfig, type ActionClass, type Config } from '../config/index.js';
import { fileType } from '../content/filetype.js';
import { walk } from '../content/walker.js';
import type { Finding, ScanReport } from '../scanners/types.js';
import {
  ACTION_STRENGTH, addressOnly, bannedFindings, chooseScan, CidrSet, compilePolicy, extensionOf, globMatch, isLocalDomain,
  mailDomain, outcomeFor, parseAddress, parseCidr, REPLIES, renderReply, smtpLine, type Action, type ObjectFact, type Outcome,
} from './index.js';

function configWith(doc: unknown): Config {
  const r = checkConfig(doc);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.config;
}

describe('CIDR', () => {
  const cases: [block: string, address: string, inside: boolean][] = [
    ['10.0.0.0/8', '10.255.1.2', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['192.168.1.0/24', '192.168.1.255', true],
    ['192.168.1.0/24', '192.168.2.0', false],
    ['172.16.0.0/12', '172.31.255.255', true],
    ['172.16.0.0/12', '172.32.0.0', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['203.0.113.7', '203.0.113.7', true],
    ['203.0.113.7/32', '203.0.113.8', false],
    ['10.1.2.3/8', '10.9.9.9', true],
    ['127.0.0.0/8', '::ffff:127.0.0.1', true],
    ['127.0.0.0/8', '::ffff:7f00:1', true],
    ['::1/128', '::1', true],
    ['::1/128', '::2', false],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['fc00::/7', 'fd12:3456::1', true],
    ['fc00::/7', 'fe00::1', false],
    ['fe80::/10', 'fe80::1%eth0', true],
    ['2001:db8:0:0:0:0:0:0/127', '2001:db8::1', true],
    ['2001:db8::/127', '2001:db8::2', false],
    ['::ffff:0:0/96', '198.51.100.1', true],
    ['10.0.0.0/8', 'not-an-address', false],
    ['10.0.0.0/8', '', false],
    ['10.0.0.0/8', '10.0.0.256', false],
  ];
  for (const [block, address, inside] of cases) {
    it(`${address} ${inside ? 'in' : 'not in'} ${block}`, () => {
      assert.equal(CidrSet.parse([block]).contains(address), inside);
    });
  }

  const invalid = ['10.0.0.0/33', '::/129', '10.0.0/8', '1.2.3.4/-1', 'x/8', '10.0.0.0/08x', ':::/1', '1::2::3/64', ''];
  for (const t of invalid) it(`rejects ${JSON.stringify(t)}`, () => assert.equal(parseCidr(t), undefined));

  const normalised: [string, string][] = [['10.1.2.3/8', '10.0.0.0/8'], ['2001:DB8:0:0:1::/32', '2001:db8::/32'], ['::1', '::1/128'], ['192.0.2.1', '192.0.2.1/32']];
  for (const [input, want] of normalised) it(`normalises ${input}`, () => assert.equal(parseCidr(input)?.text, want));

  it('agrees with a naive bit-by-bit matcher on random blocks and addresses', () => {
    let seed = 12345;
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
    const bit = (b: Uint8Array, i: number): number => ((b[i >> 3] ?? 0) >> (7 - (i & 7))) & 1;
    for (let k = 0; k < 2000; k++) {
      const v6 = rand(2) === 1;
      const addr = v6 ? Array.from({ length: 8 }, () => rand(4) === 0 ? 0 : rand(65536)).map((g) => g.toString(16)).join(':') : Array.from({ length: 4 }, () => rand(256)).join('.');
      const base = v6 ? Array.from({ length: 8 }, () => rand(4) === 0 ? 0 : rand(65536)).map((g) => g.toString(16)).join(':') : Array.from({ length: 4 }, () => rand(256)).join('.');
      const prefix = rand(v6 ? 129 : 33);
      const block = parseCidr(`${base}/${prefix}`);
      const a = parseAddress(addr);
      const b = parseAddress(base);
      assert.ok(block && a && b);
      const bits = v6 ? prefix : prefix + 96;
      let naive = true;
      for (let i = 0; i < bits; i++) if (bit(a, i) !== bit(b, i)) naive = false;
      assert.equal(CidrSet.parse([`${base}/${prefix}`]).contains(addr), naive, `${addr} in ${base}/${prefix}`);
    }
  });
});

describe('hostile addresses', () => {
  it('random text never throws from the address parsers and is never inside a block by accident', () => {
    let seed = 7;
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
    const alphabet = '0123456789abcdef:./%[]-fF \u0000x';
    const all = CidrSet.parse(['0.0.0.0/0', '::/0']);
    for (let i = 0; i < 20000; i++) {
      let t = '';
      for (let k = rand(45); k > 0; k--) t += alphabet[rand(alphabet.length)];
      const a = parseAddress(t);
      assert.equal(all.contains(t), a !== undefined, JSON.stringify(t));
      parseCidr(t);
      addressOnly(t);
      mailDomain(t);
    }
  });
});

describe('direction', () => {
  const policy = compilePolicy(configWith({ policy: { protectedNetworks: ['10.0.0.0/8', '2001:db8::/32'], localDomains: ['example.org', '.corp.example'] } }));
  const ftp: [string, Parameters<typeof policy.ftpDirection>[0], string][] = [
    ['RETR by inside client from outside server', { command: 'RETR', client: '10.0.0.5:40000', server: '198.51.100.1:21' }, 'inbound'],
    ['STOR by inside client to outside server', { command: 'STOR', client: '10.0.0.5', server: '198.51.100.1' }, 'outbound'],
    ['APPE by inside client to outside server', { command: 'APPE', client: '10.0.0.5', server: '198.51.100.1' }, 'outbound'],
    ['STOU by inside client to outside server', { command: 'STOU', client: '[2001:db8::5]:4000', server: '198.51.100.1' }, 'outbound'],
    ['RETR by outside client from inside server leaves the network', { command: 'RETR', client: '198.51.100.9', server: '10.0.0.2' }, 'outbound'],
    ['STOR by outside client to inside server enters the network', { command: 'STOR', client: '198.51.100.9', server: '10.0.0.2' }, 'inbound'],
    ['RETR with both ends inside', { command: 'RETR', client: '10.0.0.5', server: '10.0.0.6' }, 'inbound'],
    ['STOR with both ends inside', { command: 'STOR', client: '10.0.0.5', server: '10.0.0.6' }, 'outbound'],
    ['RETR with no addresses known', { command: 'RETR' }, 'inbound'],
    ['STOR with both ends outside', { command: 'STOR', client: '198.51.100.9', server: '203.0.113.1' }, 'outbound'],
  ];
  for (const [name, facts, want] of ftp) it(`ftp: ${name}`, () => assert.equal(policy.ftpDirection(facts), want));

  const mail: [string, Parameters<typeof policy.mailDirection>[0], string][] = [
    ['outside client to local domain', { client: '198.51.100.1', rcpts: ['bob@example.org'] }, 'inbound'],
    ['outside client to any domain (relay attempt is the MTA\'s business)', { client: '198.51.100.1', rcpts: ['x@elsewhere.net'] }, 'inbound'],
    ['inside client to outside domain', { client: '10.1.1.1', rcpts: ['x@elsewhere.net'] }, 'outbound'],
    ['inside client to local domains only', { client: '10.1.1.1', rcpts: ['<Bob@Example.ORG>', 'ann@mail.corp.example'] }, 'inbound'],
    ['inside client, one recipient outside', { client: '10.1.1.1', rcpts: ['bob@example.org', 'x@elsewhere.net'] }, 'outbound'],
    ['subdomain of an exact-only domain is not local', { client: '10.1.1.1', rcpts: ['x@sub.example.org'] }, 'outbound'],
    ['parent of a dot-domain is not local', { client: '10.1.1.1', rcpts: ['x@corp.example'] }, 'outbound'],
    ['bare local part is local', { client: '10.1.1.1', rcpts: ['postmaster'] }, 'inbound'],
    ['IPv4-mapped inside client', { client: '::ffff:10.2.3.4', rcpts: ['x@elsewhere.net'] }, 'outbound'],
    ['IPv6 inside client with port', { client: '[2001:db8::7]:25000', rcpts: ['x@elsewhere.net'] }, 'outbound'],
    ['unknown client address', { rcpts: ['x@elsewhere.net'] }, 'inbound'],
  ];
  for (const [name, facts, want] of mail) it(`mail: ${name}`, () => assert.equal(policy.mailDirection(facts), want));

  const helpers: [string, () => unknown, unknown][] = [
    ['addressOnly v4 with port', () => addressOnly('192.0.2.1:25'), '192.0.2.1'],
    ['addressOnly bracketed v6', () => addressOnly('[::1]:25'), '::1'],
    ['addressOnly bare v6', () => addressOnly('2001:db8::1'), '2001:db8::1'],
    ['mailDomain trailing dot', () => mailDomain('a@Example.Org.'), 'example.org'],
    ['mailDomain quoted local part with @', () => mailDomain('"a@b"@example.org'), 'example.org'],
    ['isLocalDomain dot form', () => isLocalDomain('a.b.example', ['.b.example']), true],
  ];
  for (const [name, f, want] of helpers) it(name, () => assert.equal(f(), want));
});

describe('what to scan', () => {
  const rules = { scanAll: false, skipExtensions: ['txt', 'jpg', 'gif'], alwaysScanExtensions: ['exe', 'zip', 'doc'] };
  const cases: [name: string, file: string, type: string, scan: boolean][] = [
    ['plain text named .txt is skipped', 'notes.txt', 'text', false],
    ['a JPEG named .jpg is skipped', 'photo.jpg', 'jpeg', false],
    ['a GIF named .gif is skipped', 'a.GIF', 'gif', false],
    ['an executable renamed .txt is scanned', 'notes.txt', 'pe', true],
    ['an ELF renamed .jpg is scanned', 'photo.jpg', 'elf', true],
    ['a zip renamed .gif is scanned', 'cat.gif', 'zip', true],
    ['a mail renamed .txt is scanned', 'x.txt', 'mail', true],
    ['unknown binary named .txt is scanned', 'x.txt', 'binary', true],
    ['always-scan extension even if text', 'run.exe', 'text', true],
    ['text with an unlisted extension is scanned', 'readme.md', 'text', true],
    ['no extension is scanned', 'README', 'text', true],
    ['trailing dots do not hide the extension', 'evil.exe. . ', 'text', true],
    ['extension is case-insensitive', 'NOTES.TXT', 'text', false],
  ];
  for (const [name, file, type, scan] of cases) it(name, () => assert.equal(chooseScan(file, fileType(type), rules).scan, scan));
  it('scanAll (the default) scans everything', () => {
    const p = compilePolicy(defaultConfig());
    assert.equal(p.chooseScan('notes.txt', fileType('text')).scan, true);
  });
  const exts: [string, string][] = [['a.tar.gz', 'gz'], ['dir/x.EXE', 'exe'], ['C:\\x\\y.doc', 'doc'], ['.bashrc', ''], ['noext', ''], ['x.exe.', 'exe']];
  for (const [n, e] of exts) it(`extension of ${n}`, () => assert.equal(extensionOf(n), e));
});

describe('banned names and types', () => {
  const globs: [string, string, boolean][] = [
    ['*.exe', 'setup.EXE', true], ['*.exe', 'setup.exe.txt', false], ['*.pdf.exe', 'invoice.pdf.exe', true],
    ['?.com', 'a.com', true], ['?.com', 'ab.com', false], ['*', '', true], ['a*b*c', 'aXXbYYc', true], ['a*b*c', 'aXXbYY', false],
    ['*.scr', 'x.scr', true], ['**a', 'a', true],
  ];
  for (const [p, t, want] of globs) it(`glob ${p} vs ${JSON.stringify(t)}`, () => assert.equal(globMatch(p, t), want));

  it('glob matching stays fast on a hostile name', () => {
    const started = performance.now();
    assert.equal(globMatch('*a*a*a*a*a*a*a*b', 'a'.repeat(5000)), false);
    assert.ok(performance.now() - started < 2000);
  });

  const rules = { bannedNames: ['*.scr', '*.pdf.exe'], bannedTypes: ['pe'] };
  const facts = (path: string[], type: string): ObjectFact => ({ path, type: fileType(type) });
  const cases: [string, ObjectFact[], string[]][] = [
    ['banned name at the top', [facts(['holiday.scr'], 'binary')], ['Banned.Name.*.scr']],
    ['banned type renamed harmless', [facts(['photo.jpg'], 'pe')], ['Banned.Type.pe']],
    ['banned name inside an archive folder', [facts(['a.zip'], 'zip'), facts(['a.zip', 'docs/Invoice.PDF.exe'], 'pe')], ['Banned.Name.*.pdf.exe', 'Banned.Type.pe']],
    ['trailing dot trick', [facts(['x.scr.'], 'binary')], ['Banned.Name.*.scr']],
    ['nothing banned', [facts(['a.zip'], 'zip'), facts(['a.zip', 'readme.txt'], 'text')], []],
  ];
  for (const [name, objects, want] of cases) {
    it(name, () => assert.deepEqual(bannedFindings(objects, rules).map((f) => f.name), want));
  }

  it('finds a banned member inside a real zip via the content walker, with its path', async () => {
    const pe = new Uint8Array(512);
    pe.set([0x4d, 0x5a]);
    const inner = zipSync({ 'payload.exe': pe });
    const outer = zipSync({ 'nested.zip': inner, 'readme.txt': new TextEncoder().encode('hello\n') });
    const objects: ObjectFact[] = [];
    for await (const item of walk({ name: 'mail.zip', data: outer })) if (item.kind === 'object') objects.push({ path: item.node.path, type: item.node.type });
    const found = bannedFindings(objects, { bannedNames: ['*.exe'], bannedTypes: [] });
    assert.deepEqual(found.map((f) => [f.name, f.path.join(' › ')]), [['Banned.Name.*.exe', 'mail.zip › nested.zip › payload.exe']]);
  });
});

describe('actions', () => {
  const report = (names: string[], error = false): Pick<ScanReport, 'verdict' | 'findings' | 'errors'> => ({
    verdict: error ? 'error' : names.length > 0 ? 'infected' : 'clean',
    findings: names.map((name): Finding => ({ name, path: ['x'], scanner: 'builtin' })),
    errors: error ? [{ scanner: 'clamd', code: 'PC_ERR_SCAN_TIMEOUT', message: 'timeout' }] : [],
  });
  const sample: Record<ActionClass, string[]> = {
    virus: ['Eicar-Test-Signature'], banned: ['Banned.Name.*.exe'], limits: ['Heuristics.Limits.Exceeded.MaxFileSize'],
    encrypted: ['Heuristics.Encrypted.Zip'], unscannable: ['Heuristics.Broken.Zip'], scannerFailure: [],
  };

  // Every cell of the matrix: setting it changes exactly that decision.
  const matrix: [proto: 'smtp' | 'ftp', dir: 'inbound' | 'outbound', cls: ActionClass, action: Action][] = [];
  for (const proto of ['smtp', 'ftp'] as const) for (const dir of ['inbound', 'outbound'] as const) for (const cls of ACTION_CLASSES) {
    matrix.push([proto, dir, cls, proto === 'smtp' ? 'replace' : 'pass']);
  }
  for (const [proto, dir, cls, action] of matrix) {
    it(`${proto} ${dir} ${cls} → ${action}`, () => {
      const p = compilePolicy(configWith({ policy: { actions: { [proto]: { [dir]: { [cls]: action } } } } }));
      const d = p.decide({ protocol: proto, direction: dir, report: report(sample[cls], cls === 'scannerFailure') });
      assert.equal(d.action, action);
      assert.equal(d.class, cls);
      const other = dir === 'inbound' ? 'outbound' : 'inbound';
      assert.notEqual(p.decide({ protocol: proto, direction: other, report: report(sample[cls], cls === 'scannerFailure') }).action, action);
    });
  }

  const defaults: [string, string[], boolean, Action, string][] = [
    ['clean passes', [], false, 'pass', 'clean'],
    ['virus is quarantined', sample.virus, false, 'quarantine', 'virus'],
    ['scanner failure fails closed: tempfail', [], true, 'tempfail', 'scannerFailure'],
    ['virus beats a scanner failure', sample.virus, true, 'quarantine', 'virus'],
    ['limits block', sample.limits, false, 'block', 'limits'],
    ['encrypted blocks', sample.encrypted, false, 'block', 'encrypted'],
    ['broken container blocks', sample.unscannable, false, 'block', 'unscannable'],
    ['banned blocks', sample.banned, false, 'block', 'banned'],
  ];
  const p = compilePolicy(defaultConfig());
  for (const [name, names, error, action, cls] of defaults) {
    for (const proto of ['smtp', 'ftp'] as const) {
      it(`default ${proto}: ${name}`, () => {
        const d = p.decide({ protocol: proto, direction: 'inbound', report: report(names, error) });
        assert.equal(d.action, action);
        assert.equal(d.class, cls);
      });
    }
  }

  it('upload defaults: virus quarantined, failure blocked (no tempfail for a browser)', () => {
    assert.equal(p.decide({ protocol: 'upload', direction: 'inbound', report: report(sample.virus) }).action, 'quarantine');
    assert.equal(p.decide({ protocol: 'upload', direction: 'inbound', report: report([], true) }).action, 'block');
  });

  it('the strongest action wins and a tempfail beats delivering a stripped message', () => {
    const q = compilePolicy(configWith({ policy: { actions: { smtp: { inbound: { virus: 'strip', encrypted: 'pass', scannerFailure: 'tempfail' } } } } }));
    const d1 = q.decide({ protocol: 'smtp', direction: 'inbound', report: report([...sample.virus, ...sample.encrypted]) });
    assert.deepEqual([d1.action, d1.class, d1.findings.map((f) => f.name)], ['strip', 'virus', ['Eicar-Test-Signature']]);
    const d2 = q.decide({ protocol: 'smtp', direction: 'inbound', report: report(sample.virus, true) });
    assert.deepEqual([d2.action, d2.class], ['tempfail', 'scannerFailure']);
    assert.deepEqual(d2.classes.map((c) => c.class), ['virus', 'scannerFailure']);
  });

  it('action strengths are a total order', () => {
    assert.equal(new Set(Object.values(ACTION_STRENGTH)).size, Object.keys(ACTION_STRENGTH).length);
  });
});

describe('replies', () => {
  const outcomes = Object.keys(REPLIES) as Outcome[];
  for (const o of outcomes) {
    it(`${o}: codes agree in class and texts are single lines`, () => {
      const r = renderReply(o, { findings: ['Eicar-Test-Signature'], id: 'Q-1', reason: 'timeout' });
      assert.equal(Math.floor(r.smtp.code / 100), Number(r.smtp.enhanced[0]), 'enhanced status class matches the code');
      assert.ok(r.smtp.code >= 200 && r.smtp.code < 600 && r.ftp.code >= 200 && r.ftp.code < 600);
      if (o !== 'stripped' && o !== 'replaced') assert.equal(r.smtp.code >= 400, r.ftp.code >= 400, 'SMTP and FTP agree on success or failure');
      assert.doesNotMatch(r.smtp.text + r.ftp.text, /[\r\n{}]/);
    });
  }
  const mapping: [Action, string, Outcome][] = [
    ['pass', 'clean', 'clean'], ['pass', 'virus', 'passed'], ['pass', 'scannerFailure', 'passedUnscanned'], ['block', 'virus', 'blocked.virus'], ['block', 'limits', 'blocked.limits'],
    ['quarantine', 'virus', 'quarantined'], ['tempfail', 'scannerFailure', 'tempfail'], ['strip', 'virus', 'stripped'], ['replace', 'virus', 'replaced'],
  ];
  for (const [a, c, o] of mapping) it(`${a}/${c} → ${o}`, () => assert.equal(outcomeFor(a, c as never), o));

  it('hostile values cannot inject lines or grow without bound', () => {
    const r = renderReply('quarantined', { findings: ['Evil\r\n250 OK', ...Array.from({ length: 50 }, (_, i) => `Sig${i}`)], id: 'x'.repeat(1000), contact: 'a\nb' });
    const line = smtpLine(r.smtp);
    assert.doesNotMatch(line, /[\r\n]/);
    assert.ok(line.length < 512);
    assert.match(line, /^554 5\.7\.1 Rejected: Evil 250 OK, Sig0, Sig1, Sig2 and 47 more; quarantined as x+\.\.\., ask a b$/);
  });

  it('the decision reply names the quarantine id and contact', () => {
    const q = compilePolicy(configWith({ quarantine: { contact: 'postmaster@example.org' } }));
    const d = q.decide({ protocol: 'ftp', direction: 'inbound', report: { verdict: 'infected', findings: [{ name: 'Eicar-Test-Signature', path: ['e'], scanner: 'builtin' }], errors: [] } });
    const r = q.reply(d, { id: 'Q123' });
    assert.equal(`${r.ftp.code} ${r.ftp.text}`, '550 Transfer refused: Eicar-Test-Signature; quarantined as Q123, ask postmaster@example.org');
  });
});
