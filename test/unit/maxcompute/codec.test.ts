import { describe, expect, it } from 'vitest';
import { crc32c, crc32cUpdate, crc32cUpdateInt32, crc32cUpdateInt64 } from '../../../connectors/maxcompute/codec/crc32c.js';
import { decodeRecords, RecordStreamDecoder } from '../../../connectors/maxcompute/codec/record-reader.js';
import { encodeRecords, RecordWriter } from '../../../connectors/maxcompute/codec/record-writer.js';
import { formatOdpsType, parseOdpsType, toArrowSchema, type OdpsColumn } from '../../../connectors/maxcompute/codec/types.js';
import { canonicalDecimal, decimalToUnscaled, unscaledToDecimal } from '../../../connectors/maxcompute/codec/values.js';
import { TidewayError } from '../../../src/api/errors.js';
import { batchToRows } from '../../../src/api/rows.js';
import { loadGolden } from './golden.js';
import { ALL_TYPES, ALL_TYPES_ROWS, plain } from './helpers.js';

const { golden, bytes: goldenBytes } = loadGolden();

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return error instanceof TidewayError ? error.code : `not a TidewayError: ${String(error)}`;
  }
  return 'no error';
}

function decodeAll(columns: OdpsColumn[], bytes: Uint8Array) {
  return batchToRows(decodeRecords(columns, bytes));
}

describe('CRC32C', () => {
  it('matches the standard check value and is incremental', () => {
    const text = new TextEncoder().encode('123456789');
    expect(crc32c(text)).toBe(0xe3069283);
    expect(crc32cUpdate(crc32c(text, 0, 4), text, 4)).toBe(0xe3069283);
    const long = new Uint8Array(1000).map((_, i) => (i * 131) & 0xff);
    let bytewise = 0;
    for (let i = 0; i < long.length; i++) bytewise = crc32cUpdate(bytewise, long, i, i + 1);
    expect(crc32c(long)).toBe(bytewise);
  });

  it('hashes integers as their little-endian bytes', () => {
    const bytes = new Uint8Array(12);
    const view = new DataView(bytes.buffer);
    view.setInt32(0, 14, true);
    view.setBigInt64(4, -5n, true);
    expect(crc32cUpdateInt64(crc32cUpdateInt32(0, 14), -5, -1)).toBe(crc32c(bytes));
  });
});

describe('golden vector (Go SDK simpleTypeProtocData)', () => {
  it('decodes every value, consuming every byte', () => {
    const decoder = new RecordStreamDecoder(golden.columns);
    decoder.push(goldenBytes);
    expect(decoder.decode(10)).toBe(1);
    decoder.end();
    expect(decoder.complete).toBe(true);
    const [row] = batchToRows(decoder.takeBatch()!);
    const want = golden.records[0]!;
    expect(row).toMatchObject({
      c_tinyint: want.c_tinyint,
      c_smallint: want.c_smallint,
      c_int: want.c_int,
      c_bigint: BigInt(want.c_bigint as string),
      c_float: want.c_float,
      c_double: want.c_double,
      c_decimal: want.c_decimal,
      c_varchar: want.c_varchar,
      c_char: want.c_char,
      c_string: want.c_string,
      c_boolean: want.c_boolean,
    });
    expect(Buffer.from(row!.c_binary as Uint8Array).toString('hex')).toBe(want.c_binary_hex);
    expect(row!.c_date).toBe((want.c_date_days_since_epoch as number) * 86_400_000);
    expect(row!.c_datetime).toBe(want.c_datetime_ms_since_epoch);
    const batch = decodeRecords(golden.columns, goldenBytes);
    const nanos = batch.getChild('c_timestamp')!.data[0]!.values[0] as bigint;
    expect(nanos).toBe(BigInt(want.c_timestamp_seconds as number) * 1_000_000_000n + BigInt(want.c_timestamp_nanos as number));
  });

  it('reproduces the record CRC and the crc-of-crcs (our encoder writes the same bytes)', () => {
    const want = golden.records[0]!;
    const row = [
      want.c_tinyint,
      want.c_smallint,
      want.c_int,
      BigInt(want.c_bigint as string),
      Buffer.from(want.c_binary_hex as string, 'hex'),
      want.c_float,
      want.c_double,
      want.c_decimal,
      want.c_varchar,
      'world',
      want.c_string,
      want.c_date,
      want.c_datetime_ms_since_epoch,
      { seconds: want.c_timestamp_seconds, nanos: want.c_timestamp_nanos },
      want.c_boolean,
    ];
    const bytes = encodeRecords(golden.columns, [row]);
    expect(Buffer.from(bytes).equals(Buffer.from(goldenBytes))).toBe(true);
    // The record CRC is the varint after the end-of-record tag (f0ffff7f... follows it).
    const endRecordTag = Buffer.from([0x80, 0xc0, 0xff, 0x7f]);
    const at = Buffer.from(goldenBytes).indexOf(endRecordTag) + endRecordTag.length;
    let crc = 0;
    for (let i = at, shift = 0; ; i++, shift += 7) {
      crc += (goldenBytes[i]! & 0x7f) * 2 ** shift;
      if (goldenBytes[i]! < 0x80) break;
    }
    expect(crc).toBe(golden.record_crc32c);
    expect(crc32cUpdateInt32(0, golden.record_crc32c)).toBe(golden.crc_of_crcs);
  });

  it('decodes the vector fed one byte at a time', () => {
    const decoder = new RecordStreamDecoder(golden.columns);
    for (const byte of goldenBytes) {
      decoder.push(Uint8Array.of(byte));
      decoder.decode(10);
    }
    decoder.end();
    expect(decoder.batchRows).toBe(1);
  });
});

