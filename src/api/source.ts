import type { RecordBatch, Schema } from 'apache-arrow';
import type { Json } from './json.js';
import type { Logger } from './logger.js';

export type Boundedness = 'bounded' | 'unbounded';

/**
 * A unit of source work: a row range, a file, a byte range. Splits are plain JSON so that they can be
 * checkpointed and sent between threads. A reader's snapshot returns its splits with their progress inside
 * (for example an `offset`), under the same `splitId`.
 */
export interface SourceSplit {
  readonly splitId: string;
  readonly [key: string]: Json;
}

/** What a connector's source must provide. One Source object serves the enumerator and every reader. */
export interface Source<S extends SourceSplit = SourceSplit, E extends Json = Json> {
  readonly boundedness: Boundedness;
  /**
   * Runs once on the coordinator before anything else (start an embedded emulator, resolve an endpoint).
   * Its JSON result reaches every reader as `context.prepared`, whichever thread the reader runs in.
   * Factories must not do I/O in `create`: a Source object is also built inside each pipeline.
   */
  prepare?(options: { signal: AbortSignal }): Promise<Json | undefined>;
  /**
   * A cheap connectivity check for `tideway check --connect`: the table, bucket or endpoint exists and the
   * credentials work. It must change nothing. Without it, the check calls prepare and schema.
   */
  check?(options: { signal: AbortSignal }): Promise<void>;
  /** The Arrow schema of every batch this source emits (called on the coordinator after prepare). */
  schema(options: { signal: AbortSignal }): Promise<Schema>;
  createEnumerator(context: SplitEnumeratorContext<S>): Promise<SplitEnumerator<S, E>>;
  restoreEnumerator(context: SplitEnumeratorContext<S>, state: E): Promise<SplitEnumerator<S, E>>;
  createReader(context: SourceReaderContext): Promise<SourceReader<S>>;
  /** Releases what `schema()` or the factory opened (clients, emulators). */
  close?(): Promise<void>;
}

/**
 * Runs on the coordinator, one per source. The engine calls its methods one at a time, never concurrently.
 */
export interface SplitEnumerator<S extends SourceSplit = SourceSplit, E extends Json = Json> {
  /** Discovers splits. It may assign at once (push) or wait for `handleSplitRequest` (pull). */
  run(): Promise<void>;
  registerReader(readerId: number): Promise<void> | void;
  handleSplitRequest(readerId: number): Promise<void> | void;
  /** Splits given back after a failure or on restore; assign them again. */
  addSplitsBack(splits: S[], readerId: number): Promise<void> | void;
  snapshotState(checkpointId: number): Promise<E> | E;
  notifyCheckpointComplete?(checkpointId: number): Promise<void> | void;
  handleSourceEvent?(readerId: number, event: Json): Promise<void> | void;
  /** What is known of the total work, for progress display (percentages). */
  progress?(): { totalSplits?: number; totalRows?: number };
  close(): Promise<void>;
}

export interface SplitEnumeratorContext<S extends SourceSplit = SourceSplit> {
  readonly parallelism: number;
  readonly jobName: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  registeredReaders(): ReadonlySet<number>;
  assignSplit(readerId: number, splits: readonly S[]): void;
  signalNoMoreSplits(readerId: number): void;
  sendEventToReader(readerId: number, event: Json): void;
}

/**
 * Where a reader emits rows. `emit` resolves once the batch is queued downstream; it waits when the
 * downstream queue is full (backpressure).
 */
export interface ReaderOutput {
  emit(batch: RecordBatch): Promise<void>;
}

/**
 * `more`: call pollNext again. `waiting`: nothing to do now; the engine waits (without spinning) until
 * splits arrive, no-more-splits arrives or the reader calls `context.wakeup()`. `end`: the reader is done.
 */
export type PollStatus = 'more' | 'waiting' | 'end';

export interface ReaderSnapshot<S extends SourceSplit = SourceSplit> {
  /** Splits not yet finished, with their progress. */
  splits: S[];
  /**
   * Ids of the splits this reader finished since the last checkpoint it was told is complete. Ids reported in
   * a completed checkpoint may be dropped: the engine keeps a split that is done from being assigned again,
   * so a checkpoint stays as small as the work in flight.
   */
  consumed: string[];
}

/**
 * One per parallel subtask. The engine calls `pollNext` and `snapshotState` under the reader's checkpoint
 * lock, so a snapshot never sees a half-emitted chunk. Most connectors extend `SplitQueueReader`, which
 * implements the reader rules, and only write a `SplitReader`.
 */
export interface SourceReader<S extends SourceSplit = SourceSplit> {
  addSplits(splits: readonly S[]): void;
  handleNoMoreSplits(): void;
  pollNext(output: ReaderOutput): Promise<PollStatus>;
  snapshotState(checkpointId: number): ReaderSnapshot<S>;
  notifyCheckpointComplete?(checkpointId: number): Promise<void> | void;
  handleSourceEvent?(event: Json): void;
  /** Splits finished in this run, for progress; read at any time, outside the checkpoint lock. */
  finishedSplits?(): number;
  close(): Promise<void>;
}

export interface SourceReaderContext {
  readonly readerId: number;
  readonly parallelism: number;
  readonly jobName: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /**
   * Split ids this reader must treat as consumed. The engine never assigns a split that is done, so this is
   * empty; it stays for readers that want a guard of their own.
   */
  readonly consumedSplitIds: ReadonlySet<string>;
  /** What `Source.prepare` returned on the coordinator. */
  readonly prepared: Json | undefined;
  sendSplitRequest(): void;
  sendEventToEnumerator(event: Json): void;
  /** Tells the engine that a reader which returned `waiting` has work again. */
  wakeup(): void;
}

/**
 * The one thing most connectors write: read a bounded chunk of a split from its current position.
 * `next` is the split advanced past the rows returned (same splitId); `finished` says nothing is left.
 */
export interface SplitReader<S extends SourceSplit = SourceSplit> {
  read(split: S, options: { maxRows: number; signal: AbortSignal }): Promise<SplitChunk<S>>;
  close?(): Promise<void>;
}

export interface SplitChunk<S extends SourceSplit = SourceSplit> {
  batches: RecordBatch[];
  next: S;
  finished: boolean;
  /** Nothing is available now (a rate limit, an empty stream): ask again after this many milliseconds. */
  idleMs?: number;
}
