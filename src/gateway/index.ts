/**
 * The gateway part: runtime (start, reload, drain), snapshots, the listener
 * registry the proxies plug into, and the inspection pipeline. Entry file;
 * import from here.
 */
export { Gateway, changedKeys, type GatewayOptions, type ListenerFactory, type ReloadResult, type StopResult } from './runtime.js';
export { buildSnapshot, SnapshotHolder, type Lease, type SignatureInfo, type Snapshot, type SnapshotSource } from './snapshot.js';
export {
  newSessionId, SessionTracker, type Admission, type BoundAddress, type DrainResult, type ListenerContext, type ProtocolListener,
  type SessionLimits, type SessionMetrics, type TrackedSession,
} from './listeners.js';
export { createInspect, scanCost, type Inspect, type InspectDecision, type InspectDeps, type InspectRequest, type InspectResult, type WholeReaders } from './inspect.js';
export { ByteBudget, ScanAdmission } from './admission.js';
export { PlaceholderListener } from './placeholder.js';
export { dropPrivileges, type DropOptions, type DropResult } from './privileges.js';