describe('type strings', () => {
  it.each([
    ['bigint', 'Int64'],
    ['decimal(38,18)', 'Utf8'],
    ['DECIMAL', 'Utf8'],
    ['varchar(500)', 'Utf8'],
    ['date', 'Date32<DAY>'],
    ['datetime', 'Timestamp<MILLISECOND>'],
    ['timestamp_ntz', 'Timestamp<NANOSECOND>'],
    ['array<int>', 'List<Int32>'],
    ['map<string,bigint>', 'Map<{key:Utf8, value:Int64}>'],
    ['struct<a:int,b:string>', 'Struct<{a:Int32, b:Utf8}>'],
    ['array<struct<x:map<int,array<string>>>>', 'List<Struct<{x:Map<{key:Int32, value:List<Utf8>}>}>>'],
  ])('%s maps to Arrow %s', (type, arrow) => {
    expect(String(toArrowSchema([{ name: 'c', type }]).fields[0]!.type)).toBe(arrow);
  });

  it('prints types back canonically and keeps them as field metadata', () => {
    expect(formatOdpsType(parseOdpsType(' Map< STRING , struct<`a b`:int> > '))).toBe('map<string,struct<a b:int>>');
    expect(formatOdpsType(parseOdpsType('decimal'))).toBe('decimal(38,18)');
    expect(toArrowSchema([{ name: 'c', type: 'decimal(10,2)' }]).fields[0]!.metadata.get('maxcompute.type')).toBe('decimal(10,2)');
  });

  it.each(['geography', 'array<int', 'decimal(50,2)', 'varchar', 'struct<>', 'int extra'])('rejects "%s" with a clear error', (type) => {
    expect(codeOf(() => parseOdpsType(type))).toBe('MAXCOMPUTE_UNSUPPORTED_TYPE');
  });
});

