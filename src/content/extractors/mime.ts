/**
 * MIME mail (RFC 5322, RFC 2045–2049, RFC 2047/2231 names, mbox "From "
 * lines) → its decoded parts, named "part N <file name>".
 *
 * Malformed mail must not hide an attachment, so one message is read three
 * ways and every distinct result is handed on (equal bytes only once):
 *  1. the normal reading, by mailsplit: a maintained streaming splitter that
 *     hands over each part's raw body bytes untouched (we decode them with our
 *     own forgiving decoders) and can rebuild the message byte for byte, which
 *     the SMTP proxy's strip/replace actions need. postal-mime was the other
 *     candidate; it decodes for us, is not streaming and has one reading only.
 *  2. our own line-based reading ("alt N"): boundaries matched without case,
 *     guessed when the declared one is missing or never appears, headers that
 *     end without a blank line, every Content-Type and every
 *     Content-Transfer-Encoding header of a part tried, not just the first.
 *  Within both, a part whose body looks like base64 or quoted-printable is
 *  also decoded that way whatever its header says ("(as base64)"), and a
 *  base64 body with junk in it is decoded a second time from its clean lines.
 *  3. a raw scan of the whole message ("fallback N"): every run of
 *     base64-looking lines, and every uuencode, yEnc and BinHex block that no
 *     part the walker will look into already holds.
 *
 * Work the later readings skip, because it could only repeat bytes already
 * handed on (with the cheaper ways below, a typical 100 KB mail walks in
 * ~0.7 ms instead of ~4.5); each rule is exact, so it never changes what is
 * found, only what is recomputed:
 *  - a part of reading 2 whose body is the same bytes of the message (same
 *    place, same length) with the same encodings as a part of reading 1 is
 *    not decoded again: decodeLeaf's bytes depend on nothing else. Only when
 *    reading 1 decoded that part whole (no reading cut at the byte cap).
 *  - a base64 run of reading 3 that spans exactly the non-space bytes of a
 *    part body some reading decoded whole as base64 is not decoded again:
 *    white space aside it is the same symbols, and the decoder ignores white
 *    space. A run that is only a piece of a body (a padded line inside it,
 *    a short last line, junk) does not match and is decoded as before.
 *  The skipped work was dropped afterwards as a repeat anyway; what changes
 *  is under a spent byte budget: the truncated repeat and its limit report
 *  are no longer produced, so what budget is left goes to the next reading.
 * Cheaper ways to the same bytes: mailsplit runs in one synchronous pass
 * (libraryReading) over a Skeleton of the mail (long base64 lines cut to one
 * symbol; kept only when mailsplit read every cut line as body, else the
 * whole mail is read); the message's lines are classified once (LineTable)
 * and a part body on whole lines is answered from that table; a base64 body
 * with no foreign line and padding only at its end (nothing that can make
 * decoders differ) is decoded natively (decodeCleanBase64).
 * message/rfc822 parts are handed on whole; the walker recurses into them.
 * Text parts are handed on too: uuencode/yEnc/BinHex inside them are found by
 * those extractors when the walker visits the part.
 * Limits: every child is cut at MaxFileSize / what is left of MaxScanSize;
 * at most MaxFiles parts per reading. Reads untrusted bytes; never throws.
 * mailsplit and libmime (with iconv-lite, ~60–100 ms to load) are imported
 * on the first mail, so a scan that meets no mail never pays for them.
 */
import { Readable } from 'node:stream';
import type { SplitterItem, SplitterNode } from 'mailsplit';
import { Base64Decoder, decodeCleanBase64, isBase64Char } from '../decoders/base64.js';
import { QuotedPrintableDecoder } from '../decoders/qp.js';
import { decodeAll } from '../decoders/types.js';
import type { ExtractContext, ExtractedChild, Extractor, FileType } from '../types.js';
import { childBudget, fitChild, labelled, latin1Bytes, latin1Text, SeenSet } from './common.js';
import { findTextBlocks, TEXT_BLOCK_KINDS } from './textblocks.js';

/** One leaf part as a reading found it. */
export interface Leaf {
  readonly contentType: string;
  readonly filename: string;
  /** Every Content-Transfer-Encoding the part declares, lower case, in order. */
  readonly encodings: readonly string[];
  readonly body: Uint8Array;
  /** Where the body lies in the message, when it is a view of the message's bytes (not a copy). */
  readonly at?: number;
}

/** A decoded reading of one leaf, before budgets. */
interface Reading {
  readonly name: string;
  readonly data: Uint8Array;
  readonly capped: boolean;
  /** True when this is the part's text as a mail client would show it (the walker looks inside). */
  readonly text: boolean;
}

type LibMime = typeof import('libmime').default;

/** The two mail libraries, loaded once, on the first mail. */
interface MailLibs {
  readonly libmime: LibMime;
  readonly Splitter: typeof import('mailsplit').Splitter;
}

let mailLibsPromise: Promise<MailLibs> | undefined;

function mailLibs(): Promise<MailLibs> {
  mailLibsPromise ??= Promise.all([import('libmime'), import('mailsplit')]).then(([lm, ms]) => ({ libmime: lm.default, Splitter: ms.Splitter }));
  return mailLibsPromise;
}

