/**
 * True file type from the first bytes, whatever the name says: a renamed
 * .exe is still "pe".
 *
 * Two layers:
 *  - `detectType` (sync): our own table of magic numbers and text sniffers.
 *    It reads untrusted bytes but only the first HEAD_BYTES (4 KiB) plus a
 *    few fixed offsets (tar at 257, ISO at 32769), so it is O(1) in the input
 *    size. It knows every container the walker can open and every type that
 *    has a ClamAV target, which is all the walker and the engine need.
 *  - `detectTypeAsync`: the same, then the `file-type` package (loaded lazily,
 *    it is async) refines what our table calls "binary" — images, media and
 *    office formats it knows and we do not. Names from it are its extension
 *    names ("mp4", "woff2" …); target stays 0 except for images (5).
 *
 * Names are a contract with the extractors (documents.ts relies on them):
 * zip gzip bzip2 xz tar cpio 7z cab arj rar chm szdd pe elf macho ole2 pdf
 * html rtf mail tnef binhex text binary, plus images and others.
 * Targets are ClamAV's (engine/types.ts `Target`).
 */
import { Target, type TargetType } from '../engine/types.js';
import { LeBytes } from './bytes.js';
import type { FileType } from './types.js';

/** How much of the start the text sniffers look at. */
export const HEAD_BYTES = 4096;

/** Types the walker can open (an extractor exists for them in the registry). */
const CONTAINERS = new Set([
  'zip', 'gzip', 'bzip2', 'xz', 'tar', 'cpio', '7z', 'cab', 'arj', 'rar', 'chm', 'szdd', 'iso', 'lzh', 'sis',
  'ar', 'rpm', 'zstd', 'compress', 'xar', 'wim', 'squashfs',
  'mail', 'tnef', 'binhex', 'ole2', 'pdf', 'html', 'rtf', 'text', 'pe',
]);

const GRAPHICS = new Set(['jpeg', 'png', 'gif', 'bmp', 'tiff', 'ico', 'webp', 'avif', 'heic', 'psd', 'jxl', 'jp2', 'cur', 'apng']);

const TARGETS: Readonly<Record<string, TargetType>> = {
  pe: Target.PE, ole2: Target.OLE2, html: Target.HTML, mail: Target.Mail, elf: Target.ELF, text: Target.Ascii,
  macho: Target.MachO, pdf: Target.PDF, swf: Target.Flash, java: Target.Java,
};

const MIMES: Readonly<Record<string, string>> = {
  zip: 'application/zip', gzip: 'application/gzip', bzip2: 'application/x-bzip2', xz: 'application/x-xz',
  tar: 'application/x-tar', cpio: 'application/x-cpio', '7z': 'application/x-7z-compressed',
  cab: 'application/vnd.ms-cab-compressed', arj: 'application/x-arj', rar: 'application/vnd.rar',
  chm: 'application/vnd.ms-htmlhelp', szdd: 'application/x-ms-compress-szdd', pe: 'application/vnd.microsoft.portable-executable',
  elf: 'application/x-elf', macho: 'application/x-mach-binary', ole2: 'application/x-ole-storage', pdf: 'application/pdf',
  html: 'text/html', rtf: 'application/rtf', mail: 'message/rfc822', tnef: 'application/vnd.ms-tnef',
  binhex: 'application/mac-binhex40', text: 'text/plain', binary: 'application/octet-stream',
  jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', bmp: 'image/bmp', tiff: 'image/tiff', ico: 'image/x-icon',
  swf: 'application/x-shockwave-flash', java: 'application/java-vm', iso: 'application/x-iso9660-image',
  lzh: 'application/x-lzh-compressed', sis: 'application/vnd.symbian.install', lzma: 'application/x-lzma',
  ar: 'application/x-archive', rpm: 'application/x-rpm', zstd: 'application/zstd', compress: 'application/x-compress',
  xar: 'application/x-xar', wim: 'application/x-ms-wim', squashfs: 'application/x-squashfs',
};

/** Builds the FileType for a name from the table above. */
export function fileType(name: string, mime?: string): FileType {
  const m = mime ?? MIMES[name];
  const target = TARGETS[name] ?? (GRAPHICS.has(name) ? Target.Graphics : Target.Any);
  const base = { name, target, container: CONTAINERS.has(name) };
  return m === undefined ? base : { ...base, mime: m };
}

