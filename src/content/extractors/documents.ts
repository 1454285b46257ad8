/** Mail and document formats (MIME, uuencode, yEnc, BinHex, TNEF, PDF, HTML, RTF, OLE2). */
import type { Extractor } from '../types.js';

export const documentExtractors: readonly Extractor[] = [];