const MAX_NESTING = 32;
const HEADER_LINE = /^[!-9;-~]+[ \t]*:/;

export const mimeExtractor: Extractor = {
  name: 'mime',
  accepts(type: FileType, data: Uint8Array): boolean {
    if (type.name === 'mail') return true;
    // The type sniffer may call a mail with BinHex or HTML near its top by those names.
    return (type.name === 'text' || type.name === 'binary' || type.name === 'binhex' || type.name === 'html') && looksLikeMail(data);
  },
  extract(data: Uint8Array, ctx: ExtractContext): AsyncIterable<ExtractedChild> {
    return extractMime(data, ctx);
  },
};

/** Mail headers at the start: an mbox "From " line or a known header, within the first lines. */
export function looksLikeMail(data: Uint8Array): boolean {
  const head = latin1Text(data.subarray(0, 4096));
  if (/^From [^\r\n]*\r?\n[!-9;-~]+:/.test(head)) return true;
  const lines = head.split(/\r?\n/, 40);
  let known = 0;
  for (const line of lines) {
    if (line === '') break;
    if (/^[ \t]/.test(line)) continue;
    if (!HEADER_LINE.test(line)) return false;
    if (/^(content-type|content-transfer-encoding|mime-version|received|return-path|message-id|from|to|subject|date)[ \t]*:/i.test(line)) known++;
  }
  return known >= 2 || /^(content-type|mime-version)[ \t]*:/im.test(lines.slice(0, 20).join('\n'));
}

async function* extractMime(data: Uint8Array, ctx: ExtractContext): AsyncGenerator<ExtractedChild> {
  const libs = await mailLibs();
  const seen = new SeenSet();
  /** Bytes of blocks inside text parts that the walker will find when it visits those parts. */
  const insideText = new SeenSet();
  const maxParts = ctx.limits.MaxFiles;

  const handOn = function* (readings: Reading[]): Generator<ExtractedChild> {
    for (const r of readings) {
      if (r.data.length === 0) {
        // Nothing kept because the budget is spent: say so rather than drop the part silently.
        if (r.capped) fitChild(ctx, { name: r.name, data: r.data }, true);
        continue;
      }
      if (!seen.add(r.data)) continue;
      if (r.text) noteTextBlocks(r.data, insideText, ctx);
      const child = fitChild(ctx, { name: r.name, data: r.data }, r.capped);
      if (child) yield child;
    }
  };

  const lines = new LineTable(data);
  /** Keys (leafKey) of the first reading's leaves whose readings were all whole. */
  const decoded = new Set<string>();
  /** Spans (contentSpan) of the message whose base64 decoding was handed on whole. */
  const base64Spans = new Set<string>();
  const decode = (leaf: Leaf, label: string): Reading[] => {
    const d = decodeLeaf(leaf, label, childBudget(ctx), lines);
    const key = leafKey(leaf);
    if (key !== undefined && !d.capped) decoded.add(key);
    if (d.wholeBase64) base64Spans.add(contentSpan(leaf));
    return d.readings;
  };

  const first = await libraryReading(data, 'sync', lines);
  const broken = first.failed;
  let n = 0;
  for (const leaf of first.leaves) {
    if (++n > maxParts) {
      ctx.report('Heuristics.Limits.Exceeded.MaxFiles');
      break;
    }
    yield* handOn(decode(leaf, `part ${n}`));
    if (ctx.signal?.aborted) return;
  }

  let m = 0;
  for (const leaf of ownLeaves(libs.libmime, data, data, 0, { count: 0, max: maxParts })) {
    m++;
    // The same bytes with the same encodings as a leaf of the first reading: every reading would be a repeat.
    const key = leafKey(leaf);
    if (key !== undefined && decoded.has(key)) continue;
    yield* handOn(decode(leaf, `alt ${m}`));
    if (ctx.signal?.aborted) return;
  }
  if (broken && m === 0) ctx.report('Heuristics.Broken.Mail');

  let f = 0;
  for (const r of rawScan(lines, childBudget(ctx), maxParts, (span) => base64Spans.has(span))) {
    if (r === undefined) {
      // A run that is exactly a body already decoded whole: a repeat, not decoded again (still counted, so later fallbacks keep their names).
      f++;
      continue;
    }
    if (insideText.add(r.data) === false) continue;
    f++;
    yield* handOn([{ ...r, name: labelled(`fallback ${f}`, r.name) }]);
  }
}

/** The first reading: mailsplit's leaves in order, and whether mailsplit gave up part way. */
export interface LibraryReading {
  readonly leaves: Leaf[];
  readonly failed: boolean;
  /** How mailsplit was driven: in one synchronous pass over the skeleton or the message, or (the fallback) as a stream. */
  readonly driver: 'skeleton' | 'sync' | 'stream';
}

/** Where a body given as mailsplit's pieces lies in the message; undefined when that cannot be said. */
type Placer = (pieces: readonly Buffer[]) => { body: Uint8Array; at?: number } | undefined;

