import { Data, RecordBatch, type Schema, Struct, type TypeMap } from 'apache-arrow';
import { takeRows } from '../oss/take.js';

/** A batch of `schema` whose columns are `children` (each `length` rows long); the buffers are shared, not copied. */
export function batchOf(schema: Schema, children: Data[], length: number): RecordBatch {
  const data = new Data(new Struct(schema.fields), 0, length, 0, undefined, children);
  return new RecordBatch(schema as Schema<TypeMap>, data as Data<Struct<TypeMap>>);
}

/**
 * The rows of a batch a transform keeps after rejecting some. Rejected rows are marked as they are found;
 * `apply` then returns `without(batch)`, which is the batch itself when nothing was rejected, a zero-copy
 * slice when the kept rows are one contiguous run, and a copy of the kept rows otherwise.
 */
export class RowMask {
  private readonly dropped: Uint8Array;
  private count = 0;

  constructor(private readonly length: number) {
    this.dropped = new Uint8Array(length);
  }

  /** Marks `row` as left out; marking a row twice counts it once. */
  drop(row: number): void {
    if (this.dropped[row] === 1) return;
    this.dropped[row] = 1;
    this.count++;
  }

  has(row: number): boolean {
    return this.dropped[row] === 1;
  }

  get size(): number {
    return this.count;
  }

  /** `batch` (of this mask's length) without the dropped rows; null when no row is left. */
  without(batch: RecordBatch): RecordBatch | null {
    if (this.count === 0) return batch;
    if (this.count === this.length) return null;
    let first = 0;
    while (this.dropped[first] === 1) first++;
    let end = this.length;
    while (this.dropped[end - 1] === 1) end--;
    if (end - first === this.length - this.count) return batch.slice(first, end);
    const rows = new Uint32Array(this.length - this.count);
    for (let row = 0, k = 0; row < this.length; row++) if (this.dropped[row] === 0) rows[k++] = row;
    return takeRows(batch, rows);
  }
}
