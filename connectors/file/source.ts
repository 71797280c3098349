import type { Dirent, Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { Schema } from 'apache-arrow';
import { type FactoryContext, defineSource } from '../../src/api/connector.js';
import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import type { Logger } from '../../src/api/logger.js';
import { byteSize, z } from '../../src/api/options.js';
import type {
  Source,
  SourceReader,
  SourceReaderContext,
  SourceSplit,
  SplitChunk,
  SplitEnumerator,
  SplitEnumeratorContext,
  SplitReader,
} from '../../src/api/source.js';
import { SplitQueueReader } from '../../src/api/split-queue-reader.js';
import { splitByteRanges } from '../../src/formats/byte-range.js';
import { COLUMN_TYPE_HELP, columnType, schemaOfColumns } from '../../src/formats/column-types.js';
import { createDecoder, type DecodeOptions, inferSchema, localFile } from '../../src/formats/decoder.js';
import { fileKind, KNOWN_EXTENSIONS } from '../../src/formats/file-kind.js';
import { FILE_FORMATS, type FileFormat, formatOptionsSchema, refineFormatOptions } from '../../src/formats/options.js';
import { readParquetRowGroups } from '../../src/formats/parquet/parquet-decoder.js';
import { type ReadPosition, ResumableRead, samePosition } from '../../src/formats/resumable-read.js';
import { describeSchema, sameColumns, schemaFromText, schemaToText } from '../../src/formats/schema-text.js';

const { csv_delimiter, csv_header } = formatOptionsSchema.shape;

const column = z
  .object({
    name: z.string().min(1),
    type: z.string().refine((t) => columnType(t) !== undefined, { message: `unknown column type; use one of ${COLUMN_TYPE_HELP}` }),
    nullable: z.boolean().default(true),
  })
  .strict();

export const fileSourceOptions = z
  .object({
    path: z
      .string()
      .min(1)
      .meta({
        description:
          'A file, a directory (every file below it whose name says its format; names starting with . or _ are skipped) or a glob such as data/*.csv or logs/**/part-*.jsonl.gz; relative paths resolve against the working directory.',
      }),
    format: z
      .enum(['auto', ...FILE_FORMATS])
      .default('auto')
      .meta({ description: `auto (from each file's extension: ${KNOWN_EXTENSIONS}), or one of jsonl, csv, arrow, parquet for every file.` }),
    compression: z
      .enum(['none', 'gzip'])
      .optional()
      .meta({ description: 'JSON Lines and CSV files: gzip or none. Unset, a file is gzip when its name ends in .gz or its bytes start with the gzip magic. Parquet names its codecs inside the file.' }),
    csv_delimiter,
    csv_header,
    columns: z
      .array(column)
      .min(1)
      .optional()
      .meta({
        description: `JSON Lines and CSV: the columns to read, [{name, type, nullable}], instead of inferring them from the first file. Types: ${COLUMN_TYPE_HELP}.`,
        typeName: 'array',
      }),
    split_size: byteSize()
      .prefault('64MiB')
      .meta({ description: 'Uncompressed CSV and JSON Lines files larger than this are read as byte-range splits; Parquet row groups are grouped into splits of about this many compressed bytes.' }),
    chunk_rows: z.number().int().min(1).default(8192).meta({ description: 'Rows per batch (and per read under the checkpoint lock).' }),
    infer_rows: z.number().int().min(1).default(1000).meta({ description: 'JSON Lines / CSV without columns: rows of the first file sampled to infer the column types.' }),
  })
  .superRefine((value, ctx) => {
    if (value.format !== 'auto') refineFormatOptions({ ...value, format: value.format }, ctx);
    else {
      // With auto, compression can only say that the text files are gzipped.
      refineFormatOptions({ ...value, format: 'csv' }, ctx);
    }
    if (value.columns && (value.format === 'arrow' || value.format === 'parquet')) {
      ctx.addIssue({ code: 'custom', path: ['columns'], message: `${value.format} files carry their own schema; leave columns out (it applies to jsonl and csv)` });
    }
    const names = new Set<string>();
    value.columns?.forEach((c, i) => {
      if (names.has(c.name)) ctx.addIssue({ code: 'custom', path: ['columns', i, 'name'], message: `column "${c.name}" is declared twice` });
      names.add(c.name);
    });
  });

export type FileSourceOptions = z.output<typeof fileSourceOptions>;

/**
 * A file, or a part of one: a byte range `[start, end)` of an uncompressed CSV / JSON Lines file, or the
 * row groups `[start, end)` of a Parquet file. `resume` and `skip` say where a restored reader continues
 * (see ReadPosition); `rows` counts the rows already emitted.
 */
export interface FileSplit extends SourceSplit {
  splitId: string;
  path: string;
  size: number;
  mtimeMs: number;
  format: FileFormat;
  gzip: boolean;
  unit: 'file' | 'bytes' | 'row_groups';
  start: number;
  end: number;
  resume: number | null;
  skip: number;
  rows: number;
}

interface EnumeratorState {
  pending: FileSplit[];
  listed: boolean;
  [key: string]: Json;
}

interface Prepared {
  schema: string;
  [key: string]: Json;
}

function fileError(code: string, message: string, path: string, cause?: unknown): TidewayError {
  return new TidewayError(code, message, { context: { connector: 'file', path }, ...(cause === undefined ? {} : { cause }) });
}

const GLOB_CHARS = /[*?[{]/;

/** Whether a path segment is one the sink keeps beside its data (`.tideway-staging`) or a hidden or marker file. */
function hidden(segment: string): boolean {
  return segment.startsWith('.') || segment.startsWith('_');
}

/**
 * A glob as a regular expression over `/`-separated relative paths: `*` and `?` stay inside a segment,
 * `**` spans segments, `[...]` is a character class, `{a,b}` an alternation.
 */
export function globPattern(glob: string): RegExp {
  let out = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        out += slash ? '(?:[^/]*/)*' : '.*';
        i += slash ? 2 : 1;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) out += '\\[';
      else {
        const body = glob.slice(i + 1, close);
        out += `[${body.startsWith('!') ? `^${body.slice(1)}` : body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else out += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** The longest leading part of a glob without glob characters: where listing starts. */
function globBase(pattern: string): string {
  const parts = pattern.split('/');
  const fixed: string[] = [];
  for (const part of parts.slice(0, -1)) {
    if (GLOB_CHARS.test(part)) break;
    fixed.push(part);
  }
  return fixed.join('/') || (pattern.startsWith('/') ? '/' : '.');
}

interface Listed {
  path: string;
  info: Stats;
}

/** Collects the files below `dir` in name order; `visit` decides which files to keep and folders to enter. */
async function walk(dir: string, visit: (path: string, directory: boolean) => boolean, out: string[], signal: AbortSignal, seen = new Set<string>()): Promise<void> {
  signal.throwIfAborted();
  // A link back to a folder above would make the walk endless: each real folder is entered once.
  const real = await realpath(dir).catch(() => dir);
  if (seen.has(real)) return;
  seen.add(real);
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw fileError('FILE_SOURCE_UNREADABLE', `cannot list directory ${dir} for the file source: ${(error as Error).message}`, dir, error);
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (hidden(entry.name)) continue;
    const path = join(dir, entry.name);
    let directory = entry.isDirectory();
    let file = entry.isFile();
    if (entry.isSymbolicLink()) {
      // A link counts as what it points to; a dangling one is skipped like any other non-file.
      const target = await stat(path).catch(() => undefined);
      directory = target?.isDirectory() ?? false;
      file = target?.isFile() ?? false;
    }
    if ((!directory && !file) || !visit(path, directory)) continue;
    if (directory) await walk(path, visit, out, signal, seen);
    else out.push(path);
  }
}

/**
 * Reads JSON Lines, CSV, Arrow IPC and Parquet files: one file, the files under a directory, or a glob.
 * Splits are files, byte ranges of large uncompressed text files (a record belongs to the range in which
 * it starts) and groups of Parquet row groups. Readers read bounded chunks and keep their position in the
 * split (the byte where the next record starts, or rows to skip), so a restored reader continues in the
 * middle of a file without reading a row twice.
 */
export class FileSource implements Source<FileSplit, EnumeratorState> {
  readonly boundedness = 'bounded' as const;
  private readonly target: string;
  private readonly baseDir: string;
  private readonly logger: Logger;
  private listing: Promise<FileSplit[]> | undefined;
  private schemaValue: Schema | undefined;

  constructor(
    private readonly options: FileSourceOptions,
    factory: Pick<FactoryContext, 'baseDir' | 'logger'>,
  ) {
    this.target = resolve(factory.baseDir, options.path);
    this.baseDir = factory.baseDir;
    this.logger = factory.logger;
  }

  async prepare({ signal }: { signal: AbortSignal }): Promise<Prepared> {
    const schema = await this.schema({ signal });
    return { schema: schemaToText(schema) };
  }

  /** `tideway check --connect`: the path exists, and names at least one readable file. Reads nothing else. */
  async check({ signal }: { signal: AbortSignal }): Promise<void> {
    await this.listFiles(signal);
  }

  async schema({ signal }: { signal: AbortSignal }): Promise<Schema> {
    if (this.schemaValue) return this.schemaValue;
    const splits = await this.splits(signal);
    if (this.options.columns) {
      const textual = splits.find((s) => s.format === 'arrow' || s.format === 'parquet');
      if (textual) {
        throw fileError('FILE_SOURCE_COLUMNS', `columns is set, but ${textual.path} is ${textual.format}, which carries its own schema; leave columns out or read only JSON Lines and CSV files`, textual.path);
      }
      this.schemaValue = schemaOfColumns(this.options.columns);
      return this.schemaValue;
    }
    const first = splits[0]!;
    this.schemaValue = await inferSchema(first.format, localFile(first.path), {
      name: first.path,
      signal,
      inferRows: this.options.infer_rows,
      csv_delimiter: this.options.csv_delimiter,
      csv_header: this.options.csv_header,
      ...(first.format === 'csv' || first.format === 'jsonl' ? { compression: first.gzip ? ('gzip' as const) : ('none' as const) } : {}),
    });
    if (this.schemaValue.fields.length === 0) {
      throw fileError('FILE_SOURCE_NO_COLUMNS', `${first.path} is empty, so the file source cannot infer its columns; declare them with the columns option or start with a non-empty file`, first.path);
    }
    return this.schemaValue;
  }

  /** The files to read, in path order, with their kinds. */
  private async listFiles(signal: AbortSignal): Promise<{ path: string; info: Stats; format: FileFormat; gzip: boolean }[]> {
    const target = this.target;
    const isGlob = GLOB_CHARS.test(this.options.path);
    const listed: Listed[] = [];
    const unknown: string[] = [];
    if (!isGlob) {
      let info: Stats;
      try {
        info = await stat(target);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          throw fileError('FILE_SOURCE_NOT_FOUND', `file source path ${target} does not exist; check path (a relative path resolves against ${this.baseDir})`, target, error);
        }
        throw fileError('FILE_SOURCE_UNREADABLE', `cannot read file source path ${target}: ${(error as Error).message}`, target, error);
      }
      if (info.isFile()) {
        const kind = fileKind(target, this.options);
        if (!kind) throw fileError('FILE_SOURCE_FORMAT', `${target}: its extension names no format (${KNOWN_EXTENSIONS}); set format to jsonl, csv, arrow or parquet`, target);
        return [{ path: target, info, ...kind }];
      }
      const paths: string[] = [];
      await walk(target, () => true, paths, signal);
      for (const path of paths) listed.push({ path, info: await stat(path) });
    } else {
      const base = resolve(globBase(target.split(sep).join('/')));
      const pattern = globPattern(target.split(sep).join('/'));
      const paths: string[] = [];
      try {
        await stat(base);
      } catch (error) {
        throw fileError('FILE_SOURCE_NOT_FOUND', `the glob ${this.options.path} matches no file: its directory ${base} does not exist; check path`, base, error);
      }
      await walk(base, (path, directory) => directory || pattern.test(path.split(sep).join('/')), paths, signal);
      for (const path of paths) listed.push({ path, info: await stat(path) });
    }
    const files: { path: string; info: Stats; format: FileFormat; gzip: boolean }[] = [];
    for (const { path, info } of listed) {
      const kind = fileKind(path, this.options);
      if (kind) files.push({ path, info, ...kind });
      else unknown.push(path);
    }
    if (unknown.length > 0) {
      this.logger.warn(`skipping ${unknown.length} file(s) whose extension names no format; set format to read them`, { source: 'file', example: unknown[0] });
    }
    if (files.length === 0) {
      const what = isGlob ? `the glob ${this.options.path} (under ${globBase(target)})` : `directory ${target}`;
      throw fileError(
        'FILE_SOURCE_EMPTY',
        `${what} holds no file to read${unknown.length > 0 ? ` (${unknown.length} file(s) with an unknown extension, such as ${basename(unknown[0]!)}; set format)` : ''}; names starting with . or _ are skipped. Check path`,
        target,
      );
    }
    return files;
  }

  /** Lists once per Source object (schema and enumerator share it). */
  private splits(signal: AbortSignal): Promise<FileSplit[]> {
    this.listing ??= this.list(signal);
    return this.listing;
  }

  private async list(signal: AbortSignal): Promise<FileSplit[]> {
    const splits: FileSplit[] = [];
    // Split ids are paths relative to the directory or the glob's fixed part: short, and unique in the job.
    const root = GLOB_CHARS.test(this.options.path) ? resolve(globBase(this.target.split(sep).join('/'))) : this.target;
    for (const file of await this.listFiles(signal)) {
      const id = relative(root, file.path) || basename(file.path);
      const base = { path: file.path, size: file.info.size, mtimeMs: file.info.mtimeMs, format: file.format, gzip: file.gzip, resume: null, skip: 0, rows: 0 };
      const text = file.format === 'csv' || file.format === 'jsonl';
      if (text && !file.gzip && file.info.size > this.options.split_size) {
        for (const r of splitByteRanges(file.info.size, this.options.split_size)) {
          splits.push({ splitId: `${id}#bytes=${r.start}-${r.end}`, ...base, unit: 'bytes', start: r.start, end: r.end });
        }
      } else if (file.format === 'parquet') {
        const groups = await readParquetRowGroups(localFile(file.path), file.path);
        let first = 0;
        let bytes = 0;
        for (let g = 0; g < groups.length; g++) {
          bytes += groups[g]!.bytes;
          if (bytes >= this.options.split_size || g === groups.length - 1) {
            splits.push({ splitId: `${id}#row_groups=${first}-${g + 1}`, ...base, unit: 'row_groups', start: first, end: g + 1 });
            first = g + 1;
            bytes = 0;
          }
        }
        if (groups.length === 0) splits.push({ splitId: id, ...base, unit: 'file', start: 0, end: file.info.size });
      } else {
        splits.push({ splitId: id, ...base, unit: 'file', start: 0, end: file.info.size });
      }
    }
    return splits;
  }

  async createEnumerator(context: SplitEnumeratorContext<FileSplit>): Promise<SplitEnumerator<FileSplit, EnumeratorState>> {
    return new FileEnumerator(context, () => this.splits(context.signal), undefined);
  }

  async restoreEnumerator(context: SplitEnumeratorContext<FileSplit>, state: EnumeratorState): Promise<SplitEnumerator<FileSplit, EnumeratorState>> {
    return new FileEnumerator(context, () => this.splits(context.signal), state.listed ? state.pending : undefined);
  }

  async createReader(context: SourceReaderContext): Promise<SourceReader<FileSplit>> {
    const encoded = (context.prepared as Partial<Prepared> | undefined)?.schema;
    const schema = typeof encoded === 'string' ? schemaFromText(encoded) : await this.schema({ signal: context.signal });
    return new SplitQueueReader(context, new FileSplitReader(this.options, schema), { chunkRows: this.options.chunk_rows });
  }
}

