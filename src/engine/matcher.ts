/**
 * The body-signature matcher: many ClamAV hex patterns searched at once in a
 * stream of bytes. See DESIGN.md in this folder for how and why.
 *
 * Reads untrusted bytes (the scanned object). Compiling may throw
 * PatternSyntaxError (a build error); scanning never throws because of the
 * bytes scanned.
 */
import { PatternSyntaxError } from './pattern.js';
import type { OffsetSpec } from './offset.js';
import { naiveStarts, patternForms } from './naive.js';

/** One pattern to compile. Several inputs may share an id (their matches are reported under it). */
export interface PatternInput {
  /** Caller's number for the pattern, passed back in onMatch. */
  readonly id: number;
  /** ClamAV hex pattern text (pattern.ts lists the syntax). */
  readonly pattern: string;
  /** Where a match may start; default `*`. An `unsupported` offset is a build error. */
  readonly offset?: OffsetSpec;
  /** ClamAV target type; 0 or absent = any. Honoured only when the scan's target is known (not 0). */
  readonly target?: number;
  /** ::i — ASCII letters match either case. */
  readonly nocase?: boolean;
  /** ::w — search the UTF-16LE form (every byte followed by 00). */
  readonly wide?: boolean;
  /** ::a — with ::w, search the plain form as well. Alone it changes nothing. */
  readonly ascii?: boolean;
  /** ::f — the match may not be bordered by an ASCII letter or digit. */
  readonly fullword?: boolean;
}

export interface ScanSetup {
  /** Total size of the object in bytes: decides EOF-n offsets and where the object ends. */
  readonly size: number;
  /** ClamAV target type of the object when known; 0 = unknown (every pattern applies). */
  readonly target: number;
  /**
   * Called for every start offset where a pattern matches (each start once
   * per id). Return false to hear no more about this id in this scan
   * (ndb signatures need only their first match).
   */
  onMatch(id: number, offset: number): boolean;
}

/** One streaming scan: feed chunks in order, then end(). Neither throws because of the bytes. */
export interface PatternScan {
  write(chunk: Uint8Array): void;
  end(): void;
}

/** A compiled, immutable set of patterns, shared by any number of concurrent scans. */
export class PatternSet {
  readonly #inputs: PatternInput[];

  private constructor(inputs: PatternInput[]) {
    this.#inputs = inputs;
  }

  /** Compiles the patterns. Throws PatternSyntaxError naming the id of the first bad pattern. */
  static compile(inputs: readonly PatternInput[]): PatternSet {
    for (const p of inputs) {
      try {
        if (p.offset?.kind === 'unsupported') throw new PatternSyntaxError(`unsupported offset '${p.offset.text}'`, 0);
        patternForms(p);
      } catch (e) {
        if (e instanceof PatternSyntaxError) throw new PatternSyntaxError(e.reason, e.position, p.id);
        throw e;
      }
    }
    return new PatternSet([...inputs]);
  }

  /** Number of inputs compiled. */
  get size(): number { return this.#inputs.length; }

  newScan(setup: ScanSetup): PatternScan {
    const chunks: Uint8Array[] = [];
    const inputs = this.#inputs;
    return {
      write(chunk) { chunks.push(chunk.slice()); },
      end() {
        const all = Buffer.concat(chunks);
        const muted = new Set<number>();
        for (const p of inputs) {
          for (const s of naiveStarts(p, all, setup.target)) {
            if (muted.has(p.id)) break;
            if (!setup.onMatch(p.id, s)) muted.add(p.id);
          }
        }
      },
    };
  }

  /** Convenience: every (id, offset) match in one whole buffer. */
  scanBuffer(data: Uint8Array, target = 0): [number, number][] {
    const out: [number, number][] = [];
    const scan = this.newScan({ size: data.length, target, onMatch: (id, at) => { out.push([id, at]); return true; } });
    scan.write(data);
    scan.end();
    return out;
  }
}