/** Turns mailsplit's items (a node, then its body pieces) into leaves. */
class LeafCollector {
  readonly leaves: Leaf[] = [];
  /**
   * [start, end) pairs, in the bytes mailsplit read, of every body item: lines
   * it read as a part's body. Not its data items: one of those can span the
   * header lines of a part that a delimiter cut short.
   */
  readonly bodyLines: number[] = [];
  /** Set when the placer could not place a body. */
  unplaced = false;
  #node: SplitterNode | undefined;
  #body: Buffer[] = [];

  constructor(readonly input: Uint8Array, readonly place: Placer) {}

  take(item: SplitterItem): void {
    if (item.type === 'node') {
      this.end();
      this.#node = item;
      return;
    }
    if (item.type !== 'body') return;
    this.#body.push(item.value);
    const at = item.value.byteOffset - this.input.byteOffset;
    if (item.value.buffer === this.input.buffer) this.bodyLines.push(at, at + item.value.byteLength);
  }

  /** Closes the current node's leaf (multipart nodes hold no leaf of their own). */
  end(): void {
    const nd = this.#node;
    if (nd && !nd.multipart) {
      const placed = this.place(this.#body);
      if (placed === undefined) this.unplaced = true;
      this.leaves.push({
        contentType: (nd.contentType || 'text/plain').toLowerCase(),
        filename: typeof nd.filename === 'string' ? nd.filename : '',
        encodings: nd.headers.get('Content-Transfer-Encoding').map((h) => cleanEncoding(h.replace(/^[^:]*:/, ''))),
        ...(placed ?? { body: new Uint8Array(0) }),
      });
    }
    this.#node = undefined;
    this.#body = [];
  }
}

/**
 * The message with every long base64 line (16 or more symbols, no leading
 * space) cut to its first symbol, line break kept: what mailsplit is shown
 * first, because it looks at every byte in a slow loop and such lines are
 * most of a mail. mailsplit's reading of a line depends on its content only
 * when the line is a delimiter (these start with a symbol, never "--") or a
 * header line; so when mailsplit read every cut line as part of a body
 * (`fits`), it went through the same states as on the message, and each
 * body maps back to the message's bytes (`place`). Otherwise (base64 among
 * headers, or in a preamble or epilogue) the message itself is read.
 */
class Skeleton {
  readonly bytes: Uint8Array;
  /** Per cut line, in order: where its symbol is in `bytes`, where its text starts and ends in the message. */
  readonly #at: Int32Array;
  readonly #start: Int32Array;
  readonly #end: Int32Array;
  readonly #count: number;

  private constructor(readonly data: Uint8Array, lines: LineTable, cuts: Int32Array, removed: number) {
    this.#count = cuts.length;
    this.#at = new Int32Array(cuts.length);
    this.#start = new Int32Array(cuts.length);
    this.#end = new Int32Array(cuts.length);
    this.bytes = new Uint8Array(data.length - removed);
    let from = 0, to = 0;
    for (let k = 0; k < cuts.length; k++) {
      const line = cuts[k] as number;
      const start = lines.start[line] as number, end = lines.end[line] as number;
      to = this.#copy(from, start + 1, to);
      this.#at[k] = to - 1;
      this.#start[k] = start;
      this.#end[k] = end;
      from = end;
    }
    this.#copy(from, data.length, to);
  }

  /** Copies data[from, to) to bytes[at…]; returns where it ended. Most pieces are a symbol and a line break, too short for set(). */
  #copy(from: number, to: number, at: number): number {
    if (to - from > 32) {
      this.bytes.set(this.data.subarray(from, to), at);
      return at + to - from;
    }
    for (let i = from; i < to; i++) this.bytes[at++] = this.data[i] as number;
    return at;
  }

  /** The skeleton, when cutting saves enough to be worth a second copy of the rest. */
  static of(data: Uint8Array, lines: LineTable): Skeleton | undefined {
    const cuts: number[] = [];
    let removed = 0;
    for (let i = 0; i < lines.count; i++) {
      const start = lines.start[i] as number, len = (lines.end[i] as number) - start;
      if (lines.base64[i] === 1 && len >= 16 && (start === 0 || data[start - 1] === 0x0a)) {
        cuts.push(i);
        removed += len - 1;
      }
    }
    return removed >= 4096 ? new Skeleton(data, lines, Int32Array.from(cuts), removed) : undefined;
  }

  /** True when every cut line lies inside what mailsplit read as body (`bodyLines`: ascending [start, end) pairs). */
  fits(bodyLines: readonly number[]): boolean {
    let r = 0;
    for (let k = 0; k < this.#count; k++) {
      const p = this.#at[k] as number;
      while (r < bodyLines.length && (bodyLines[r + 1] as number) <= p) r += 2;
      if (r >= bodyLines.length || (bodyLines[r] as number) > p) return false;
    }
    return true;
  }

  /** A body of pieces of the skeleton, as the same bytes of the message. */
  place(pieces: readonly Buffer[]): { body: Uint8Array; at?: number } | undefined {
    const run = contiguous(this.bytes, pieces);
    if (run === undefined) return undefined;
    if (run.start === run.end) return { body: new Uint8Array(0) };
    const start = this.#toMessage(run.start, false), end = this.#toMessage(run.end, true);
    if (start === undefined || end === undefined) return undefined;
    return { body: this.data.subarray(start, end), at: start };
  }

