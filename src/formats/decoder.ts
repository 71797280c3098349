import { createReadStream } from 'node:fs';
import type { RecordBatch, Schema } from 'apache-arrow';
import { Schema as ArrowSchema } from 'apache-arrow';
import { ConfigError, TidewayError } from '../api/errors.js';
import { decodeArrow, readArrowSchema } from './arrow/arrow-decoder.js';
import { type ByteRange, rangeReadStart } from './byte-range.js';
import { checkFormatOptions, type FileFormat, type FormatOptionsInput } from './options.js';
import { decodeParquet, readParquetSchema } from './parquet/parquet-decoder.js';
import { decodeText, type PositionedBatch, type TextDecodeSettings } from './text/text-decoder.js';
import { type DecodeInput, isLocalFile, type StreamInput } from './text/line-blocks.js';

export type { DecodeInput, LocalFile } from './text/line-blocks.js';
export { localFile } from './text/line-blocks.js';
export type { PositionedBatch } from './text/text-decoder.js';

/** Options of `createDecoder`: the format options of a job (snake_case) plus programmatic settings. */
export interface DecoderOptions extends FormatOptionsInput {
  /**
   * JSON Lines and CSV: the column types to read. Without it they are inferred from the first
   * `inferRows` records (see infer.ts for the rule). Byte-range reads require it.
   * Arrow and Parquet files carry their own schema; this option is ignored for them.
   */
  schema?: Schema;
  /** Most rows per batch. @default 8192 */
  batchRows?: number;
  /** Records sampled for schema inference. @default 1000 */
  inferRows?: number;
}

/** Per-object settings of one `decode` call. */
export interface DecodeOptions {
  /** The file or object being read (`oss://bucket/key`, a path), named in error messages. */
  name?: string;
  /**
   * JSON Lines and CSV: read only the records whose first byte lies in this range (see byte-range.ts),
   * so that several readers can share a large file. Not available for gzip input.
   */
  range?: ByteRange;
  /**
   * Object offset of the first input byte. Defaults to `resumeAt`, else `rangeReadStart(range)` with a
   * range (the input is fetched from one byte before the range), else 0. A local file is read from there.
   */
  inputOffset?: number;
  /**
   * JSON Lines and CSV (not gzip): continue at this byte, where a record begins: the `next` of a batch
   * that `decodePositioned` returned earlier. Records are read from here (to the end of `range`, if
   * given); a CSV header is not expected here, so pass `csvColumns` to map columns by name.
   */
  resumeAt?: number;
  /** Leave out the first `skipRows` rows of what would be read (Parquet skips them without decoding). */
  skipRows?: number;
  /** Parquet: read only these row groups (0-based), in this order. */
  rowGroups?: readonly number[];
  /**
   * CSV with a header: the file's header, for inputs that start after it (a later byte range, a resume
   * point), so that columns are still mapped by name. Without it they are mapped by position.
   */
  csvColumns?: readonly string[];
  signal?: AbortSignal;
}

/** Reads files of one format as RecordBatches. One decoder can read many objects, one `decode` call each. */
export interface Decoder {
  readonly format: FileFormat;
  /**
   * The batches of one object, each of at most `batchRows` rows. `input` is the whole object, or (JSON
   * Lines, CSV, Arrow stream) its bytes as they arrive, which are then read with bounded memory; stopping
   * the iteration early ends the input iterator (and so a download).
   * Throws TidewayError with codes `FORMAT_JSONL_PARSE`, `FORMAT_CSV_PARSE`, `FORMAT_VALUE` (naming the
   * line and column), `FORMAT_ARROW_READ`, `FORMAT_PARQUET_READ`, among others.
   */
  decode(input: DecodeInput, options?: DecodeOptions): AsyncIterable<RecordBatch>;
  /**
   * Like `decode`, with each batch's resume point: for JSON Lines and CSV (not gzip) the object offset
   * where the record after the batch's last row begins, from which `resumeAt` continues; undefined for the
   * other formats (resume those with `skipRows`, and Parquet with `rowGroups`).
   */
  decodePositioned(input: DecodeInput, options?: DecodeOptions): AsyncIterable<PositionedBatch>;
}

const DEFAULT_BATCH_ROWS = 8192;
const DEFAULT_INFER_ROWS = 1000;

/**
 * A decoder of `format`. Compression of JSON Lines and CSV is detected from the gzip magic unless
 * `compression` says otherwise; Parquet names its codecs inside the file.
 * Throws a ConfigError for options that do not fit the format.
 */
