import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Read rate limits (`env.read_limit`). The job's limit is shared among its readers: each active reader
 * gets `limit / active`, and when a reader's input ends the coordinator tells the others how many are still
 * reading, so its share goes back to them.
 *
 * Each reader has a token bucket per limited quantity (rows, bytes). A chunk is charged after it is read
 * (its size is known only then), and the reader waits, outside its checkpoint lock, until the bucket is no
 * longer in debt before it reads the next chunk. So when a read starts, everything read before it fits in
 * `rate * elapsed + burst`; a single chunk may overshoot until the next wait. Waits are timers (no busy
 * waiting) and end early when the pipeline's signal aborts.
 */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolves after `ms`; rejects when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

/** Tokens a bucket may save up while its reader is idle, in seconds of its rate. */
const BURST_SECONDS = 0.1;
const MIN_WAIT_MS = 1;
/** The longest single wait: a wait is re-planned after it, so a larger share applies soon. */
const MAX_WAIT_MS = 250;

/** A token bucket that may go into debt: `charge` takes what was read, `delay` says how long until it is repaid. */
export class TokenBucket {
  private tokens = 0;
  private last: number;

  constructor(
    private rate: number,
    private readonly clock: Clock,
  ) {
    this.last = clock.now();
  }

  get perSecond(): number {
    return this.rate;
  }

  /** Changes the rate from now on; tokens earned so far were earned at the old rate. */
  setRate(rate: number): void {
    this.refill();
    this.rate = rate;
  }

  charge(amount: number): void {
    this.refill();
    this.tokens -= amount;
  }

  /** Milliseconds until the bucket is out of debt (0 when it is not in debt). */
  delay(): number {
    this.refill();
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.rate * BURST_SECONDS, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}

export interface ReadLimit {
  rowsPerSecond?: number | undefined;
  bytesPerSecond?: number | undefined;
}

/** One reader's share of the job's read limit. */
export class ReaderLimiter {
  private readonly rows: TokenBucket | undefined;
  private readonly bytes: TokenBucket | undefined;
  private active: number;
  /** Time spent waiting for the limit, for the progress display. */
  throttledMs = 0;

  constructor(
    private readonly limit: ReadLimit,
    readers: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.active = Math.max(1, readers);
    if (limit.rowsPerSecond) this.rows = new TokenBucket(limit.rowsPerSecond / this.active, clock);
    if (limit.bytesPerSecond) this.bytes = new TokenBucket(limit.bytesPerSecond / this.active, clock);
  }

  /** This reader's share now. */
  get share(): ReadLimit {
    return { rowsPerSecond: this.rows?.perSecond, bytesPerSecond: this.bytes?.perSecond };
  }

  /**
   * `active` readers are still reading. Counts only go down (a reader that ended does not start again in a
   * run), so a late or repeated message with a larger count changes nothing.
   */
  setActiveReaders(active: number): void {
    if (active < 1 || active >= this.active) return;
    this.active = active;
    if (this.limit.rowsPerSecond) this.rows?.setRate(this.limit.rowsPerSecond / active);
    if (this.limit.bytesPerSecond) this.bytes?.setRate(this.limit.bytesPerSecond / active);
  }

  /** Records a chunk just read. */
  charge(rows: number, bytes: number): void {
    this.rows?.charge(rows);
    this.bytes?.charge(bytes);
  }

  /** Waits until this reader may read again. Rejects when `signal` aborts. */
  async ready(signal: AbortSignal): Promise<void> {
    for (;;) {
      const wait = Math.max(this.rows?.delay() ?? 0, this.bytes?.delay() ?? 0);
      // A debt of under a millisecond is paid: a timer cannot wait less, and rounding could otherwise leave
      // a debt too small for time to repay.
      if (wait < MIN_WAIT_MS) return;
      const slice = Math.min(wait, MAX_WAIT_MS);
      const started = this.clock.now();
      await this.clock.sleep(slice, signal);
      this.throttledMs += this.clock.now() - started;
    }
  }
}

/** The coordinator's side: how many readers still read, to tell the others when one ends. */
export class ReadShares {
  private readonly ended = new Set<number>();

  constructor(private readonly readers: number) {}

  /** Pipeline `id`'s input ended; returns how many readers are still active (undefined when nothing changed). */
  readerEnded(id: number): number | undefined {
    if (this.ended.has(id)) return undefined;
    this.ended.add(id);
    const active = this.readers - this.ended.size;
    return active > 0 ? active : undefined;
  }
}