  /** A place in the skeleton as the same place in the message (a body never starts inside a cut line's text). */
  #toMessage(x: number, isEnd: boolean): number | undefined {
    let lo = 0, hi = this.#count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#at[mid] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    const k = lo - 1;
    if (k < 0) return x;
    const at = this.#at[k] as number, start = this.#start[k] as number, end = this.#end[k] as number;
    if (x === at) return start;
    if (x === at + 1) return isEnd ? end : undefined;
    return x - at - 1 + end;
  }
}

/** Where consecutive pieces of `input` lie in it, or undefined when they are not such pieces. */
function contiguous(input: Uint8Array, pieces: readonly Buffer[]): { start: number; end: number } | undefined {
  const first = pieces[0];
  if (first === undefined) return { start: 0, end: 0 };
  let end = first.byteOffset;
  for (const p of pieces) {
    if (p.buffer !== input.buffer || p.byteOffset !== end) return undefined;
    end += p.byteLength;
  }
  const start = first.byteOffset - input.byteOffset;
  end -= input.byteOffset;
  return start >= 0 && end <= input.byteLength ? { start, end } : undefined;
}

/**
 * Reads the message with mailsplit. Its splitter is a stream that waits one
 * event-loop turn (setImmediate) after every line: for a 100 KB mail that
 * was ~1,300 turns and more time than all the decoding. So it is driven
 * here in one synchronous pass over the one chunk: its _transform and
 * _flush are called directly, its push is taken over, and setImmediate is
 * a plain queue, drained at once, while (and only while) the pass runs;
 * no other code can run in that time. The pass is made over the Skeleton
 * first, and over the message when the skeleton does not fit. Should a
 * mailsplit version defer work some other way (the pass then does not
 * finish), the mail is read again through the ordinary stream. `driver` is
 * there for the test that holds the ways equal.
 */
export async function libraryReading(data: Uint8Array, driver: 'sync' | 'stream' = 'sync', lines?: LineTable): Promise<LibraryReading> {
  const libs = await mailLibs();
  if (driver === 'sync') {
    const skeleton = Skeleton.of(data, lines ?? new LineTable(data));
    if (skeleton !== undefined) {
      const r = splitSync(libs, new LeafCollector(skeleton.bytes, (p) => skeleton.place(p)));
      if (r !== undefined && !r.failed && !r.out.unplaced && skeleton.fits(r.out.bodyLines)) return { leaves: r.out.leaves, failed: false, driver: 'skeleton' };
    }
    const r = splitSync(libs, new LeafCollector(data, (p) => joinBody(data, p)));
    if (r !== undefined) return { leaves: r.out.leaves, failed: r.failed, driver: 'sync' };
  }
  return splitStream(libs, data);
}

function newSplitter({ Splitter }: MailLibs): InstanceType<MailLibs['Splitter']> {
  return new Splitter({ ignoreEmbedded: true, maxHeadSize: 1024 * 1024 });
}

/** The message as one Buffer view (mailsplit slices what it is given, so bodies stay views of it). */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

type Callback = (err?: Error | null) => void;

interface Steps {
  _transform(chunk: Buffer, encoding: string, callback: Callback): void;
  _flush(callback: Callback): void;
  push(item: SplitterItem | null): boolean;
}

/** The synchronous pass (see libraryReading) over `out.input`; undefined when it could not finish. */
function splitSync(libs: MailLibs, out: LeafCollector): { out: LeafCollector; failed: boolean } | undefined {
  const splitter = newSplitter(libs) as unknown as Steps;
  splitter.push = (item) => {
    if (item !== null) out.take(item);
    return true;
  };
  const queue: (() => void)[] = [];
  const realSetImmediate = globalThis.setImmediate;
  const step = (run: (done: Callback) => void): 'done' | 'failed' | 'stuck' => {
    let state: 'done' | 'failed' | 'stuck' = 'stuck';
    run((err) => { state = err ? 'failed' : 'done'; });
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) job();
    return state;
  };
  globalThis.setImmediate = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
    queue.push(() => fn(...args));
  }) as unknown as typeof setImmediate;
  try {
    let state = step((done) => splitter._transform(asBuffer(out.input), 'buffer', done));
    if (state === 'done') state = step((done) => splitter._flush(done));
    if (state === 'stuck') return undefined;
    // As with the stream: a failure leaves the part being read unfinished, and it is not handed on.
    if (state === 'failed') return { out, failed: true };
  } catch {
    return { out, failed: true };
  } finally {
    globalThis.setImmediate = realSetImmediate;
  }
  out.end();
  return { out, failed: false };
}

/** mailsplit as the stream it is (the fallback of splitSync). */
async function splitStream(libs: MailLibs, data: Uint8Array): Promise<LibraryReading> {
  const splitter = newSplitter(libs);
  Readable.from([asBuffer(data)]).pipe(splitter);
  const out = new LeafCollector(data, (p) => joinBody(data, p));
  try {
    for await (const item of splitter as AsyncIterable<SplitterItem>) out.take(item);
  } catch {
    return { leaves: out.leaves, failed: true, driver: 'stream' };
  }
  out.end();
  return { leaves: out.leaves, failed: false, driver: 'stream' };
}

