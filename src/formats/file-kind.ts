import type { Compression, FileFormat } from './options.js';

/** What a file name says about its content. */
export interface FileKind {
  format: FileFormat;
  /** JSON Lines and CSV compressed as a whole with gzip. */
  gzip: boolean;
}

/** Extensions the sources recognise when `format` is `auto`. */
const EXTENSIONS: [RegExp, FileFormat, boolean][] = [
  [/\.(jsonl|ndjson|json)$/i, 'jsonl', false],
  [/\.(jsonl|ndjson|json)\.gz$/i, 'jsonl', true],
  [/\.csv$/i, 'csv', false],
  [/\.csv\.gz$/i, 'csv', true],
  [/\.(arrow|arrows|feather|ipc)$/i, 'arrow', false],
  [/\.(parquet|parq)$/i, 'parquet', false],
];

/** The extensions `auto` understands, for messages. */
export const KNOWN_EXTENSIONS = '.jsonl, .ndjson, .json, .csv (each optionally .gz), .arrow, .feather, .ipc, .parquet';

/**
 * The format of a file or object from a `format` option, or from its name when the option is `auto`
 * (undefined for a name that says nothing). With a fixed text format, gzip follows `compression`, else a
 * `.gz` suffix.
 */
export function fileKind(name: string, options: { format: FileFormat | 'auto'; compression?: Compression | undefined }): FileKind | undefined {
  if (options.format !== 'auto') {
    const gzip = options.compression === 'gzip' || (options.compression === undefined && /\.gz$/i.test(name));
    return { format: options.format, gzip: (options.format === 'jsonl' || options.format === 'csv') && gzip };
  }
  const byName = EXTENSIONS.find(([pattern]) => pattern.test(name));
  if (!byName) return undefined;
  return { format: byName[1], gzip: byName[2] || options.compression === 'gzip' };
}
