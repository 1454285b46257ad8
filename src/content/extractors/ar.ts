/**
 * Unix `ar` archives (static libraries `.a`, Debian packages `.deb`): the
 * common System V / GNU layout — "!<arch>\n", then per member a 60-byte
 * header (name 16, mtime 12, uid 6, gid 6, mode 8, decimal size 10, "`\n")
 * and the data padded to an even offset. Names: GNU "name/", the GNU
 * long-name table "//" with "/N" references into it, BSD "#1/N" (the name is
 * the first N bytes of the data). A .deb's members (data.tar.xz …) come out
 * as plain children; the walker unpacks them with the gzip/xz/tar extractors
 * (zstd still through 7-Zip). Thin archives ("!<thin>\n") hold no data and
 * are not detected as ar.
 *
 * Symbol tables (GNU "/" and "/SYM64/", BSD "__.SYMDEF …") are not members:
 * they are ranlib's index of symbol names, and their bytes are already
 * scanned as part of the archive itself.
 *
 * Reads untrusted bytes, in plain JS so static libraries never start the
 * 7-Zip worker. Members are views into the input (no copy), capped by
 * MaxFileSize / MaxScanSize. A bad header ends the archive with
 * `Heuristics.Broken.Ar`, as does a member cut short (its first bytes are
 * still scanned). Each step advances past a 60-byte header, so the loop ends.
 */
import { CappedSink, memberCap } from '../capped.js';
import type { ExtractContext, ExtractedChild, Extractor } from '../types.js';
import { cleanName, latin1Text } from './common.js';

const MAGIC = '!<arch>\n';
const HEADER = 60;
const BROKEN = 'Heuristics.Broken.Ar';
const SYMBOL_TABLES = new Set(['/', '/SYM64/', '__.SYMDEF', '__.SYMDEF SORTED', '__.SYMDEF_64', '__.SYMDEF_64 SORTED']);
const utf8 = new TextDecoder('utf-8');

interface Header {
  /** The raw 16-byte name field, trailing spaces removed. */
  readonly rawName: string;
  readonly size: number;
}

/** The header at `at`, or undefined when its terminator or size field is not what ar writes. */
function readHeader(data: Uint8Array, at: number): Header | undefined {
  const h = latin1Text(data.subarray(at, at + HEADER));
  if (h.length < HEADER || h.slice(58, 60) !== '`\n') return undefined;
  const sizeField = h.slice(48, 58).trimEnd();
  if (!/^[0-9]+$/.test(sizeField)) return undefined;
  return { rawName: h.slice(0, 16).trimEnd(), size: Number(sizeField) };
}

/** Name number `offset` of a GNU long-name table: ends at "/\n" (GNU) or "\n" (System V). */
function longName(table: Uint8Array | undefined, offset: number): string | undefined {
  if (table === undefined || offset >= table.length) return undefined;
  let end = table.indexOf(0x0a, offset);
  if (end < 0) end = table.length;
  if (end > offset && table[end - 1] === 0x2f) end--;
  return utf8.decode(table.subarray(offset, end));
}

async function* extractAr(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  let at = MAGIC.length;
  let names: Uint8Array | undefined;
  let index = 0;
  while (at < data.length) {
    // A lone newline after the last member is padding some writers leave.
    if (at + 1 === data.length && data[at] === 0x0a) return;
    const header = readHeader(data, at);
    if (header === undefined) { ctx.report(BROKEN); return; }
    const start = at + HEADER;
    let body = data.subarray(start, start + header.size);
    const cut = body.length < header.size;
    at = start + header.size + (header.size % 2);
    index++;
    const raw = header.rawName;
    if (raw === '//') { names = body; continue; }
    if (SYMBOL_TABLES.has(raw)) continue;
    let name: string;
    const bsd = /^#1\/([0-9]+)$/.exec(raw);
    const gnu = /^\/([0-9]+)$/.exec(raw);
    if (bsd?.[1] !== undefined) {
      const n = Math.min(Number(bsd[1]), body.length);
      const field = body.subarray(0, n);
      const nul = field.indexOf(0);
      name = utf8.decode(nul < 0 ? field : field.subarray(0, nul));
      body = body.subarray(n);
      if (SYMBOL_TABLES.has(name)) continue;
    } else if (gnu?.[1] !== undefined) {
      name = longName(names, Number(gnu[1])) ?? raw;
    } else {
      name = raw.endsWith('/') ? raw.slice(0, -1) : raw;
    }
    const sink = new CappedSink(memberCap(ctx));
    sink.push(body);
    const shown = cleanName(name);
    yield sink.child(ctx, shown === '' ? `member ${index}` : shown);
    if (cut) { ctx.report(BROKEN, shown); return; }
  }
}

export const arExtractor: Extractor = {
  name: 'ar',
  accepts: (type) => type.name === 'ar',
  extract: extractAr,
};