/**
 * A body mailsplit handed over in pieces: when they are consecutive slices of
 * the message (it slices the one chunk it is given), the body is a view of
 * the message at a known place and nothing is copied; else a copy.
 */
function joinBody(data: Uint8Array, pieces: readonly Buffer[]): { body: Uint8Array; at?: number } {
  const run = contiguous(data, pieces);
  if (run === undefined) return { body: Buffer.concat(pieces) };
  return run.start === run.end ? { body: new Uint8Array(0) } : { body: data.subarray(run.start, run.end), at: run.start };
}

/** Where a view of the message starts in it ({} for bytes that are not such a view). */
function atOf(message: Uint8Array, view: Uint8Array): { at?: number } {
  const at = view.byteOffset - message.byteOffset;
  return view.buffer === message.buffer && at >= 0 && at + view.byteLength <= message.byteLength ? { at } : {};
}

function cleanEncoding(value: string): string {
  return value.replace(/\(.*?\)/g, '').replace(/["']/g, '').trim().toLowerCase();
}

/** The Content-Transfer-Encodings a leaf is decoded with, in order, each once. */
function leafEncodings(leaf: Leaf): string[] {
  return [...new Set(leaf.encodings.length > 0 ? leaf.encodings : ['7bit'])];
}

/**
 * What decodes a leaf's bytes, when they are a view of the message: place,
 * length and encodings. decodeLeaf's bytes depend on nothing else (its cap
 * aside), so two leaves with one key have equal readings.
 */
function leafKey(leaf: Leaf): string | undefined {
  return leaf.at === undefined ? undefined : `${leaf.at}:${leaf.body.length}:${leafEncodings(leaf).join(',')}`;
}

/** One leaf decoded every plausible way. */
interface DecodedLeaf {
  readonly readings: Reading[];
  /** True when some reading was cut at the byte cap. */
  readonly capped: boolean;
  /**
   * True when one reading is the base64 decoding of every non-space byte of
   * the body, uncut: any base64 run the raw scan finds spanning exactly those
   * bytes decodes to the same bytes.
   */
  readonly wholeBase64: boolean;
}

/** Decodes one leaf every plausible way. */
function decodeLeaf(leaf: Leaf, label: string, cap: number, message: LineTable): DecodedLeaf {
  const out: Reading[] = [];
  const name = labelled(label, leaf.filename || (leaf.contentType === 'message/rfc822' ? 'message.eml' : ''));
  const isText = leaf.contentType.startsWith('text/') || leaf.contentType === 'message/rfc822';
  const encodings = leafEncodings(leaf);
  let wholeBase64 = false;
  const add = (suffix: string, data: Uint8Array, capped: boolean, text: boolean): void => {
    out.push({ name: suffix === '' ? name : `${name} ${suffix}`, data, capped, text });
  };
  let first = true;
  for (const enc of encodings) {
    const suffix = first ? '' : `(as ${enc || 'raw'})`;
    first = false;
    if (enc === 'base64') {
      // Junk bytes always make a foreign line, so "no foreign line" is also "no junk".
      const foreign = hasForeignLines(leaf, message);
      const r = !foreign && padsOnlyAtEnd(leaf.body) ? cutAt(decodeCleanBase64(leaf.body), cap) : decodeAll((d) => new Base64Decoder(d), leaf.body, cap);
      add(suffix, r.data, r.capped, false);
      wholeBase64 ||= !r.capped;
      if (foreign) {
        const clean = decodeAll((d) => new Base64Decoder(d), base64Lines(leaf.body), cap);
        add('(base64 lines)', clean.data, clean.capped, false);
      }
    } else if (enc === 'quoted-printable') {
      const r = decodeAll((d) => new QuotedPrintableDecoder(d), leaf.body, cap);
      add(suffix, r.data, r.capped, isText);
    } else if (/^(x-)?uu(e|encode)?$/.test(enc)) {
      const blocks = findTextBlocks('uuencode', leaf.body, cap, 1000);
      for (const b of blocks) out.push({ name: labelled(label, b.name || leaf.filename), data: b.data, capped: b.capped, text: false });
      if (blocks.length === 0) add(suffix, leaf.body.subarray(0, cap), leaf.body.length > cap, true);
    } else {
      add(suffix, leaf.body.subarray(0, cap), leaf.body.length > cap, isText);
    }
  }
  const lines = encodings.includes('base64') ? undefined : base64Shape(leaf.body);
  if (lines !== undefined) {
    const r = decodeAll((d) => new Base64Decoder(d), base64Lines(leaf.body, lines), cap);
    add('(as base64)', r.data, r.capped, false);
    // With no foreign line, the base64 lines are every non-space byte of the body.
    wholeBase64 ||= !r.capped && lines.foreign === 0;
  }
  if (!encodings.includes('quoted-printable') && looksQuotedPrintable(leaf.body)) {
    const r = decodeAll((d) => new QuotedPrintableDecoder(d), leaf.body, cap);
    add('(as quoted-printable)', r.data, r.capped, isText);
  }
  return { readings: out, capped: out.some((r) => r.capped), wholeBase64 };
}

/** True when no '=' comes before the last symbol: the padding of a body that is one encoding, not several glued together. */
function padsOnlyAtEnd(body: Uint8Array): boolean {
  const first = Buffer.from(body.buffer, body.byteOffset, body.byteLength).indexOf(0x3d);
  if (first < 0) return true;
  for (let i = first; i < body.length; i++) {
    const c = body[i] as number;
    if (c !== 0x3d && !isSpace(c)) return false;
  }
  return true;
}

/** Bytes cut at the cap, as decodeAll cuts them. */
function cutAt(data: Uint8Array, cap: number): { data: Uint8Array; capped: boolean } {
  return data.length > cap ? { data: data.subarray(0, Math.max(0, cap)), capped: true } : { data, capped: false };
}

/** [first, last] non-space byte of the body, as places in the message ("" when unknown or blank). */
function contentSpan(leaf: Leaf): string {
  if (leaf.at === undefined) return '';
  const b = leaf.body;
  let s = 0, e = b.length;
  while (s < e && isSpace(b[s] as number)) s++;
  while (e > s && isSpace(b[e - 1] as number)) e--;
  return e > s ? `${leaf.at + s}:${leaf.at + e}` : '';
}

/**
 * Mostly lines of base64 symbols only, with enough of them to be a file:
 * then its lines (a LineTable), else undefined.
 */
function base64Shape(body: Uint8Array): LineTable | undefined {
  let symbols = 0, other = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as number;
    if (isBase64Char(c)) symbols++;
    else if (c !== 0x0d && c !== 0x0a && c !== 0x3d && c !== 0x20 && c !== 0x09) other++;
  }
  if (symbols < 64 || other * 50 >= symbols) return undefined;
  const shape = new LineTable(body);
  let kept = 0;
  for (let i = 0; i < shape.count; i++) if (shape.base64[i] === 1) kept += (shape.end[i] as number) - (shape.start[i] as number);
  return kept * 2 > body.length ? shape : undefined;
}

/**
 * QP is 7-bit text with soft breaks or =XX escapes; binary bytes with stray
 * "=4F" are not. The '=' are found by a native search first: most bodies
 * (base64 above all) have too few of them to be QP, and then the bytes are
 * not counted one by one.
 */
function looksQuotedPrintable(body: Uint8Array): boolean {
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.byteLength, 1024 * 1024));
  let marks = 0;
  for (let i = head.indexOf(0x3d); i >= 0 && marks < 3; i = head.indexOf(0x3d, i + 1)) {
    const a = head[i + 1], b = head[i + 2];
    if (a === 0x0a || (a === 0x0d && b === 0x0a) || (isUpperHex(a) && isUpperHex(b))) marks++;
  }
  if (marks < 3) return false;
  let eight = 0;
  for (let i = 0; i < head.length; i++) if ((head[i] as number) >= 0x80 || (head[i] as number) === 0) eight++;
  return eight * 100 <= head.length;
}

function isUpperHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46));
}


/**
 * Every non-blank line of some bytes as base64 sees it, classified without
 * building strings (mail can be tens of MB), kept in typed arrays (a 25 MB
 * mail has ~330,000 lines): where its trimmed text lies, its line number,
 * and whether it is wholly base64, i.e. trimmed, at least 4 alphabet symbols
 * and at most two '=' at its end.
 */
class LineTable {
  readonly count: number;
  readonly start: Int32Array;
  readonly end: Int32Array;
  readonly line: Int32Array;
  readonly base64: Uint8Array;
  /** Non-blank lines that are not wholly base64. */
  readonly foreign: number;

  constructor(readonly data: Uint8Array) {
    // Sized to the non-blank lines (a first pass counts them): a mail of blank lines costs nothing.
    let max = 0;
    for (let pos = 0; pos < data.length;) {
      let eol = data.indexOf(0x0a, pos);
      if (eol < 0) eol = data.length;
      let s = pos;
      while (s < eol && isSpace(data[s] as number)) s++;
      if (s < eol) max++;
      pos = eol + 1;
    }
    this.start = new Int32Array(max);
    this.end = new Int32Array(max);
    this.line = new Int32Array(max);
    this.base64 = new Uint8Array(max);
    let count = 0, foreign = 0, pos = 0, n = 0;
    while (pos < data.length) {
      let eol = data.indexOf(0x0a, pos);
      if (eol < 0) eol = data.length;
      let s = pos, e = eol;
      while (s < e && isSpace(data[s] as number)) s++;
      while (e > s && isSpace(data[e - 1] as number)) e--;
      if (e > s) {
        let pads = 0;
        while (pads < 2 && e - pads > s && data[e - pads - 1] === 0x3d) pads++;
        let ok = e - pads - s >= 4;
        for (let i = s; ok && i < e - pads; i++) ok = isBase64Char(data[i] as number);
        if (!ok) foreign++;
        this.start[count] = s;
        this.end[count] = e;
        this.line[count] = n;
        this.base64[count] = ok ? 1 : 0;
        count++;
      }
      n++;
      pos = eol + 1;
    }
    this.count = count;
    this.foreign = foreign;
  }