/** Hands out one split per request, so that readers finishing early take more and sizes balance. */
class FileEnumerator implements SplitEnumerator<FileSplit, EnumeratorState> {
  private pending: FileSplit[] = [];
  private listed: boolean;
  private readonly waiting = new Set<number>();
  private total: number;

  constructor(
    private readonly context: SplitEnumeratorContext<FileSplit>,
    private readonly list: () => Promise<FileSplit[]>,
    restored: FileSplit[] | undefined,
  ) {
    this.listed = restored !== undefined;
    if (restored) this.pending = [...restored];
    this.total = this.pending.length;
  }

  async run(): Promise<void> {
    if (!this.listed) {
      // Splits given back before the listing (a restore) keep their position; the listing adds the rest.
      const known = new Set(this.pending.map((s) => s.splitId));
      this.pending.push(...(await this.list()).filter((s) => !known.has(s.splitId)));
      this.listed = true;
      this.total = this.pending.length;
    }
    for (const reader of [...this.waiting]) this.handleSplitRequest(reader);
  }

  registerReader(): void {}

  handleSplitRequest(readerId: number): void {
    if (!this.listed) {
      this.waiting.add(readerId);
      return;
    }
    this.waiting.delete(readerId);
    const split = this.pending.shift();
    if (split) this.context.assignSplit(readerId, [split]);
    else this.context.signalNoMoreSplits(readerId);
  }

