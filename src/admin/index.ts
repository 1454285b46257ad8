/**
 * The admin part: web UI, JSON API and /metrics. Entry file; import from here.
 */
export { startAdmin, buildAdmin, parseListen, contentDisposition, redactSecrets, type AdminServer, type AdminApp, type RouteInfo, type RouteAccess } from './server.js';
export { hashPassword, verifyPassword, parsePasswordHash, DEFAULT_SCRYPT, type ScryptParams } from './password.js';
export type * from './types.js';
