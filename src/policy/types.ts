/**
 * The facts policy decides on and the decisions it returns. Pure data; the
 * literal unions match the event store's (src/events/types.ts) so a decision
 * can be recorded as is.
 */
import type { ActionClass } from '../config/table.js';

/** Where an object came from; "upload" is the admin UI's "scan a file". */
export type Protocol = 'smtp' | 'ftp' | 'upload';
export type Direction = 'inbound' | 'outbound';
export type Action = 'pass' | 'block' | 'quarantine' | 'strip' | 'replace' | 'tempfail';

/** The class a decision was made for; "clean" when nothing was found. */
export type DecisionClass = ActionClass | 'clean';

/** FTP commands that move a file. RETR brings one to the client; the others send one to the server. */
export type FtpTransferCommand = 'RETR' | 'STOR' | 'APPE' | 'STOU';
