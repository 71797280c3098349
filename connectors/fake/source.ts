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

interface FakeEnumeratorState {
  pending: FakeSplit[];
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

  private plan(): FakeSplit[] {
    const { rows, splits, unbounded } = this.options;
    const count = unbounded ? splits : Math.max(1, Math.min(splits, rows || 1));
    return Array.from({ length: count }, (_, index) => ({
      splitId: `fake-${index}`,
      index,
      start: unbounded ? index : Math.floor((rows * index) / count),
      end: unbounded ? -1 : Math.floor((rows * (index + 1)) / count),
      offset: 0,
    }));
  }

  async createEnumerator(context: SplitEnumeratorContext<FakeSplit>): Promise<SplitEnumerator<FakeSplit, FakeEnumeratorState>> {
    return new FakeEnumerator(context, this.plan(), this.options.rows, this.options.unbounded);
  }

  async restoreEnumerator(context: SplitEnumeratorContext<FakeSplit>, state: FakeEnumeratorState) {
    return new FakeEnumerator(context, state.pending, this.options.rows, this.options.unbounded);
  }

  async createReader(context: SourceReaderContext): Promise<SourceReader<FakeSplit>> {
    return new SplitQueueReader(context, new FakeSplitReader(this.options, context.parallelism), { chunkRows: this.options.chunk_rows });
  }
}

/** Hands out one split per request; answers no-more-splits once none is left. */
class FakeEnumerator implements SplitEnumerator<FakeSplit, FakeEnumeratorState> {
  private readonly total: number;

  constructor(
    private readonly context: SplitEnumeratorContext<FakeSplit>,
    private readonly pending: FakeSplit[],
    private readonly rows: number,
    private readonly unbounded: boolean,
  ) {
    this.total = pending.length;
  }

  async run(): Promise<void> {}
  registerReader(): void {}

  handleSplitRequest(readerId: number): void {
    const split = this.pending.shift();
    if (split) this.context.assignSplit(readerId, [split]);
    else this.context.signalNoMoreSplits(readerId);
  }

  addSplitsBack(splits: FakeSplit[]): void {
    this.pending.unshift(...splits);
  }

  snapshotState(): FakeEnumeratorState {
    return { pending: this.pending.map((s) => ({ ...s })) };
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
