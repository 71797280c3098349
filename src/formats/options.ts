import { ConfigError, type ConfigIssue } from '../api/errors.js';
import { byteSize, z } from '../api/options.js';

/** The file formats the `file` and OSS connectors read and write. */
export type FileFormat = 'jsonl' | 'csv' | 'arrow' | 'parquet';

export const FILE_FORMATS = ['jsonl', 'csv', 'arrow', 'parquet'] as const satisfies readonly FileFormat[];

/** Byte-level compression. Which values a format accepts: see {@link COMPRESSIONS}. */
export type Compression = 'none' | 'gzip' | 'snappy' | 'zstd';

/**
 * The compressions each format accepts; the first is the default. JSON Lines and CSV compress the whole
 * stream (gzip); Parquet compresses pages inside the file; Arrow IPC is written uncompressed because
 * arrow-js cannot write compressed IPC bodies.
 */
export const COMPRESSIONS: Readonly<Record<FileFormat, readonly Compression[]>> = {
  jsonl: ['none', 'gzip'],
  csv: ['none', 'gzip'],
  arrow: ['none'],
  parquet: ['snappy', 'none', 'gzip', 'zstd'],
};

/** Parquet row groups default to this many rows; DuckDB and Spark write row groups of a similar size. */
export const DEFAULT_PARQUET_ROW_GROUP_ROWS = 131_072;
/** Parquet row groups are closed early once this much Arrow data is buffered, to bound memory for wide rows. */
export const DEFAULT_PARQUET_ROW_GROUP_BYTES = 64 * 1024 * 1024;

/**
 * File-format options as a zod object. Sinks and sources spread its shape into their own option schema
 * and attach {@link refineFormatOptions} so that a bad combination is reported with the other options:
 *
 * ```ts
 * const options = z.object({ ...formatOptionsSchema.shape, path: z.string() }).superRefine(refineFormatOptions);
 * ```
 */
export const formatOptionsSchema = z.object({
  format: z
    .enum(FILE_FORMATS)
    .default('jsonl')
    .meta({ description: 'File format: jsonl (JSON Lines), csv, arrow (Arrow IPC file) or parquet.' }),
  compression: z
    .enum(['none', 'gzip', 'snappy', 'zstd'])
    .optional()
    .meta({
      description:
        'Compression. jsonl and csv: none (default) or gzip. parquet: snappy (default), none, gzip or zstd. arrow: none.',
    }),
  csv_delimiter: z
    .string()
    .default(',')
    .meta({ description: 'CSV field delimiter: one character other than a quote, CR or LF.' }),
  csv_header: z
    .boolean()
    .default(true)
    .meta({ description: 'Whether CSV files start with a header line of column names.' }),
  parquet_row_group_rows: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_PARQUET_ROW_GROUP_ROWS)
    .meta({ description: 'Rows per Parquet row group; a row group is also the unit the writer buffers in memory.' }),
  parquet_row_group_bytes: byteSize()
    .default(DEFAULT_PARQUET_ROW_GROUP_BYTES)
    .meta({
      description: 'Close a Parquet row group early once this much Arrow data is buffered (e.g. 64MiB), to bound memory for wide rows.',
    }),
});

/** Parsed file-format options (defaults applied). */
export type FormatOptions = z.output<typeof formatOptionsSchema>;
/** File-format options as written by a user or a caller; every field may be left out. */
export type FormatOptionsInput = Partial<Omit<FormatOptions, 'format'>> & { format?: FileFormat };

/** Format options with every default resolved, including the per-format compression default. */
export interface ResolvedFormatOptions {
  format: FileFormat;
  compression: Compression;
  csvDelimiter: string;
  csvHeader: boolean;
  parquetRowGroupRows: number;
  parquetRowGroupBytes: number;
}

/** Every problem with a combination of format options, with `path` relative to the options object. */
export function checkFormatOptions(format: FileFormat, options: FormatOptionsInput = {}): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const allowed = COMPRESSIONS[format];
  if (!allowed) {
    issues.push({ path: 'format', message: `unknown format ${JSON.stringify(format)}; use one of ${FILE_FORMATS.join(', ')}` });
    return issues;
  }
  if (options.compression !== undefined && !allowed.includes(options.compression)) {
    issues.push({
      path: 'compression',
      message: `compression "${options.compression}" is not available for format "${format}"; use ${allowed.map((c) => `"${c}"`).join(' or ')}`,
    });
  }
  const delimiter = options.csv_delimiter;
  if (delimiter !== undefined && (delimiter.length !== 1 || delimiter === '"' || delimiter === '\r' || delimiter === '\n')) {
    issues.push({
      path: 'csv_delimiter',
      message: `csv_delimiter must be a single character other than a quote, CR or LF, got ${JSON.stringify(delimiter)}; for tabs write "\\t"`,
    });
  }
  const rows = options.parquet_row_group_rows;
  if (rows !== undefined && (!Number.isInteger(rows) || rows < 1)) {
    issues.push({ path: 'parquet_row_group_rows', message: `parquet_row_group_rows must be a positive integer, got ${rows}` });
  }
  const bytes = options.parquet_row_group_bytes;
  if (bytes !== undefined && (!Number.isFinite(bytes) || bytes < 1)) {
    issues.push({ path: 'parquet_row_group_bytes', message: `parquet_row_group_bytes must be a positive size, got ${bytes}` });
  }
  return issues;
}

/**
 * A zod `superRefine` callback that reports bad format-option combinations (for instance gzip for Arrow)
 * on the right key, for schemas built from {@link formatOptionsSchema}.
 */
export function refineFormatOptions(value: FormatOptionsInput, ctx: z.RefinementCtx): void {
  for (const issue of checkFormatOptions(value.format ?? 'jsonl', value)) {
    ctx.addIssue({ code: 'custom', message: issue.message, path: [issue.path] });
  }
}

/** Validates and fills defaults; throws a ConfigError listing every problem. */
export function resolveFormatOptions(format: FileFormat, options: FormatOptionsInput = {}): ResolvedFormatOptions {
  const issues = checkFormatOptions(format, options);
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    format,
    compression: options.compression ?? COMPRESSIONS[format][0]!,
    csvDelimiter: options.csv_delimiter ?? ',',
    csvHeader: options.csv_header ?? true,
    parquetRowGroupRows: options.parquet_row_group_rows ?? DEFAULT_PARQUET_ROW_GROUP_ROWS,
    parquetRowGroupBytes: options.parquet_row_group_bytes ?? DEFAULT_PARQUET_ROW_GROUP_BYTES,
  };
}

/**
 * The file name extension for a format and compression, with the leading dot: `.jsonl`, `.jsonl.gz`,
 * `.csv`, `.csv.gz`, `.arrow`, `.parquet` (Parquet compresses inside the file, so its name does not change).
 */
export function fileExtension(format: FileFormat, compression?: Compression): string {
  const base = `.${format}`;
  return (format === 'jsonl' || format === 'csv') && compression === 'gzip' ? `${base}.gz` : base;
}

/** The media type to store with an object of this format (for example as an OSS Content-Type). */
export function contentType(format: FileFormat, compression?: Compression): string {
  if ((format === 'jsonl' || format === 'csv') && compression === 'gzip') return 'application/gzip';
  switch (format) {
    case 'jsonl':
      return 'application/jsonl';
    case 'csv':
      return 'text/csv; charset=utf-8';
    case 'arrow':
      return 'application/vnd.apache.arrow.file';
    case 'parquet':
      return 'application/vnd.apache.parquet';
  }
}