export function createDecoder(format: FileFormat, options: DecoderOptions = {}): Decoder {
  const issues = checkFormatOptions(format, options);
  const batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
  const inferRows = options.inferRows ?? DEFAULT_INFER_ROWS;
  if (!Number.isSafeInteger(batchRows) || batchRows < 1) issues.push({ path: 'batchRows', message: `must be a positive integer, got ${batchRows}` });
  if (!Number.isSafeInteger(inferRows) || inferRows < 1) issues.push({ path: 'inferRows', message: `must be a positive integer, got ${inferRows}` });
  if (issues.length > 0) throw new ConfigError(issues);

  const positioned = (input: DecodeInput, decodeOptions: DecodeOptions): AsyncIterable<PositionedBatch> => {
    const name = decodeOptions.name ?? `the ${format} input`;
    const { range, signal, resumeAt } = decodeOptions;
    const skipRows = decodeOptions.skipRows ?? 0;
    if (!Number.isSafeInteger(skipRows) || skipRows < 0) throw new RangeError(`skipRows must be a non-negative integer, got ${skipRows}`);
    if (format === 'arrow' || format === 'parquet') {
      if (range || resumeAt !== undefined) {
        throw new TidewayError('FORMAT_RANGE_UNSUPPORTED', `${name}: ${format} files cannot be read in byte ranges or from a byte position; read each file whole, or Parquet by row groups`, {
          context: { path: name },
        });
      }
      if (format === 'arrow') return withoutPositions(skip(decodeArrow(input, { batchRows, name, signal }), skipRows));
      return withoutPositions(decodeParquet(input, { batchRows, name, signal, rowGroups: decodeOptions.rowGroups, offset: skipRows }));
    }
    const inputOffset = decodeOptions.inputOffset ?? resumeAt ?? (range ? rangeReadStart(range) : 0);
    const stream = streamOf(input, inputOffset);
    const batches = decodeText(stream, {
      ...textSettings(format, options, name, signal),
      batchRows,
      range,
      inputOffset,
      resumeAt,
      csvColumns: decodeOptions.csvColumns,
    });
    return skipPositioned(batches, skipRows);
  };
  return {
    format,
    decodePositioned: (input, decodeOptions = {}) => positioned(input, decodeOptions),
    decode: (input, decodeOptions = {}) => batchesOf(positioned(input, decodeOptions)),
  };
}

/** The bytes of `input` from `offset` on: a local file is read from there, other input is taken as it is. */
function streamOf(input: DecodeInput, offset: number): StreamInput {
  if (!isLocalFile(input)) return input;
  return createReadStream(input.path, { start: offset, highWaterMark: 1 << 20 }) as AsyncIterable<Uint8Array>;
}

async function* batchesOf(positioned: AsyncIterable<PositionedBatch>): AsyncGenerator<RecordBatch> {
  for await (const { batch } of positioned) yield batch;
}

async function* withoutPositions(batches: AsyncIterable<RecordBatch>): AsyncGenerator<PositionedBatch> {
  for await (const batch of batches) yield { batch, next: undefined };
}

async function* skip(batches: AsyncIterable<RecordBatch>, rows: number): AsyncGenerator<RecordBatch> {
  let left = rows;
  for await (const batch of batches) {
    if (left >= batch.numRows) {
      left -= batch.numRows;
      continue;
    }
    yield left > 0 ? batch.slice(left, batch.numRows) : batch;
    left = 0;
  }
}

async function* skipPositioned(batches: AsyncIterable<PositionedBatch>, rows: number): AsyncGenerator<PositionedBatch> {
  let left = rows;
  for await (const item of batches) {
    if (left >= item.batch.numRows) {
      left -= item.batch.numRows;
      continue;
    }
    yield left > 0 ? { batch: item.batch.slice(left, item.batch.numRows), next: item.next } : item;
    left = 0;
  }
}

function textSettings(format: 'jsonl' | 'csv', options: DecoderOptions, name: string, signal: AbortSignal | undefined): TextDecodeSettings {
  return {
    format,
    schema: options.schema,
    batchRows: options.batchRows ?? DEFAULT_BATCH_ROWS,
    inferRows: options.inferRows ?? DEFAULT_INFER_ROWS,
    delimiter: options.csv_delimiter ?? ',',
    header: options.csv_header ?? true,
    compression: options.compression === 'none' || options.compression === 'gzip' ? options.compression : undefined,
    name,
    range: undefined,
    inputOffset: undefined,
    signal,
  };
}

/**
 * The schema of a file: the one Arrow and Parquet files carry, or for JSON Lines and CSV the one inferred
 * from their first `inferRows` records (a CSV header alone gives utf8 columns). Reads only as much
 * input as it needs. Sources call this once per file before handing byte ranges to several readers.
 */
export async function inferSchema(
  format: FileFormat,
  input: DecodeInput,
  options: Omit<DecoderOptions, 'schema'> & Pick<DecodeOptions, 'name' | 'signal'> = {},
): Promise<Schema> {
  const issues = checkFormatOptions(format, options);
  if (issues.length > 0) throw new ConfigError(issues);
  const name = options.name ?? `the ${format} input`;
  if (format === 'arrow') return readArrowSchema(input, name);
  if (format === 'parquet') return readParquetSchema(input, name);
  let found: Schema | undefined;
  const settings = textSettings(format, { ...options, schema: undefined }, name, options.signal);
  const batches = decodeText(streamOf(input, 0), {
    ...settings,
    batchRows: 1,
    onSchema: (schema) => {
      found = schema;
    },
  });
  // The schema is reported before the first batch is built; leaving the loop ends the input early.
  for await (const _batch of batches) break;
  return found ?? new ArrowSchema([]);
}