/** One row of the magic table: bytes at an offset (null = any byte), with an optional extra check. */
interface MagicRow {
  readonly name: string;
  readonly offset: number;
  readonly bytes: readonly (number | null)[];
  readonly check?: (d: Uint8Array) => boolean;
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

const u16le = (d: Uint8Array, o: number): number => new LeBytes(d).u16(o);
const u32le = (d: Uint8Array, o: number): number => new LeBytes(d).u32(o);

/** Java class files and fat Mach-O share 0xCAFEBABE; class files have a major version ≥ 45, fat headers a small arch count. */
function isJavaClass(d: Uint8Array): boolean {
  const major = ((d[6] ?? 0) << 8) | (d[7] ?? 0);
  return major >= 45 && major < 200;
}

/** A tar header is recognised by "ustar" at 257 or, for old v7 tars, by a valid header checksum. */
function isTar(d: Uint8Array): boolean {
  if (d.length < 512) return false;
  const magic = String.fromCharCode(...d.subarray(257, 262));
  if (magic === 'ustar') return true;
  const field = String.fromCharCode(...d.subarray(148, 156)).replace(/[\0 ]+$/g, '').trim();
  if (!/^[0-7]{1,7}$/.test(field) || d[0] === 0) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (d[i] ?? 0);
  return sum === parseInt(field, 8);
}

/** BMP: "BM" is common in text, so the header must also be plausible (reserved zero, sane data offset). */
function isBmp(d: Uint8Array): boolean {
  if (d.length < 26) return false;
  const reserved = u32le(d, 6);
  const offset = u32le(d, 10);
  const dib = u32le(d, 14);
  return reserved === 0 && offset >= 26 && offset < 0x10000 && [12, 40, 52, 56, 64, 108, 124].includes(dib);
}

/** ARJ main header: 0x60 0xEA, then a header size ≤ 2600 and archive-file type 2. */
function isArj(d: Uint8Array): boolean {
  const size = u16le(d, 2);
  return size > 0 && size <= 2600 && d.length > 10 && d[10] === 2;
}

/** ASCII cpio: the fixed header is all hex (newc, crc: 110 bytes) or all octal (odc: 76 bytes) digits after the magic. */
function isAsciiCpio(d: Uint8Array): boolean {
  const magic = d[5];
  const [len, digits] = magic === 0x37 ? [76, /^[0-7]+$/] : magic === 0x31 || magic === 0x32 ? [110, /^[0-9a-fA-F]+$/] : [0, /$^/];
  return len > 0 && d.length >= len && digits.test(String.fromCharCode(...d.subarray(6, len)));
}

/** Binary cpio has a 2-byte magic only, so the name that follows must also look like one (NUL-terminated, printable). */
function isBinaryCpio(d: Uint8Array): boolean {
  const le = d[0] === 0xc7;
  const nameSize = le ? u16le(d, 20) : ((d[20] ?? 0) << 8) | (d[21] ?? 0);
  if (nameSize < 2 || nameSize > 1024 || d.length < 26 + nameSize) return false;
  const name = d.subarray(26, 26 + nameSize);
  return name[nameSize - 1] === 0 && name.subarray(0, nameSize - 1).every((b) => b >= 0x20 && b < 0x7f);
}

/** LHA: "-lh?-" / "-lz?-" at 2, method character a digit or letter. */
function isLzh(d: Uint8Array): boolean {
  return d[6] === 0x2d && /^[0-9a-z]$/.test(String.fromCharCode(d[5] ?? 0));
}

const MAGIC: readonly MagicRow[] = [
  { name: 'pe', offset: 0, bytes: ascii('MZ') },
  { name: 'elf', offset: 0, bytes: [0x7f, ...ascii('ELF')] },
  { name: 'macho', offset: 0, bytes: [0xfe, 0xed, 0xfa, 0xce] },
  { name: 'macho', offset: 0, bytes: [0xfe, 0xed, 0xfa, 0xcf] },
  { name: 'macho', offset: 0, bytes: [0xce, 0xfa, 0xed, 0xfe] },
  { name: 'macho', offset: 0, bytes: [0xcf, 0xfa, 0xed, 0xfe] },
  { name: 'java', offset: 0, bytes: [0xca, 0xfe, 0xba, 0xbe], check: isJavaClass },
  { name: 'macho', offset: 0, bytes: [0xca, 0xfe, 0xba, 0xbe] },
  { name: 'zip', offset: 0, bytes: ascii('PK\x03\x04') },
  { name: 'zip', offset: 0, bytes: ascii('PK\x05\x06') },
  { name: 'zip', offset: 0, bytes: ascii('PK\x07\x08PK\x03\x04') },
  { name: 'gzip', offset: 0, bytes: [0x1f, 0x8b, 0x08] },
  { name: 'bzip2', offset: 0, bytes: [...ascii('BZh'), null, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59] },
  { name: 'bzip2', offset: 0, bytes: [...ascii('BZh'), null, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90] },
  { name: 'xz', offset: 0, bytes: [0xfd, ...ascii('7zXZ'), 0x00] },
  { name: '7z', offset: 0, bytes: [...ascii('7z'), 0xbc, 0xaf, 0x27, 0x1c] },
  { name: 'cab', offset: 0, bytes: [...ascii('MSCF'), 0, 0, 0, 0] },
  { name: 'arj', offset: 0, bytes: [0x60, 0xea], check: isArj },
  { name: 'rar', offset: 0, bytes: [...ascii('Rar!'), 0x1a, 0x07] },
  { name: 'chm', offset: 0, bytes: [...ascii('ITSF'), 0x03, 0x00, 0x00, 0x00] },
  { name: 'szdd', offset: 0, bytes: [...ascii('SZDD'), 0x88, 0xf0, 0x27, 0x33] },
  { name: 'ole2', offset: 0, bytes: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1] },
  { name: 'tnef', offset: 0, bytes: [0x78, 0x9f, 0x3e, 0x22] },
  { name: 'rtf', offset: 0, bytes: ascii('{\\rt') },
  { name: 'cpio', offset: 0, bytes: ascii('07070'), check: isAsciiCpio },
  { name: 'cpio', offset: 0, bytes: [0xc7, 0x71], check: isBinaryCpio },
  { name: 'cpio', offset: 0, bytes: [0x71, 0xc7], check: isBinaryCpio },
  { name: 'sis', offset: 4, bytes: [0x12, 0x3a, 0x00, 0x10] },
  { name: 'swf', offset: 0, bytes: ascii('FWS') },
  { name: 'swf', offset: 0, bytes: ascii('CWS') },
  { name: 'swf', offset: 0, bytes: ascii('ZWS') },
  { name: 'jpeg', offset: 0, bytes: [0xff, 0xd8, 0xff] },
  { name: 'png', offset: 0, bytes: [0x89, ...ascii('PNG\r\n\x1a\n')] },
  { name: 'gif', offset: 0, bytes: ascii('GIF87a') },
  { name: 'gif', offset: 0, bytes: ascii('GIF89a') },
  { name: 'bmp', offset: 0, bytes: ascii('BM'), check: isBmp },
  { name: 'tiff', offset: 0, bytes: [...ascii('II'), 42, 0] },
  { name: 'tiff', offset: 0, bytes: [...ascii('MM'), 0, 42] },
  { name: 'ar', offset: 0, bytes: ascii('!<arch>\n') },
  { name: 'rpm', offset: 0, bytes: [0xed, 0xab, 0xee, 0xdb] },
  { name: 'zstd', offset: 0, bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { name: 'compress', offset: 0, bytes: [0x1f, 0x9d] },
  { name: 'xar', offset: 0, bytes: [...ascii('xar!'), 0x00] },
  { name: 'wim', offset: 0, bytes: [...ascii('MSWIM'), 0, 0, 0] },
  { name: 'squashfs', offset: 0, bytes: ascii('hsqs') },
  { name: 'lzh', offset: 2, bytes: ascii('-lh'), check: isLzh },
  { name: 'lzh', offset: 2, bytes: ascii('-lz'), check: isLzh },
  { name: 'iso', offset: 32769, bytes: ascii('CD001') },
];

function matches(d: Uint8Array, row: MagicRow): boolean {
  if (d.length < row.offset + row.bytes.length) return false;
  for (let i = 0; i < row.bytes.length; i++) {
    const b = row.bytes[i];
    if (b !== null && b !== undefined && d[row.offset + i] !== b) return false;
  }
  return row.check === undefined || row.check(d);
}

/** Text sniffing: share of bytes that are not text, in the head. Any NUL means binary. */
function looksLikeText(head: Uint8Array): boolean {
  if (head.length === 0) return false;
  let odd = 0;
  for (let i = 0; i < head.length; i++) {
    const b = head[i] ?? 0;
    if (b === 0) return false;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) odd++;
  }
  return odd * 100 <= head.length;
}

