import type { RecordBatch, Schema } from 'apache-arrow';
import { Schema as ArrowSchema } from 'apache-arrow';
import { ConfigError, TidewayError } from '../api/errors.js';
import { decodeArrow, readArrowSchema } from './arrow/arrow-decoder.js';
import type { ByteRange } from './byte-range.js';
import { checkFormatOptions, type FileFormat, type FormatOptionsInput } from './options.js';
import { decodeParquet, readParquetSchema } from './parquet/parquet-decoder.js';
import { decodeText, type TextDecodeSettings } from './text/text-decoder.js';
import type { DecodeInput } from './text/line-blocks.js';

export type { DecodeInput } from './text/line-blocks.js';

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
   * Object offset of the first input byte. Defaults to `rangeReadStart(range)` with a range (the input
   * is fetched from one byte before the range) and to 0 without.
   */
  inputOffset?: number;
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

  return {
    format,
    decode(input, decodeOptions = {}) {
      const name = decodeOptions.name ?? `the ${format} input`;
      const { range, signal } = decodeOptions;
      if (format === 'arrow' || format === 'parquet') {
        if (range) {
          throw new TidewayError('FORMAT_RANGE_UNSUPPORTED', `${name}: ${format} files cannot be read in byte ranges; read each file whole (one split per file)`, {
            context: { path: name },
          });
        }
        return format === 'arrow' ? decodeArrow(input, { batchRows, name, signal }) : decodeParquet(input, { batchRows, name, signal });
      }
      return decodeText(input, { ...textSettings(format, options, name, signal), batchRows, range, inputOffset: decodeOptions.inputOffset });
    },
  };
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
  const batches = decodeText(input, {
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
