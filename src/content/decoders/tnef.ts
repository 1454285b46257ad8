/**
 * Decodes the attachments of a TNEF stream (winmail.dat, MS-OXTNEF): the
 * signature 0x223E9F78, then attributes (level, id, length, data, 16-bit
 * additive checksum). Each attachment starts at attAttachRendData; its name
 * comes from attAttachTitle and its bytes from attAttachData, handed on as
 * they arrive; the block ends at the next attachment or the end of the
 * stream, because the title may follow the data. MAPI property blocks (long file names, embedded messages) are
 * not read. A bad checksum is a problem on the block, not a reason to drop
 * it. Reads untrusted bytes; never throws; holds only a small name buffer.
 */
import type { BlockSink, StreamDecoder } from './types.js';

export const TNEF_SIGNATURE = 0x223e9f78;
const ATT_ATTACH_DATA = 0x800f;
const ATT_ATTACH_TITLE = 0x8010;
const ATT_ATTACH_REND_DATA = 0x9002;
const LEVEL_ATTACHMENT = 2;
const MAX_TITLE = 1024;

type Stage =
  | { k: 'sig' } | { k: 'key' } | { k: 'head' }
  | { k: 'body'; level: number; id: number; left: number; sum: number }
  | { k: 'sum'; level: number; id: number; sum: number }
  | { k: 'dead' };

const HEAD_LEN = { sig: 4, key: 2, head: 9, sum: 2 } as const;

export class TnefDecoder implements StreamDecoder {
  readonly #sink: BlockSink;
  #stage: Stage = { k: 'sig' };
  /** Bytes of the fixed-size field being read (signature, key, header, checksum). */
  #fixed: number[] = [];
  #title: number[] = [];
  #open = false;
  #problems: string[] = [];
  /** Whole-stream problems (bad signature, truncation outside an attachment). */
  readonly problems: string[] = [];
  attachments = 0;

  constructor(sink: BlockSink) {
    this.#sink = sink;
  }

  write(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      const st = this.#stage;
      if (st.k === 'dead') return;
      if (st.k === 'body') {
        const take = Math.min(st.left, chunk.length - i);
        const part = chunk.subarray(i, i + take);
        for (let j = 0; j < part.length; j++) st.sum = (st.sum + (part[j] as number)) & 0xffff;
        this.#attrBytes(st.level, st.id, part);
        st.left -= take;
        i += take;
        if (st.left === 0) this.#to({ k: 'sum', level: st.level, id: st.id, sum: st.sum });
        continue;
      }
      this.#fixed.push(chunk[i++] as number);
      if (this.#fixed.length === HEAD_LEN[st.k]) this.#fixedDone(st);
    }
  }

  end(): void {
    const st = this.#stage.k;
    if (st !== 'dead' && st !== 'head') this.#note('truncated');
    // A few stray bytes after the last attribute (a newline a mailer added) cut nothing off.
    if (st === 'head' && this.#fixed.length > 0) this.problems.push('trailing');
    this.#closeBlock(true);
    this.#stage = { k: 'dead' };
  }

  #to(st: Stage): void {
    this.#stage = st;
    this.#fixed = [];
  }

  #note(p: string): void {
    if (this.#open) {
      if (!this.#problems.includes(p)) this.#problems.push(p);
    } else if (!this.problems.includes(p)) {
      this.problems.push(p);
    }
  }

  #fixedDone(st: Exclude<Stage, { k: 'body' | 'dead' }>): void {
    const f = this.#fixed;
    switch (st.k) {
      case 'sig':
        if (le32(f, 0) !== TNEF_SIGNATURE) {
          this.problems.push('signature');
          this.#to({ k: 'dead' });
        } else {
          this.#to({ k: 'key' });
        }
        return;
      case 'key':
        this.#to({ k: 'head' });
        return;
      case 'head': {
        const level = f[0] as number;
        const id = le32(f, 1) & 0xffff;
        const len = le32(f, 5);
        if (level === LEVEL_ATTACHMENT && id === ATT_ATTACH_REND_DATA) {
          this.#closeBlock(true);
          this.#title = [];
        }
        if (level === LEVEL_ATTACHMENT && id === ATT_ATTACH_DATA) this.#openBlock();
        if (len === 0) this.#to({ k: 'sum', level, id, sum: 0 });
        else this.#to({ k: 'body', level, id, left: len, sum: 0 });
        return;
      }
      case 'sum': {
        if (((f[0] as number) | ((f[1] as number) << 8)) !== st.sum) this.#note('checksum');
        this.#to({ k: 'head' });
        return;
      }
    }
  }

  #attrBytes(level: number, id: number, part: Uint8Array): void {
    if (level !== LEVEL_ATTACHMENT) return;
    if (id === ATT_ATTACH_DATA) {
      if (part.length > 0) this.#sink.data(part);
    } else if (id === ATT_ATTACH_TITLE) {
      for (let j = 0; j < part.length && this.#title.length < MAX_TITLE; j++) this.#title.push(part[j] as number);
    }
  }

  #openBlock(): void {
    this.#closeBlock(true);
    let end = this.#title.indexOf(0);
    if (end < 0) end = this.#title.length;
    this.#open = true;
    this.#problems = [];
    this.attachments++;
    this.#sink.begin({ name: String.fromCharCode(...this.#title.slice(0, end)) });
  }

  #closeBlock(complete: boolean): void {
    if (!this.#open) return;
    this.#open = false;
    let end = this.#title.indexOf(0);
    if (end < 0) end = this.#title.length;
    const name = String.fromCharCode(...this.#title.slice(0, end));
    const result = { complete: complete && !this.#problems.includes('truncated'), problems: this.#problems };
    this.#sink.end(name === '' ? result : { ...result, name });
    this.#problems = [];
  }
}

function le32(b: readonly number[], at: number): number {
  return ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16) | ((b[at + 3] ?? 0) << 24)) >>> 0;
}
