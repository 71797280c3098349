import type { RecordBatch, Schema } from 'apache-arrow';

/** Why one row could not be processed: a failed CAST, a bad JSON path, a value a sink refused. */
export interface RowError {
  /** A stable upper-case code, for example SQL_CAST_FAILED or JSON_PATH_NOT_FOUND. */
  readonly code: string;
  /** What went wrong with this row, naming the column and the value's problem (never a secret). */
  readonly message: string;
  /** The column the error is about, when there is one. */
  readonly column?: string;
}

/**
 * What the engine gives a transform with each batch. A transform never drops a bad row silently: it calls
 * `reject`, leaves the row out of its output, and the stage's dirty-data policy (`env.errors` or the stage's
 * own `errors` block) decides: fail the job, count it, or send it with the original row to a dead-letter sink.
 */
export interface TransformContext {
  /**
   * Marks row `row` of the batch given to `apply` (its index in that input batch) as bad. With the default
   * policy (`tolerance: none`) this throws, failing the job with the stage, row and message.
   */
  reject(row: number, error: RowError): void;
  /**
   * For a transform whose output is not a subset of its input rows (one that makes several rows of one, as
   * LATERAL VIEW EXPLODE does): how many rows of this input batch it dropped (a WHERE, an empty array),
   * rejected rows apart. Without this call the engine counts input rows - output rows - rejected rows as
   * filtered, which such a transform would make negative.
   */
  filtered?(rows: number): void;
}

/** A per-batch transform. It runs inside each parallel pipeline, between the reader and the sinks. */
export interface Transform {
  outputSchema(input: Schema): Schema;
  /**
   * Returns the transformed batch; rows it drops count as filtered in the report, rows it rejects through
   * `context.reject` count as dead-lettered. `null` drops the batch.
   */
  apply(batch: RecordBatch, context: TransformContext): RecordBatch | null | Promise<RecordBatch | null>;
  close?(): Promise<void>;
}