/** Header names that mark the start of an RFC 5322 message (a real message starts with a few of them). */
const MAIL_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'subject', 'date', 'message-id', 'received', 'return-path', 'delivered-to',
  'mime-version', 'content-type', 'content-transfer-encoding', 'reply-to', 'sender', 'in-reply-to',
  'references', 'x-mailer', 'user-agent', 'organization', 'dkim-signature', 'authentication-results',
  'x-originating-ip', 'thread-topic', 'thread-index', 'importance', 'x-priority', 'list-id', 'envelope-to',
]);

/**
 * RFC 5322: the message starts with header fields ("Name: value", folded
 * lines start with white space) until an empty line. We require the first
 * line to be a header field (or an mbox "From " separator) and at least two
 * well-known header names among the first fields, so a text file that
 * happens to start with "Note: …" stays text.
 */
function looksLikeMail(text: string): boolean {
  let at = 0;
  const nextLine = (): string => {
    const nl = text.indexOf('\n', at);
    const end = nl < 0 ? text.length : nl;
    const line = text.slice(at, end > at && text[end - 1] === '\r' ? end - 1 : end);
    at = end + 1;
    return line;
  };
  let known = 0;
  let fields = 0;
  for (let i = 0; i < 64 && at <= text.length; i++) {
    const line = nextLine();
    if (i === 0 && line.startsWith('From ')) continue;
    if (line === '') break;
    if (/^[ \t]/.test(line)) { if (fields === 0) return false; continue; }
    const m = /^([!-9;-~]+):/.exec(line);
    if (m === null) return false;
    fields++;
    if (MAIL_HEADERS.has((m[1] ?? '').toLowerCase()) || /^x-/i.test(m[1] ?? '')) known++;
    if (known >= 2) return true;
  }
  return false;
}

