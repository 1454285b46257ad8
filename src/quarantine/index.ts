/**
 * The quarantine part: infected objects stored under random names with an
 * index in the shared SQLite database. Entry file; import from here.
 */
export {
  openQuarantine, quarantineDirIn, safeFileName, type QuarantineMeta, DEFAULT_QUARANTINE_RETENTION, QUARANTINE_STATES,
  type Quarantine, type QuarantineEntry, type QuarantineState, type QuarantineSource, type QuarantineAddInput,
  type QuarantineQuery, type QuarantinePage, type QuarantineRetention, type QuarantineStats,
  type OpenQuarantineOptions, type ReleaseMailHook, type ReleaseOptions, type ReleaseResult,
} from './store.js';
export { newQuarantineId, parseQuarantineId, type QuarantineId } from './id.js';
