import { type Data, makeData, RecordBatch, type Schema, Struct } from 'apache-arrow';
import { TidewayError } from '../../api/errors.js';
import type { ByteRange } from '../byte-range.js';
import { CsvScanner, CsvSyntaxError, type CsvFields, INCOMPLETE } from './csv-parser.js';
import { fieldText } from './field-bytes.js';
import { inferCsvSchema, inferJsonSchema } from './infer.js';
import { type ByteBlock, bomLength, byteBlocks, lineOffset, type StreamInput, type TextBlock, textBlocks } from './line-blocks.js';
import { type ColumnBuilder, makeColumnBuilder, ValueError } from './text-to-arrow.js';

export interface TextDecodeSettings {
  format: 'jsonl' | 'csv';
  schema: Schema | undefined;
  batchRows: number;
  inferRows: number;
  delimiter: string;
  header: boolean;
  compression: 'none' | 'gzip' | undefined;
  name: string;
  range: ByteRange | undefined;
  inputOffset: number | undefined;
  /** The input starts at this byte, where a record begins (a resume point from an earlier batch's `next`). */
  resumeAt?: number | undefined;
  /** CSV: the header of the file, for inputs that start after it (a later byte range, a resume point). */
  csvColumns?: readonly string[] | undefined;
  signal: AbortSignal | undefined;
  /** Called once the schema is known (given, or inferred), even when the input has no rows. */
  onSchema?: (schema: Schema) => void;
}

/**
 * A batch and the byte offset where the record after its last row begins (a resume point); undefined
 * for gzip input, whose offsets cannot be sought to.
 */
export interface PositionedBatch {
  batch: RecordBatch;
  next: number | undefined;
}

/** The records parsed from one block, with the line each starts on and the offset after each. */
interface Group<T> {
  block: TextBlock;
  firstLine: number;
  records: T[];
  lines: number[];
  ends: number[];
}

type JsonRecord = Record<string, unknown>;

/** Decodes JSON Lines or CSV into batches of at most `batchRows` rows, each with its resume point. */
export async function* decodeText(input: StreamInput, settings: TextDecodeSettings): AsyncGenerator<PositionedBatch> {
  const { range, name } = settings;
  if (range && !settings.schema) {
    throw new TidewayError(
      'FORMAT_SCHEMA_REQUIRED',
      `${name}: reading bytes ${range.start}-${range.end} needs a schema, so that every split of the file reads the same column types; infer it once from the start of the file (inferSchema) and pass it to every reader`,
      { context: { path: name } },
    );
  }
  if (settings.resumeAt !== undefined && settings.resumeAt > 0 && !settings.schema) {
    throw new TidewayError('FORMAT_SCHEMA_REQUIRED', `${name}: resuming at byte ${settings.resumeAt} needs the schema the earlier read used; pass it`, {
      context: { path: name },
    });
  }
  yield* settings.format === 'jsonl' ? decodeJson(input, settings) : decodeCsv(input, settings);
}

/** Where a record is, for error messages. */
function place(settings: TextDecodeSettings, offset: number | undefined, line: number): string {
  const { name, range, resumeAt } = settings;
  if (resumeAt !== undefined && resumeAt > 0) return `${name}, byte ${offset ?? '?'} (line ${line} after the resume point at byte ${resumeAt})`;
  if (range && range.start > 0) return `${name}, byte ${offset ?? '?'} (line ${line} of the byte range ${range.start}-${range.end})`;
  return `${name}, line ${line}${offset === undefined ? '' : ` (byte ${offset})`}`;
}

function blockSettings(settings: TextDecodeSettings) {
  return { ...settings, resumeAt: settings.resumeAt !== undefined && settings.resumeAt > 0 ? settings.resumeAt : undefined };
}

