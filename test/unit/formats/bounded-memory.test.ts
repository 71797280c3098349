import { Field, Float64, Int32, Schema, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { createEncoder, type FileFormat } from '../../../src/formats/index.js';
import { batchOf, column } from './helpers.js';

const schema = new Schema([new Field('n', new Int32(), false), new Field('x', new Float64(), true), new Field('s', new Utf8(), true)]);
const BATCH_ROWS = 1 << 16;
const BATCHES = 16; // 1,048,576 rows
const ids = Array.from({ length: BATCH_ROWS }, (_, i) => i);
const batch = batchOf(schema, [column(ids, new Int32()), column(ids.map((i) => i * 0.25), new Float64()), column(ids.map((i) => `row-${i & 1023}`), new Utf8())]);

describe('bounded memory while encoding a million rows', () => {
  for (const format of ['jsonl', 'csv', 'arrow'] as FileFormat[]) {
    it(`${format} hands every batch out at once and buffers nothing between batches`, () => {
      const encoder = createEncoder(format, schema);
      let largest = 0;
      for (let i = 0; i < BATCHES; i++) {
        const before = encoder.bytesOut;
        const out = encoder.encode(batch);
        const size = out.reduce((n, c) => n + c.byteLength, 0);
        expect(size, `batch ${i}`).toBeGreaterThan(0);
        expect(encoder.bytesOut - before).toBe(size);
        expect(encoder.bufferedBytes).toBe(0);
        largest = Math.max(largest, size);
      }
      // Each call returns about one batch of output: nothing from earlier batches piles up.
      expect(largest).toBeLessThan((encoder.bytesOut / BATCHES) * 1.5);
      encoder.finish();
      expect(encoder.rowsIn).toBe(BATCH_ROWS * BATCHES);
      expect(encoder.bufferedBytes).toBe(0);
    });
  }

  it('parquet buffers at most one row group of Arrow data plus footer metadata', () => {
    const rowGroupRows = 100_000;
    const encoder = createEncoder('parquet', schema, { parquet_row_group_rows: rowGroupRows });
    // Arrow bytes of one row group of this schema: 4 + 8 + offsets 4 + ~8 text, plus a null bitmap.
    const rowGroupBytes = rowGroupRows * 26;
    let emitted = 0;
    for (let i = 0; i < BATCHES; i++) {
      if (encoder.encode(batch).length > 0) emitted++;
      expect(encoder.bufferedBytes, `after batch ${i}`).toBeLessThan(rowGroupBytes);
    }
    // One batch of 65536 rows completes at most one row group of 100000, so calls that emit = row groups.
    expect(emitted).toBe(Math.floor((BATCH_ROWS * BATCHES) / rowGroupRows));
    encoder.finish();
    expect(encoder.bufferedBytes).toBe(0);
  });
});