  addSplitsBack(splits: FileSplit[]): void {
    const known = new Set(this.pending.map((s) => s.splitId));
    this.pending.unshift(...splits.filter((s) => !known.has(s.splitId)));
    this.total = Math.max(this.total, this.pending.length);
  }

  snapshotState(): EnumeratorState {
    return { pending: [...this.pending], listed: this.listed };
  }

  progress() {
    return { totalSplits: this.total };
  }

  async close(): Promise<void> {}
}

function positionOf(split: FileSplit): ReadPosition {
  return { resume: split.resume, skip: split.skip };
}

/**
 * Reads one split in chunks, keeping the decode open between chunks. A split whose position differs from
 * the open decode's (a restore, a split handed back) is opened again at its position: text files from the
 * byte where the next record starts, Parquet at its row groups skipping the rows already emitted, Arrow and
 * gzip files skipping rows.
 */
export class FileSplitReader implements SplitReader<FileSplit> {
  private readonly live = new Map<string, ResumableRead>();
  private readonly headers = new Map<string, readonly string[]>();

  constructor(
    private readonly options: FileSourceOptions,
    private readonly schema: Schema,
  ) {}

  async read(split: FileSplit, { maxRows, signal }: { maxRows: number; signal: AbortSignal }): Promise<SplitChunk<FileSplit>> {
    let live = this.live.get(split.splitId);
    if (!live || !samePosition(live.position, positionOf(split))) {
      await this.drop(split.splitId);
      live = await this.open(split, signal);
      this.live.set(split.splitId, live);
    }
    let chunk: Awaited<ReturnType<ResumableRead['next']>>;
    try {
      chunk = await live.next(maxRows);
    } catch (error) {
      await this.drop(split.splitId);
      throw splitAdvice(error, split);
    }
    if ('done' in chunk) {
      await this.drop(split.splitId);
      return { batches: [], next: split, finished: true };
    }
    const { batch, position } = chunk;
    if (!sameColumns(this.schema, batch.schema)) {
      await this.drop(split.splitId);
      throw fileError(
        'FILE_SOURCE_SCHEMA_MISMATCH',
        `${split.path} has columns (${describeSchema(batch.schema)}), but the job reads (${describeSchema(this.schema)})${this.options.columns ? ' as declared in columns' : ', inferred from the first file'}; read files of one schema per job (narrow path), or declare columns`,
        split.path,
      );
    }
    return { batches: [batch], next: { ...split, resume: position.resume, skip: position.skip, rows: split.rows + batch.numRows }, finished: false };
  }

