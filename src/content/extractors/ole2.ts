/**
 * OLE2 compound files (MS-CFB: Word/Excel/PowerPoint 97–2003, MSI, .msg,
 * embedded objects) → their streams, read with the `cfb` package and named
 * by their storage path ("Macros/VBA/Module1", "WordDocument"). VBA project
 * streams are handed on as they are stored (compressed source and p-code),
 * which is what ClamAV's signatures for them match. Besides the streams:
 *  - an Ole10Native stream (Packager) → the file it carries;
 *  - PowerPoint's "PowerPoint Document" stream → each embedded object
 *    (ExOleObjStg records, zlib-compressed or stored), itself an OLE2 file;
 *  - MSI stream names, stored in a 64-symbol code in CJK code points, are
 *    decoded back to text.
 * Limits: the file is parsed whole in memory (the caller bounds its size);
 * each stream is cut at MaxFileSize / what is left of MaxScanSize; at most
 * MaxFiles streams. A file `cfb` cannot parse is reported as
 * Heuristics.Broken.OLE2. Reads untrusted bytes; never throws. `cfb`
 * (~30 ms to load) is imported on the first OLE2 file, not at start.
 */
import { inflateSync, constants as zc } from 'node:zlib';
import type CFB from 'cfb';
import { parseOle10Native } from '../decoders/olepackage.js';
import type { ExtractContext, ExtractedChild, Extractor, FileType } from '../types.js';
import { childBudget, cleanName, fitChild } from './common.js';

const MAGIC = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
const EX_OLE_OBJ_STG = 0x1011;

let cfbPromise: Promise<typeof CFB> | undefined;

function loadCfb(): Promise<typeof CFB> {
  cfbPromise ??= import('cfb').then((m) => m.default);
  return cfbPromise;
}

export function isOle2(data: Uint8Array): boolean {
  return data.length >= 512 && MAGIC.every((b, i) => data[i] === b);
}

export const ole2Extractor: Extractor = {
  name: 'ole2',
  accepts(type: FileType, data: Uint8Array): boolean {
    return type.name === 'ole2' || (type.name === 'binary' && isOle2(data));
  },
  async *extract(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
    const cfb = await loadCfb();
    let container: CFB.CFB$Container;
    try {
      container = cfb.read(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { type: 'buffer' });
    } catch {
      ctx.report('Heuristics.Broken.OLE2');
      return;
    }
    let n = 0;
    for (let i = 0; i < container.FileIndex.length; i++) {
      const entry = container.FileIndex[i];
      if (!entry || entry.type !== 2 || !entry.content) continue;
      if (++n > ctx.limits.MaxFiles) {
        ctx.report('Heuristics.Limits.Exceeded.MaxFiles');
        return;
      }
      const bytes = toBytes(entry.content);
      const path = streamPath(container.FullPaths[i] ?? entry.name);
      for (const child of streamChildren(path, entry.name, bytes, ctx)) {
        const fitted = fitChild(ctx, child);
        if (fitted) yield fitted;
      }
    }
  },
};

function toBytes(content: CFB.CFB$Blob): Uint8Array {
  if (content instanceof Uint8Array) return content;
  return Uint8Array.from(content as ArrayLike<number>);
}

/** What one stream contributes: itself, or the file(s) it wraps. */
function* streamChildren(path: string, name: string, bytes: Uint8Array, ctx: ExtractContext): Generator<ExtractedChild> {
  if (/Ole10Native$/i.test(name)) {
    const pkg = parseOle10Native(bytes);
    if (pkg) {
      yield { name: `${path} ${cleanName(pkg.name)}`.trim(), data: pkg.data };
      return;
    }
  }
  yield { name: path, data: bytes };
  if (name === 'PowerPoint Document') {
    let k = 0;
    for (const obj of pptObjects(bytes, childBudget(ctx))) yield { name: `${path} object ${++k}`, data: obj };
  }
}

/** "Root Entry/Macros/VBA/\x01CompObj" → "Macros/VBA/CompObj", with MSI names decoded. */
function streamPath(full: string): string {
  return full.replace(/^Root Entry\//, '').split('/').map((p) => cleanName(decodeMsiName(p))).join('/');
}

const MSI_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._';

/** MSI packs two name characters into one code point in 0x3800–0x47FF, one into 0x4800–0x483F. */
export function decodeMsiName(name: string): string {
  let out = '';
  for (const ch of name) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x3800 && c < 0x4800) {
      const v = c - 0x3800;
      out += (MSI_ALPHABET[v & 0x3f] ?? '') + (MSI_ALPHABET[(v >> 6) & 0x3f] ?? '');
    } else if (c >= 0x4800 && c < 0x4840) {
      out += MSI_ALPHABET[c - 0x4800] ?? '';
    } else if (c === 0x4840) {
      out += '!';
    } else {
      out += ch;
    }
  }
  return out;
}

/**
 * Embedded objects of a PowerPoint 97 document: ExOleObjStg records
 * (MS-PPT 2.10.34), found by their header anywhere in the stream.
 * recInstance 1 means a 4-byte size and zlib data follow.
 */
function* pptObjects(stream: Uint8Array, cap: number): Generator<Uint8Array> {
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  for (let i = 0; i + 8 <= stream.length; i++) {
    if (view.getUint16(i + 2, true) !== EX_OLE_OBJ_STG) continue;
    const verInstance = view.getUint16(i, true);
    const len = view.getUint32(i + 4, true);
    if ((verInstance & 0xf) !== 0 || len < 4 || i + 8 + len > stream.length) continue;
    const body = stream.subarray(i + 8, i + 8 + len);
    if (verInstance >> 4 === 1) {
      try {
        yield new Uint8Array(inflateSync(body.subarray(4), { maxOutputLength: Math.max(1, cap), finishFlush: zc.Z_SYNC_FLUSH }));
      } catch {
        continue;
      }
    } else {
      yield body;
    }
    i += 7 + len;
  }
}
