/**
 * Whether an object is scanned at all. By default everything is
 * (`scanAll: true`). With scanAll off, an object is skipped only when its
 * extension is in skipExtensions, not in alwaysScanExtensions, AND its true
 * type (from its first bytes, src/content detectType) is one that cannot
 * carry a virus by itself: plain text or an image. A renamed executable,
 * archive or document ("invoice.txt" that is really a PE or a zip) is
 * scanned whatever its name says, and so is anything of unknown type.
 *
 * Pure; reads the untrusted name only to take its extension.
 */
import type { FileType } from '../content/types.js';
import { Target } from '../engine/types.js';

export interface ScanChoiceRules {
  readonly scanAll: boolean;
  readonly skipExtensions: readonly string[];
  readonly alwaysScanExtensions: readonly string[];
}

export interface ScanChoice {
  readonly scan: boolean;
  /** Why, in a few words, for logs and events. */
  readonly reason: string;
}

/** The extension of the last path segment, lower-case, without the dot; trailing dots and spaces are ignored as Windows does. */
export function extensionOf(name: string): string {
  const base = (name.split(/[/\\]/).pop() ?? '').replace(/[.\s]+$/, '');
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}

/** True types that cannot carry a virus on their own: text and images. Everything else may. */
export function isHarmlessType(type: FileType): boolean {
  return type.name === 'text' || type.target === Target.Graphics;
}

export function chooseScan(name: string, type: FileType, rules: ScanChoiceRules): ScanChoice {
  if (rules.scanAll) return { scan: true, reason: 'scanAll' };
  const ext = extensionOf(name);
  if (ext !== '' && rules.alwaysScanExtensions.includes(ext)) return { scan: true, reason: `extension .${ext} is always scanned` };
  if (!isHarmlessType(type)) return { scan: true, reason: `true type ${type.name}` };
  if (ext !== '' && rules.skipExtensions.includes(ext)) return { scan: false, reason: `extension .${ext} and true type ${type.name} are skipped` };
  return { scan: true, reason: ext === '' ? 'no extension' : `extension .${ext} is not skipped` };
}