  private async open(split: FileSplit, signal: AbortSignal): Promise<ResumableRead> {
    let info: Stats;
    try {
      info = await stat(split.path);
    } catch (error) {
      throw fileError('FILE_SOURCE_NOT_FOUND', `${split.path} was listed by the job but is gone; put it back to let the job read it`, split.path, error);
    }
    if (info.size !== split.size || info.mtimeMs !== split.mtimeMs) {
      throw fileError(
        'FILE_SOURCE_CHANGED',
        `${split.path} changed since the job listed it (${split.size} bytes, modified ${new Date(split.mtimeMs).toISOString()}; now ${info.size} bytes, modified ${info.mtime.toISOString()}); a job reads files that stay put. Put the original back to finish this run; to read the new content, start over with --fresh into a target that does not yet hold this run's rows`,
        split.path,
      );
    }
    const text = split.format === 'csv' || split.format === 'jsonl';
    const decoder = createDecoder(split.format, {
      batchRows: this.options.chunk_rows,
      csv_delimiter: this.options.csv_delimiter,
      csv_header: this.options.csv_header,
      ...(text ? { compression: split.gzip ? ('gzip' as const) : ('none' as const), schema: this.schema } : {}),
    });
    const decodeOptions: DecodeOptions = { name: split.path, signal, skipRows: split.skip };
    if (split.unit === 'bytes') decodeOptions.range = { start: split.start, end: split.end };
    if (split.unit === 'row_groups') decodeOptions.rowGroups = Array.from({ length: split.end - split.start }, (_, i) => split.start + i);
    if (split.resume !== null) decodeOptions.resumeAt = split.resume;
    if (split.format === 'csv' && this.options.csv_header && (split.resume !== null || split.unit === 'bytes')) {
      decodeOptions.csvColumns = await this.header(split, signal);
    }
    const batches = decoder.decodePositioned(localFile(split.path), decodeOptions)[Symbol.asyncIterator]();
    return new ResumableRead(batches, positionOf(split));
  }

