/**
 * The config part: one table (table.ts) → zod schema (schema.ts) and
 * docs/CONFIG.md (gen-docs.ts); load.ts reads the YAML file. Entry file;
 * import from here.
 */
export {
  CONFIG_TABLE, START_ONLY_KEYS, ACTION_CLASSES, MAIL_ACTIONS, FILE_ACTIONS, UPLOAD_ACTIONS, DEFAULT_PROTECTED_NETWORKS,
  type Config, type SmtpConfig, type FtpConfig, type AdminConfig, type PolicyConfig, type ActionsConfig, type ActionClass,
} from './table.js';
export { checkConfig, configSchema, defaultConfig, formatKey, type CheckResult, type ConfigProblem } from './schema.js';
export { loadConfig, parseConfigText, resolvePaths, ConfigError, type LoadedConfig } from './load.js';
export { splitHostPort, formatSize, formatDuration, parseSize, parseDuration } from './fields.js';
export type { ScannerSpec } from './scanners.js';
