import { Dictionary, Field, Int32, Schema, Utf8, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { createDecoder, createEncoder, type FileFormat } from '../../../src/formats/index.js';
import { batchOf, chunked, commonBatch, commonSchema, decodeAll, encodeAll, plainRows, prng } from './helpers.js';

const cases: { format: FileFormat; compression?: 'none' | 'gzip' | 'snappy' | 'zstd'; nested: boolean }[] = [
  { format: 'jsonl', nested: true },
  { format: 'jsonl', compression: 'gzip', nested: true },
  { format: 'csv', nested: false },
  { format: 'csv', compression: 'gzip', nested: false },
  { format: 'arrow', nested: true },
  { format: 'parquet', compression: 'none', nested: true },
  { format: 'parquet', compression: 'snappy', nested: true },
  { format: 'parquet', compression: 'gzip', nested: true },
  { format: 'parquet', compression: 'zstd', nested: true },
];

describe('round trip of common types', () => {
  for (const { format, compression, nested } of cases) {
    it(`${format}${compression ? ` (${compression})` : ''}`, async () => {
      const schema = commonSchema({ nested });
      // Several batches of uneven size, so that batch boundaries and row-group boundaries are crossed.
      const batches = [commonBatch(schema, 700, 1), commonBatch(schema, 1, 2), commonBatch(schema, 333, 3)];
      const encoder = createEncoder(format, schema, { compression, parquet_row_group_rows: 500 });
      const bytes = encodeAll(encoder, batches);
      expect(encoder.rowsIn).toBe(1034);
      expect(encoder.bytesOut).toBe(bytes.length);

      const decoder = createDecoder(format, { schema, batchRows: 256 });
      const decoded = await decodeAll(decoder, bytes);
      expect(decoded.every((b) => b.numRows <= 256)).toBe(true);
      for (const batch of decoded) {
        expect(batch.schema.fields.map((f) => `${f.name}: ${String(f.type)}`)).toEqual(schema.fields.map((f) => `${f.name}: ${String(f.type)}`));
      }
      expect(plainRows(decoded)).toEqual(plainRows(batches));
      // The same bytes arriving as a stream of odd-sized chunks, as from a file or an HTTP body.
      const streamed = await decodeAll(decoder, chunked(bytes, prng(5), 4099));
      expect(plainRows(streamed)).toEqual(plainRows(batches));
    });
  }

  for (const format of ['jsonl', 'csv', 'arrow', 'parquet'] as const) {
    it(`${format}: dictionary columns whose dictionary changes from batch to batch`, async () => {
      const type = new Dictionary(new Utf8(), new Int32());
      const schema = new Schema([new Field('d', type, true)]);
      const batches = [
        batchOf(schema, [vectorFromArray(['a', 'b', null, 'a', 'c,"x"\n'], type).data[0]!]),
        batchOf(schema, [vectorFromArray(['z', 'y', 'z'], type).data[0]!]),
      ];
      const bytes = encodeAll(createEncoder(format, schema), batches);
      expect(plainRows(await decodeAll(createDecoder(format, { schema }), bytes))).toEqual(plainRows(batches));
    });
  }

  it('keeps every digit of Int64 values in JSON Lines, as numbers when safe and strings beyond 2^53', async () => {
    const schema = commonSchema({ nested: false });
    const batch = commonBatch(schema, 8, 1);
    const text = Buffer.from(encodeAll(createEncoder('jsonl', schema), [batch])).toString();
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]!.i64).toBe('9007199254740993');
    expect(lines[1]!.i64).toBe('-9223372036854775808');
    expect(lines[2]!.i64).toBe('9223372036854775807');
    expect(lines[3]).toMatchObject({ i64: null, text: null, tags: null });
    expect(lines[7]!.i64).toBe(7);
    expect(lines[0]).toMatchObject({ ts_ms: '2023-11-14T22:13:20.000Z', ts_us: '1969-12-31T23:59:59.999999', day: '1969-01-01', tags: [] });
    expect(lines[1]!.tags).toEqual([1, null, -1]);
  });

  it('writes no bytes for an empty JSON Lines file and only the header for an empty CSV file', async () => {
    const schema = commonSchema({ nested: false });
    expect(encodeAll(createEncoder('jsonl', schema), []).length).toBe(0);
    const csv = Buffer.from(encodeAll(createEncoder('csv', schema), [])).toString();
    expect(csv).toBe(`${schema.fields.map((f) => f.name).join(',')}\n`);
  });

  for (const format of ['arrow', 'parquet'] as const) {
    it(`reads back an empty ${format} file with its schema and no rows`, async () => {
      const schema = commonSchema({ nested: true });
      const bytes = encodeAll(createEncoder(format, schema), []);
      expect(await decodeAll(createDecoder(format), bytes)).toEqual([]);
      const { inferSchema } = await import('../../../src/formats/index.js');
      expect((await inferSchema(format, bytes)).fields.map((f) => f.name)).toEqual(schema.fields.map((f) => f.name));
    });
  }
});
