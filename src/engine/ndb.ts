/**
 * ClamAV extended body signatures (.ndb/.ndu): one line →
 * `MalwareName:TargetType:Offset:HexSignature[:MinFL[:MaxFL]]`.
 *
 * This module only splits and checks the fields; the hex pattern and the
 * offset are compiled by the matcher (pattern.ts / offset.ts), which reports
 * its own syntax errors. Offsets relative to an executable's entry point or
 * sections (EP+n, Sx+n, SEx, SL+n, VI) need a PE/ELF parser we do not have:
 * such lines are reported as "ep-offset". Macro members (`$N` offsets, used
 * by .ldb macro subsigs) are reported as "macro".
 *
 * Reads untrusted bytes (signature lines); never throws for a bad line.
 */
import { ENGINE_FLEVEL, isExecutableOffset } from './ldb.js';

export interface BodySignature {
  readonly name: string;
  readonly target: number;
  /** ClamAV offset text: "*", "n", "EOF-n", "n,maxshift" … */
  readonly offset: string;
  readonly hex: string;
}

export type NdbParse =
  | { readonly ok: true; readonly sig: BodySignature }
  | { readonly ok: false; readonly reason: string; readonly detail: string };

/** Parses one .ndb line (already trimmed, not empty, not a comment). */
export function parseNdbLine(line: string): NdbParse {
  const fields = line.split(':');
  if (fields.length < 4 || fields.length > 6) {
    return { ok: false, reason: 'malformed-ndb', detail: `${fields.length} ":"-separated fields, expected 4 to 6` };
  }
  const [name, target, offset, hex, minFl, maxFl] = fields as [string, string, string, string, string?, string?];
  if (name === '') return { ok: false, reason: 'malformed-ndb', detail: 'empty signature name' };
  if (!/^\d{1,3}$/.test(target)) return { ok: false, reason: 'malformed-ndb', detail: `target type "${target}" is not a number` };
  if (hex === '') return { ok: false, reason: 'malformed-ndb', detail: 'empty hex signature' };
  for (const fl of [minFl, maxFl]) {
    if (fl !== undefined && !/^\d*$/.test(fl)) return { ok: false, reason: 'malformed-ndb', detail: `functionality level "${fl}" is not a number` };
  }
  if (minFl !== undefined && minFl !== '' && Number(minFl) > ENGINE_FLEVEL) {
    return { ok: false, reason: 'flevel', detail: `needs engine level ${minFl} or later` };
  }
  if (maxFl !== undefined && maxFl !== '' && Number(maxFl) < ENGINE_FLEVEL) {
    return { ok: false, reason: 'flevel', detail: `only for engine levels up to ${maxFl}` };
  }
  if (offset.startsWith('$')) return { ok: false, reason: 'macro', detail: `macro group member ${offset}` };
  if (isExecutableOffset(offset)) return { ok: false, reason: 'ep-offset', detail: `offset ${offset}` };
  return { ok: true, sig: { name, target: Number(target), offset, hex } };
}
