import type { RecordBatch } from 'apache-arrow';
import type { PositionedBatch } from './text/text-decoder.js';

/**
 * Where a resumable read of one file (or one split of it) stands: `resume` is a byte offset where a record
 * begins (JSON Lines and CSV, from a batch's `next`; null before the first), `skip` the rows already
 * returned after that point (or after the start, when there is no byte position). Plain JSON, so that a
 * split can carry it through a checkpoint: decoding again with `resumeAt: resume` and `skipRows: skip`
 * continues exactly after the last row returned.
 */
export interface ReadPosition {
  resume: number | null;
  skip: number;
}

export function samePosition(a: ReadPosition, b: ReadPosition): boolean {
  return a.resume === b.resume && a.skip === b.skip;
}

/**
 * An open decode, handed out in chunks of at most `maxRows` rows, each with the position after it.
 * A batch larger than a chunk is sliced; the rest is kept for the next call.
 */
export class ResumableRead {
  private carry: PositionedBatch | undefined;

  /**
   * @param batches the decode, started at `position` (`decodePositioned` with `resumeAt` and `skipRows`).
   */
  constructor(
    private readonly batches: AsyncIterator<PositionedBatch>,
    public position: ReadPosition,
  ) {}

  /** The next chunk, or `done` once the decode has nothing more. */
  async next(maxRows: number): Promise<{ batch: RecordBatch; position: ReadPosition } | { done: true }> {
    let item = this.carry;
    this.carry = undefined;
    if (!item) {
      const next = await this.batches.next();
      if (next.done) return { done: true };
      item = next.value;
    }
    const { batch } = item;
    if (batch.numRows > maxRows) {
      this.carry = { batch: batch.slice(maxRows, batch.numRows), next: item.next };
      this.position = { resume: this.position.resume, skip: this.position.skip + maxRows };
      return { batch: batch.slice(0, maxRows), position: this.position };
    }
    this.position = item.next !== undefined ? { resume: item.next, skip: 0 } : { resume: this.position.resume, skip: this.position.skip + batch.numRows };
    return { batch, position: this.position };
  }

  /** Ends the decode (and the input it reads). */
  async close(): Promise<void> {
    await this.batches.return?.();
  }
}
