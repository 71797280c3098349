/** A wake-up signal: `wait` resolves on the next `notify`, or at once if one came since the last wait. */
export class Wakeup {
  private pending = false;
  private resolve: (() => void) | undefined;

  notify(): void {
    if (this.resolve) {
      const resolve = this.resolve;
      this.resolve = undefined;
      resolve();
    } else {
      this.pending = true;
    }
  }

  wait(): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }
}

/** A FIFO queue with a capacity: `push` waits while it is full, `pop` while it is empty. */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private readonly notFull = new Wakeup();
  private readonly notEmpty = new Wakeup();
  private closedWith: Error | undefined;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.items.length;
  }

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity) {
      if (this.closedWith) throw this.closedWith;
      await this.notFull.wait();
    }
    if (this.closedWith) throw this.closedWith;
    this.items.push(item);
    this.notEmpty.notify();
  }

  async pop(): Promise<T> {
    for (;;) {
      // A failed queue hands out nothing more, not even what it still buffers.
      if (this.closedWith) throw this.closedWith;
      if (this.items.length > 0) break;
      await this.notEmpty.wait();
    }
    const item = this.items.shift() as T;
    this.notFull.notify();
    return item;
  }

  /** Drops what is buffered and wakes every waiter with `error`; later pushes and pops throw it. */
  fail(error: Error): void {
    this.closedWith = error;
    this.items.length = 0;
    this.notFull.notify();
    this.notEmpty.notify();
  }
}

export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
