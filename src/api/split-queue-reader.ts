import type { Logger } from './logger.js';
import type {
  PollStatus,
  ReaderOutput,
  ReaderSnapshot,
  SourceReader,
  SourceReaderContext,
  SourceSplit,
  SplitReader,
} from './source.js';

export interface SplitQueueReaderOptions {
  /** Rows read per pollNext call: the longest a checkpoint barrier waits behind a read. */
  chunkRows?: number;
}

/**
 * The reader rules in one place, so that connectors only write a `SplitReader`:
 * - a split id that arrives again (held or consumed) is ignored;
 * - a split leaves the queue only in the same pollNext call that emits its last rows, and its offset
 *   advances in the same call that emits the rows before it (the engine runs pollNext under the lock);
 * - the reader ends only when it was told no-more-splits AND its queue is drained; an empty queue before
 *   that means `waiting`, never `end`;
 * - reads are bounded chunks, so a barrier never waits for a whole split.
 */
export class SplitQueueReader<S extends SourceSplit> implements SourceReader<S> {
  private readonly queue: S[] = [];
  private readonly held = new Set<string>();
  /**
   * Finished split ids, each with the checkpoint that first reported it (0: not reported yet). An id leaves
   * once a checkpoint that reported it completes, so snapshots carry only recent work.
   */
  private readonly consumed = new Map<string, number>();
  private finished = 0;
  private noMoreSplits = false;
  private readonly chunkRows: number;
  private readonly logger: Logger;

  constructor(
    private readonly context: SourceReaderContext,
    private readonly splitReader: SplitReader<S>,
    options: SplitQueueReaderOptions = {},
  ) {
    this.chunkRows = Math.max(1, options.chunkRows ?? 8192);
    for (const id of context.consumedSplitIds) this.consumed.set(id, 0);
    this.logger = context.logger;
  }

  addSplits(splits: readonly S[]): void {
    for (const split of splits) {
      if (this.consumed.has(split.splitId) || this.held.has(split.splitId)) {
        this.logger.debug('ignoring a split this reader already has', { splitId: split.splitId, reader: this.context.readerId });
        continue;
      }
      this.held.add(split.splitId);
      this.queue.push(split);
    }
  }

  handleNoMoreSplits(): void {
    this.noMoreSplits = true;
  }

  async pollNext(output: ReaderOutput): Promise<PollStatus> {
    const split = this.queue[0];
    if (split === undefined) return this.idleStatus();
    const chunk = await this.splitReader.read(split, { maxRows: this.chunkRows, signal: this.context.signal });
    if (chunk.next.splitId !== split.splitId) {
      throw new Error(`split reader returned split "${chunk.next.splitId}" while reading "${split.splitId}"`);
    }
    let rows = 0;
    for (const batch of chunk.batches) {
      if (batch.numRows === 0) continue;
      rows += batch.numRows;
      await output.emit(batch);
    }
    const index = this.queue.findIndex((s) => s.splitId === split.splitId);
    this.queue.splice(index, 1);
    if (chunk.finished) {
      this.held.delete(split.splitId);
      this.consumed.set(split.splitId, 0);
      this.finished++;
    } else {
      // Round robin: an endless split must not starve the others this reader holds.
      this.queue.push(chunk.next);
    }
    if (rows === 0 && !chunk.finished && chunk.idleMs !== undefined) {
      this.scheduleWakeup(chunk.idleMs);
      return 'waiting';
    }
    return this.queue.length > 0 ? 'more' : this.idleStatus();
  }

  private wakeTimer: NodeJS.Timeout | undefined;
  private scheduleWakeup(ms: number): void {
    if (this.wakeTimer) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.context.wakeup();
    }, ms);
  }

  private idleStatus(): PollStatus {
    return this.noMoreSplits ? 'end' : 'waiting';
  }

  snapshotState(checkpointId: number): ReaderSnapshot<S> {
    for (const [id, reportedIn] of this.consumed) if (reportedIn === 0) this.consumed.set(id, checkpointId);
    return { splits: [...this.queue], consumed: [...this.consumed.keys()] };
  }

  notifyCheckpointComplete(checkpointId: number): void {
    for (const [id, reportedIn] of this.consumed) if (reportedIn > 0 && reportedIn <= checkpointId) this.consumed.delete(id);
  }

  finishedSplits(): number {
    return this.finished;
  }

  async close(): Promise<void> {
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    await this.splitReader.close?.();
  }
}
