import type { Schema } from 'apache-arrow';
import { ArrowEncoder } from './arrow/arrow-encoder.js';
import type { Encoder, EncoderOptions } from './encoder-base.js';
import { type FileFormat, resolveFormatOptions } from './options.js';
import { ParquetEncoder } from './parquet/parquet-encoder.js';
import { TextFileEncoder } from './text/text-encoder.js';

export type { Encoder, EncoderOptions } from './encoder-base.js';

/**
 * An encoder that writes one file of `format` whose rows have `schema`. `format` decides; a `format`
 * key inside `options` (present when a sink passes its parsed options through) is ignored.
 * Throws a ConfigError when the options do not fit the format (for example gzip for Arrow).
 *
 * Memory per encoder:
 * - jsonl, csv, arrow: nothing between calls (`bufferedBytes` is 0); one batch's text while encoding it.
 * - parquet: up to one row group of Arrow data (`parquet_row_group_rows` / `parquet_row_group_bytes`)
 *   plus the footer metadata and page indexes of the row groups written so far.
 */
export function createEncoder(format: FileFormat, schema: Schema, options: EncoderOptions = {}): Encoder {
  const resolved = resolveFormatOptions(format, options);
  const name = options.name ?? `the ${format} file`;
  switch (format) {
    case 'jsonl':
    case 'csv':
      return new TextFileEncoder(schema, resolved, name);
    case 'arrow':
      return new ArrowEncoder(schema, resolved, name);
    case 'parquet':
      return new ParquetEncoder(schema, resolved, name);
  }
}
