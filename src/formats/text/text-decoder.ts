import { type Data, makeData, RecordBatch, type Schema, Struct } from 'apache-arrow';
import { TidewayError } from '../../api/errors.js';
import type { ByteRange } from '../byte-range.js';
import { CsvParser, CsvSyntaxError, type CsvFields } from './csv-parser.js';
import { inferCsvSchema, inferJsonSchema } from './infer.js';
import { type DecodeInput, lineOffset, type TextBlock, textBlocks } from './line-blocks.js';
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
  signal: AbortSignal | undefined;
  /** Called once the schema is known (given, or inferred), even when the input has no rows. */
  onSchema?: (schema: Schema) => void;
}

/** The records parsed from one block, with the line each starts on. */
interface Group<T> {
  block: TextBlock;
  firstLine: number;
  records: T[];
  lines: number[];
}

type JsonRecord = Record<string, unknown>;

/** Decodes JSON Lines or CSV into batches of at most `batchRows` rows. */
export async function* decodeText(input: DecodeInput, settings: TextDecodeSettings): AsyncGenerator<RecordBatch> {
  const { range, name } = settings;
  if (range && !settings.schema) {
    throw new TidewayError(
      'FORMAT_SCHEMA_REQUIRED',
      `${name}: reading bytes ${range.start}-${range.end} needs a schema, so that every split of the file reads the same column types; infer it once from the start of the file (inferSchema) and pass it to every reader`,
      { context: { path: name } },
    );
  }
  const where = (group: Group<unknown> | undefined, line: number): string => {
    const offset = group && line >= group.firstLine ? lineOffset(group.block, line - group.firstLine) : undefined;
    if (range) return `${name}, byte ${offset ?? '?'} (line ${line} of the byte range ${range.start}-${range.end})`;
    return `${name}, line ${line}${offset === undefined ? '' : ` (byte ${offset})`}`;
  };
  const groups = settings.format === 'jsonl' ? jsonGroups(input, settings, where) : csvGroups(input, settings, where);
  yield* settings.format === 'jsonl'
    ? buildJson(groups as AsyncGenerator<Group<JsonRecord>>, settings, where)
    : buildCsv(groups as AsyncGenerator<Group<CsvFields>>, settings, where);
}

type Where = (group: Group<unknown> | undefined, line: number) => string;

async function* jsonGroups(input: DecodeInput, settings: TextDecodeSettings, where: Where): AsyncGenerator<Group<JsonRecord>> {
  let line = 0;
  for await (const block of textBlocks(input, settings)) {
    const group: Group<JsonRecord> = { block, firstLine: line + 1, records: [], lines: [] };
    const text = block.text;
    let pos = 0;
    while (pos < text.length) {
      let end = text.indexOf('\n', pos);
      if (end < 0) end = text.length;
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
          `${where(group, line)}: not valid JSON (${(error as Error).message}): ${preview(body)}; each line of a JSON Lines file must be one complete JSON object`,
          { cause: error, context: { path: settings.name, line } },
        );
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new TidewayError(
          'FORMAT_JSONL_PARSE',
          `${where(group, line)}: expected a JSON object, got ${preview(body)}; each line of a JSON Lines file must be one object whose keys are the columns`,
          { context: { path: settings.name, line } },
        );
      }
      group.records.push(value as JsonRecord);
      group.lines.push(line);
    }
    if (group.records.length > 0) yield group;
  }
}

