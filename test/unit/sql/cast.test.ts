import { Binary, Bool, DateDay, Decimal, Field, Float64, Int32, Int64, List, makeData, Map_, RecordBatch, Schema, Struct, TimeMicrosecond, TimeMillisecond, TimeSecond, TimestampMillisecond, Utf8 } from 'apache-arrow';
import { SqlTransform } from '../../../connectors/sql/index.js';
import { batchToRows } from '../../../src/api/rows.js';
import { describe, expect, it } from 'vitest';
import { checkError, runSql, schemaOf } from './support.js';

const all = schemaOf({ s: new Utf8(), i: new Int32(), l: new Int64(), d: new Float64(), b: new Bool(), dt: new DateDay(), ts: new TimestampMillisecond(), bin: new Binary() });
const row = { s: null, i: null, l: null, d: null, b: null, dt: null, ts: null, bin: null };
const cast = (expr: string, values: Record<string, unknown>) => runSql(`SELECT ${expr} AS v FROM t`, all, [{ ...row, ...values }]);
const ok = (expr: string, values: Record<string, unknown>) => {
  const run = cast(expr, values);
  expect(run.rejects).toEqual([]);
  return run.rows[0]!.v;
};
const DAY = 86_400_000;

describe('sql CAST matrix', () => {
  it('text to every type', () => {
    expect(ok('CAST(s AS INT)', { s: ' 42 ' })).toBe(42);
    expect(ok('CAST(s AS INTEGER)', { s: '-7' })).toBe(-7);
    expect(ok('CAST(s AS BIGINT)', { s: '9223372036854775807' })).toBe(9223372036854775807n);
    expect(ok('CAST(s AS DOUBLE)', { s: '1.5e3' })).toBe(1500);
    expect(ok('CAST(s AS DECIMAL(10,2))', { s: '3.14159' })).toBe(3.14);
    expect(ok('CAST(s AS BOOLEAN)', { s: 'true' })).toBe(true);
    expect(ok('CAST(s AS BOOLEAN)', { s: '0' })).toBe(false);
    expect(ok('CAST(s AS DATE)', { s: '2024-02-29' })).toBe(Date.UTC(2024, 1, 29));
    expect(ok('CAST(s AS TIMESTAMP)', { s: '2024-02-29 12:00:00' })).toBe(Date.UTC(2024, 1, 29, 12));
    expect(ok('CAST(s AS TIMESTAMP)', { s: '2024-02-29T12:00:00+02:00' })).toBe(Date.UTC(2024, 1, 29, 10));
    expect(ok('CAST(s AS TIME)', { s: '10:11:12' })).toBe('10:11:12');
    expect(Buffer.from(ok('CAST(s AS BYTES)', { s: 'é' }) as Uint8Array).toString('hex')).toBe('c3a9');
  });

  it('numbers, booleans and temporals to text and to each other', () => {
    expect(ok('CAST(i AS VARCHAR)', { i: -3 })).toBe('-3');
    expect(ok('CAST(l AS STRING)', { l: 12345678901234n })).toBe('12345678901234');
    expect(ok('CAST(d AS VARCHAR)', { d: 0.5 })).toBe('0.5');
    expect(ok('CAST(b AS VARCHAR)', { b: true })).toBe('true');
    expect(ok('CAST(dt AS VARCHAR)', { dt: Date.UTC(1999, 11, 31) })).toBe('1999-12-31');
    expect(ok('CAST(ts AS VARCHAR)', { ts: Date.UTC(2020, 0, 2, 3, 4, 5, 6) })).toBe('2020-01-02 03:04:05.006');
    expect(ok('CAST(ts AS DATE)', { ts: Date.UTC(2020, 0, 2, 23) })).toBe(Date.UTC(2020, 0, 2));
    expect(ok('CAST(dt AS TIMESTAMP)', { dt: Date.UTC(2020, 0, 2) })).toBe(Date.UTC(2020, 0, 2));
    expect(ok('CAST(ts AS TIME)', { ts: Date.UTC(2020, 0, 2, 3, 4, 5) })).toBe('03:04:05');
    expect(ok('CAST(ts AS BIGINT)', { ts: 1500 })).toBe(1500n);
    expect(ok('CAST(d AS INT)', { d: 2.5 })).toBe(3);
    expect(ok('CAST(d AS INT)', { d: -2.5 })).toBe(-2);
    expect(ok('CAST(i AS DOUBLE)', { i: 7 })).toBe(7);
    expect(ok('CAST(l AS INT)', { l: 7n })).toBe(7);
    expect(ok('CAST(i AS BOOLEAN)', { i: 1 })).toBe(true);
    expect(ok('CAST(b AS INT)', { b: true })).toBe(1);
    expect(ok('CAST(bin AS VARCHAR)', { bin: new Uint8Array([104, 105]) })).toBe('hi');
    expect(ok('CAST(i AS TINYINT)', { i: 127 })).toBe(127);
    expect(ok('CAST(NULL AS INT)', {})).toBeNull();
    expect(ok('CAST(s AS INT)', { s: null })).toBeNull();
    expect(ok("CAST('2024-01-01' AS DATE) + 1", {})).toBe(Date.UTC(2024, 0, 2));
  });

  it('a value that does not convert rejects its row with SQL_CAST_FAILED, the column and the row index', () => {
    const schema = schemaOf({ s: new Utf8() });
    const run = runSql('SELECT CAST(s AS INT) AS n, s FROM t', schema, [{ s: '1' }, { s: 'x1' }, { s: '2' }, { s: '99999999999' }, { s: null }]);
    expect(run.rows).toEqual([
      { n: 1, s: '1' },
      { n: 2, s: '2' },
      { n: null, s: null },
    ]);
    expect(run.rejects.map((r) => ({ row: r.row, code: r.error.code, column: r.error.column }))).toEqual([
      { row: 1, code: 'SQL_CAST_FAILED', column: 'n' },
      { row: 3, code: 'SQL_CAST_FAILED', column: 'n' },
    ]);
    expect(run.rejects[0]!.error.message).toContain('"x1"');
  });

  it.each([
    ["CAST(s AS INT)", { s: '1.2.3' }],
    ["CAST(s AS DOUBLE)", { s: 'abc' }],
    ["CAST(s AS BOOLEAN)", { s: 'maybe' }],
    ["CAST(s AS DATE)", { s: '2023-02-29' }],
    ["CAST(s AS TIMESTAMP)", { s: 'yesterday' }],
    ["CAST(s AS BIGINT)", { s: '9223372036854775808' }],
    ["CAST(i AS TINYINT)", { i: 128 }],
    ["CAST(i AS SMALLINT)", { i: -40000 }],
    ["CAST(i AS BOOLEAN)", { i: 2 }],
    ["CAST(s AS TIME)", { s: 'noon' }],
  ])('%s of %o fails; TRY_CAST gives NULL', (expr, values) => {
    const run = cast(expr, values);
    expect(run.rows).toEqual([]);
    expect(run.rejects.map((r) => r.error.code)).toEqual(['SQL_CAST_FAILED']);
    const tried = cast(expr.replace('CAST', 'TRY_CAST'), values);
    expect(tried.rejects).toEqual([]);
    expect(tried.rows).toEqual([{ v: null }]);
  });

  it('a DECIMAL column is computed as a DOUBLE, NULLs kept, negative values in two\'s complement', () => {
    const type = new Decimal(2, 10, 128);
    // 123.45, NULL, -0.99 as 128-bit little-endian words.
    const words = new Uint32Array([12345, 0, 0, 0, 0, 0, 0, 0, 2 ** 32 - 99, 2 ** 32 - 1, 2 ** 32 - 1, 2 ** 32 - 1]);
    const data = makeData({ type, length: 3, nullCount: 1, nullBitmap: new Uint8Array([0b101]), data: words });
    const schema = new Schema([new Field('p', type, true)]);
    const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 3, children: [data] }));
    const transform = new SqlTransform('SELECT p * 2 AS twice, CAST(p AS VARCHAR) AS s, p IS NULL AS n FROM t', 't');
    expect(transform.outputSchema(schema).fields.map((f) => String(f.type))).toEqual(['Float64', 'Utf8', 'Bool']);
    expect(batchToRows(transform.apply(batch, { reject: () => undefined })!)).toEqual([
      { twice: 246.9, s: '123.45', n: false },
      { twice: null, s: null, n: true },
      { twice: -1.98, s: '-0.99', n: false },
    ]);
  });

  it('a TIME column (what a postgres or mysql time gives) is read as its text HH:MM:SS[.fraction]: cast, compared, cut; bare it passes through', () => {
    const times = schemaOf({ us: new TimeMicrosecond(), ms: new TimeMillisecond(), s: new TimeSecond() });
    const at = (h: number, m: number, sec: number) => (h * 3600 + m * 60 + sec) * 1000;
    const rows = [
      { us: BigInt(at(9, 5, 7)) * 1000n + 250n, ms: at(23, 59, 59) + 5, s: at(0, 0, 1) / 1000 },
      { us: null, ms: null, s: null },
      { us: BigInt(at(13, 0, 0)) * 1000n, ms: 0, s: at(12, 30, 0) / 1000 },
    ];
    const run = runSql("SELECT CAST(us AS VARCHAR) AS a, CAST(ms AS TIME) AS b, TRY_CAST(s AS STRING) AS c, us > '12:00' AS pm, left(ms, 5) AS hm, us FROM t", times, rows);
    expect(run.rejects).toEqual([]);
    expect(run.schema.fields.map((f) => String(f.type))).toEqual(['Utf8', 'Utf8', 'Utf8', 'Bool', 'Utf8', 'Time64<MICROSECOND>']);
    expect(run.rows.map(({ us: _us, ...rest }) => rest)).toEqual([
      { a: '09:05:07.000250', b: '23:59:59.005', c: '00:00:01', pm: false, hm: '23:59' },
      { a: null, b: null, c: null, pm: null, hm: null },
      { a: '13:00:00.000000', b: '00:00:00.000', c: '12:30:00', pm: true, hm: '00:00' },
    ]);
    expect(run.rows.map((r) => r.us)).toEqual(rows.map((r) => r.us));
    expect(runSql('SELECT us FROM t WHERE s IS NOT NULL AND CAST(s AS TIME) >= \'12:00:00\'', times, rows).rows).toEqual([{ us: rows[2]!.us }]);
  });

  it('list, struct and map columns are read as their JSON text: cast, compared, ARRAY_MAX; bare they pass through', () => {
    const schema = schemaOf({
      l: new List(new Field('item', new Int64(), true)),
      st: new Struct([new Field('a', new Int32(), true), new Field('b', new Utf8(), true)]),
      m: new Map_(new Field('entries', new Struct<{ key: Utf8; value: Int32 }>([new Field('key', new Utf8(), false), new Field('value', new Int32(), true)]), false)),
      k: new Int32(),
    });
    const rows = [
      { l: [3n, 10n, null], st: { a: 1, b: 'x' }, m: new Map([['p', 1]]), k: 1 },
      { l: null, st: null, m: null, k: 2 },
      { l: [2n ** 60n], st: { a: null, b: 'é"' }, m: new Map([['q', null]]), k: 3 },
    ];
    const run = runSql("SELECT k, CAST(l AS VARCHAR) AS lt, st || '' AS stt, TRY_CAST(m AS STRING) AS mt, array_max(l) AS mx, json_value(st, '$.b') AS b, l IS NULL AS none FROM t WHERE k <> 2 OR l IS NULL", schema, rows);
    expect(run.rejects).toEqual([]);
    expect(run.rows).toEqual([
      { k: 1, lt: '[3,10,null]', stt: '{"a":1,"b":"x"}', mt: '{"p":1}', mx: '10', b: 'x', none: false },
      { k: 2, lt: null, stt: null, mt: null, mx: null, b: null, none: true },
      { k: 3, lt: '["1152921504606846976"]', stt: '{"a":null,"b":"é\\""}', mt: '{"q":null}', mx: '1152921504606846976', b: 'é"', none: false },
    ]);
    expect(runSql("SELECT k FROM t WHERE CAST(st AS VARCHAR) = '{\"a\":1,\"b\":\"x\"}'", schema, rows).rows).toEqual([{ k: 1 }]);
    const bare = runSql('SELECT l, st FROM t', schema, rows);
    expect(bare.schema.fields.map((f) => String(f.type))).toEqual([String(schema.fields[0]!.type), String(schema.fields[1]!.type)]);
  });

  it('casts with no meaning are type errors at check time', () => {
    expect(checkError('SELECT CAST(b AS DATE) FROM t', all)?.code).toBe('SQL_TYPE_MISMATCH');
    expect(checkError('SELECT CAST(ts AS DOUBLE) FROM t', all)?.code).toBe('SQL_TYPE_MISMATCH');
    expect(checkError('SELECT CAST(bin AS INT) FROM t', all)?.code).toBe('SQL_TYPE_MISMATCH');
    const unknown = checkError('SELECT CAST(s AS INTEGR) FROM t', all);
    expect(unknown?.code).toBe('SQL_UNKNOWN_TYPE');
    expect(unknown?.message).toContain('did you mean INTEGER?');
  });

  it('output types of CAST targets', () => {
    const run = runSql('SELECT CAST(s AS INT) a, CAST(s AS BIGINT) b, CAST(s AS DOUBLE) c, CAST(s AS BOOLEAN) d, CAST(s AS DATE) e, CAST(s AS TIMESTAMP) f, CAST(s AS BYTES) g, CAST(i AS VARCHAR) h FROM t', all, []);
    expect(run.schema.fields.map((f) => String(f.type))).toEqual(['Int32', 'Int64', 'Float64', 'Bool', 'Date32<DAY>', 'Timestamp<MILLISECOND>', 'Binary', 'Utf8']);
    expect(DAY).toBe(86_400_000);
  });
});