describe('record round trip', () => {
  it('decodes what the writer wrote, for every type', () => {
    const rows = decodeAll(ALL_TYPES, encodeRecords(ALL_TYPES, ALL_TYPES_ROWS));
    expect(rows).toHaveLength(3);
    const [low, high, nulls] = rows as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    expect(low.c_tinyint).toBe(-128);
    expect(low.c_bigint).toBe(-(2n ** 63n));
    expect(high.c_bigint).toBe(2n ** 63n - 1n);
    expect(low.c_double).toBe(-Number.MAX_VALUE);
    expect(high.c_float).toBe(3.25);
    expect(low.c_string).toBe('');
    expect(high.c_string).toBe('漢字 and emoji 🚀');
    expect(low.c_char).toBe('ab  ');
    expect(low.c_decimal).toBe('-1234567890123456.1234');
    expect(low.c_date).toBe(-719162 * 86_400_000);
    expect(low.c_datetime).toBe(-62135596800000);
    expect(plain([high])[0]).toMatchObject({
      c_binary: `bytes:${'07'.repeat(300)}`,
      c_array: [1, null, -3],
      c_map: { k1: '1n', k2: null },
      c_struct: { a: 7, b: 'bee', c: [1.5, null] },
    });
    expect(plain([low])[0]).toMatchObject({ c_array: [], c_map: {}, c_struct: { a: null, b: null, c: [] } });
    for (const value of Object.values(nulls)) expect(value).toBeNull();
    const batch = decodeRecords(ALL_TYPES, encodeRecords(ALL_TYPES, ALL_TYPES_ROWS));
    const ts = batch.getChild('c_timestamp')!.data[0]!.values as BigInt64Array;
    expect(ts[0]).toBe(-2208988800n * 1_000_000_000n + 1n);
    expect(ts[1]).toBe(1700000000123456789n);
    expect(batch.getChild('c_timestamp')!.nullCount).toBe(1);
  });

  it('splits a stream at every byte boundary without losing or repeating rows', () => {
    const columns = ALL_TYPES;
    const bytes = encodeRecords(columns, [...ALL_TYPES_ROWS, ...ALL_TYPES_ROWS]);
    const expected = plain(decodeAll(columns, bytes));
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const decoder = new RecordStreamDecoder(columns, { batchCapacity: 2 });
      decoder.push(bytes.subarray(0, cut));
      decoder.decode(100);
      decoder.push(bytes.subarray(cut));
      decoder.decode(100);
      decoder.end();
      expect(plain(batchToRows(decoder.takeBatch()!))).toEqual(expected);
    }
  });

  it('decodes records much larger than the chunks they arrive in', () => {
    const columns: OdpsColumn[] = [
      { name: 'id', type: 'int' },
      { name: 'blob', type: 'string' },
    ];
    const rows = [0, 1, 2].map((i) => [i, String.fromCharCode(97 + i).repeat(100_000 + i)]);
    const bytes = encodeRecords(columns, rows);
    const decoder = new RecordStreamDecoder(columns);
    for (let at = 0; at < bytes.length; at += 1000) {
      decoder.push(bytes.subarray(at, at + 1000));
      decoder.decode(10);
    }
    decoder.end();
    expect(batchToRows(decoder.takeBatch()!).map((r) => [r.id, (r.blob as string).length, (r.blob as string)[5]])).toEqual([
      [0, 100_000, 'a'],
      [1, 100_001, 'b'],
      [2, 100_002, 'c'],
    ]);
  });

  it('hands out bounded batches that stay valid after the next one is decoded', () => {
    const columns: OdpsColumn[] = [
      { name: 'id', type: 'bigint' },
      { name: 's', type: 'string' },
    ];
    const rows = Array.from({ length: 1000 }, (_, i) => [i, `value-${i}`]);
    const decoder = new RecordStreamDecoder(columns, { batchCapacity: 64 });
    decoder.push(encodeRecords(columns, rows));
    const batches = [];
    while (decoder.decode(300) > 0) batches.push(decoder.takeBatch()!);
    decoder.end();
    expect(batches.map((b) => b.numRows)).toEqual([300, 300, 300, 100]);
    const all = batches.flatMap((b) => batchToRows(b));
    expect(all.map((r) => r.s)).toEqual(rows.map((r) => r[1]));
  });

  it('accepts rows by column name and treats missing names as NULL', () => {
    const columns: OdpsColumn[] = [
      { name: 'a', type: 'int' },
      { name: 'b', type: 'string' },
    ];
    expect(decodeAll(columns, encodeRecords(columns, [{ b: 'x' }, { a: 1 }]))).toEqual([
      { a: null, b: 'x' },
      { a: 1, b: null },
    ]);
  });

  it('refuses values that do not fit their column when writing', () => {
    expect(codeOf(() => encodeRecords([{ name: 'a', type: 'tinyint' }], [[300]]))).toBe('MAXCOMPUTE_VALUE_OUT_OF_RANGE');
    expect(codeOf(() => encodeRecords([{ name: 'a', type: 'bigint' }], [[2 ** 60]]))).toBe('MAXCOMPUTE_VALUE_OUT_OF_RANGE');
  });
});

