/**
 * TNEF (winmail.dat, application/ms-tnef; MS-OXTNEF) → its attachments,
 * named by attAttachTitle. The decoder is ../decoders/tnef.ts. MAPI property
 * blocks (embedded messages, long names) are not read. Limits: each file is
 * cut at MaxFileSize / what is left of MaxScanSize; at most MaxFiles.
 * Reads untrusted bytes; never throws.
 */
import { TNEF_SIGNATURE, TnefDecoder } from '../decoders/tnef.js';
import { collectBlocks } from '../decoders/types.js';
import type { ExtractContext, ExtractedChild, Extractor, FileType } from '../types.js';
import { childBudget, cleanName, fitChild } from './common.js';

export function isTnef(data: Uint8Array): boolean {
  return data.length >= 4 && ((data[0] as number) | ((data[1] as number) << 8) | ((data[2] as number) << 16) | ((data[3] as number) << 24)) >>> 0 === TNEF_SIGNATURE;
}

/** Decoder problems that are noted but are not findings. */
const HARMLESS: ReadonlySet<string> = new Set(['trailing', 'checksum']);

export const tnefExtractor: Extractor = {
  name: 'tnef',
  accepts(type: FileType, data: Uint8Array): boolean {
    return type.name === 'tnef' || (type.name === 'binary' && isTnef(data));
  },
  async *extract(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
    let decoder: TnefDecoder | undefined;
    const blocks = collectBlocks((s) => (decoder = new TnefDecoder(s)), data, childBudget(ctx), ctx.limits.MaxFiles);
    // A checksum mismatch hides nothing (every byte is still decoded and scanned) and is common in
    // edited or hand-made TNEF (ClamAV's own test file has three); only a broken structure is a finding.
    if (decoder && decoder.problems.some((p) => !HARMLESS.has(p))) ctx.report('Heuristics.Broken.TNEF');
    let n = 0;
    for (const b of blocks) {
      n++;
      const name = cleanName(b.name) || `attachment ${n}`;
      if (b.problems.some((p) => !HARMLESS.has(p))) ctx.report('Heuristics.Broken.TNEF', name);
      const child = fitChild(ctx, { name, data: b.data }, b.capped);
      if (child) yield child;
    }
  },
};
