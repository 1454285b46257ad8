/**
 * The registry of extractors, in the order the walker tries them. Archive
 * formats come from archives.ts, mail and document formats from documents.ts.
 */
import type { Extractor } from '../types.js';
import { archiveExtractors } from './archives.js';
import { documentExtractors } from './documents.js';

export const extractors: readonly Extractor[] = [...archiveExtractors, ...documentExtractors];
