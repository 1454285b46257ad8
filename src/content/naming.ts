/**
 * Names for the one child of a single-stream format (gzip, bzip2, xz, SZDD),
 * which has no member name of its own: the container's name without its
 * compression suffix ("report.pdf.gz" → "report.pdf", "x.tgz" → "x.tar").
 */

/** `suffixes` are [suffix, replacement] pairs, matched case-insensitively; `fallback` when none matches or no name is known. */
export function innerName(containerName: string | undefined, suffixes: readonly (readonly [string, string])[], fallback: string): string {
  if (containerName !== undefined) {
    const lower = containerName.toLowerCase();
    for (const [suffix, replacement] of suffixes) {
      if (lower.endsWith(suffix) && containerName.length > suffix.length) {
        return containerName.slice(0, -suffix.length) + replacement;
      }
    }
  }
  return fallback;
}
