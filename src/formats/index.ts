/**
 * The file-format layer shared by the file and OSS connectors: encoders from Arrow RecordBatches to the
 * bytes of JSON Lines, CSV, Arrow IPC and Parquet files, and decoders back.
 */
export { type ByteRange, rangeReadStart, splitByteRanges } from './byte-range.js';
export {
  createDecoder,
  type DecodeInput,
  type DecodeOptions,
  type Decoder,
  type DecoderOptions,
  inferSchema,
  type LocalFile,
  localFile,
  type PositionedBatch,
} from './decoder.js';
export { readParquetRowGroups } from './parquet/parquet-decoder.js';
export { createEncoder, type Encoder, type EncoderOptions } from './encoder.js';
export {
  checkFormatOptions,
  type Compression,
  COMPRESSIONS,
  contentType,
  FILE_FORMATS,
  type FileFormat,
  fileExtension,
  type FormatOptions,
  type FormatOptionsInput,
  formatOptionsSchema,
  refineFormatOptions,
} from './options.js';
