/**
 * What the proxy changes in a message it delivers, and nothing more:
 *  - `statusHeaders`: X-Virus-Scanned and X-Virus-Status, prepended (so a
 *    clean message is forwarded byte for byte after them and its DKIM
 *    signatures still verify, RFC 6376 §5.4 signs named headers only);
 *  - `tagSubject`: an optional tag in front of the Subject of a message
 *    delivered despite findings;
 *  - `replaceParts`: strip/replace, rebuilt with mailsplit (RFC 2045/2046)
 *    so that every part not replaced keeps its bytes, boundaries and
 *    encodings; a replaced part becomes a 7-bit text/plain part.
 * Part numbers are those of the content walker's MIME reading ("part N"
 * is the Nth leaf mailsplit finds with embedded messages kept whole), so a
 * finding's path names the part to replace.
 *
 * Reads untrusted bytes (the message) through mailsplit; header values put
 * in are cleaned of control characters.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Joiner, Splitter, type SplitterItem, type SplitterNode } from 'mailsplit';
import type { Finding } from '../scanners/types.js';

function headerValue(v: string, max = 300): string {
  const s = v.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').trim();
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

export interface StatusHeaderFacts {
  readonly host: string;
  /** "Clean", "Infected", "Stripped", "Replaced". */
  readonly status: string;
  readonly findings: readonly string[];
}

export function statusHeaders(f: StatusHeaderFacts): Buffer {
  const names = [...new Set(f.findings)];
  const status = names.length > 0 ? `${f.status} (${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''})` : f.status;
  return Buffer.from(`X-Virus-Scanned: portcullis on ${headerValue(f.host, 200)}\r\nX-Virus-Status: ${headerValue(status)}\r\n`, 'latin1');
}

/** The part numbers ("part N") the findings name; undefined when a finding names no single part (then nothing can be cut out). */
export function findingParts(findings: readonly Finding[]): Map<number, string[]> | undefined {
  const parts = new Map<number, string[]>();
  for (const f of findings) {
    const m = /^part (\d+)(?: |$)/.exec(f.path[1] ?? '');
    if (m === null) return undefined;
    const n = Number(m[1]);
    parts.set(n, [...(parts.get(n) ?? []), f.name]);
  }
  return parts;
}

/** The bytes that replace one part's body, given the finding names in it. */
export type PartNotice = (partNumber: number, findings: readonly string[], filename: string) => string;

class PartReplacer extends Transform {
  readonly #targets: ReadonlyMap<number, readonly string[]>;
  readonly #notice: PartNotice;
  #leaf = 0;
  #dropping = false;
  replaced = 0;

  constructor(targets: ReadonlyMap<number, readonly string[]>, notice: PartNotice) {
    super({ objectMode: true });
    this.#targets = targets;
    this.#notice = notice;
  }

  override _transform(item: SplitterItem, _enc: BufferEncoding, done: TransformCallback): void {
    if (item.type === 'node') {
      this.#dropping = false;
      if (!item.multipart) {
        this.#leaf++;
        const found = this.#targets.get(this.#leaf);
        if (found !== undefined) {
          this.#replace(item, found);
          return done();
        }
      }
      this.push(item);
      return done();
    }
    if (item.type === 'body' && this.#dropping) return done();
    this.push(item);
    done();
  }

  #replace(node: SplitterNode, findings: readonly string[]): void {
    const filename = typeof node.filename === 'string' ? node.filename : '';
    const text = `${this.#notice(this.#leaf, findings, filename).replace(/\r?\n/g, '\r\n')}\r\n`;
    node.headers.update('Content-Type', 'text/plain; charset=utf-8');
    node.headers.update('Content-Transfer-Encoding', '8bit');
    node.headers.update('Content-Disposition', 'inline');
    node.headers.remove('Content-Description');
    this.push(node);
    this.push({ type: 'body', value: Buffer.from(text, 'utf8') });
    this.#dropping = true;
    this.replaced++;
  }
}

/**
 * Streams `source` rebuilt with the numbered parts replaced by notices;
 * `replaced` tells afterwards how many were (a number that matches no part
 * replaces nothing, and the caller must not deliver then).
 */
export function replaceParts(source: Readable, targets: ReadonlyMap<number, readonly string[]>, notice: PartNotice): { output: Readable; done: Promise<number> } {
  const replacer = new PartReplacer(targets, notice);
  const joiner = new Joiner();
  const done = pipeline(source, new Splitter({ ignoreEmbedded: true, maxHeadSize: 1024 * 1024 }), replacer, joiner).then(() => replacer.replaced);
  void done.catch(() => undefined);
  return { output: joiner, done };
}

/** Prefixes the first Subject header's value with `tag` (adds a Subject when there is none); the rest passes as is. */
export async function* tagSubject(source: AsyncIterable<Buffer>, tag: string, maxHeader: number): AsyncGenerator<Buffer> {
  const clean = headerValue(tag, 100);
  let head = Buffer.alloc(0);
  let done = false;
  for await (const chunk of source) {
    if (done) {
      yield chunk;
      continue;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0 && head.length < maxHeader) continue;
    done = true;
    yield retag(head, end < 0 ? head.length : end + 2, clean);
  }
  if (!done) yield retag(head, head.indexOf('\r\n\r\n') < 0 ? head.length : head.indexOf('\r\n\r\n') + 2, clean);
}

function retag(buf: Buffer, headerEnd: number, tag: string): Buffer {
  const header = buf.subarray(0, headerEnd).toString('latin1');
  const m = /(^|\r\n)(subject[ \t]*:[ \t]?)/i.exec(header);
  if (m === null) return Buffer.concat([Buffer.from(`Subject: ${tag}\r\n`, 'latin1'), buf]);
  const at = m.index + (m[1] ?? '').length + (m[2] ?? '').length;
  return Buffer.concat([buf.subarray(0, at), Buffer.from(`${tag} `, 'latin1'), buf.subarray(at)]);
}

/** Concatenates byte sources in order. */
export async function* concatSources(...sources: (Buffer | AsyncIterable<Buffer>)[]): AsyncGenerator<Buffer> {
  for (const s of sources) {
    if (Buffer.isBuffer(s)) yield s;
    else for await (const c of s) yield c;
  }
}
