import type { RecordBatch, Schema } from 'apache-arrow';
import { IllegalStateError, TidewayError } from '../api/errors.js';
import { type Compression, contentType, type FileFormat, fileExtension, type FormatOptionsInput } from './options.js';

/**
 * Turns Arrow RecordBatches into the bytes of one file. One encoder writes one file: `encode` each batch
 * and append what it returns, then append what `finish` returns. The counters let a sink roll to a new
 * file at a size limit: `bytesOut` is what has been handed out, `bufferedBytes` what is held back.
 */
export interface Encoder {
  readonly format: FileFormat;
  readonly compression: Compression;
  /** Every batch must have this schema (field names and types). */
  readonly schema: Schema;
  /** The file name extension, with the dot: `.jsonl`, `.jsonl.gz`, `.csv`, `.csv.gz`, `.arrow`, `.parquet`. */
  readonly extension: string;
  /** The media type to store with the object. */
  readonly contentType: string;
  /** Rows passed to `encode` so far. */
  readonly rowsIn: number;
  /** Bytes returned by `encode` and `finish` so far. */
  readonly bytesOut: number;
  /** Bytes (or, for Parquet, Arrow data) held in memory that later calls will emit. */
  readonly bufferedBytes: number;
  /**
   * Encodes one batch. Returns the bytes to append to the file now, in order; the list may be empty while
   * the encoder buffers (Parquet, until a row group is full). Throws a TidewayError with code
   * `FORMAT_SCHEMA_MISMATCH` if the batch's schema differs from the encoder's.
   */
  encode(batch: RecordBatch): Uint8Array[];
  /** Returns the remaining bytes and any footer. The encoder cannot be used afterwards. */
  finish(): Uint8Array[];
}

/** Options of `createEncoder`: the format options (snake_case, as parsed from a job) and a name for errors. */
export interface EncoderOptions extends FormatOptionsInput {
  /** The file or object being written (`oss://bucket/key`, a path), named in error messages. */
  name?: string;
}

export abstract class BaseEncoder implements Encoder {
  readonly extension: string;
  readonly contentType: string;
  rowsIn = 0;
  bytesOut = 0;
  private state: 'open' | 'finished' = 'open';

  constructor(
    readonly format: FileFormat,
    readonly compression: Compression,
    readonly schema: Schema,
    protected readonly name: string,
  ) {
    this.extension = fileExtension(format, compression);
    this.contentType = contentType(format, compression);
  }

  abstract get bufferedBytes(): number;
  protected abstract encodeBatch(batch: RecordBatch): Uint8Array[];
  protected abstract finishFile(): Uint8Array[];

  encode(batch: RecordBatch): Uint8Array[] {
    if (this.state !== 'open') throw new IllegalStateError(`encode() after finish() on the ${this.format} encoder of ${this.name}`);
    if (batch.schema !== this.schema) checkSchema(this.schema, batch.schema, this.name);
    const out = batch.numRows === 0 ? [] : this.encodeBatch(batch);
    this.rowsIn += batch.numRows;
    return this.count(out);
  }

  finish(): Uint8Array[] {
    if (this.state !== 'open') throw new IllegalStateError(`finish() called twice on the ${this.format} encoder of ${this.name}`);
    this.state = 'finished';
    return this.count(this.finishFile());
  }

  private count(out: Uint8Array[]): Uint8Array[] {
    for (const chunk of out) this.bytesOut += chunk.byteLength;
    return out;
  }
}

/** Throws FORMAT_SCHEMA_MISMATCH naming the first field that differs. */
export function checkSchema(expected: Schema, actual: Schema, name: string): void {
  const problem = schemaDifference(expected, actual);
  if (problem) {
    throw new TidewayError('FORMAT_SCHEMA_MISMATCH', `${name}: a batch does not match the file's schema: ${problem}; write batches of one schema to one file (roll a new file when the schema changes)`, {
      context: { path: name },
    });
  }
}

function schemaDifference(expected: Schema, actual: Schema): string | undefined {
  if (expected.fields.length !== actual.fields.length) {
    return `it has ${actual.fields.length} columns, the file has ${expected.fields.length}`;
  }
  for (let i = 0; i < expected.fields.length; i++) {
    const e = expected.fields[i]!;
    const a = actual.fields[i]!;
    if (e.name !== a.name) return `column ${i + 1} is "${a.name}", expected "${e.name}"`;
    if (String(e.type) !== String(a.type)) return `column "${e.name}" is ${String(a.type)}, expected ${String(e.type)}`;
  }
  return undefined;
}
