/**
 * The events part: the shared database, the audit log of inspections, and
 * Prometheus metrics. Entry file; import from here.
 */
export { openDatabase, openMemoryDatabase, migrate, selectPage, likeLiteral, DATABASE_FILE_NAME, type Db, type OpenDatabaseOptions, type PageFilter } from './db.js';
export {
  openEventStore, DEFAULT_EVENT_RETENTION,
  type EventStore, type EventQuery, type EventPage, type EventSummary, type EventRetention, type OpenEventStoreOptions,
} from './store.js';
export { createMetrics, type Metrics, type MetricsSnapshot, type SignatureInfo, type CreateMetricsOptions } from './metrics.js';
export { startRetention, type RetentionTimer, type StartRetentionOptions } from './retention.js';
export * from './types.js';
