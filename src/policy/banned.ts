/**
 * Banned names and true types (amavis "banned files"): a finding of class
 * "banned" for each object, at any depth inside containers, whose name
 * matches a banned pattern or whose true type is banned. Finding names are
 * built from the config's pattern or type, never from the untrusted object
 * name: "Banned.Name.*.scr", "Banned.Type.pe".
 *
 * Patterns are case-insensitive globs with * and ? matched against the last
 * path segment (an archive member "dir/x.exe" is "x.exe"), with trailing dots
 * and spaces removed as Windows does. The matcher is the linear two-pointer
 * algorithm, so a hostile name cannot make it backtrack exponentially.
 */
import type { FileType } from '../content/types.js';
import type { Finding } from '../scanners/types.js';

export interface BannedRules {
  readonly bannedNames: readonly string[];
  readonly bannedTypes: readonly string[];
}

/** One object seen by the content walker: its path (root first) and true type. */
export interface ObjectFact {
  readonly path: readonly string[];
  readonly type: FileType;
}

export const BANNED_SCANNER = 'policy';

/** Case-insensitive glob match of the whole text; `*` any run, `?` one character. */
export function globMatch(pattern: string, text: string): boolean {
  const p = [...pattern.toLowerCase()];
  const t = [...text.toLowerCase()];
  let pi = 0;
  let ti = 0;
  let starP = -1;
  let starT = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) { pi++; ti++; }
    else if (pi < p.length && p[pi] === '*') { starP = pi++; starT = ti; }
    else if (starP >= 0) { pi = starP + 1; ti = ++starT; }
    else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

export function baseName(name: string): string {
  return (name.split(/[/\\]/).pop() ?? '').replace(/[.\s]+$/, '');
}

export function bannedFindings(objects: readonly ObjectFact[], rules: BannedRules): Finding[] {
  const out: Finding[] = [];
  if (rules.bannedNames.length === 0 && rules.bannedTypes.length === 0) return out;
  for (const o of objects) {
    const name = baseName(o.path[o.path.length - 1] ?? '');
    for (const pattern of rules.bannedNames) {
      if (globMatch(pattern, name)) out.push({ name: `Banned.Name.${pattern}`, path: o.path, scanner: BANNED_SCANNER });
    }
    if (rules.bannedTypes.includes(o.type.name)) out.push({ name: `Banned.Type.${o.type.name}`, path: o.path, scanner: BANNED_SCANNER });
  }
  return out;
}
