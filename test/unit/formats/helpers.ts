import {
  Bool,
  type Data,
  DateDay,
  Field,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  TimestampMillisecond,
  Type,
  Utf8,
  Vector,
  vectorFromArray,
  type DataType,
} from 'apache-arrow';
import type { Decoder, DecodeInput, DecodeOptions, Encoder } from '../../../src/formats/index.js';

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence, so a failure can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed from the environment (FORMATS_SEED) to replay a failure, else a fresh one. */
export function seedFromEnv(): number {
  const fixed = process.env.FORMATS_SEED;
  return fixed ? Number(fixed) : Math.floor(Math.random() * 2 ** 31);
}

export function column(values: unknown[], type: DataType): Data {
  return vectorFromArray(values, type).data[0]!;
}

export function bigColumn(values: (bigint | null)[], type: DataType): Data {
  const data = new BigInt64Array(values.length);
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nulls = 0;
  values.forEach((v, i) => {
    if (v === null) nulls++;
    else {
      data[i] = v;
      bitmap[i >> 3]! |= 1 << (i & 7);
    }
  });
  return makeData({ type, length: values.length, nullCount: nulls, nullBitmap: nulls ? bitmap : null, data } as never);
}

export function batchOf(schema: Schema, columns: Data[]): RecordBatch {
  const length = columns[0]?.length ?? 0;
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children: columns }));
}

export const TRICKY_STRINGS = [
  'plain',
  'comma, inside',
  'quote " inside',
  '"starts and ends with quotes"',
  'line\nbreak',
  'crlf\r\nbreak',
  'tab\tchar',
  'ünïcödé – 漢字 – 😀',
  '',
  '  padded  ',
  '\\backslash\\',
  'null',
  ',',
  '"',
];

/** The types every format must round-trip; `nested` adds a struct column. */
export function commonSchema(options: { nested: boolean }): Schema {
  const fields: Field[] = [
    new Field('i8', new Int8(), true),
    new Field('i16', new Int16(), true),
    new Field('i32', new Int32(), false),
    new Field('i64', new Int64(), true),
    new Field('f32', new Float32(), true),
    new Field('f64', new Float64(), true),
    new Field('flag', new Bool(), true),
    new Field('text', new Utf8(), true),
    new Field('ts_ms', new TimestampMillisecond('UTC'), true),
    new Field('ts_us', new TimestampMicrosecond(), true),
    new Field('day', new DateDay(), true),
    new Field('tags', new List(new Field('item', new Int32(), true)), true),
  ];
  if (options.nested) {
    fields.push(new Field('point', new Struct([new Field('x', new Float64(), true), new Field('label', new Utf8(), true)]), true));
  }
  return new Schema(fields);
}

/** `n` rows of `commonSchema`, every column with nulls (but i32), edge values and tricky strings. */
export function commonBatch(schema: Schema, n: number, seed = 1): RecordBatch {
  const rand = prng(seed);
  const pick = <T>(i: number, value: () => T): T | null => (i % 7 === 3 ? null : value());
  const rows = Array.from({ length: n }, (_, i) => i);
  const cols: Data[] = [
    column(rows.map((i) => pick(i, () => (i % 5 === 0 ? -128 : i % 5 === 1 ? 127 : (i % 200) - 100))), new Int8()),
    column(rows.map((i) => pick(i, () => (i % 2 ? 32767 : -32768 + i))), new Int16()),
    column(rows.map((i) => (i % 3 === 0 ? -2147483648 : i % 3 === 1 ? 2147483647 : i)), new Int32()),
    bigColumn(
      rows.map((i) => pick(i, () => (i % 4 === 0 ? 9007199254740993n : i % 4 === 1 ? -(2n ** 63n) : i % 4 === 2 ? 2n ** 63n - 1n : BigInt(i)))),
      new Int64(),
    ),
    column(rows.map((i) => pick(i, () => Math.fround(rand() * 1000 - 500))), new Float32()),
    column(rows.map((i) => pick(i, () => (i % 6 === 0 ? 0.1 + 0.2 : i % 6 === 1 ? -1e-300 : i % 6 === 2 ? 1.7976931348623157e308 : rand()))), new Float64()),
    column(rows.map((i) => pick(i, () => i % 2 === 0)), new Bool()),
    column(rows.map((i) => pick(i, () => TRICKY_STRINGS[i % TRICKY_STRINGS.length]!)), new Utf8()),
    bigColumn(rows.map((i) => pick(i, () => 1_700_000_000_000n + BigInt(i) * 1_234_567n - 5_000_000_000_000n * BigInt(i % 2))), new TimestampMillisecond('UTC')),
    bigColumn(rows.map((i) => pick(i, () => -1n + BigInt(i) * 86_400_000_123n)), new TimestampMicrosecond()),
    column(rows.map((i) => pick(i, () => new Date(Date.UTC(1969 + (i % 80), i % 12, 1 + (i % 28))))), new DateDay()),
    column(rows.map((i) => pick(i, () => (i % 3 === 0 ? [] : [i, null, -i]))), new List(new Field('item', new Int32(), true))),
  ];
  if (schema.fields.length > cols.length) {
    cols.push(
      column(
        rows.map((i) => pick(i, () => ({ x: i % 2 ? null : i / 4, label: TRICKY_STRINGS[(i + 3) % TRICKY_STRINGS.length]! }))),
        schema.fields[cols.length]!.type,
      ),
    );
  }
  return batchOf(schema, cols);
}

/** Plain JSON-comparable rows (bigint as text, nested vectors as arrays). */
export function plainRows(batches: Iterable<RecordBatch>): unknown[] {
  const out: unknown[] = [];
  for (const batch of batches) {
    for (let i = 0; i < batch.numRows; i++) {
      const row: Record<string, unknown> = {};
      for (const field of batch.schema.fields) {
        const vector = batch.getChild(field.name)!;
        // Timestamps compare as their raw integers: arrow-js get() returns milliseconds as a float.
        const raw = vector.type.typeId === Type.Timestamp && vector.isValid(i) ? (vector.data[0]!.values as BigInt64Array)[i] : undefined;
        row[field.name] = plain(raw ?? vector.get(i));
      }
      out.push(row);
    }
  }
  return out;
}

function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  if (value instanceof Vector) return [...value].map(plain);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (typeof value === 'object' && 'toJSON' in value && typeof value.toJSON === 'function') {
    const json = value.toJSON() as Record<string, unknown>;
    return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

export function encodeAll(encoder: Encoder, batches: Iterable<RecordBatch>): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const batch of batches) chunks.push(...encoder.encode(batch));
  chunks.push(...encoder.finish());
  return new Uint8Array(Buffer.concat(chunks));
}

export async function decodeAll(decoder: Decoder, input: DecodeInput, options?: DecodeOptions): Promise<RecordBatch[]> {
  const out: RecordBatch[] = [];
  for await (const batch of decoder.decode(input, options)) out.push(batch);
  return out;
}

/** `bytes` as an async stream of chunks of random sizes (1..maxChunk). */
export async function* chunked(bytes: Uint8Array, rand: () => number, maxChunk: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; ) {
    const size = 1 + Math.floor(rand() * maxChunk);
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

export function tableOf(batches: RecordBatch[]): Table {
  return new Table(batches);
}
