/**
 * The engine's public contract. The engine is pure: bytes in, findings out.
 * No sockets, no files, no clock (load time is measured by callers).
 */

/** ClamAV target types (the `Target` field of .ndb and `Target:` of .ldb). */
export const Target = {
  Any: 0, PE: 1, OLE2: 2, HTML: 3, Mail: 4, Graphics: 5, ELF: 6, Ascii: 7,
  MachO: 9, PDF: 10, Flash: 11, Java: 12,
} as const;
export type TargetType = number;

/** One signature file handed to the compiler: its file name decides the format (.ndb, .hdb, .cvd …). */
export interface DbFile {
  readonly name: string;
  readonly data: Uint8Array;
}

export type SignatureKind =
  | 'md5' | 'sha1' | 'sha256'           // .hdb/.hsb (and .mdb section hashes are skipped)
  | 'body'                              // .ndb
  | 'logical'                           // .ldb
  | 'fp' | 'ign';                       // allow-lists and ignore lists

export interface DatabaseStats {
  /** Loaded signatures by kind. */
  readonly loaded: Readonly<Record<string, number>>;
  /** Signatures that could not be used, by reason (e.g. "bytecode", "ep-offset", "pcre-unsupported"). */
  readonly skipped: Readonly<Record<string, number>>;
  /** A few example lines per skipped reason, for `portcullis sigs info`. */
  readonly skippedExamples: Readonly<Record<string, readonly string[]>>;
  /** Files read, with the number of lines or entries each contributed. */
  readonly files: readonly { readonly name: string; readonly signatures: number }[];
  /** Newest build time found in a .cvd/.cld/.cud header, if any (ms since epoch). */
  readonly newestBuildTime?: number;
  readonly total: number;
}

export interface EngineFinding {
  /** Signature name as the database spells it (no ".UNOFFICIAL" suffix). */
  readonly name: string;
  readonly kind: 'hash' | 'body' | 'logical';
  /** Byte offset of the match in the object, for body and logical signatures. */
  readonly offset?: number;
}

export interface ScanOptions {
  /** Total size of the object in bytes. Needed for EOF-n offsets and hash signatures. */
  readonly size: number;
  /** ClamAV target type of the object, when the walker knows it; default 0 (any). */
  readonly target?: TargetType;
}

/** One streaming scan of one object. Feed chunks in order, then call end(). Never throws because of the bytes. */
export interface EngineScan {
  /**
   * Scans the next bytes. The scan keeps no reference to `chunk` once write
   * returns (what it needs across chunks it copies), so callers may reuse the
   * buffer: the builtin scanner's read buffers rely on this.
   */
  write(chunk: Uint8Array): void;
  end(): EngineFinding[];
}

/** A compiled database. Immutable and shared by every scan. */
export interface CompiledDatabase {
  readonly stats: DatabaseStats;
  scan(options: ScanOptions): EngineScan;
  /** Convenience: scan one whole buffer. */
  scanBuffer(data: Uint8Array, target?: TargetType): EngineFinding[];
}
