import type { Schema } from 'apache-arrow';
import type { Json } from '../../src/api/json.js';
import type {
  Source,
  SourceReader,
  SourceReaderContext,
  SourceSplit,
  SplitChunk,
  SplitEnumerator,
  SplitEnumeratorContext,
  SplitReader,
} from '../../src/api/source.js';
import { SplitQueueReader } from '../../src/api/split-queue-reader.js';
import { fakeSchema, generateBatch } from './generator.js';

export interface FakeOptions {
  rows: number;
  splits: number;
  seed: number;
  chunk_rows: number;
  rows_per_second?: number | undefined;
  unbounded: boolean;
}

/**
 * Split k of n covers ids `start <= id < end`; in unbounded mode it is the endless stream of ids
 * `k, k + n, k + 2n, ...`. `offset` counts rows already emitted.
 */
export interface FakeSplit extends SourceSplit {
  splitId: string;
  index: number;
  start: number;
  end: number;
  offset: number;
}

/**
 * Splits are numbered 0..count-1 and made from their index on demand, so the state is a cursor plus the
 * splits given back, whatever the number of splits. `pending` is the older form: every split left, listed.
 */
interface FakeEnumeratorState {
  next: number;
  returned: FakeSplit[];
  [key: string]: Json;
}

export class FakeSource implements Source<FakeSplit, FakeEnumeratorState> {
  readonly boundedness;

  constructor(private readonly options: FakeOptions) {
    this.boundedness = options.unbounded ? ('unbounded' as const) : ('bounded' as const);
  }

  async schema(): Promise<Schema> {
    return fakeSchema;
  }

  private splitCount(): number {
    const { rows, splits, unbounded } = this.options;
    return unbounded ? splits : Math.max(1, Math.min(splits, rows || 1));
  }

  private splitAt(index: number): FakeSplit {
    const { rows, unbounded } = this.options;
    const count = this.splitCount();
    return {
      splitId: `fake-${index}`,
      index,
      start: unbounded ? index : Math.floor((rows * index) / count),
      end: unbounded ? -1 : Math.floor((rows * (index + 1)) / count),
      offset: 0,
    };
  }

  async createEnumerator(context: SplitEnumeratorContext<FakeSplit>): Promise<SplitEnumerator<FakeSplit, FakeEnumeratorState>> {
    return new FakeEnumerator(context, { next: 0, returned: [] }, this.splitCount(), (i) => this.splitAt(i), this.options.rows, this.options.unbounded);
  }

  async restoreEnumerator(context: SplitEnumeratorContext<FakeSplit>, state: FakeEnumeratorState) {
    // The older form lists every split left: hand those out first, and nothing after them.
    const legacy = (state as { pending?: FakeSplit[] }).pending;
    const cursor = legacy ? { next: this.splitCount(), returned: legacy } : { next: state.next, returned: state.returned };
    return new FakeEnumerator(context, cursor, this.splitCount(), (i) => this.splitAt(i), this.options.rows, this.options.unbounded);
  }

  async createReader(context: SourceReaderContext): Promise<SourceReader<FakeSplit>> {
    return new SplitQueueReader(context, new FakeSplitReader(this.options, context.parallelism), { chunkRows: this.options.chunk_rows });
  }
}

/** Hands out one split per request, given-back splits first; answers no-more-splits once none is left. */
class FakeEnumerator implements SplitEnumerator<FakeSplit, FakeEnumeratorState> {
  private next: number;
  private readonly returned: FakeSplit[];

  constructor(
    private readonly context: SplitEnumeratorContext<FakeSplit>,
    cursor: { next: number; returned: FakeSplit[] },
    private readonly count: number,
    private readonly splitAt: (index: number) => FakeSplit,
    private readonly rows: number,
    private readonly unbounded: boolean,
  ) {
    this.next = cursor.next;
    this.returned = [...cursor.returned];
  }

  async run(): Promise<void> {}
  registerReader(): void {}

  handleSplitRequest(readerId: number): void {
    const split = this.returned.shift() ?? (this.next < this.count ? this.splitAt(this.next++) : undefined);
    if (split) this.context.assignSplit(readerId, [split]);
    else this.context.signalNoMoreSplits(readerId);
  }

  addSplitsBack(splits: FakeSplit[]): void {
    this.returned.unshift(...splits);
  }

  snapshotState(): FakeEnumeratorState {
    return { next: this.next, returned: this.returned.map((s) => ({ ...s })) };
  }

  progress() {
    return this.unbounded ? {} : { totalRows: this.rows };
  }

  async close(): Promise<void> {}
}

class FakeSplitReader implements SplitReader<FakeSplit> {
  private readonly startedAt = Date.now();
  private emitted = 0;
  private readonly ratePerReader: number | undefined;

  constructor(
    private readonly options: FakeOptions,
    parallelism: number,
  ) {
    this.ratePerReader = options.rows_per_second === undefined ? undefined : options.rows_per_second / parallelism;
  }

  async read(split: FakeSplit, { maxRows }: { maxRows: number }): Promise<SplitChunk<FakeSplit>> {
    const stride = this.options.unbounded ? this.options.splits : 1;
    const remaining = this.options.unbounded ? Number.MAX_SAFE_INTEGER : split.end - split.start - split.offset;
    let count = Math.min(maxRows, remaining);
    if (this.ratePerReader !== undefined) {
      const allowed = Math.floor(((Date.now() - this.startedAt) / 1000) * this.ratePerReader) - this.emitted;
      count = Math.min(count, Math.max(0, allowed));
      if (count === 0) return { batches: [], next: split, finished: false, idleMs: Math.max(1, Math.ceil(1000 / this.ratePerReader)) };
    }
    const first = split.start + split.offset * stride;
    const batch = generateBatch(this.options.seed, first, count, stride);
    this.emitted += count;
    const next = { ...split, offset: split.offset + count };
    return { batches: [batch], next, finished: !this.options.unbounded && next.offset >= split.end - split.start };
  }
}
