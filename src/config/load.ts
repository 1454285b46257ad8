/**
 * Loads the YAML config file (YAML 1.2 via the `yaml` package), checks it
 * against the table, and resolves relative paths (every key of type path,
 * e.g. `data`, `engine.databases`) against the config file's folder, so a config means
 * the same thing whatever the working directory. With no file: the built-in
 * defaults, paths relative to the working directory.
 *
 * Reads untrusted text: syntax errors carry line and column; duplicate keys
 * are errors; the file is capped at 1 MiB and YAML aliases at 100 (the
 * package's default), so a hostile file cannot exhaust memory.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { PortcullisError } from '../errors.js';
import { checkConfig, type ConfigProblem } from './schema.js';
import { PATH, type Fields, type Node } from './fields.js';
import { CONFIG_TABLE, type Config } from './table.js';

const MAX_CONFIG_BYTES = 1024 * 1024;

/** A config that failed its checks; `problems` lists every key at fault. */
export class ConfigError extends PortcullisError {
  readonly problems: readonly ConfigProblem[];
  constructor(source: string, problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  ${p.key}: ${p.message}`).join('\n');
    super('PC_ERR_CONFIG', `Cannot load config ${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${lines}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadedConfig {
  readonly config: Config;
  /** Absolute path of the file read, or undefined for the built-in defaults. */
  readonly file: string | undefined;
}

/** Parses config text; `source` names it in errors, `baseDir` anchors relative paths. */
export function parseConfigText(text: string, source: string, baseDir: string): Config {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(source, doc.errors.map((e) => {
      const at = e.linePos?.[0];
      return { key: at === undefined ? '(syntax)' : `line ${at.line} column ${at.col}`, message: (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '') };
    }));
  }
  let document: unknown;
  try {
    // Unresolved aliases and alias bombs surface only here, as plain errors.
    document = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(source, [{ key: '(syntax)', message: err instanceof Error ? err.message : String(err) }]);
  }
  const r = checkConfig(document);
  if (!r.ok) throw new ConfigError(source, r.problems);
  return resolvePaths(r.config, baseDir);
}

/** Makes every path-typed key (per the table: "path" or "list of path") absolute against `baseDir`. */
export function resolvePaths(config: Config, baseDir: string): Config {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const walk = (fields: Fields, value: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...value };
    for (const [key, node] of Object.entries(fields) as [string, Node][]) {
      const v = value[key];
      if (node.kind === 'section') {
        if (v !== false && typeof v === 'object' && v !== null) out[key] = walk(node.fields, v as Record<string, unknown>);
      } else if (node.type === PATH.type && typeof v === 'string') out[key] = abs(v);
      else if (node.type === `list of ${PATH.type}` && Array.isArray(v)) out[key] = v.map((p: string) => abs(p));
    }
    return out;
  };
  return walk(CONFIG_TABLE.fields, config as unknown as Record<string, unknown>) as unknown as Config;
}

/** Reads and checks the config file, or returns the defaults when `file` is undefined. */
export async function loadConfig(file?: string): Promise<LoadedConfig> {
  if (file === undefined) return { config: parseConfigText('', 'built-in defaults', process.cwd()), file: undefined };
  const path = resolve(file);
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new PortcullisError('PC_ERR_CONFIG', `Cannot read config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  if (data.byteLength > MAX_CONFIG_BYTES) throw new PortcullisError('PC_ERR_CONFIG', `Cannot load config ${path}: larger than 1 MiB`);
  return { config: parseConfigText(data.toString('utf8'), path, dirname(path)), file: path };
}
