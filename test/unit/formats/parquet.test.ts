import { Field, Float64, Int32, Schema, Utf8 } from 'apache-arrow';
import * as parquetWasm from 'parquet-wasm';
import { describe, expect, it } from 'vitest';
import { createDecoder, createEncoder, inferSchema } from '../../../src/formats/index.js';
import { readFooter } from '../../../src/formats/parquet/stitcher.js';
import { decodeStruct, encodeStruct, getI64, getList, type TStruct } from '../../../src/formats/parquet/thrift-compact.js';
import { batchOf, column, decodeAll, encodeAll, plainRows } from './helpers.js';

const schema = new Schema([new Field('n', new Int32(), true), new Field('x', new Float64(), true), new Field('s', new Utf8(), true)]);

function batch(from: number, rows: number) {
  const ids = Array.from({ length: rows }, (_, i) => from + i);
  return batchOf(schema, [
    column(ids.map((i) => (i % 13 === 0 ? null : i)), new Int32()),
    column(ids.map((i) => i / 8), new Float64()),
    column(ids.map((i) => (i % 5 === 0 ? null : `value ${i % 97}`)), new Utf8()),
  ]);
}

/** Checks that every page location of every offset index points at a page header of the stated size. */
function checkPageIndexes(file: Uint8Array): number {
  const { metadata } = readFooter(file);
  let pages = 0;
  for (const group of getList(metadata, 4)!.items as TStruct[]) {
    for (const chunk of getList(group, 1)!.items as TStruct[]) {
      const offset = Number(getI64(chunk, 4));
      const length = Number(getI64(chunk, 5));
      expect(offset + length).toBeLessThan(file.length);
      const { struct } = decodeStruct(file.subarray(offset, offset + length));
      for (const location of getList(struct, 1)!.items as TStruct[]) {
        const at = Number(getI64(location, 1));
        const size = Number(getI64(location, 2));
        const { struct: header, end } = decodeStruct(file, at);
        // PageHeader field 3 is the compressed page size; the location covers header plus page.
        expect(end - at + Number(getI64(header, 3))).toBe(size);
        pages++;
      }
      const columnIndex = Number(getI64(chunk, 6));
      expect(() => decodeStruct(file.subarray(columnIndex, columnIndex + Number(getI64(chunk, 7))))).not.toThrow();
    }
  }
  return pages;
}

describe('Parquet', () => {
  for (const compression of ['none', 'snappy', 'gzip', 'zstd'] as const) {
    it(`writes one row group per ${compression} part and reads every row back`, async () => {
      const encoder = createEncoder('parquet', schema, { compression, parquet_row_group_rows: 1000 });
      const batches = [batch(0, 2500), batch(2500, 10), batch(2510, 1490)];
      const outputs = batches.map((b) => encoder.encode(b));
      // Bytes leave as soon as a row group is full: 2500 rows fill two groups at once.
      expect(outputs[0]!.length).toBeGreaterThan(0);
      expect(outputs[1]).toEqual([]);
      const before = encoder.bytesOut;
      const bytes = encodeAll(encoder, []);
      expect(encoder.bytesOut).toBeGreaterThan(before);
      const file = new Uint8Array(Buffer.concat([...outputs.flat(), bytes]));

      const metadata = (await parquetWasm.ParquetFile.fromFile(new Blob([file]))).metadata();
      expect(metadata.numRowGroups()).toBe(4);
      expect(metadata.rowGroups().map((g) => g.numRows())).toEqual([1000, 1000, 1000, 1000]);
      expect(metadata.fileMetadata().numRows()).toBe(4000);
      const codecs = new Set(metadata.rowGroups().flatMap((g) => g.columns().map((c) => c.compression())));
      expect([...codecs]).toEqual([{ none: 0, snappy: 1, gzip: 2, zstd: 5 }[compression]]);
      expect(checkPageIndexes(file)).toBeGreaterThanOrEqual(12);

      expect(plainRows(await decodeAll(createDecoder('parquet'), file))).toEqual(plainRows(batches));
    });
  }

  it('closes a row group early when parquet_row_group_bytes of Arrow data is buffered', () => {
    const encoder = createEncoder('parquet', schema, { parquet_row_group_bytes: 8 * 1024 });
    let emitted = 0;
    for (let i = 0; i < 10; i++) {
      emitted += encoder.encode(batch(i * 500, 500)).length;
      expect(encoder.bufferedBytes).toBeLessThan(8 * 1024 + 16 * 1024);
    }
    expect(emitted).toBeGreaterThanOrEqual(5);
  });

  it('cuts one huge batch into row groups of parquet_row_group_bytes', async () => {
    const encoder = createEncoder('parquet', schema, { parquet_row_group_bytes: 16 * 1024 });
    const big = batch(0, 8_000);
    const file = encodeAll(encoder, [big]);
    const metadata = (await parquetWasm.ParquetFile.fromFile(new Blob([file]))).metadata();
    // About 20 bytes of Arrow data per row: 8000 rows make some ten groups of 16 KiB.
    expect(metadata.numRowGroups()).toBeGreaterThanOrEqual(8);
    expect(metadata.fileMetadata().numRows()).toBe(8_000);
    expect(plainRows(await decodeAll(createDecoder('parquet'), file))).toEqual(plainRows([big]));
  });

  it('re-encodes its own footer byte for byte (the Thrift codec loses nothing)', () => {
    const file = encodeAll(createEncoder('parquet', schema), [batch(0, 100)]);
    const length = new DataView(file.buffer, file.byteOffset + file.length - 8, 4).getUint32(0, true);
    const footer = file.subarray(file.length - 8 - length, file.length - 8);
    expect(Buffer.from(encodeStruct(decodeStruct(footer).struct)).equals(Buffer.from(footer))).toBe(true);
  });

  it('reports the schema and a clear error for a file that is not Parquet', async () => {
    const file = encodeAll(createEncoder('parquet', schema), [batch(0, 10)]);
    expect(String(await inferSchema('parquet', file))).toBe(String(schema));
    const bad = new Uint8Array(file);
    bad.set([0, 0, 0, 0], bad.length - 4);
    await expect(decodeAll(createDecoder('parquet'), bad, { name: 'oss://b/x.parquet' })).rejects.toMatchObject({ code: 'FORMAT_PARQUET_READ' });
  });
});
