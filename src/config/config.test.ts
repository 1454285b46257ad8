// The config table: docs equality, defaults, every validation error naming its key, units, loading, hostile text.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LIMIT_ROWS } from '../content/limits.js';
import { isPortcullisError } from '../errors.js';
import { docRows, renderConfigDocs } from './gen-docs.js';
import { checkConfig, ConfigError, defaultConfig, loadConfig, parseConfigText, parseDuration, parseSize } from './index.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

describe('docs/CONFIG.md', () => {
  it('is exactly what the config table renders (run `npm run docs:config` after changing the table)', async () => {
    const committed = await readFile(join(repoRoot, 'docs', 'CONFIG.md'), 'utf8');
    assert.equal(committed, renderConfigDocs());
  });

  it('documents every key with a type and one line of text', () => {
    for (const row of docRows()) {
      assert.ok(row.type.length > 0, `${row.key} has no type`);
      assert.ok(row.doc.length > 10 && !row.doc.includes('\n'), `${row.key} needs one line of documentation`);
    }
  });

  it('has a row for every content walker limit', () => {
    const keys = new Set(docRows().map((r) => r.key));
    for (const l of LIMIT_ROWS) assert.ok(keys.has(`limits.${l.name}`), `limits.${l.name} missing`);
  });

  it('has an example that the checker accepts', async () => {
    const md = await readFile(join(repoRoot, 'docs', 'CONFIG.md'), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(md)?.[1];
    assert.ok(example !== undefined);
    const c = parseConfigText(example, 'example', '/etc/portcullis');
    assert.equal(c.data, '/var/lib/portcullis');
    assert.equal(c.policy.actions.smtp.inbound.virus, 'replace');
    assert.equal(c.policy.actions.smtp.inbound.scannerFailure, 'tempfail');
  });
});

describe('defaults', () => {
  const c = defaultConfig();
  const cases: [string, unknown, unknown][] = [
    ['data', c.data, './var'],
    ['smtp.listen', c.smtp !== false && c.smtp.listen, '127.0.0.1:10025'],
    ['smtp.nextHop', c.smtp !== false && c.smtp.nextHop, '127.0.0.1:10026'],
    ['ftp.listen', c.ftp !== false && c.ftp.listen, '127.0.0.1:2121'],
    ['ftp.upstream (gateway mode)', c.ftp !== false && c.ftp.upstream, undefined],
    ['admin.listen', c.admin !== false && c.admin.listen, '127.0.0.1:8025'],
    ['scanners', c.scanners, [{ kind: 'builtin' }]],
    ['policy.scanAll', c.policy.scanAll, true],
    ['scanner failure fails closed (smtp)', c.policy.actions.smtp.inbound.scannerFailure, 'tempfail'],
    ['scanner failure fails closed (ftp)', c.policy.actions.ftp.outbound.scannerFailure, 'tempfail'],
    ['limits.MaxRecursion', c.limits.MaxRecursion, 17],
    ['limits.MaxScanTime', c.limits.MaxScanTime, 120_000],
  ];
  for (const [name, got, want] of cases) it(name, () => assert.deepEqual(got, want));
});

describe('validation: each error names its key', () => {
  const cases: { name: string; doc: unknown; key: string; message: RegExp }[] = [
    { name: 'bad listen address', doc: { smtp: { listen: 'abc' } }, key: 'smtp.listen', message: /^expected "host:port", got "abc"$/ },
    { name: 'port out of range', doc: { smtp: { nextHop: '127.0.0.1:70000' } }, key: 'smtp.nextHop', message: /host:port/ },
    { name: 'next hop port 0', doc: { smtp: { nextHop: '127.0.0.1:0' } }, key: 'smtp.nextHop', message: /host:port/ },
    { name: 'typo in a key', doc: { smtp: { lisen: '127.0.0.1:25' } }, key: 'smtp.lisen', message: /unknown key/ },
    { name: 'unknown top-level key', doc: { smpt: {} }, key: 'smpt', message: /unknown key/ },
    { name: 'section given a number', doc: { smtp: 5 }, key: 'smtp', message: /mapping of keys or false/ },
    { name: 'section given true', doc: { ftp: true }, key: 'ftp', message: /or false, got true/ },
    { name: 'bad upstream', doc: { ftp: { upstream: 'ftp.example.org' } }, key: 'ftp.upstream', message: /host:port/ },
    { name: 'size too small', doc: { smtp: { maxMessageSize: 10 } }, key: 'smtp.maxMessageSize', message: /expected 1k … 4G, got 10/ },
    { name: 'size not a size', doc: { limits: { MaxFileSize: 'big' } }, key: 'limits.MaxFileSize', message: /expected a size, got "big"/ },
    { name: 'limit above bound', doc: { limits: { MaxRecursion: 65 } }, key: 'limits.MaxRecursion', message: /expected 1 … 64, got 65/ },
    { name: 'integer given a fraction', doc: { limits: { MaxFiles: 1.5 } }, key: 'limits.MaxFiles', message: /expected an integer/ },
    { name: 'bad duration', doc: { drainTimeout: '5 years' }, key: 'drainTimeout', message: /expected a duration/ },
    { name: 'bad CIDR prefix', doc: { policy: { protectedNetworks: ['10.0.0.0/8', '10.0.0.0/33'] } }, key: 'policy.protectedNetworks[1]', message: /CIDR/ },
    { name: 'bad IPv6 CIDR', doc: { policy: { protectedNetworks: ['2001:db8::/129'] } }, key: 'policy.protectedNetworks[0]', message: /CIDR/ },
    { name: 'list given a string', doc: { policy: { localDomains: 'example.org' } }, key: 'policy.localDomains', message: /expected a list of domain/ },
    { name: 'bad domain', doc: { policy: { localDomains: ['exa mple.org'] } }, key: 'policy.localDomains[0]', message: /domain name/ },
    { name: 'strip is mail only', doc: { policy: { actions: { ftp: { inbound: { virus: 'strip' } } } } }, key: 'policy.actions.ftp.inbound.virus', message: /"pass" or "block" or "quarantine" or "tempfail", got "strip"/ },
    { name: 'unknown finding class', doc: { policy: { actions: { smtp: { inbound: { worm: 'pass' } } } } }, key: 'policy.actions.smtp.inbound.worm', message: /unknown key/ },
    { name: 'tempfail is not for uploads', doc: { policy: { actions: { upload: { virus: 'tempfail' } } } }, key: 'policy.actions.upload.virus', message: /got "tempfail"/ },
    { name: 'boolean given a string', doc: { policy: { scanAll: 'yes' } }, key: 'policy.scanAll', message: /expected true or false, got "yes"/ },
    { name: 'log level', doc: { log: { level: 'loud' } }, key: 'log.level', message: /"info"/ },
    { name: 'unknown scanner', doc: { scanners: ['clamav'] }, key: 'scanners[0]', message: /builtin/ },
    { name: 'bad clamd address', doc: { scanners: ['builtin', { clamd: 'localhost' }] }, key: 'scanners[1].clamd', message: /host:port/ },
    { name: 'clamd relative socket', doc: { scanners: [{ clamd: 'clamd.sock' }] }, key: 'scanners[0].clamd', message: /socket path/ },
    { name: 'command without {}', doc: { scanners: [{ command: ['clamscan'] }] }, key: 'scanners[0].command', message: /"\{\}"/ },
    { name: 'command as an empty string', doc: { scanners: [{ command: '' }] }, key: 'scanners[0].command', message: /list of program/ },
    { name: 'unknown scanner option', doc: { scanners: [{ clamd: '127.0.0.1:3310', port: 1 }] }, key: 'scanners[0].port', message: /unknown key/ },
    { name: 'clamd streamMaxLength not a size', doc: { scanners: [{ clamd: '127.0.0.1:3310', streamMaxLength: 'lots' }] }, key: 'scanners[0].streamMaxLength', message: /size/ },
    { name: 'clamd streamMaxLength too small', doc: { scanners: [{ clamd: '127.0.0.1:3310', streamMaxLength: 10 }] }, key: 'scanners[0].streamMaxLength', message: /1K/ },
    { name: 'exit codes overlap', doc: { scanners: [{ command: ['x', '{}'], clean: [0], infected: [0] }] }, key: 'scanners[0].infected', message: /different/ },
    { name: 'empty scanner list', doc: { scanners: [] }, key: 'scanners', message: /1 … 8/ },
    { name: 'user name', doc: { user: 'bad user' }, key: 'user', message: /user or group/ },
    { name: 'password in clear instead of a hash', doc: { admin: { passwordHash: 'hunter2' } }, key: 'admin.passwordHash', message: /scrypt/ },
    { name: 'passive ports reversed', doc: { ftp: { passivePorts: '50000-40000' } }, key: 'ftp.passivePorts', message: /port range/ },
    { name: 'document not a mapping', doc: 'smtp', key: '(top level)', message: /mapping of keys/ },
    { name: 'SMTP relaying to itself', doc: { smtp: { listen: '127.0.0.1:2525', nextHop: 'localhost:2525' } }, key: 'smtp.nextHop', message: /relay to itself/ },
    { name: 'FTP upstream is the proxy', doc: { ftp: { listen: '[::1]:2121', upstream: '[::1]:2121' } }, key: 'ftp.upstream', message: /connect to itself/ },
    { name: 'two listeners on one address', doc: { admin: { listen: '127.0.0.1:10025' } }, key: 'admin.listen', message: /same address as smtp\.listen/ },
    { name: 'TLS key without certificate', doc: { smtp: { tlsKey: '/etc/k.pem' } }, key: 'smtp.tlsCert', message: /needed when smtp\.tlsKey/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = checkConfig(c.doc);
      assert.equal(r.ok, false);
      if (r.ok) return;
      const p = r.problems.find((x) => x.key === c.key);
      assert.ok(p !== undefined, `no problem for ${c.key}: ${JSON.stringify(r.problems)}`);
      assert.match(p.message, c.message);
    });
  }

  it('reports every problem at once', () => {
    const r = checkConfig({ smtp: { listen: 'x' }, ftp: { listen: 'y' }, data: '' });
    assert.equal(r.ok, false);
    if (!r.ok) assert.deepEqual(r.problems.map((p) => p.key).sort(), ['data', 'ftp.listen', 'smtp.listen']);
  });
});