  /** The header of a CSV file, for reads that start after it (later byte ranges, resume points). */
  private async header(split: FileSplit, signal: AbortSignal): Promise<readonly string[]> {
    let names = this.headers.get(split.path);
    if (!names) {
      const schema = await inferSchema('csv', localFile(split.path), { name: split.path, signal, inferRows: 1, csv_delimiter: this.options.csv_delimiter, csv_header: true, compression: 'none' });
      names = schema.fields.map((f) => f.name);
      this.headers.set(split.path, names);
    }
    return names;
  }

  private async drop(splitId: string): Promise<void> {
    const live = this.live.get(splitId);
    if (!live) return;
    this.live.delete(splitId);
    await live.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    for (const id of [...this.live.keys()]) await this.drop(id);
  }
}

/** A CSV byte range that meets a quoted line break cannot be read that way: say which option reads it whole. */
function splitAdvice(error: unknown, split: FileSplit): unknown {
  if (!(error instanceof TidewayError) || error.code !== 'FORMAT_CSV_PARSE' || split.unit !== 'bytes' || !error.message.includes('byte ranges')) return error;
  return new TidewayError('FORMAT_CSV_PARSE', `${error.message}: set split_size above the file's size (${split.size} bytes) so that the file source reads it as one split`, {
    cause: error,
    context: error.context,
  });
}

export const fileSource = defineSource({
  options: fileSourceOptions,
  create: (options, context) => new FileSource(options, context),
});