async function* jsonGroups(input: StreamInput, settings: TextDecodeSettings): AsyncGenerator<Group<JsonRecord>> {
  let line = 0;
  for await (const block of textBlocks(input, blockSettings(settings))) {
    const group: Group<JsonRecord> = { block, firstLine: line + 1, records: [], lines: [], ends: [] };
    const text = block.text;
    const bytes = block.bytes;
    let pos = 0;
    let bytePos = 0;
    while (pos < text.length) {
      let end = text.indexOf('\n', pos);
      if (end < 0) end = text.length;
      const byteEnd = bytes.indexOf(10, bytePos);
      bytePos = byteEnd < 0 ? bytes.length : byteEnd + 1;
      line++;
      let body = text.slice(pos, end);
      pos = end + 1;
      if (body.length === 0 || (body.charCodeAt(0) <= 32 && body.trim() === '')) continue;
      if (body.charCodeAt(body.length - 1) === 13) body = body.slice(0, -1);
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch (error) {
        throw new TidewayError(
          'FORMAT_JSONL_PARSE',
          `${place(settings, lineOffset(block, line - group.firstLine), line)}: not valid JSON (${(error as Error).message}): ${preview(body)}; each line of a JSON Lines file must be one complete JSON object`,
          { cause: error, context: { path: settings.name, line } },
        );
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new TidewayError(
          'FORMAT_JSONL_PARSE',
          `${place(settings, lineOffset(block, line - group.firstLine), line)}: expected a JSON object, got ${preview(body)}; each line of a JSON Lines file must be one object whose keys are the columns`,
          { context: { path: settings.name, line } },
        );
      }
      group.records.push(value as JsonRecord);
      group.lines.push(line);
      group.ends.push(block.gzip ? Number.NaN : block.offset + bytePos);
    }
    if (group.records.length > 0) yield group;
  }
}

/** Collects up to `inferRows` records from the first groups (for inference) and hands back the rest. */
async function sample<T>(groups: AsyncGenerator<Group<T>>, rows: number): Promise<{ head: Group<T>[]; done: boolean }> {
  const head: Group<T>[] = [];
  let count = 0;
  while (count < rows) {
    const next = await groups.next();
    if (next.done) return { head, done: true };
    head.push(next.value);
    count += next.value.records.length;
  }
  return { head, done: false };
}

