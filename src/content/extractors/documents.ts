/**
 * Mail and document formats (MIME, TNEF, uuencode, yEnc, BinHex, PDF, OLE2,
 * RTF, HTML data: URIs), in the order users meet them most. Each decides
 * for itself in `accepts` from the walker's type and the first bytes, so a
 * text part the MIME extractor hands on comes back to the text encodings.
 */
import type { Extractor } from '../types.js';
import { binhexExtractor } from './binhex.js';
import { htmlExtractor } from './html.js';
import { mimeExtractor } from './mime.js';
import { ole2Extractor } from './ole2.js';
import { pdfExtractor } from './pdf.js';
import { rtfExtractor } from './rtf.js';
import { tnefExtractor } from './tnef.js';
import { uuencodeExtractor } from './uuencode.js';
import { yencExtractor } from './yenc.js';

export const documentExtractors: readonly Extractor[] = [
  mimeExtractor,
  tnefExtractor,
  uuencodeExtractor,
  ole2Extractor,
  pdfExtractor,
  rtfExtractor,
  htmlExtractor,
  yencExtractor,
  binhexExtractor,
];
