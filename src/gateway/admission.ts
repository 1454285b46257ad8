/**
 * Scan admission by bytes: how many bytes of objects are being inspected at
 * once, across every session and protocol, so that many big objects arriving
 * together are scanned one after the other instead of all at once. Scanning
 * an object costs a few times its size in memory (the object read whole, its
 * decoded parts, the readings of a mail), so bytes in flight, not the number
 * of scans, is what bounds the gateway's peak memory.
 *
 * Two lanes, each a FIFO byte budget:
 *  - big objects (above capacity / SMALL_SHARE) share `capacity` bytes, first
 *    come first served; one bigger than the whole capacity runs alone (it
 *    waits until nothing else big is in flight) — an object is never refused
 *    or passed because of memory, it waits;
 *  - small objects have a lane of their own (capacity / SMALL_LANE_SHARE),
 *    so a queue of big ones never holds up ordinary mail, and small ones can
 *    never starve a big one.
 * At most capacity × (1 + 1/SMALL_LANE_SHARE) bytes are in flight.
 *
 * Waiting ends with the caller's AbortSignal (the inspection turns that into
 * a scanner timeout, i.e. tempfail). No I/O; reads no untrusted bytes.
 */
import { PortcullisError } from '../errors.js';

/** An object is "small" up to capacity / SMALL_SHARE bytes (2 MiB of 32 MiB). */
export const SMALL_SHARE = 16;
/** The small objects' own lane is capacity / SMALL_LANE_SHARE bytes (8 MiB of 32 MiB). */
export const SMALL_LANE_SHARE = 4;

interface Waiter {
  readonly need: number;
  readonly grant: () => void;
}

/**
 * A weighted FIFO semaphore over bytes. A request takes min(bytes, capacity),
 * so the biggest request runs once the budget is empty; requests are granted
 * in order (one that does not fit holds back those behind it, so a big one is
 * never starved by a stream of smaller ones).
 */
export class ByteBudget {
  #capacity: number;
  #inFlight = 0;
  readonly #waiters: Waiter[] = [];

  constructor(capacity: number) {
    this.#capacity = validCapacity(capacity);
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** A new capacity applies to requests still waiting and to later ones; granted ones keep what they hold. */
  set capacity(bytes: number) {
    this.#capacity = validCapacity(bytes);
    this.#grantWaiting();
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes `bytes` when they fit now and no one waits before them; else undefined (nothing taken). */
  tryAcquire(bytes: number): (() => void) | undefined {
    const need = this.#need(bytes);
    return this.#waiters.length === 0 && this.#fits(need) ? this.#take(need) : undefined;
  }

  /** Waits until `bytes` fit (in turn), takes them and returns their release (safe to call twice). */
  async acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    const now = this.tryAcquire(bytes);
    if (now !== undefined) return now;
    const need = this.#need(bytes);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i < 0) return;
        this.#waiters.splice(i, 1);
        // The head leaving may let those behind it in.
        this.#grantWaiting();
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        need,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.#take(need));
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #need(bytes: number): number {
    return Math.min(Math.max(0, Math.ceil(bytes)), this.#capacity);
  }

  #fits(need: number): boolean {
    return this.#inFlight === 0 || this.#inFlight + Math.min(need, this.#capacity) <= this.#capacity;
  }

  #take(need: number): () => void {
    this.#inFlight += need;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight -= need;
      this.#grantWaiting();
    };
  }

  #grantWaiting(): void {
    for (let head = this.#waiters[0]; head !== undefined && this.#fits(head.need); head = this.#waiters[0]) {
      this.#waiters.shift();
      head.grant();
    }
  }
}

function validCapacity(bytes: number): number {
  if (!Number.isFinite(bytes) || bytes < 1) throw new PortcullisError('PC_ERR_CONFIG', `Cannot set a scan memory budget of ${bytes} bytes: it must be at least 1`);
  return Math.floor(bytes);
}

/** The two lanes (see the header): what inspections ask before reading an object whole. */
export class ScanAdmission {
  readonly #big: ByteBudget;
  readonly #small: ByteBudget;

  constructor(capacity: number) {
    this.#big = new ByteBudget(capacity);
    this.#small = new ByteBudget(Math.max(1, Math.floor(capacity / SMALL_LANE_SHARE)));
  }

  get capacity(): number {
    return this.#big.capacity;
  }

  set capacity(bytes: number) {
    this.#big.capacity = bytes;
    this.#small.capacity = Math.max(1, Math.floor(bytes / SMALL_LANE_SHARE));
  }

  /** Bytes granted and not yet released, both lanes together. */
  get inFlight(): number {
    return this.#big.inFlight + this.#small.inFlight;
  }

  get waiting(): number {
    return this.#big.waiting + this.#small.waiting;
  }

  /** Admits an object of `bytes` when there is room now; else undefined (then `admit` waits). */
  tryAdmit(bytes: number): (() => void) | undefined {
    return this.#lane(bytes).tryAcquire(bytes);
  }

  /** Waits for room for an object of `bytes` and returns the release. */
  admit(bytes: number, signal?: AbortSignal): Promise<() => void> {
    return this.#lane(bytes).acquire(bytes, signal);
  }

  #lane(bytes: number): ByteBudget {
    return bytes <= this.#big.capacity / SMALL_SHARE ? this.#small : this.#big;
  }
}
