import type { RecordBatch, Schema } from 'apache-arrow';

/** A per-batch transform. It runs inside each parallel pipeline, between the reader and the sinks. */
export interface Transform {
  outputSchema(input: Schema): Schema;
  /** Returns the transformed batch; rows it drops count as filtered in the report. `null` drops the batch. */
  apply(batch: RecordBatch): RecordBatch | null | Promise<RecordBatch | null>;
  close?(): Promise<void>;
}
