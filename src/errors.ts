/**
 * Errors with a stable `code` that callers match on (never on the message).
 * Messages read "Cannot <action>: <state>".
 */
export type ErrorCode =
  | 'PC_ERR_DB_BUILD'          // a signature database could not be compiled
  | 'PC_ERR_DB_READ'           // a signature file or folder could not be read
  | 'PC_ERR_CONFIG'            // the config file is invalid
  | 'PC_ERR_SCAN_TIMEOUT'      // a scanner did not answer in time
  | 'PC_ERR_SCANNER'           // a scanner failed (connection, protocol, exit code)
  | 'PC_ERR_SCAN_INPUT'        // the object to scan could not be read
  | 'PC_ERR_QUARANTINE'        // the quarantine could not store, find or release an object
  | 'PC_ERR_NOT_FOUND'         // an id or name does not exist
  | 'PC_ERR_USAGE'             // a command line was wrong
  | 'PC_ERR_NEXT_HOP';         // the SMTP next hop could not be reached, closed, timed out or spoke nonsense

export class PortcullisError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PortcullisError';
    this.code = code;
  }
}

export function isPortcullisError(e: unknown, code?: ErrorCode): e is PortcullisError {
  return e instanceof PortcullisError && (code === undefined || e.code === code);
}
