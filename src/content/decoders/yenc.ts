/**
 * Finds and decodes yEnc blocks (`=ybegin` [`=ypart`] … `=yend`, yEnc 1.3)
 * anywhere in a text stream, as Usenet posts and some mails carry them.
 * Each block, or each part of a multi-part post, is handed on by itself;
 * its CRC-32 and size are checked against the `=yend` line and a mismatch is
 * reported as a problem, not a reason to drop the bytes. A block whose
 * `=yend` never comes is handed on marked incomplete. Reads untrusted bytes;
 * never throws; memory bounded by the line cap.
 */
import { crc32 } from './crc.js';
import { LineSplitter, lineText } from './lines.js';
import type { BlockSink, StreamDecoder } from './types.js';

/** Parses `key=value` pairs of a yEnc keyword line; `name` takes the rest of the line. */
export function parseYencParams(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const nameAt = text.search(/\bname=/);
  const head = nameAt >= 0 ? text.slice(0, nameAt) : text;
  for (const m of head.matchAll(/(\w+)=(\S*)/g)) out.set((m[1] as string).toLowerCase(), m[2] as string);
  if (nameAt >= 0) out.set('name', text.slice(nameAt + 5).trim());
  return out;
}

type State =
  | { k: 'seek' }
  | { k: 'data'; crc: number; bytes: number; declared?: number; part: boolean };

export class YencFinder implements StreamDecoder {
  readonly #sink: BlockSink;
  readonly #lines: LineSplitter;
  #s: State = { k: 'seek' };

  constructor(sink: BlockSink) {
    this.#sink = sink;
    this.#lines = new LineSplitter((line, piece) => this.#line(line, piece), 64 * 1024);
  }

  write(chunk: Uint8Array): void {
    this.#lines.write(chunk);
  }

  end(): void {
    this.#lines.end();
    if (this.#s.k === 'data') this.#close(false, ['truncated']);
  }

  #line(line: Uint8Array, piece: 'whole' | 'first' | 'more' | 'last'): void {
    const atStart = piece === 'whole' || piece === 'first';
    if (atStart && line[0] === 0x3d && line[1] === 0x79) {
      const text = lineText(line.subarray(0, 1024));
      if (text.startsWith('=ybegin ')) {
        if (this.#s.k === 'data') this.#close(false, ['no-end']);
        const p = parseYencParams(text.slice(8));
        const size = Number(p.get('size'));
        this.#sink.begin(Number.isFinite(size) ? { name: p.get('name') ?? '', size } : { name: p.get('name') ?? '' });
        this.#s = { k: 'data', crc: 0, bytes: 0, part: p.has('part') };
        return;
      }
      const s = this.#s;
      if (s.k === 'data' && text.startsWith('=ypart ')) {
        const p = parseYencParams(text.slice(7));
        const b = Number(p.get('begin')), e = Number(p.get('end'));
        if (Number.isFinite(b) && Number.isFinite(e) && e >= b) s.declared = e - b + 1;
        return;
      }
      if (s.k === 'data' && text.startsWith('=yend')) {
        const p = parseYencParams(text.slice(5));
        const problems: string[] = [];
        const size = Number(p.get('size'));
        if (Number.isFinite(size) && size !== s.bytes) problems.push('size');
        const crcText = s.part ? (p.get('pcrc32') ?? p.get('crc32')) : (p.get('crc32') ?? p.get('pcrc32'));
        if (crcText !== undefined && /^[0-9a-fA-F]{1,8}$/.test(crcText) && parseInt(crcText, 16) !== s.crc) problems.push('crc');
        this.#close(true, problems);
        return;
      }
    }
    const s = this.#s;
    if (s.k !== 'data') return;
    const out = new Uint8Array(line.length);
    let o = 0;
    for (let i = 0; i < line.length; i++) {
      let c = line[i] as number;
      if (c === 0x3d) {
        if (i + 1 >= line.length) break;
        c = ((line[++i] as number) - 64) & 0xff;
      }
      out[o++] = (c - 42) & 0xff;
    }
    if (o === 0) return;
    const bytes = out.subarray(0, o);
    s.crc = crc32(bytes, s.crc);
    s.bytes += o;
    this.#sink.data(bytes);
  }

  #close(complete: boolean, problems: string[]): void {
    this.#s = { k: 'seek' };
    this.#sink.end({ complete, problems });
  }
}
