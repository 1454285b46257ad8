/** The part of mailsplit's API (no types of its own) that mime.ts uses. */
declare module 'mailsplit' {
  import { Transform } from 'node:stream';

  export interface SplitterHeaders {
    get(key: string): string[];
    getFirst(key: string): string;
  }

  export interface SplitterNode {
    readonly type: 'node';
    readonly root: boolean;
    readonly contentType: string | false;
    readonly encoding: string | false;
    readonly filename: string | false;
    readonly multipart: string | false;
    readonly disposition: string | false;
    readonly headers: SplitterHeaders;
  }

  export interface SplitterChunk {
    readonly type: 'body' | 'data';
    readonly value: Buffer;
  }

  export type SplitterItem = SplitterNode | SplitterChunk;

  export class Splitter extends Transform {
    constructor(options?: { ignoreEmbedded?: boolean; maxHeadSize?: number });
  }
}
