/**
 * The content walker's one entry: `walk` turns an object into itself and
 * every object inside it (archive members, mail parts, decoded blocks), with
 * limits; `detectType` names an object's true type from its first bytes.
 * It knows nothing of protocols or scanners.
 */
export { walk, type WalkOptions, type WalkRoot } from './walker.js';
export { detectType, detectTypeAsync, fileType, findingLabel } from './filetype.js';
export { DEFAULT_LIMITS, LIMIT_ROWS, limitFinding, type LimitName, type LimitRow, type Limits } from './limits.js';
export { extractors } from './extractors/index.js';
export {
  PATH_SEPARATOR,
  type ContentNode, type ExtractContext, type ExtractedChild, type Extractor, type FileType, type WalkItem, type WalkerFinding,
} from './types.js';