  /**
   * Whether the bytes [from, to) hold a foreign line, answered from this
   * table when they lie on whole lines (start a line, end where one ends),
   * so a part's body is not classified a second time; undefined otherwise.
   */
  foreignWithin(from: number, to: number): boolean | undefined {
    const d = this.data;
    const startsLine = from === 0 || d[from - 1] === 0x0a;
    const endsLine = to === d.length || d[to] === 0x0a || (d[to] === 0x0d && (to + 1 === d.length || d[to + 1] === 0x0a));
    if (!startsLine || !endsLine) return undefined;
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.start[mid] as number) < from) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.count && (this.start[i] as number) < to; i++) if (this.base64[i] === 0) return true;
    return false;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Only the lines that are wholly base64, joined: a reading that skips injected junk lines. */
function base64Lines(body: Uint8Array, lines: LineTable = new LineTable(body)): Uint8Array {
  let size = 0;
  for (let i = 0; i < lines.count; i++) if (lines.base64[i] === 1) size += (lines.end[i] as number) - (lines.start[i] as number);
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < lines.count; i++) {
    if (lines.base64[i] === 0) continue;
    const piece = body.subarray(lines.start[i], lines.end[i]);
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/** True when some non-blank line of a leaf's body is not wholly base64 (junk a broken or hostile mailer put in). */
function hasForeignLines(leaf: Leaf, message: LineTable): boolean {
  return (leaf.at === undefined ? undefined : message.foreignWithin(leaf.at, leaf.at + leaf.body.length)) ?? new LineTable(leaf.body).foreign > 0;
}

/** Records the blocks inside a text part, so the raw scan does not hand them on a second time. */
function noteTextBlocks(data: Uint8Array, into: SeenSet, ctx: ExtractContext): void {
  for (const kind of TEXT_BLOCK_KINDS) {
    for (const b of findTextBlocks(kind, data, childBudget(ctx), 1000)) into.add(b.data);
  }
}

// ── Reading 2: our own tolerant line-based parser ───────────────────────────

interface Entity {
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

interface Counter { count: number; readonly max: number }

function* ownLeaves(libmime: LibMime, message: Uint8Array, data: Uint8Array, depth: number, counter: Counter): Generator<Leaf> {
  if (counter.count >= counter.max) return;
  const ent = splitEntity(data, depth === 0);
  const types = ent.headers.filter(([k]) => k === 'content-type').map(([, v]) => safeParse(libmime, v));
  const dispositions = ent.headers.filter(([k]) => k === 'content-disposition').map(([, v]) => safeParse(libmime, v));
  const multipart = types.some((t) => t.value.startsWith('multipart/'));
  if (multipart && depth < MAX_NESTING) {
    const declared = types.map((t) => t.params['boundary']).filter((b): b is string => typeof b === 'string' && b !== '');
    const parts = splitMultipart(ent.body, declared);
    if (parts.length > 0) {
      for (const p of parts) yield* ownLeaves(libmime, message, p, depth + 1, counter);
      return;
    }
  }
  counter.count++;
  const filename = [...dispositions.map((d) => d.params['filename']), ...types.map((t) => t.params['name'])].find((x) => typeof x === 'string' && x !== '') ?? '';
  yield {
    contentType: (types[0]?.value ?? 'text/plain').toLowerCase(),
    filename: decodeWords(libmime, filename),
    encodings: ent.headers.filter(([k]) => k === 'content-transfer-encoding').map(([, v]) => cleanEncoding(v)),
    body: ent.body,
    ...atOf(message, ent.body),
  };
}

function safeParse(libmime: LibMime, value: string): { value: string; params: Record<string, string | undefined> } {
  try {
    const r = libmime.parseHeaderValue(value) as { value: string; params: Record<string, string | undefined> };
    return { value: (r.value ?? '').toLowerCase().trim(), params: r.params ?? {} };
  } catch {
    return { value: value.split(';')[0]?.trim().toLowerCase() ?? '', params: {} };
  }
}

function decodeWords(libmime: LibMime, s: string): string {
  try {
    return libmime.decodeWords(s);
  } catch {
    return s;
  }
}

/** Headers end at a blank line, or at the first line that is neither a header nor a continuation. */
function splitEntity(data: Uint8Array, root: boolean): Entity {
  const headers: [string, string][] = [];
  let pos = 0;
  let first = true;
  while (pos < data.length) {
    let eol = data.indexOf(0x0a, pos);
    if (eol < 0) eol = data.length;
    const line = latin1Text(data.subarray(pos, eol)).replace(/\r$/, '');
    if (first && root && line.startsWith('From ')) {
      first = false;
      pos = eol + 1;
      continue;
    }
    first = false;
    if (line.trim() === '') {
      pos = eol + 1;
      break;
    }
    const last = headers[headers.length - 1];
    if (/^[ \t]/.test(line) && last) {
      last[1] += ` ${line.trim()}`;
    } else if (HEADER_LINE.test(line)) {
      const colon = line.indexOf(':');
      headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
    } else {
      break;
    }
    pos = eol + 1;
  }
  return { headers, body: data.subarray(Math.min(pos, data.length)) };
}

/**
 * Splits a multipart body at its delimiter lines. Declared boundaries are
 * matched exactly, then without case; when none of them occurs, the first
 * line that looks like a delimiter ("--" and a token) is taken as the boundary.
 */
function splitMultipart(body: Uint8Array, declared: readonly string[]): Uint8Array[] {
  // Every delimiter, declared or guessed, starts with "--": only those lines are kept and made text.
  const lines = dashLines(body);
  const text = (i: number): string => {
    const [s, e] = lines[i] as [number, number];
    return latin1Text(body.subarray(s, Math.min(e, s + 1024))).replace(/[ \t\r\n]+$/, '');
  };
  const candidates = declared.map((b) => b.replace(/[ \t]+$/, ''));
  let match = (t: string): 'open' | 'close' | undefined => {
    for (const b of candidates) {
      for (const cmp of [t, t.toLowerCase()]) {
        const want = cmp === t ? b : b.toLowerCase();
        if (cmp === `--${want}`) return 'open';
        if (cmp === `--${want}--`) return 'close';
      }
    }
    return undefined;
  };
  if (!lines.some((_, i) => match(text(i)) !== undefined)) {
    const guess = lines.map((_, i) => /^--([!-~]{1,200})$/.exec(text(i))).find((m) => m !== null);
    if (!guess) return [];
    const b = (guess[1] as string).replace(/--$/, '');
    match = (t) => (t === `--${b}` ? 'open' : t === `--${b}--` ? 'close' : undefined);
  }
  const parts: Uint8Array[] = [];
  let start = -1;
  for (let i = 0; i < lines.length; i++) {
    const kind = match(text(i));
    if (kind === undefined) continue;
    const [s, e] = lines[i] as [number, number];
    if (start >= 0) parts.push(body.subarray(start, trimEol(body, start, s)));
    start = kind === 'open' ? e : -1;
  }
  // A missing close delimiter: the last part runs to the end.
  if (start >= 0 && start < body.length) parts.push(body.subarray(start));
  return parts;
}

/** [start, end) of each line that starts with "--", end past its LF (the others are never kept: a big mail has ~330,000). */
function dashLines(data: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  let pos = 0;
  while (pos < data.length) {
    let eol = data.indexOf(0x0a, pos);
    eol = eol < 0 ? data.length : eol + 1;
    if (eol - pos >= 2 && data[pos] === 0x2d && data[pos + 1] === 0x2d) out.push([pos, eol]);
    pos = eol;
  }
  return out;
}

/** The line break before a delimiter belongs to the delimiter (RFC 2046 §5.1.1). */
function trimEol(data: Uint8Array, start: number, end: number): number {
  let e = end;
  if (e > start && data[e - 1] === 0x0a) e--;
  if (e > start && data[e - 1] === 0x0d) e--;
  return e;
}

// ── Reading 3: the raw scan ─────────────────────────────────────────────────

/**
 * Base64 runs and text-encoded blocks anywhere in the raw message. A run
 * whose span ("start:end" of its first and last symbol) `done` accepts is
 * not decoded: undefined stands in its place.
 */
function* rawScan(lines: LineTable, cap: number, maxBlocks: number, done: (span: string) => boolean): Generator<Reading | undefined> {
  const { data, start, end } = lines;
  // The run is the table's lines [first, last); they are consecutive lines of the message.
  let first = 0, last = 0;
  const flush = function* (): Generator<Reading | undefined> {
    let symbols = 0;
    for (let i = first; i < last; i++) symbols += (end[i] as number) - (start[i] as number);
    const count = last - first;
    if (count > 0 && symbols >= 64 && (count >= 2 || symbols >= 76)) {
      if (done(`${start[first]}:${end[last - 1]}`)) {
        first = last;
        yield undefined;
        return;
      }
      const pieces: Uint8Array[] = [];
      for (let i = first; i < last; i++) pieces.push(data.subarray(start[i], end[i]));
      const r = decodeAll((d) => new Base64Decoder(d), pieces, cap);
      yield { name: `base64 line ${(lines.line[first] as number) + 1}`, data: r.data, capped: r.capped, text: false };
    }
    first = last;
  };
  for (let i = 0; i < lines.count; i++) {
    const long = lines.base64[i] === 1 && (end[i] as number) - (start[i] as number) >= 16;
    // A run is consecutive base64 lines of 16 or more symbols; a padded line ends it.
    if (last > first && (lines.line[i] !== (lines.line[last - 1] as number) + 1 || !long)) yield* flush();
    if (long) {
      if (last === first) first = i;
      last = i + 1;
      if (data[(end[i] as number) - 1] === 0x3d) yield* flush();
    }
  }
  yield* flush();
  for (const kind of TEXT_BLOCK_KINDS) {
    for (const b of findTextBlocks(kind, lines.data, cap, maxBlocks)) {
      yield { name: `${kind} ${b.name}`, data: b.data, capped: b.capped, text: false };
    }
  }
}
