/**
 * The signature engine's one entry point. Pure: bytes in, findings out — no
 * files, sockets or clock. Callers read database files themselves and hand
 * them over as DbFile values. DATABASE.md in this folder covers the database
 * (formats, skip reasons, choices checked against clamscan); DESIGN.md the matcher.
 */
export { compileDatabase, PCRE_MAX_BYTES } from './database.js';
export { builtinDbFiles, eicarString, testStrings, BUILTIN_SIGNATURE_NAMES } from './builtin-db.js';
export { parseCvdHeader, isCvdName, type CvdHeader } from './cvd.js';
export { Target } from './types.js';
export type {
  CompiledDatabase, DatabaseStats, DbFile, EngineFinding, EngineScan, ScanOptions, SignatureKind, TargetType,
} from './types.js';
