/**
 * Archive and compression formats, in the order users meet them most:
 * zip, gzip, tar, bzip2, xz, ar (.a, .deb), 7z/cab/rar/arj/chm/iso/lzh/rpm/zstd/
 * .Z/xar/wim/squashfs (7-Zip in wasm),
 * cpio, SZDD, Symbian SIS, and payloads inside PE files (AutoIt, InstallShield,
 * then NSIS and SFX archives through 7-Zip).
 * Each format lives in its own file; this is only the list.
 */
import type { Extractor } from '../types.js';
import { arExtractor } from './ar.js';
import { autoItExtractor } from './autoit.js';
import { bzip2Extractor } from './bzip2.js';
import { cpioExtractor } from './cpio.js';
import { gzipExtractor } from './gzip.js';
import { installShieldExtractor } from './installshield.js';
import { peInstallerExtractor, sevenZipExtractor } from './sevenzip.js';
import { sisExtractor } from './sis.js';
import { szddExtractor } from './szdd.js';
import { tarExtractor } from './tar.js';
import { xzExtractor } from './xz.js';
import { zipExtractor } from './zip.js';

export const archiveExtractors: readonly Extractor[] = [
  zipExtractor,
  gzipExtractor,
  tarExtractor,
  bzip2Extractor,
  xzExtractor,
  arExtractor,
  sevenZipExtractor,
  cpioExtractor,
  szddExtractor,
  sisExtractor,
  autoItExtractor,
  installShieldExtractor,
  peInstallerExtractor,
];
