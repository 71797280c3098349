import { Field, Int64, Schema, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { createDecoder, createEncoder, type FileFormat, rangeReadStart, splitByteRanges } from '../../../src/formats/index.js';
import { batchOf, bigColumn, chunked, column, encodeAll, prng, seedFromEnv } from './helpers.js';

const schema = new Schema([new Field('id', new Int64(), false), new Field('s', new Utf8(), true)]);

/** A file whose records have very different lengths, so that split points fall everywhere. */
function makeFile(format: FileFormat, rand: () => number, rows: number): Uint8Array {
  const strings = Array.from({ length: rows }, (_, i) => {
    if (i % 11 === 5) return null;
    // CSV byte ranges need records on one line (see byte-range.ts), so only JSON Lines gets line breaks.
    const alphabet = format === 'jsonl' ? 'ab,"\n é😀' : 'ab,"é😀 ';
    const length = Math.floor(rand() ** 3 * 60);
    return Array.from({ length }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
  });
  const batch = batchOf(schema, [bigColumn(Array.from({ length: rows }, (_, i) => BigInt(i)), new Int64()), column(strings, new Utf8())]);
  return encodeAll(createEncoder(format, schema), [batch]);
}

/** Reads one range the way a source would: fetch from rangeReadStart to the end, in random chunks. */
async function readRange(format: FileFormat, file: Uint8Array, start: number, end: number, rand: () => number): Promise<bigint[]> {
  const decoder = createDecoder(format, { schema, batchRows: 7 });
  const range = { start, end };
  const ids: bigint[] = [];
  const input = chunked(file.subarray(rangeReadStart(range)), rand, 40);
  for await (const batch of decoder.decode(input, { range, name: `split ${start}-${end}` })) {
    for (const id of batch.getChild('id')!) ids.push(id as bigint);
  }
  return ids;
}

describe('byte-range splits', () => {
  for (const format of ['jsonl', 'csv'] as const) {
    it(`${format}: every record is read exactly once for many random split sizes`, async () => {
      const seed = seedFromEnv();
      console.log(`byte-range ${format} seed ${seed} (replay with FORMATS_SEED=${seed})`);
      const rand = prng(seed);
      const rows = 150;
      const file = makeFile(format, rand, rows);
      const sizes = [1, 2, file.length - 1, file.length, file.length + 5];
      for (let i = 0; i < 40; i++) sizes.push(3 + Math.floor(rand() ** 2 * file.length));
      for (const size of sizes) {
        const seen: bigint[] = [];
        for (const { start, end } of splitByteRanges(file.length, size)) seen.push(...(await readRange(format, file, start, end, rand)));
        const counts = new Map<bigint, number>();
        for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
        const problems = [...Array(rows).keys()].filter((i) => counts.get(BigInt(i)) !== 1);
        expect(problems, `split size ${size}, seed ${seed}: records not read exactly once`).toEqual([]);
        expect(seen.length, `split size ${size}, seed ${seed}`).toBe(rows);
      }
    });
  }

  it('gives a record that starts exactly at a range start to that range, not the one before', async () => {
    const file = new TextEncoder().encode('{"id":1}\n{"id":2}\n{"id":3}\n');
    const rand = prng(1);
    expect(await readRange('jsonl', file, 0, 9, rand)).toEqual([1n]);
    expect(await readRange('jsonl', file, 9, 18, rand)).toEqual([2n]);
    expect(await readRange('jsonl', file, 0, 10, rand)).toEqual([1n, 2n]);
    expect(await readRange('jsonl', file, 10, 27, rand)).toEqual([3n]);
    expect(await readRange('jsonl', file, 26, 27, rand)).toEqual([]);
  });

  it('stops reading the input once the range is done', async () => {
    const file = new TextEncoder().encode(Array.from({ length: 1000 }, (_, i) => `{"id":${i}}`).join('\n'));
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < file.length; at += 100) {
        pulled += 100;
        yield file.subarray(at, at + 100);
      }
    }
    const batches = createDecoder('jsonl', { schema }).decode(source(), { range: { start: 0, end: 500 } });
    let rows = 0;
    for await (const batch of batches) rows += batch.numRows;
    expect(rows).toBeGreaterThan(0);
    expect(pulled).toBeLessThanOrEqual(700);
  });

  it('refuses CSV ranges whose records hold line breaks inside quotes', async () => {
    const csv = new TextEncoder().encode('id,s\n1,"a\nb"\n2,c\n');
    const decoder = createDecoder('csv', { schema });
    await expect(async () => {
      for await (const _ of decoder.decode(csv, { range: { start: 0, end: 8 } })) void _;
    }).rejects.toThrow(/line break; a CSV file with line breaks inside fields cannot be read in byte ranges/);
  });

  it('refuses a CSV schema whose column order differs from the header, since later ranges map by position', async () => {
    const csv = new TextEncoder().encode('s,id\nx,1\n');
    const consume = async () => {
      for await (const _ of createDecoder('csv', { schema }).decode(csv, { range: { start: 0, end: 4 } })) void _;
    };
    await expect(consume()).rejects.toMatchObject({ code: 'FORMAT_CSV_COLUMNS' });
  });

  it('requires a schema, and refuses gzip, Arrow and Parquet ranges', async () => {
    const bytes = new TextEncoder().encode('{"id":1}\n');
    const consume = async (iterable: AsyncIterable<unknown>) => {
      for await (const _ of iterable) void _;
    };
    await expect(consume(createDecoder('jsonl').decode(bytes, { range: { start: 0, end: 5 } }))).rejects.toMatchObject({ code: 'FORMAT_SCHEMA_REQUIRED' });
    const gz = encodeAll(createEncoder('jsonl', schema, { compression: 'gzip' }), []);
    await expect(consume(createDecoder('jsonl', { schema }).decode(gz, { range: { start: 0, end: 5 } }))).rejects.toMatchObject({ code: 'FORMAT_RANGE_UNSUPPORTED' });
    expect(() => createDecoder('parquet').decode(bytes, { range: { start: 0, end: 5 } })).toThrow(/cannot be read in byte ranges/);
  });

  it('splits sizes into tiling ranges', () => {
    expect(splitByteRanges(10, 4)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect(splitByteRanges(0, 4)).toEqual([{ start: 0, end: 0 }]);
    expect(() => splitByteRanges(10, 0)).toThrow(RangeError);
    expect(rangeReadStart({ start: 0, end: 4 })).toBe(0);
    expect(rangeReadStart({ start: 4, end: 8 })).toBe(3);
  });
});
