/**
 * The built-in database: what the engine loads when no ClamAV database is
 * configured, so a fresh install detects something out of the box.
 *
 * - EICAR as a body signature and as an MD5 hash signature (the name ClamAV uses);
 * - ClamAV's own test-file hash (`Clamav.Test.File-6`, size 544), so Debian's
 *   clamav-testfiles are found;
 * - project test signatures `Portcullis.Test.*` (a wildcard body signature and a
 *   logical signature with a count) with the strings that trigger them, for tests.
 *
 * Every trigger string is assembled from two halves at run time, so this source
 * file does not itself match the signatures it defines (a scan of the source
 * tree stays clean).
 */
import type { DbFile } from './types.js';

const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

/** The 68-byte EICAR test file. */
export function eicarString(): string {
  return 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$' + 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
}

const WILDCARD_HEAD = 'PORTCULLIS-' + 'WILDCARD-TEST<';
const WILDCARD_TAIL = '>END-OF-' + 'WILDCARD-TEST';
const LOGICAL_PARTS = ['PORTCULLIS-LOGICAL-' + 'PART-ONE', 'PORTCULLIS-LOGICAL-' + 'PART-TWO', 'PORTCULLIS-LOGICAL-' + 'REPEAT'] as const;

/**
 * Strings that trigger the project's test signatures:
 * - `Portcullis.Test.Wildcard` (.ndb): `PORTCULLIS-WILDCARD-TEST<`, then 1 to 17
 *   bytes of anything, then `>END-OF-WILDCARD-TEST` (pattern `…3c??{0-16}3e…`);
 * - `Portcullis.Test.Logical` (.ldb): `(0&1)|2>1` — PART-ONE and PART-TWO both
 *   present, or REPEAT present at least twice.
 */
export const testStrings = {
  wildcard: (middle = 'any bytes'): string => WILDCARD_HEAD + middle + WILDCARD_TAIL,
  logicalParts: (): readonly [string, string, string] => [...LOGICAL_PARTS],
} as const;

export const BUILTIN_SIGNATURE_NAMES = [
  'Eicar-Test-Signature', 'Clamav.Test.File-6', 'Portcullis.Test.Wildcard', 'Portcullis.Test.Logical',
] as const;

export function builtinDbFiles(): DbFile[] {
  const enc = (text: string): Uint8Array => Buffer.from(text, 'latin1');
  const ndb = [
    `Eicar-Test-Signature:0:*:${hex(eicarString())}`,
    `Portcullis.Test.Wildcard:0:*:${hex(WILDCARD_HEAD)}??{0-16}${hex(WILDCARD_TAIL)}`,
  ];
  const hdb = [
    '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature',
    'aa15bcf478d165efd2065190eb473bcb:544:Clamav.Test.File-6',
  ];
  const ldb = [
    `Portcullis.Test.Logical;Engine:51-255,Target:0;(0&1)|2>1;${LOGICAL_PARTS.map(hex).join(';')}`,
  ];
  return [
    { name: 'portcullis-builtin.ndb', data: enc(ndb.join('\n') + '\n') },
    { name: 'portcullis-builtin.hdb', data: enc(hdb.join('\n') + '\n') },
    { name: 'portcullis-builtin.ldb', data: enc(ldb.join('\n') + '\n') },
  ];
}