describe('accepted values', () => {
  const cases: { name: string; doc: unknown; pick: (c: ReturnType<typeof defaultConfig>) => unknown; want: unknown }[] = [
    { name: 'listener switched off', doc: { smtp: false }, pick: (c) => c.smtp, want: false },
    { name: 'empty section means defaults', doc: { ftp: null }, pick: (c) => c.ftp !== false && c.ftp.listen, want: '127.0.0.1:2121' },
    { name: 'IPv6 listen', doc: { smtp: { listen: '[::1]:2525' } }, pick: (c) => c.smtp !== false && c.smtp.listen, want: '[::1]:2525' },
    { name: 'several listeners on port 0', doc: { smtp: { listen: '127.0.0.1:0' }, ftp: { listen: '127.0.0.1:0' }, admin: { listen: '127.0.0.1:0' } }, pick: (c) => c.admin !== false && c.admin.listen, want: '127.0.0.1:0' },
    { name: 'a listener switched off may share its address', doc: { smtp: false, admin: { listen: '127.0.0.1:10025' } }, pick: (c) => c.smtp, want: false },
    { name: 'port 0 listen', doc: { admin: { listen: '127.0.0.1:0' } }, pick: (c) => c.admin !== false && c.admin.listen, want: '127.0.0.1:0' },
    { name: 'host name next hop', doc: { smtp: { nextHop: 'mx.example.org:25' } }, pick: (c) => c.smtp !== false && c.smtp.nextHop, want: 'mx.example.org:25' },
    { name: 'size with unit', doc: { smtp: { maxMessageSize: '1.5M' } }, pick: (c) => c.smtp !== false && c.smtp.maxMessageSize, want: 1572864 },
    { name: 'duration with unit', doc: { quarantine: { maxAge: '2w' } }, pick: (c) => c.quarantine.maxAge, want: 14 * 86_400_000 },
    { name: 'extension normalised', doc: { policy: { skipExtensions: ['.TXT'] } }, pick: (c) => c.policy.skipExtensions, want: ['txt'] },
    { name: 'domain normalised', doc: { policy: { localDomains: ['Example.ORG.'] } }, pick: (c) => c.policy.localDomains, want: ['example.org'] },
    { name: 'single scanner as a string', doc: { scanners: 'builtin' }, pick: (c) => c.scanners, want: [{ kind: 'builtin' }] },
    {
      name: 'scanner list', doc: { scanners: ['builtin', { clamd: '/run/clamav/clamd.ctl', timeout: '30s' }, { command: ['clamscan', '{}'], infected: [1] }] },
      pick: (c) => c.scanners,
      want: [{ kind: 'builtin' }, { kind: 'clamd', address: '/run/clamav/clamd.ctl', timeoutMs: 30_000 }, { kind: 'command', argv: ['clamscan', '{}'], infected: [1] }],
    },
    {
      name: 'clamd told its StreamMaxLength', doc: { scanners: [{ clamd: '127.0.0.1:3310', streamMaxLength: '50M' }] },
      pick: (c) => c.scanners, want: [{ kind: 'clamd', address: '127.0.0.1:3310', streamMaxLength: 50 * 1024 * 1024 }],
    },
    {
      name: 'command line as one string', doc: { scanners: [{ command: 'clamdscan --no-summary "{}"' }] },
      pick: (c) => c.scanners, want: [{ kind: 'command', argv: ['clamdscan', '--no-summary', '{}'] }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = checkConfig(c.doc);
      assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
      if (r.ok) assert.deepEqual(c.pick(r.config), c.want);
    });
  }
});

