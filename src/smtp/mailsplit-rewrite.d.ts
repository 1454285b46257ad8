/** The part of mailsplit's API (no types of its own) that the SMTP proxy's rewrite.ts uses, beyond what content/extractors/mailsplit.d.ts declares. */
declare module 'mailsplit' {
  import { Transform } from 'node:stream';

  export interface SplitterHeaders {
    update(key: string, value: string): void;
    remove(key: string): void;
  }

  export interface SplitterNode {
    getHeaders(): Buffer;
  }

  export class Joiner extends Transform {
    constructor();
  }
}