/** `head`, then the rest of `rest`; ends `rest` (and so its input) when the caller stops early. */
async function* chain<T>(head: T[], rest: AsyncIterator<T>, done: boolean): AsyncGenerator<T> {
  try {
    yield* head;
    if (done) return;
    for (;;) {
      const next = await rest.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    if (!done) await rest.return?.();
  }
}

class BatchMaker {
  readonly builders: ColumnBuilder[];
  rows = 0;

  constructor(
    readonly schema: Schema,
    name: string,
  ) {
    try {
      this.builders = schema.fields.map((f) => makeColumnBuilder(f));
    } catch (error) {
      if (!(error instanceof ValueError)) throw error;
      throw new TidewayError('FORMAT_UNSUPPORTED_TYPE', `${name}: ${error.message}`, { cause: error, context: { path: name } });
    }
  }

  take(): RecordBatch {
    const children: Data[] = this.builders.map((b) => b.finish());
    const data = makeData({ type: new Struct(this.schema.fields), length: this.rows, nullCount: 0, children });
    this.rows = 0;
    return new RecordBatch(this.schema, data);
  }
}

function valueError(error: unknown, location: string, column: string, name: string, line: number): unknown {
  if (!(error instanceof ValueError)) return error;
  return new TidewayError('FORMAT_VALUE', `${location}, column "${column}": ${error.message}; fix the value or declare the column with a type that holds it`, {
    cause: error,
    context: { path: name, line, column },
  });
}

async function* decodeJson(input: StreamInput, settings: TextDecodeSettings): AsyncGenerator<PositionedBatch> {
  const groups = jsonGroups(input, settings);
  let schema = settings.schema;
  let source: AsyncGenerator<Group<JsonRecord>> = groups;
  const inferred = !schema;
  if (!schema) {
    const { head, done } = await sample(groups, settings.inferRows);
    schema = inferJsonSchema(head.flatMap((g) => g.records).slice(0, settings.inferRows));
    source = chain(head, groups, done);
  }
  settings.onSchema?.(schema);
  const maker = new BatchMaker(schema, settings.name);
  const names = schema.fields.map((f) => f.name);
  const known = new Set(names);
  const builders = maker.builders;
  let next = 0;
  for await (const group of source) {
    const { records, lines, ends } = group;
    const where = (r: number) => place(settings, lineOffset(group.block, lines[r]! - group.firstLine), lines[r]!);
    for (let r = 0; r < records.length; r++) {
      const record = records[r]!;
      let k = 0;
      try {
        if (inferred) {
          for (const key in record) {
            if (!known.has(key)) {
              throw new TidewayError(
                'FORMAT_JSONL_SCHEMA',
                `${where(r)}: key "${key}" did not occur in the first ${settings.inferRows} lines, from which the columns were inferred; pass a schema that has it`,
                { context: { path: settings.name, line: lines[r]! } },
              );
            }
          }
        }
        for (; k < names.length; k++) builders[k]!.appendJson(record[names[k]!]);
      } catch (error) {
        throw valueError(error, where(r), names[k] ?? '', settings.name, lines[r]!);
      }
      next = ends[r]!;
      if (++maker.rows === settings.batchRows) yield { batch: maker.take(), next: seekable(next) };
    }
  }
  if (maker.rows > 0) yield { batch: maker.take(), next: seekable(next) };
}

function seekable(offset: number): number | undefined {
  return Number.isNaN(offset) ? undefined : offset;
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * CSV in two passes over the first blocks: the look-ahead reads the header and the records sampled for
 * inference as strings; then every record, from the first, is scanned again and parsed from its bytes
 * straight into the column builders (no string or array per record).
 */
async function* decodeCsv(input: StreamInput, settings: TextDecodeSettings): AsyncGenerator<PositionedBatch> {
  const { name, range } = settings;
  const resumed = settings.resumeAt !== undefined && settings.resumeAt > 0;
  const multiline = range === undefined;
  const expectHeader = settings.header && !resumed && (!range || range.start === 0);
  const blocks = byteBlocks(input, blockSettings(settings));
  const syntax = (error: unknown, offset: number): unknown => {
    if (!(error instanceof CsvSyntaxError)) return error;
    return new TidewayError('FORMAT_CSV_PARSE', `${place(settings, offset, error.line)}: ${error.message}`, {
      cause: error,
      context: { path: name, line: error.line },
    });
  };

  // Look-ahead: the header and the inference sample, holding the blocks they came from.
  const held: ByteBlock[] = [];
  let header: string[] | undefined;
  const sampled: CsvFields[] = [];
  let exhausted = false;
  if (expectHeader || !settings.schema) {
    const scanner = new CsvScanner(settings.delimiter, multiline);
    let carry: ByteBlock | undefined;
    let wantHeader = expectHeader;
    look: for (;;) {
      const next = await blocks.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      held.push(next.value);
      const bytes = carry ? concatBytes(carry.bytes, next.value.bytes) : next.value.bytes;
      const offset = carry ? carry.offset : next.value.offset;
      carry = undefined;
      let pos = bomLength({ bytes, offset, final: next.value.final });
      while (pos < bytes.length) {
        let after: number;
        try {
          after = scanner.scan(bytes, pos, bytes.length, next.value.final);
        } catch (error) {
          throw syntax(error, offset + pos);
        }
        if (after === INCOMPLETE) {
          carry = { bytes: bytes.subarray(pos), offset: offset + pos, final: false };
          break;
        }
        pos = after;
        const fields = scanner.fields(bytes, fieldText);
        if (wantHeader) {
          header = fields.map((n, i) => n ?? `column_${i + 1}`);
          wantHeader = false;
          if (settings.schema) break look;
          continue;
        }
        sampled.push(fields);
        if (sampled.length >= settings.inferRows) break look;
      }
    }
    if (expectHeader && header === undefined) {
      if (settings.schema) settings.onSchema?.(settings.schema);
      else settings.onSchema?.(inferCsvSchema([], []));
      return;
    }
  }

  const known = header ?? (settings.header && settings.csvColumns ? [...settings.csvColumns] : undefined);
  let schema = settings.schema;
  if (!schema) {
    const names = known ?? Array.from({ length: sampled[0]?.length ?? 0 }, (_, i) => `column_${i + 1}`);
    schema = inferCsvSchema(names, sampled);
  }
  if (range && header && !settings.csvColumns && header.join('\u0000') !== schema.fields.map((f) => f.name).join('\u0000')) {
    // Ranges after the first cannot see the header and, without csvColumns, map columns by position, so the order must match.
    throw new TidewayError(
      'FORMAT_CSV_COLUMNS',
      `${name}: byte-range reads map CSV columns by position, but the header (${header.join(', ')}) differs from the schema (${schema.fields.map((f) => f.name).join(', ')}); pass a schema in the file's column order (inferSchema gives one)`,
      { context: { path: name } },
    );
  }
  // Which CSV column feeds each schema field: by header name when the header is known, else by position.
  const width = known?.length ?? schema.fields.length;
  const columns = Int32Array.from(
    schema.fields.map((f, k) => {
      if (!known) return k;
      const at = known.indexOf(f.name);
      if (at < 0) {
        throw new TidewayError(
          'FORMAT_CSV_COLUMNS',
          `${name}: the header has no column "${f.name}", which the schema needs; the header has ${known.map((h) => `"${h}"`).join(', ')}`,
          { context: { path: name, column: f.name } },
        );
      }
      return at;
    }),
  );

  settings.onSchema?.(schema);
  const maker = new BatchMaker(schema, name);
  const builders = maker.builders;
  const fieldNames = schema.fields.map((f) => f.name);
  const batchRows = settings.batchRows;
  const scanner = new CsvScanner(settings.delimiter, multiline);
  // Records are collected as a matrix of field positions (row x width) and appended a column at a time,
  // so that each builder runs one tight loop over its own fields.
  const capacity = Math.max(16, Math.min(batchRows, Math.floor((1 << 20) / Math.max(1, width))));
  const lines = new Int32Array(capacity);
  const offsets = new Float64Array(capacity);
  let rows = 0;
  const flush = (bytes: Uint8Array): void => {
    const { starts, ends, quoted } = scanner;
    for (let k = 0; k < builders.length; k++) {
      const builder = builders[k]!;
      const before = builder.length;
      try {
        builder.appendColumn(bytes, starts, ends, quoted, width, columns[k]!, rows);
      } catch (error) {
        const row = builder.length - before;
        throw valueError(error, place(settings, offsets[row], lines[row]!), fieldNames[k] ?? '', name, lines[row]!);
      }
    }
    maker.rows += rows;
    rows = 0;
  };
  let skipHeader = expectHeader;
  let carry: ByteBlock | undefined;
  let next = 0;
  for await (const block of chain(held, blocks, exhausted)) {
    const bytes = carry ? concatBytes(carry.bytes, block.bytes) : block.bytes;
    const offset = carry ? carry.offset : block.offset;
    carry = undefined;
    const length = bytes.length;
    let pos = bomLength({ bytes, offset, final: block.final });
    while (pos < length) {
      let after: number;
      try {
        after = scanner.scan(bytes, pos, length, block.final, rows * width);
      } catch (error) {
        throw syntax(error, offset + pos);
      }
      if (after === INCOMPLETE) {
        carry = { bytes: bytes.subarray(pos), offset: offset + pos, final: false };
        break;
      }
      const recordStart = pos;
      pos = after;
      if (skipHeader) {
        skipHeader = false;
        continue;
      }
      const count = scanner.count;
      if (count !== width) {
        // A blank line is a record of one null field: a null row of a one-column file, noise otherwise.
        const at = rows * width;
        if (count === 1 && scanner.quoted[at] === 0 && scanner.starts[at] === scanner.ends[at]) continue;
        throw new TidewayError(
          'FORMAT_CSV_PARSE',
          `${place(settings, offset + recordStart, scanner.recordLine)}: ${count} fields, but the ${known ? 'header has' : 'schema has'} ${width}; check the delimiter (${JSON.stringify(settings.delimiter)}) and that fields holding it are quoted`,
          { context: { path: name, line: scanner.recordLine } },
        );
      }
      lines[rows] = scanner.recordLine;
      offsets[rows] = offset + recordStart;
      rows++;
      next = block.gzip ? Number.NaN : offset + pos;
      if (rows === capacity || maker.rows + rows === batchRows) flush(bytes);
      if (maker.rows === batchRows) yield { batch: maker.take(), next: seekable(next) };
    }
    // Field positions point into this block's bytes: append them before the next block replaces it.
    if (rows > 0) flush(bytes);
  }
  if (maker.rows > 0) yield { batch: maker.take(), next: seekable(next) };
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
