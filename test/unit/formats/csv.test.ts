import { Field, Int32, Int64, Schema, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { TidewayError } from '../../../src/api/errors.js';
import { createDecoder, createEncoder } from '../../../src/formats/index.js';
import { column, batchOf, chunked, decodeAll, encodeAll, plainRows, prng, TRICKY_STRINGS } from './helpers.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function readCsv(csv: string | Uint8Array, options: Parameters<typeof createDecoder>[1] = {}): Promise<unknown[]> {
  return plainRows(await decodeAll(createDecoder('csv', options), typeof csv === 'string' ? text(csv) : csv, { name: 'in.csv' }));
}

async function csvError(csv: string, options: Parameters<typeof createDecoder>[1] = {}): Promise<TidewayError> {
  try {
    await readCsv(csv, options);
  } catch (error) {
    expect(error).toBeInstanceOf(TidewayError);
    return error as TidewayError;
  }
  throw new Error('expected the CSV to be refused');
}

const strings = new Schema([new Field('a', new Utf8(), true), new Field('b', new Utf8(), true)]);

describe('CSV per RFC 4180', () => {
  it('quotes fields holding the delimiter, quotes or line breaks, and writes "" for an empty string', () => {
    const schema = new Schema([new Field('v', new Utf8(), true), new Field('n', new Int32(), true)]);
    const batch = batchOf(schema, [column(['a,b', 'say "hi"', 'x\ny', '', null, 'plain'], new Utf8()), column([1, 2, 3, 4, 5, null], new Int32())]);
    const out = Buffer.from(encodeAll(createEncoder('csv', schema), [batch])).toString();
    expect(out).toBe('v,n\n"a,b",1\n"say ""hi""",2\n"x\ny",3\n"",4\n,5\nplain,\n');
  });

  it('quotes by the configured delimiter, not by commas', () => {
    const schema = new Schema([new Field('v', new Utf8(), true), new Field('w', new Utf8(), true)]);
    const batch = batchOf(schema, [column(['a,b', 'c;d'], new Utf8()), column(['tab\there', 'x'], new Utf8())]);
    const out = Buffer.from(encodeAll(createEncoder('csv', schema, { csv_delimiter: ';', csv_header: false }), [batch])).toString();
    expect(out).toBe('a,b;tab\there\n"c;d";x\n');
  });

  it('reads quoted delimiters, doubled quotes, CRLF, line breaks inside quotes, a BOM and no final newline', async () => {
    const csv = '\uFEFFa,b\r\n"x,1","he said ""no"""\r\n"multi\r\nline",plain\r\n"",\r\nlast,"q"';
    expect(await readCsv(csv, { schema: strings })).toEqual([
      { a: 'x,1', b: 'he said "no"' },
      { a: 'multi\r\nline', b: 'plain' },
      { a: '', b: null },
      { a: 'last', b: 'q' },
    ]);
  });

  it('tells null (empty field) from the empty string (quoted empty field)', async () => {
    expect(await readCsv('a,b\n,""\n"",\n', { schema: strings })).toEqual([
      { a: null, b: '' },
      { a: '', b: null },
    ]);
  });

  it('skips blank lines in a multi-column file but keeps them as nulls in a one-column file', async () => {
    expect(await readCsv('a,b\n1,2\n\n3,4\n\n', { schema: strings })).toEqual([
      { a: '1', b: '2' },
      { a: '3', b: '4' },
    ]);
    const one = new Schema([new Field('a', new Utf8(), true)]);
    const batch = batchOf(one, [column(['x', null, 'y'], new Utf8())]);
    const bytes = encodeAll(createEncoder('csv', one), [batch]);
    expect(await readCsv(bytes, { schema: one })).toEqual([{ a: 'x' }, { a: null }, { a: 'y' }]);
  });

  it('maps header columns to schema fields by name, in any order', async () => {
    const schema = new Schema([new Field('id', new Int64(), true), new Field('name', new Utf8(), true)]);
    expect(await readCsv('name,extra,id\nann,x,1\nbob,y,2\n', { schema })).toEqual([
      { id: '1n', name: 'ann' },
      { id: '2n', name: 'bob' },
    ]);
    const error = await csvError('name,extra\nann,x\n', { schema });
    expect(error.code).toBe('FORMAT_CSV_COLUMNS');
    expect(error.message).toContain('no column "id"');
  });

  it('reads tab-separated files without a header by position', async () => {
    expect(await readCsv('1\tx\n2\t"y\tz"\n', { schema: strings, csv_delimiter: '\t', csv_header: false })).toEqual([
      { a: '1', b: 'x' },
      { a: '2', b: 'y\tz' },
    ]);
  });

  it('round-trips every tricky string with every delimiter, fed in random chunks', async () => {
    const seed = 7;
    const rand = prng(seed);
    const schema = new Schema([new Field('s', new Utf8(), true), new Field('t', new Utf8(), true)]);
    const values = [...TRICKY_STRINGS, null, ...TRICKY_STRINGS.map((s) => `${s}${s}`)];
    const batch = batchOf(schema, [column(values, new Utf8()), column([...values].reverse(), new Utf8())]);
    for (const delimiter of [',', ';', '\t', '|', 'x', '.']) {
      const bytes = encodeAll(createEncoder('csv', schema, { csv_delimiter: delimiter }), [batch]);
      const decoder = createDecoder('csv', { schema, csv_delimiter: delimiter });
      const rows = plainRows(await decodeAll(decoder, chunked(bytes, rand, 5)));
      expect(rows, `delimiter ${JSON.stringify(delimiter)}, seed ${seed}`).toEqual(plainRows([batch]));
    }
  });

  it('names the line of a quote inside an unquoted field', async () => {
    const error = await csvError('a,b\n1,2\n3,x"y\n', { schema: strings });
    expect(error.code).toBe('FORMAT_CSV_PARSE');
    expect(error.message).toMatch(/^in\.csv, line 3 \(byte 8\): a quote inside unquoted field 2/);
  });

  it('names the line where an unclosed quoted field starts', async () => {
    const error = await csvError('a,b\n1,2\n"open,3\n4,5\n', { schema: strings });
    expect(error.code).toBe('FORMAT_CSV_PARSE');
    expect(error.message).toContain('line 3');
    expect(error.message).toContain('never closes');
  });

  it('names the line of text after a closing quote', async () => {
    const error = await csvError('a,b\n"x"y,2\n', { schema: strings });
    expect(error.message).toContain('line 2');
    expect(error.message).toContain('after the closing quote');
  });

  it('names the line with a wrong number of fields', async () => {
    const error = await csvError('a,b\n1,2\n3,4\n5,6,7\n', { schema: strings });
    expect(error.code).toBe('FORMAT_CSV_PARSE');
    expect(error.message).toMatch(/line 4 .*3 fields, but the header has 2/);
  });

  it('names the line and column of a value that does not fit its type', async () => {
    const schema = new Schema([new Field('n', new Int32(), true)]);
    const error = await csvError('n\n1\n2\n12x\n', { schema });
    expect(error.code).toBe('FORMAT_VALUE');
    expect(error.message).toMatch(/in\.csv, line 4 \(byte 6\), column "n": expected an integer for Int32, got "12x"/);
  });

  it('counts physical lines across quoted line breaks when naming a line', async () => {
    const error = await csvError('a,b\n"x\ny\nz",1\nbad"quote,2\n', { schema: strings });
    expect(error.message).toContain('line 5');
  });

  it('infers int64, float64, bool, date, timestamp and utf8 columns, keeping leading zeros as text', async () => {
    const csv = 'i,f,b,d,t,s,z\n1,1.5,true,2024-01-02,2024-01-02T03:04:05Z,x,007\n-2,3,FALSE,2024-02-29,2024-01-02T03:04:05.5Z,,010\n';
    const batches = await decodeAll(createDecoder('csv'), text(csv));
    expect(batches[0]!.schema.fields.map((f) => `${f.name}: ${String(f.type)}`)).toEqual([
      'i: Int64',
      'f: Float64',
      'b: Bool',
      'd: Date32<DAY>',
      't: Timestamp<MILLISECOND, UTC>',
      's: Utf8',
      'z: Utf8',
    ]);
    expect(plainRows(batches)[1]).toEqual({ i: '-2n', f: 3, b: false, d: Date.UTC(2024, 1, 29), t: '1704164645500n', s: null, z: '010' });
  });
});