describe('corrupted record streams are rejected', () => {
  const columns: OdpsColumn[] = [
    { name: 'id', type: 'bigint' },
    { name: 's', type: 'string' },
  ];
  const good = encodeRecords(columns, [
    [1, 'alpha'],
    [2, 'beta'],
  ]);

  it('flags a flipped data byte as a CRC mismatch', () => {
    const bad = Uint8Array.from(good);
    bad[bad.indexOf(0x61)]! ^= 0x02;
    expect(codeOf(() => decodeAll(columns, bad))).toBe('MAXCOMPUTE_CORRUPT_STREAM');
    expect(() => decodeAll(columns, bad)).toThrow(/CRC32C/);
  });

  it('flags a wrong record count', () => {
    const writer = new RecordWriter(columns);
    writer.write([1, 'alpha']);
    writer.finish({ count: 2 });
    expect(() => decodeAll(columns, writer.take())).toThrow(/says it holds 2 records but 1 arrived/);
  });

  it('flags a wrong crc-of-crcs', () => {
    const bad = Uint8Array.from(good);
    bad[bad.length - 1]! ^= 0x01;
    expect(codeOf(() => decodeAll(columns, bad))).toBe('MAXCOMPUTE_CORRUPT_STREAM');
  });

  it('flags truncation at any point', () => {
    for (let cut = 0; cut < good.length; cut++) {
      expect(codeOf(() => decodeAll(columns, good.subarray(0, cut)))).toBe('MAXCOMPUTE_CORRUPT_STREAM');
    }
  });

  it('flags bytes after the end of the stream', () => {
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expect(() => decodeAll(columns, longer)).toThrow(/after the end of the stream/);
    const decoder = new RecordStreamDecoder(columns);
    decoder.push(good);
    decoder.decode(10);
    expect(() => decoder.push(Uint8Array.of(0))).toThrow(/after the end of the stream/);
  });

  it('flags an unknown column tag, a repeated column and an out-of-range value', () => {
    const writer = new RecordWriter([...columns, { name: 'extra', type: 'int' }]);
    writer.write([1, 'x', 5]);
    writer.finish();
    expect(() => decodeAll(columns, writer.take())).toThrow(/field tag 3 is not a column index/);
    const wide = encodeRecords([{ name: 'a', type: 'bigint' }], [[100_000]]);
    expect(() => decodeAll([{ name: 'a', type: 'smallint' }], wide)).toThrow(/does not fit its SMALLINT column/);
    const twice = new RecordWriter([{ name: 'a', type: 'int' }]);
    twice.writeRaw(Uint8Array.of(0x08, 0x02, 0x08, 0x04));
    twice.finish();
    expect(() => decodeAll([{ name: 'a', type: 'int' }], twice.take())).toThrow(/appears twice/);
  });

  it('keeps the rows decoded before a corrupt record and drops the corrupt one', () => {
    const writer = new RecordWriter(columns);
    writer.write([1, 'a']);
    writer.write([2, 'b'], { corruptCrc: true });
    writer.finish();
    const decoder = new RecordStreamDecoder(columns);
    decoder.push(writer.take());
    expect(() => decoder.decode(10)).toThrow(/CRC32C/);
    expect(decoder.batchRows).toBe(1);
    expect(batchToRows(decoder.takeBatch()!)).toEqual([{ id: 1n, s: 'a' }]);
  });
});

describe('decimal text', () => {
  it('converts between text and unscaled integers exactly', () => {
    expect(decimalToUnscaled('3.5', 18)).toBe(3_500_000_000_000_000_000n);
    expect(decimalToUnscaled('-0.015', 2)).toBe(-2n);
    expect(decimalToUnscaled('1e3', 1)).toBe(10_000n);
    expect(unscaledToDecimal(-1n, 4)).toBe('-0.0001');
    expect(unscaledToDecimal(12_300n, 2)).toBe('123');
    expect(canonicalDecimal('99999999999999999999.9999', 4)).toBe('99999999999999999999.9999');
  });
});
