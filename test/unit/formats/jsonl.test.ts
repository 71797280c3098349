import { gunzipSync, gzipSync } from 'node:zlib';
import { Decimal, Field, Float32, Float64, Int32, Int64, Map_, Schema, Struct, TimestampNanosecond, Utf8, Binary } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { TidewayError } from '../../../src/api/errors.js';
import { createDecoder, createEncoder } from '../../../src/formats/index.js';
import { batchOf, bigColumn, column, decodeAll, encodeAll, plainRows } from './helpers.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function jsonlError(input: string, options: Parameters<typeof createDecoder>[1] = {}): Promise<TidewayError> {
  try {
    await decodeAll(createDecoder('jsonl', options), text(input), { name: 'oss://bucket/in.jsonl' });
  } catch (error) {
    expect(error).toBeInstanceOf(TidewayError);
    return error as TidewayError;
  }
  throw new Error('expected the JSON Lines input to be refused');
}

describe('JSON Lines', () => {
  it('names the object and the line of malformed JSON', async () => {
    const error = await jsonlError('{"a":1}\n{"a":2}\n{"a":3,}\n{"a":4}\n');
    expect(error.code).toBe('FORMAT_JSONL_PARSE');
    expect(error.message).toMatch(/^oss:\/\/bucket\/in\.jsonl, line 3 \(byte 16\): not valid JSON/);
    expect(error.context.path).toBe('oss://bucket/in.jsonl');
  });

  it('names the line of a value that is not an object', async () => {
    const error = await jsonlError('{"a":1}\n\n[1,2]\n');
    expect(error.message).toMatch(/line 3 .*expected a JSON object/);
  });

  it('names the line and column of a value that does not fit the schema', async () => {
    const schema = new Schema([new Field('a', new Int32(), true), new Field('b', new Utf8(), true)]);
    const error = await jsonlError('{"a":1}\n{"a":2.5,"b":"x"}\n', { schema });
    expect(error.code).toBe('FORMAT_VALUE');
    expect(error.message).toMatch(/line 2 \(byte 8\), column "a": 2\.5 is not an integer/);
    const range = await jsonlError('{"a":1}\n{"a":3000000000}\n', { schema });
    expect(range.message).toContain('range of Int32');
  });

  it('refuses a null for a non-nullable column, naming it', async () => {
    const schema = new Schema([new Field('a', new Int32(), false)]);
    const error = await jsonlError('{"a":1}\n{}\n', { schema });
    expect(error.message).toMatch(/line 2 .*column "a": a null for column "a", which is not nullable/);
  });

  it('refuses an unsafe JSON number for Int64 instead of rounding it', async () => {
    const schema = new Schema([new Field('a', new Int64(), true)]);
    const error = await jsonlError('{"a":9007199254740993}\n', { schema });
    expect(error.message).toContain('not a safe integer');
    const ok = await decodeAll(createDecoder('jsonl', { schema }), text('{"a":"9007199254740993"}\n{"a":-5}\n'));
    expect(plainRows(ok)).toEqual([{ a: '9007199254740993n' }, { a: '-5n' }]);
  });

  it('refuses, under inference, a key the sampled lines did not have, instead of dropping it', async () => {
    const lines = Array.from({ length: 5 }, (_, i) => JSON.stringify({ a: i })).join('\n');
    const error = await jsonlError(`${lines}\n{"a":9,"late":true}\n`, { inferRows: 5 });
    expect(error.code).toBe('FORMAT_JSONL_SCHEMA');
    expect(error.message).toMatch(/line 6 .*key "late"/);
  });

  it('infers types from the first rows and ignores extra keys when a schema is given', async () => {
    const input = '{"i":1,"f":1,"b":true,"s":"x","t":"2024-01-01T00:00:00.123456Z","o":{"k":[1]},"n":null}\n{"i":"12345678901234567890","f":2.5,"b":false,"s":"y","t":"2024-01-01T00:00:00Z","o":[1],"n":null}\n';
    const batches = await decodeAll(createDecoder('jsonl'), text(input.replace('12345678901234567890', '1234567890123456789')));
    expect(batches[0]!.schema.fields.map((f) => `${f.name}: ${String(f.type)}`)).toEqual([
      'i: Int64',
      'f: Float64',
      'b: Bool',
      's: Utf8',
      't: Timestamp<MICROSECOND, UTC>',
      'o: Utf8',
      'n: Utf8',
    ]);
    expect(plainRows(batches)[0]).toMatchObject({ o: '{"k":[1]}', n: null, t: '1704067200123456n' });
    const schema = new Schema([new Field('s', new Utf8(), true)]);
    expect(plainRows(await decodeAll(createDecoder('jsonl', { schema }), text(input)))).toEqual([{ s: 'x' }, { s: 'y' }]);
  });

  it('escapes strings exactly as JSON.stringify does', () => {
    const schema = new Schema([new Field('s', new Utf8(), true)]);
    const control = Array.from({ length: 32 }, (_, c) => String.fromCharCode(c)).join('');
    const values = [control, 'quote " and backslash \\ \u007f', 'ünï 😀 \u2028', '', 'plain'];
    const out = Buffer.from(encodeAll(createEncoder('jsonl', schema), [batchOf(schema, [column(values, new Utf8())])])).toString();
    expect(out).toBe(values.map((v) => `{"s":${JSON.stringify(v)}}\n`).join(''));
  });

  it('writes NaN and infinities as strings and reads them back', async () => {
    const schema = new Schema([new Field('d', new Float64(), true), new Field('f', new Float32(), true)]);
    const batch = batchOf(schema, [column([Number.NaN, Infinity, -Infinity, 0.1], new Float64()), column([Number.NaN, Infinity, -Infinity, 0.1], new Float32())]);
    const out = Buffer.from(encodeAll(createEncoder('jsonl', schema), [batch])).toString();
    expect(out).toBe('{"d":"NaN","f":"NaN"}\n{"d":"Infinity","f":"Infinity"}\n{"d":"-Infinity","f":"-Infinity"}\n{"d":0.1,"f":0.1}\n');
    const back = plainRows(await decodeAll(createDecoder('jsonl', { schema }), text(out)));
    expect(back).toEqual(plainRows([batch]));
  });

  it('writes decimals as exact strings, binary as base64, maps as objects and nanoseconds in full', async () => {
    const entries = new Struct<{ key: Utf8; value: Int32 }>([new Field('key', new Utf8(), false), new Field('value', new Int32(), true)]);
    const mapType = new Map_<Utf8, Int32>(new Field('entries', entries, false));
    const schema = new Schema([
      new Field('dec', new Decimal(2, 20, 128), true),
      new Field('bin', new Binary(), true),
      new Field('m', mapType, true),
      new Field('ns', new TimestampNanosecond(), true),
    ]);
    const input = '{"dec":"-12345678901234567.89","bin":"3q2+7w==","m":{"a":1,"b":null},"ns":"2262-04-11T23:47:16.854775807"}\n{"dec":"0.05","bin":"","m":{},"ns":"1677-09-21T00:12:43.145224192"}\n';
    const batches = await decodeAll(createDecoder('jsonl', { schema }), text(input));
    const out = Buffer.from(encodeAll(createEncoder('jsonl', schema), batches)).toString();
    expect(out).toBe(input);
  });

  it('gzips each batch as a gzip member that gunzip reads as one stream, and detects gzip on read', async () => {
    const schema = new Schema([new Field('n', new Int64(), true), new Field('s', new Utf8(), true)]);
    const batches = [0, 1, 2].map((b) =>
      batchOf(schema, [bigColumn(Array.from({ length: 100 }, (_, i) => BigInt(b * 100 + i)), new Int64()), column(Array.from({ length: 100 }, (_, i) => `row ${b * 100 + i}`), new Utf8())]),
    );
    const encoder = createEncoder('jsonl', schema, { compression: 'gzip' });
    expect(encoder.extension).toBe('.jsonl.gz');
    const bytes = encodeAll(encoder, batches);
    const lines = gunzipSync(bytes).toString().trimEnd().split('\n');
    expect(lines).toHaveLength(300);
    expect(lines[299]).toBe('{"n":299,"s":"row 299"}');
    expect(plainRows(await decodeAll(createDecoder('jsonl', { schema }), bytes))).toEqual(plainRows(batches));
    // An empty gzip file is still valid gzip.
    expect(gunzipSync(encodeAll(createEncoder('jsonl', schema, { compression: 'gzip' }), [])).length).toBe(0);
  });

  it('reports corrupt gzip input clearly', async () => {
    const bytes = gzipSync(Buffer.from('{"a":1}\n'.repeat(1000)));
    const truncated = bytes.subarray(0, bytes.length - 20);
    await expect(decodeAll(createDecoder('jsonl'), truncated, { name: 'x.jsonl.gz' })).rejects.toMatchObject({ code: 'FORMAT_GZIP' });
  });

  it('refuses invalid UTF-8 instead of replacing it', async () => {
    const bytes = new Uint8Array([...text('{"a":"'), 0xff, 0xfe, ...text('"}\n')]);
    await expect(decodeAll(createDecoder('jsonl'), bytes)).rejects.toMatchObject({ code: 'FORMAT_ENCODING' });
  });

  it('stops when its signal is aborted', async () => {
    const controller = new AbortController();
    let pulled = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        pulled++;
        if (pulled === 3) controller.abort(new Error('job cancelled'));
        yield text('{"a":1}\n'.repeat(100));
      }
    }
    await expect(decodeAll(createDecoder('jsonl', { batchRows: 10 }), endless(), { signal: controller.signal })).rejects.toThrow('job cancelled');
    expect(pulled).toBeLessThan(10);
  });

  it('refuses a batch whose schema differs from the file', () => {
    const schema = new Schema([new Field('a', new Int32(), true)]);
    const other = new Schema([new Field('a', new Utf8(), true)]);
    const encoder = createEncoder('jsonl', schema, { name: 'out.jsonl' });
    expect(() => encoder.encode(batchOf(other, [column(['x'], new Utf8())]))).toThrow(/out\.jsonl: .*column "a" is Utf8, expected Int32/);
  });
});