async function* csvGroups(input: DecodeInput, settings: TextDecodeSettings, where: Where): AsyncGenerator<Group<CsvFields>> {
  const parser = new CsvParser(settings.delimiter, settings.range === undefined);
  for await (const block of textBlocks(input, settings)) {
    const group: Group<CsvFields> = { block, firstLine: parser.line + 1, records: [], lines: [] };
    try {
      parser.parse(block.text, block.final, (fields, line) => {
        group.records.push(fields);
        group.lines.push(line);
      });
    } catch (error) {
      if (!(error instanceof CsvSyntaxError)) throw error;
      throw new TidewayError('FORMAT_CSV_PARSE', `${where(group, error.line)}: ${error.message}`, {
        cause: error,
        context: { path: settings.name, line: error.line },
      });
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

async function* chain<T>(head: Group<T>[], rest: AsyncGenerator<Group<T>>, done: boolean): AsyncGenerator<Group<T>> {
  yield* head;
  if (!done) yield* rest;
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

async function* buildJson(groups: AsyncGenerator<Group<JsonRecord>>, settings: TextDecodeSettings, where: Where): AsyncGenerator<RecordBatch> {
  let schema = settings.schema;
  let source = groups;
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
  for await (const group of source) {
    const { records, lines } = group;
    for (let r = 0; r < records.length; r++) {
      const record = records[r]!;
      let k = 0;
      try {
        if (inferred) {
          for (const key in record) {
            if (!known.has(key)) {
              throw new TidewayError(
                'FORMAT_JSONL_SCHEMA',
                `${where(group, lines[r]!)}: key "${key}" did not occur in the first ${settings.inferRows} lines, from which the columns were inferred; pass a schema that has it`,
                { context: { path: settings.name, line: lines[r]! } },
              );
            }
          }
        }
        for (; k < names.length; k++) builders[k]!.appendJson(record[names[k]!]);
      } catch (error) {
        throw valueError(error, where(group, lines[r]!), names[k] ?? '', settings.name, lines[r]!);
      }
      if (++maker.rows === settings.batchRows) yield maker.take();
    }
  }
  if (maker.rows > 0) yield maker.take();
}

async function* buildCsv(groups: AsyncGenerator<Group<CsvFields>>, settings: TextDecodeSettings, where: Where): AsyncGenerator<RecordBatch> {
  const { name } = settings;
  const expectHeader = settings.header && (!settings.range || settings.range.start === 0);
  let source = groups;
  let header: string[] | undefined;
  if (expectHeader) {
    const first = await groups.next();
    if (first.done) {
      if (settings.schema) settings.onSchema?.(settings.schema);
      return;
    }
    const group = first.value;
    header = group.records[0]!.map((n, i) => n ?? `column_${i + 1}`);
    group.records.shift();
    group.lines.shift();
    source = chain([group], groups, false);
  }

  let schema = settings.schema;
  if (!schema) {
    const { head, done } = await sample(source, settings.inferRows);
    const sampleRows = head.flatMap((g) => g.records).slice(0, settings.inferRows);
    const names = header ?? Array.from({ length: sampleRows[0]?.length ?? 0 }, (_, i) => `column_${i + 1}`);
    schema = inferCsvSchema(names, sampleRows);
    source = chain(head, source, done);
  }

  if (settings.range && header && header.join('\u0000') !== schema.fields.map((f) => f.name).join('\u0000')) {
    // Ranges after the first cannot see the header and map columns by position, so the order must match.
    throw new TidewayError(
      'FORMAT_CSV_COLUMNS',
      `${name}: byte-range reads map CSV columns by position, but the header (${header.join(', ')}) differs from the schema (${schema.fields.map((f) => f.name).join(', ')}); pass a schema in the file's column order (inferSchema gives one)`,
      { context: { path: name } },
    );
  }
  // Which CSV column feeds each schema field: by header name when there is a header, else by position.
  const width = header?.length ?? schema.fields.length;
  const columns = schema.fields.map((f, k) => {
    if (!header) return k;
    const at = header.indexOf(f.name);
    if (at < 0) {
      throw new TidewayError(
        'FORMAT_CSV_COLUMNS',
        `${name}: the header has no column "${f.name}", which the schema needs; the header has ${header.map((h) => `"${h}"`).join(', ')}`,
        { context: { path: name, column: f.name } },
      );
    }
    return at;
  });

  settings.onSchema?.(schema);
  const maker = new BatchMaker(schema, name);
  const builders = maker.builders;
  const fieldNames = schema.fields.map((f) => f.name);
  for await (const group of source) {
    const { records, lines } = group;
    for (let r = 0; r < records.length; r++) {
      const fields = records[r]!;
      if (fields.length !== width) {
        // A blank line is a record of one null field: a null row of a one-column file, noise otherwise.
        if (fields.length === 1 && fields[0] === null) continue;
        throw new TidewayError(
          'FORMAT_CSV_PARSE',
          `${where(group, lines[r]!)}: ${fields.length} fields, but the ${header ? 'header has' : 'schema has'} ${width}; check the delimiter (${JSON.stringify(settings.delimiter)}) and that fields holding it are quoted`,
          { context: { path: name, line: lines[r]! } },
        );
      }
      let k = 0;
      try {
        for (; k < builders.length; k++) builders[k]!.appendText(fields[columns[k]!] ?? null);
      } catch (error) {
        throw valueError(error, where(group, lines[r]!), fieldNames[k] ?? '', name, lines[r]!);
      }
      if (++maker.rows === settings.batchRows) yield maker.take();
    }
  }
  if (maker.rows > 0) yield maker.take();
}

function preview(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
