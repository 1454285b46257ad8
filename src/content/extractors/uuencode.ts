/**
 * UUencode blocks anywhere in a text (a mail body, a news post, a file) →
 * the files they carry. The finder is the streaming decoder in
 * ../decoders/uuencode.ts (see it for what is tolerated); the extractor's shape,
 * shared with the other text encodings, is in textblocks.ts. Reads untrusted
 * bytes; never throws.
 */
import { textBlockExtractor } from './textblocks.js';

export const uuencodeExtractor = textBlockExtractor('uuencode', 'UUencode');
