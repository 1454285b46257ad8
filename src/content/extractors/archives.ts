/** Archive and compression formats (zip, gzip, bzip2, xz, tar, cpio, 7z, cab …). */
import type { Extractor } from '../types.js';

export const archiveExtractors: readonly Extractor[] = [];
