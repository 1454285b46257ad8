/**
 * Renders docs/CONFIG.md from the config table, so the documentation can
 * never disagree with what the checker accepts. `npm run docs:config` runs
 * this file and writes its output; config.test.ts fails when the committed
 * file differs from `renderConfigDocs()`.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Fields, Node } from './fields.js';
import { CONFIG_TABLE, START_ONLY_KEYS } from './table.js';

export interface DocRow {
  readonly key: string;
  readonly type: string;
  readonly default: string;
  readonly bounds: string;
  readonly doc: string;
}

/** Every key of the table, depth first in table order, sections included. */
export function docRows(fields: Fields = CONFIG_TABLE.fields, prefix = ''): DocRow[] {
  const rows: DocRow[] = [];
  for (const [name, node] of Object.entries(fields) as [string, Node][]) {
    const key = `${prefix}${name}`;
    if (node.kind === 'leaf') {
      rows.push({ key, type: node.type, default: node.show(node.default), bounds: node.bounds, doc: node.doc });
    } else {
      rows.push({
        key,
        type: node.switchable ? 'section or false' : 'section',
        default: node.switchable ? 'on' : '',
        bounds: '',
        doc: node.doc,
      });
      rows.push(...docRows(node.fields, `${key}.`));
    }
  }
  return rows;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (s: string): string => (s === '' ? '' : `\`${s}\``);

const INTRO = `# Configuration

<!-- Generated from src/config/table.ts by \`npm run docs:config\`. Do not edit by hand: a test compares this file with the table. -->

portcullis reads one YAML file: \`portcullis start --config FILE\`. With no
file it runs on the defaults below. Every key is optional; a key left out (or
left empty) takes its default. Unknown keys are errors, and every error names
its key, e.g. \`smtp.listen: expected "host:port", got "abc"\`.

- **size**: bytes, or a number with k, M, G or T (1024-based): \`50M\`, \`1.5G\`.
- **duration**: \`500ms\`, \`30s\`, \`5m\`, \`2h\`, \`30d\`, \`1w\`; a bare number is milliseconds.
- **host:port**: \`127.0.0.1:25\`, \`[::1]:25\`, \`mx.example.org:25\`; a listening port 0 takes any free port.
- **paths** (\`data\`, \`engine.databases\`) are relative to the config file's folder
  (to the working directory when running on the defaults).
- A section marked "section or false" can be switched off: \`smtp: false\`.
- Checks across keys: a proxy may not relay to itself (\`smtp.nextHop\` ≠ \`smtp.listen\`,
  \`ftp.upstream\` ≠ \`ftp.listen\`), no two listeners share an address, and
  \`smtp.tlsCert\` and \`smtp.tlsKey\` are set together.

\`kill -HUP\` (or the admin UI's reload) re-reads the file and the signature
databases; a session in flight finishes on the config it started with, and
a file that fails its checks leaves the running config in place. These keys
(and the keys below them) take effect only at start; a reload that changes
them logs that a restart is needed: ${START_ONLY_KEYS.map((k) => `\`${k}\``).join(', ')},
and switching \`smtp\` or \`ftp\` on or off.

## Example

\`\`\`yaml
data: /var/lib/portcullis
smtp:  { listen: "0.0.0.0:10025", nextHop: "127.0.0.1:10026" }
ftp:   { listen: "0.0.0.0:2121", upstream: "192.0.2.10:21" }   # leave out upstream: gateway mode
admin: { listen: "127.0.0.1:8025" }
engine: { databases: ["/var/lib/clamav"] }
scanners: [ builtin, { clamd: "127.0.0.1:3310" } ]
policy:
  localDomains: [example.org]
  bannedNames: ["*.scr", "*.pdf.exe"]
  actions:
    smtp:
      inbound: { virus: replace, encrypted: pass }
user: portcullis
\`\`\`

## Keys

| key | type | default | bounds | description |
|---|---|---|---|---|
`;

export function renderConfigDocs(): string {
  const rows = docRows().map((r) => `| ${code(r.key)} | ${cell(r.type)} | ${cell(code(r.default))} | ${cell(r.bounds)} | ${cell(r.doc)} |`);
  return `${INTRO}${rows.join('\n')}\n`;
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (isMain()) process.stdout.write(renderConfigDocs());