/** Tags that make a text HTML when they appear near its start (ClamAV looks for tags, not a doctype). */
const HTML_START = /^\s*(?:<!--[\s\S]*?-->\s*)*<(?:!doctype\s+html|html|head|body|script|iframe|meta|title|a\s|div|p[\s>]|table|form|img|style|link|object|embed|svg|span|br|center|font|frameset|h[1-6])/i;
const HTML_ANYWHERE = /<(?:html|body|script|iframe)[\s>]/i;

function sniffText(head: Uint8Array): string | undefined {
  // UTF-8/UTF-16 byte-order marks are left to the text sniffer; we only skip the UTF-8 one.
  const start = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  const text = Buffer.from(head.buffer, head.byteOffset + start, head.byteLength - start).toString('latin1');
  const lead = text.trimStart();
  if (lead.startsWith('{\\rt')) return 'rtf';
  if (lead.startsWith('%PDF-')) return 'pdf';
  if (text.includes('(This file must be converted with BinHex')) return 'binhex';
  if (looksLikeMail(text)) return 'mail';
  if (HTML_START.test(text) || HTML_ANYWHERE.test(text)) return 'html';
  return undefined;
}

/**
 * The true type of `data`, from its first bytes only. `name` is a tie-breaker
 * for types with no magic at all (none today; kept for callers that know it).
 */
export function detectType(data: Uint8Array, _name?: string): FileType {
  for (const row of MAGIC) if (matches(data, row)) return fileType(row.name);
  if (isTar(data)) return fileType('tar');
  const head = data.subarray(0, HEAD_BYTES);
  // PDF readers accept the header anywhere in the first KiB, so do we (binary garbage before it is a known evasion).
  if (Buffer.from(head.buffer, head.byteOffset, Math.min(1024, head.byteLength)).indexOf('%PDF-', 0, 'latin1') >= 0) return fileType('pdf');
  if (!looksLikeText(head)) return fileType('binary');
  return fileType(sniffText(head) ?? 'text');
}

type FileTypeModule = typeof import('file-type');
let fileTypeModule: Promise<FileTypeModule> | undefined;

/**
 * `detectType`, refined by the `file-type` package when our table says only
 * "binary". Never throws: if the package fails, the sync answer stands.
 */
export async function detectTypeAsync(data: Uint8Array, name?: string): Promise<FileType> {
  const own = detectType(data, name);
  if (own.name !== 'binary') return own;
  try {
    fileTypeModule ??= import('file-type');
    const { fileTypeFromBuffer } = await fileTypeModule;
    const found = await fileTypeFromBuffer(data.subarray(0, 64 * 1024));
    if (found === undefined) return own;
    const n = found.ext === 'jpg' ? 'jpeg' : found.ext === 'tif' ? 'tiff' : found.ext;
    return fileType(n, found.mime);
  } catch {
    return own;
  }
}

const LABELS: Readonly<Record<string, string>> = {
  zip: 'Zip', gzip: 'GZip', bzip2: 'BZip2', xz: 'XZ', tar: 'Tar', cpio: 'CPIO', '7z': '7z', cab: 'CAB', arj: 'ARJ',
  rar: 'RAR', chm: 'CHM', szdd: 'SZDD', iso: 'ISO', lzh: 'LZH', sis: 'SIS', pe: 'PE', elf: 'ELF', macho: 'MachO',
  ar: 'Ar', rpm: 'RPM', zstd: 'Zstd', compress: 'Compress', xar: 'XAR', wim: 'WIM', squashfs: 'SquashFS',
  ole2: 'OLE2', pdf: 'PDF', html: 'HTML', rtf: 'RTF', mail: 'Mail', tnef: 'TNEF', binhex: 'BinHex', text: 'Text',
};

/** How a type is spelt in finding names: "Heuristics.Broken.Zip", "Heuristics.Encrypted.RAR", "Heuristics.Encrypted.7z". */
export function findingLabel(typeName: string): string {
  return LABELS[typeName] ?? typeName.charAt(0).toUpperCase() + typeName.slice(1);
}