describe('units', () => {
  const sizes: [unknown, number | undefined][] = [[0, 0], ['512', 512], ['1k', 1024], ['2M', 2 * 1024 ** 2], ['3GiB', 3 * 1024 ** 3], ['1.5G', 1.5 * 1024 ** 3], ['x', undefined], [-1, undefined], ['1 Q', undefined]];
  for (const [input, want] of sizes) it(`size ${JSON.stringify(input)}`, () => assert.equal(parseSize(input), want));
  const durations: [unknown, number | undefined][] = [[250, 250], ['250ms', 250], ['30s', 30_000], ['5m', 300_000], ['2h', 7_200_000], ['1d', 86_400_000], ['1w', 604_800_000], ['soon', undefined], ['5y', undefined]];
  for (const [input, want] of durations) it(`duration ${JSON.stringify(input)}`, () => assert.equal(parseDuration(input), want));
});

describe('loadConfig', () => {
  it('resolves paths against the config file folder and names the file in errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pc-config-'));
    try {
      const good = join(dir, 'good.yaml');
      await writeFile(good, 'data: ./state\nengine: { databases: [sigs, /abs/db] }\nsmtp: false\n');
      const { config, file } = await loadConfig(good);
      assert.equal(file, good);
      assert.equal(config.data, join(dir, 'state'));
      assert.deepEqual(config.engine.databases, [join(dir, 'sigs'), '/abs/db']);
      assert.equal(config.smtp, false);


      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, 'smtp:\n  listen: abc\n');
      await assert.rejects(loadConfig(bad), (e: unknown) => {
        assert.ok(e instanceof ConfigError && isPortcullisError(e, 'PC_ERR_CONFIG'));
        assert.match(e.message, /bad\.yaml/);
        assert.match(e.message, /smtp\.listen: expected "host:port", got "abc"/);
        return true;
      });

      const syntax = join(dir, 'syntax.yaml');
      await writeFile(syntax, 'smtp: { listen: "127.0.0.1:25"\n');
      await assert.rejects(loadConfig(syntax), (e: unknown) => e instanceof ConfigError && /line \d+ column \d+/.test(e.message));

      const dup = join(dir, 'dup.yaml');
      await writeFile(dup, 'data: a\ndata: b\n');
      await assert.rejects(loadConfig(dup), (e: unknown) => e instanceof ConfigError);

      await assert.rejects(loadConfig(join(dir, 'missing.yaml')), (e: unknown) => isPortcullisError(e, 'PC_ERR_CONFIG') && /ENOENT/.test(e.message));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('every path-typed key is resolved against the config folder', () => {
    const rows = docRows().filter((r) => r.type === 'path' || r.type === 'list of path');
    assert.ok(rows.length >= 2);
    const doc: Record<string, unknown> = {};
    for (const row of rows) {
      let at = doc;
      const parts = row.key.split('.');
      parts.slice(0, -1).forEach((p) => { at = (at[p] ??= {}) as Record<string, unknown>; });
      at[parts[parts.length - 1] as string] = row.type === 'path' ? `rel/${row.key}` : [`rel/${row.key}`];
    }
    const config = parseConfigText(JSON.stringify(doc), 'paths', '/base');
    for (const row of rows) {
      let got: unknown = config;
      for (const p of row.key.split('.')) got = (got as Record<string, unknown>)[p];
      assert.deepEqual(got, row.type === 'path' ? `/base/rel/${row.key}` : [`/base/rel/${row.key}`], row.key);
    }
  });

  it('runs on the defaults with no file', async () => {
    const { config, file } = await loadConfig();
    assert.equal(file, undefined);
    assert.equal(config.data, join(process.cwd(), 'var'));
  });
});

describe('hostile config text', () => {
  // A tiny deterministic generator: the same cases on every run.
  let seed = 42;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const pieces = ['smtp', 'ftp', ':', ' ', '\n', '  ', '{', '}', '[', ']', ',', '"', "'", '&a', '*a', '!!binary', '-', '#', 'listen', '127.0.0.1:25', 'false', '~', '1e9', '0x10', 'policy', 'actions', 'virus', 'pass', '\t', '%', '@', '|', '>'];
  it('random YAML-ish text either loads or fails with a ConfigError naming where, never anything else', () => {
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const n = rand(30);
      for (let k = 0; k < n; k++) text += pieces[rand(pieces.length)];
      try {
        parseConfigText(text, 'fuzz', '/tmp');
      } catch (e) {
        assert.ok(e instanceof ConfigError, `${JSON.stringify(text)} threw ${String(e)}`);
        assert.ok(e.problems.length > 0 && e.problems.every((p) => p.key.length > 0 && p.message.length > 0));
      }
    }
  });

  it('an alias bomb is refused, not expanded', () => {
    const bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n';
    assert.throws(() => parseConfigText(bomb, 'bomb', '/tmp'), (e: unknown) => isPortcullisError(e, 'PC_ERR_CONFIG'));
  });
});
