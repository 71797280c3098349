import { Binary, DateDay, Field, Float64, Int32, Int64, List, TimestampMillisecond, Uint64, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { runSql, schemaOf, value } from './support.js';

const text = schemaOf({ s: new Utf8() });
const str = (expr: string, s: string | null) => value(expr, text, { s });

describe('sql string functions', () => {
  it('concat, ||, concat_ws with NULLs and empty strings', () => {
    expect(value("concat('a', NULL, 'b', 1)")).toBe('ab1');
    expect(value('concat(NULL, NULL)')).toBe('');
    expect(value("'a' || NULL")).toBeNull();
    expect(value("'a' || '' || 'b'")).toBe('ab');
    expect(value("concat_ws(',', 'a', NULL, 'b')")).toBe('a,b');
    expect(value("concat_ws(NULL, 'a', 'b')")).toBe('ab');
  });

  it('length counts characters, octet_length and bit_length count bytes (unicode)', () => {
    expect(str('length(s)', 'héllo😀')).toBe(6n);
    expect(str('char_length(s)', '')).toBe(0n);
    expect(str('octet_length(s)', 'é')).toBe(2n);
    expect(str('bit_length(s)', 'ab')).toBe(16n);
    expect(str('length(s)', null)).toBeNull();
  });

  it('upper and lower of a whole column: ASCII bytes mapped directly, other text through JavaScript, NULLs kept', () => {
    const rows = [{ s: 'abc' }, { s: null }, { s: 'MiXeD 1!' }, { s: '' }];
    expect(runSql('SELECT upper(s) AS u, lcase(s) AS l FROM t', text, rows).rows).toEqual([
      { u: 'ABC', l: 'abc' },
      { u: null, l: null },
      { u: 'MIXED 1!', l: 'mixed 1!' },
      { u: '', l: '' },
    ]);
    expect(runSql('SELECT upper(s) AS u FROM t WHERE s IS NULL OR s <> \'abc\'', text, [...rows, { s: 'ça' }]).rows).toEqual([{ u: null }, { u: 'MIXED 1!' }, { u: '' }, { u: 'ÇA' }]);
  });

  it('upper, lower, trim family, pads', () => {
    expect(str('upper(s)', 'straße')).toBe('STRASSE');
    expect(str('lcase(s)', 'ÀB')).toBe('àb');
    expect(str('trim(s)', '  x  ')).toBe('x');
    expect(str('ltrim(s)', '  x  ')).toBe('x  ');
    expect(str('rtrim(s)', '  x  ')).toBe('  x');
    expect(str("trim(s, 'xy')", 'xyaxy')).toBe('a');
    expect(str("TRIM(BOTH 'x' FROM s)", 'xxaxx')).toBe('a');
    expect(str("TRIM(LEADING 'x' FROM s)", 'xxaxx')).toBe('axx');
    expect(str("lpad(s, 5, '*')", 'ab')).toBe('***ab');
    expect(str('lpad(s, 1)', 'ab')).toBe('a');
    expect(str("rpad(s, 4, 'xy')", 'a')).toBe('axyx');
    expect(str('rpad(s, 3)', '')).toBe('   ');
  });

  it('substring with negative start, left, right, insert, repeat, replace, translate', () => {
    expect(str('substring(s, 2)', '[Hello]')).toBe('Hello]');
    expect(str('substring(s, 3, 2)', 'hour')).toBe('ur');
    expect(str('substr(s, -3)', 'hello')).toBe('llo');
    expect(str('substring(s, 1, 2)', 'é😀x')).toBe('é😀');
    expect(str('left(s, 3)', 'abcdef')).toBe('abc');
    expect(str('right(s, 2)', 'abcdef')).toBe('ef');
    expect(str('right(s, 0)', 'abc')).toBe('');
    expect(str("insert(s, 2, 1, 'XY')", 'abc')).toBe('aXYc');
    expect(str('repeat(s, 3)', 'ab')).toBe('ababab');
    expect(str("replace(s, 'a', 'b')", 'banana')).toBe('bbnbnb');
    expect(str("replace(s, 'a')", 'banana')).toBe('bnn');
    expect(str("translate(s, 'eo', 'EO')", 'Hello world')).toBe('HEllO wOrld');
  });

  it('locate, instr, position', () => {
    expect(str("locate('.', s)", 'a.b.c')).toBe(2);
    expect(str("locate('.', s, 3)", 'a.b.c')).toBe(4);
    expect(str("locate('z', s)", 'abc')).toBe(0);
    expect(str("instr(s, 'b')", 'abc')).toBe(2);
    expect(str("position('c', s)", 'abc')).toBe(3);
    expect(str("POSITION('c' IN s)", 'abc')).toBe(3);
  });

  it('regular expressions: replace, like, substr, match, with flags', () => {
    expect(value("regexp_replace('Hello    World', ' +', ' ')")).toBe('Hello World');
    expect(value("regexp_replace('Hello WWWWorld', 'w+', 'W', 'i')")).toBe('Hello World');
    expect(value("regexp_like('Hello World', '^[a-z ]*$', 'i')")).toBe(true);
    expect(value("regexp_like('Hello World', '^[a-z ]*$')")).toBe(false);
    expect(value("regexp_substr('2020-10-01', '\\d{4}')")).toBe('2020');
    expect(value("regexp_substr('2020-10-01', '(\\d{4})-(\\d{2})-(\\d{2})', 1, 1, NULL, 2)")).toBe('10');
    expect(value("regexp_match('order-42', 'order-(\\d+)')")).toBe('42');
    expect(value("regexp_match('x', 'y')")).toBeNull();
  });

  it('split, split_part, soundex, space, ascii, chr, hex, reverse', () => {
    expect(str("split(s, ';')", 'a;b;c')).toBe('["a","b","c"]');
    expect(str("split_part(s, '-', 2)", 'a-b-c')).toBe('b');
    expect(str("split_part(s, '-', -1)", 'a-b-c')).toBe('c');
    expect(str("split_part(s, '-', 5)", 'a-b-c')).toBe('');
    expect(str('soundex(s)', 'Robert')).toBe('R163');
    expect(str('soundex(s)', 'Tymczak')).toBe('T522');
    expect(value("concat('[', space(3), ']')")).toBe('[   ]');
    expect(value("ascii('Hi')")).toBe(72);
    expect(value('chr(65)')).toBe('A');
    expect(value("rawtohex('A')")).toBe('0041');
    expect(value("hextoraw('00410042')")).toBe('AB');
    expect(value("reverse('abc')")).toBe('cba');
    expect(value("array(1, 'a', NULL, 2.5)")).toBe('[1,"a",null,2.5]');
    expect(value("array_max(split('3;10;2', ';'))")).toBe('3');
    expect(value('array_max(array(3, 10, 2))')).toBe('10');
    expect(value('array_min(array(3, NULL, 2))')).toBe('2');
  });

  it('LIKE and ILIKE with % and _ and escapes', () => {
    const run = runSql("SELECT s LIKE 'a%' AS a, s LIKE '_b_' AS b, s ILIKE 'A%' AS c, s NOT LIKE '%c' AS d, s LIKE 'a\\%' AS e FROM t", text, [{ s: 'abc' }, { s: 'a%' }, { s: null }]);
    expect(run.rows).toEqual([
      { a: true, b: true, c: true, d: false, e: false },
      { a: true, b: false, c: true, d: true, e: true },
      { a: null, b: null, c: null, d: null, e: null },
    ]);
  });
});

describe('sql numeric functions', () => {
  const nums = schemaOf({ i: new Int32(), d: new Float64(), l: new Int64() });
  const num = (expr: string, row: { i?: number | null; d?: number | null; l?: bigint | null }) => value(expr, nums, { i: null, d: null, l: null, ...row });

  it('abs, sign, ceil, floor, round, trunc keep the argument type', () => {
    expect(num('abs(i)', { i: -5 })).toBe(5);
    expect(num('abs(l)', { l: -5n })).toBe(5n);
    expect(num('abs(d)', { d: -2.5 })).toBe(2.5);
    expect(num('sign(d)', { d: -0.1 })).toBe(-1);
    expect(num('ceil(d)', { d: -1.5 })).toBe(-1);
    expect(num('floor(d)', { d: -1.5 })).toBe(-2);
    expect(num('round(d)', { d: -2.5 })).toBe(-3);
    expect(num('round(d, 2)', { d: 1.005 })).toBe(1.01);
    expect(num('trunc(d, 1)', { d: -1.29 })).toBe(-1.2);
    expect(num('round(i)', { i: 7 })).toBe(7);
    expect(num('abs(i)', { i: null })).toBeNull();
  });

  it('mod, power, sqrt, logs, trigonometry, pi, greatest, least', () => {
    expect(num('mod(i, 3)', { i: -7 })).toBe(-1);
    expect(num('mod(d, 2)', { d: 5.5 })).toBe(1.5);
    expect(value('power(2, 10)')).toBe(1024);
    expect(value('sqrt(16)')).toBe(4);
    expect(value('ln(exp(1))')).toBeCloseTo(1);
    expect(value('log(2, 8)')).toBeCloseTo(3);
    expect(value('log10(1000)')).toBeCloseTo(3);
    expect(value('cos(0) + sin(0) + tan(0)')).toBe(1);
    expect(value('cot(pi() / 4)')).toBeCloseTo(1);
    expect(value('radians(180)')).toBeCloseTo(Math.PI);
    expect(value('cosh(0) + sinh(0) + tanh(0) + acos(1) + asin(0) + atan(0)')).toBe(1);
    expect(value('greatest(1, 5, 3)')).toBe(5);
    expect(value('least(1.5, NULL, -2)')).toBe(-2);
    expect(value('greatest(NULL, NULL)')).toBeNull();
    const r = value('rand()') as number;
    expect(r >= 0 && r < 1).toBe(true);
  });

  it('integer arithmetic: division truncates, overflow and division by zero reject the row', () => {
    expect(num('i / 2', { i: -7 })).toBe(-3);
    expect(num('i % 4', { i: -7 })).toBe(-3);
    expect(num('l * 2', { l: 4611686018427387904n - 1n })).toBe(9223372036854775806n);
    const run = runSql('SELECT i * i AS sq, 10 / i AS q, d / 0 AS f FROM t', nums, [
      { i: 2, d: null, l: 0n },
      { i: 65536, d: null, l: 0n },
      { i: 0, d: null, l: 0n },
      { i: 1, d: 1, l: 0n },
    ]);
    expect(run.rows).toEqual([{ sq: 4, q: 5, f: null }]);
    expect(run.rejects.map((r) => [r.row, r.error.code, r.error.column])).toEqual([
      [1, 'SQL_NUMERIC_OVERFLOW', 'sq'],
      [2, 'SQL_DIVISION_BY_ZERO', 'q'],
      [3, 'SQL_DIVISION_BY_ZERO', 'f'],
    ]);
  });

  it('BIGINT stays exact beyond 2^53, in arithmetic, comparisons and IN', () => {
    const big = 2n ** 62n + 1n;
    const run = runSql(`SELECT l + 1 AS a, l = ${big} AS b, l IN (${big}, 5) AS c, l - l AS d FROM t`, nums, [{ i: null, d: null, l: big }]);
    expect(run.rows).toEqual([{ a: big + 1n, b: true, c: true, d: 0n }]);
    const filtered = runSql('SELECT l - 1 AS a, i * 2 AS b, d / 2 AS c FROM t WHERE i <> 0', nums, [
      { i: 1, d: 1, l: -big },
      { i: 0, d: 2, l: 5n },
      { i: 3, d: 3, l: big },
    ]);
    expect(filtered.rows).toEqual([
      { a: -big - 1n, b: 2, c: 0.5 },
      { a: big - 1n, b: 6, c: 1.5 },
    ]);
    const overflow = runSql('SELECT l * 4 AS x FROM t', nums, [{ i: null, d: null, l: big }]);
    expect(overflow.rejects.map((r) => r.error.code)).toEqual(['SQL_NUMERIC_OVERFLOW']);
  });

  it('a UInt64 value above BIGINT\'s range rejects its row when an expression reads it, instead of wrapping negative', () => {
    const u = schemaOf({ u: new Uint64(), k: new Int32() });
    const max = 2n ** 64n - 1n;
    const rows = [{ u: 7n, k: 1 }, { u: max, k: 2 }, { u: 2n ** 63n, k: 3 }, { u: 2n ** 63n - 1n, k: 4 }, { u: null, k: 5 }];
    const run = runSql('SELECT k, u + 0 AS v, CAST(u AS VARCHAR) AS t FROM t WHERE u > 0 OR u IS NULL', u, rows);
    expect(run.rows).toEqual([
      { k: 1, v: 7n, t: '7' },
      { k: 4, v: 2n ** 63n - 1n, t: '9223372036854775807' },
      { k: 5, v: null, t: null },
    ]);
    expect(run.rejects.map((r) => [r.row, r.error.code])).toEqual([
      [1, 'SQL_NUMERIC_OVERFLOW'],
      [2, 'SQL_NUMERIC_OVERFLOW'],
    ]);
    expect(run.rejects[0]!.error.message).toContain(String(max));
    // Selected bare, a UInt64 column passes through unchanged, every value kept; a guarded branch rejects nothing.
    expect(runSql('SELECT u FROM t', u, rows).rows.map((r) => r.u)).toEqual([7n, max, 2n ** 63n, 2n ** 63n - 1n, null]);
    const guarded = runSql('SELECT k, CASE WHEN k = 1 THEN u * 2 END AS v FROM t', u, rows);
    expect(guarded.rejects).toEqual([]);
    expect(guarded.rows.map((r) => r.v)).toEqual([14n, null, null, null, null]);
  });

  it('mixes int, bigint and double by widening', () => {
    const run = runSql('SELECT i + l AS a, i + d AS b, l * 1.5 AS c FROM t', nums, [{ i: 1, d: 0.5, l: 10n }]);
    expect(run.rows).toEqual([{ a: 11n, b: 1.5, c: 15 }]);
    expect(run.schema.fields.map((f) => String(f.type))).toEqual(['Int64', 'Float64', 'Float64']);
  });
});

describe('sql date and time functions (UTC)', () => {
  const ts = schemaOf({ t: new TimestampMillisecond() });
  const at = (expr: string, iso: string | null) => value(expr, ts, { t: iso === null ? null : Date.parse(iso) });

  it('extract and the part functions', () => {
    const t = '2024-02-29T23:59:58.250Z';
    expect(at('extract(year from t)', t)).toBe(2024);
    expect(at('extract(month from t)', t)).toBe(2);
    expect(at('extract(day from t)', t)).toBe(29);
    expect(at('extract(hour from t)', t)).toBe(23);
    expect(at('extract(second from t)', t)).toBe(58.25);
    expect(at('extract(dow from t)', t)).toBe(4);
    expect(at('extract(doy from t)', t)).toBe(60);
    expect(at('extract(epoch from t)', t)).toBe(Date.parse(t) / 1000);
    expect(at('year(t)', t)).toBe(2024);
    expect(at('quarter(t)', t)).toBe(1);
    expect(at('week(t)', '2021-01-03T00:00:00Z')).toBe(53);
    expect(at('day_of_week(t)', '2024-03-03T00:00:00Z')).toBe(7);
    expect(at('dayname(t)', t)).toBe('Thursday');
    expect(at('monthname(t)', t)).toBe('February');
    expect(at('hour(t)', null)).toBeNull();
  });

  it('date_trunc, dateadd (both argument orders), datediff', () => {
    const t = '2024-01-31T10:20:30Z';
    expect(at("date_trunc('month', t)", t)).toBe(Date.parse('2024-01-01T00:00:00Z'));
    expect(at("date_trunc(t, 'DAY')", t)).toBe(Date.parse('2024-01-31T00:00:00Z'));
    expect(at("date_trunc('week', t)", t)).toBe(Date.parse('2024-01-29T00:00:00Z'));
    expect(at("dateadd(t, 1, 'MONTH')", t)).toBe(Date.parse('2024-02-29T10:20:30Z'));
    expect(at('dateadd(day, -31, t)', t)).toBe(Date.parse('2023-12-31T10:20:30Z'));
    expect(at("date_add(t, 2, 'hour')", t)).toBe(Date.parse('2024-01-31T12:20:30Z'));
    expect(at("datediff(t, TIMESTAMP '2024-03-01 00:00:00', 'MONTH')", t)).toBe(2n);
    expect(at("datediff(day, TIMESTAMP '2024-01-30 23:00:00', t)", t)).toBe(1n);
  });

  it('formats, parses and reads epoch seconds in UTC', () => {
    const t = '2024-03-05T07:08:09.123Z';
    expect(at("formatdatetime(t, 'yyyy-MM-dd HH:mm:ss.SSS')", t)).toBe('2024-03-05 07:08:09.123');
    expect(at("to_char(t, 'dd MMM yyyy')", t)).toBe('05 Mar 2024');
    expect(at("strftime(t, '%Y/%m/%d %H:%M')", t)).toBe('2024/03/05 07:08');
    expect(value("parsedatetime('2021-04-08 13:34:45', 'yyyy-MM-dd HH:mm:ss')")).toBe(Date.parse('2021-04-08T13:34:45Z'));
    expect(value("to_date('2021-04-08T13:34:45', 'yyyy-MM-dd''T''HH:mm:ss')")).toBe(Date.parse('2021-04-08T13:34:45Z'));
    expect(value("to_timestamp('2021-04-08 01:02:03+02:00')")).toBe(Date.parse('2021-04-07T23:02:03Z'));
    expect(value("from_unixtime(1672502400, 'yyyy-MM-dd HH:mm:ss')")).toBe('2022-12-31 16:00:00');
    expect(value("from_unixtime(1672502400, 'yyyy-MM-dd HH:mm:ss', 'UTC+8')")).toBe('2023-01-01 00:00:00');
    expect(value("is_date('2021-02-30', 'yyyy-MM-dd')")).toBe(false);
    expect(value("is_date('2021-02-28', 'yyyy-MM-dd')")).toBe(true);
  });

  it('date arithmetic: date + n days, date - date in days, timestamp - timestamp in milliseconds', () => {
    const schema = schemaOf({ d: new DateDay(), t: new TimestampMillisecond() });
    const run = runSql("SELECT d + 1 AS next, d - 31 AS back, d - DATE '2024-01-01' AS days, t - TIMESTAMP '2024-01-01 00:00:00' AS ms, t + 1 AS tomorrow FROM t", schema, [{ d: Date.UTC(2024, 2, 1), t: Date.UTC(2024, 0, 1, 0, 0, 1) }]);
    expect(run.rows).toEqual([{ next: Date.UTC(2024, 2, 2), back: Date.UTC(2024, 0, 30), days: 60, ms: 1000n, tomorrow: Date.UTC(2024, 0, 2, 0, 0, 1) }]);
  });

  it('a text that does not match the pattern rejects the row', () => {
    const run = runSql("SELECT to_date(s, 'yyyy-MM-dd') AS d FROM t", schemaOf({ s: new Utf8() }), [{ s: '2021-01-02' }, { s: 'nope' }]);
    expect(run.rows).toEqual([{ d: Date.parse('2021-01-02T00:00:00Z') }]);
    expect(run.rejects.map((r) => [r.row, r.error.code])).toEqual([[1, 'SQL_PARSE_FAILED']]);
  });

  it('now, current_timestamp and current_date are one instant per batch', () => {
    const before = Date.now();
    const run = runSql('SELECT now() AS a, current_timestamp AS b, current_date AS c, uuid() AS u, LOCALTIMESTAMP AS l, sysdate AS s FROM t', schemaOf({ x: new Int32() }), [{ x: 1 }, { x: 2 }]);
    const after = Date.now();
    const [r0, r1] = run.rows as { a: number; b: number; c: number; u: string }[];
    expect(r0!.a).toBe(r1!.a);
    expect(r0!.a).toBe(r0!.b);
    expect((run.rows[0] as { l: number }).l).toBe(r0!.a);
    expect((run.rows[0] as { s: number }).s).toBe(r0!.a);
    expect(r0!.a >= before && r0!.a <= after).toBe(true);
    expect(r0!.c).toBe(Math.floor(r0!.a / 86_400_000) * 86_400_000);
    expect(r0!.u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(r0!.u).not.toBe(r1!.u);
  });
});

describe('sql JSON, hashing, conditional functions', () => {
  const doc = JSON.stringify({ a: { b: [10, { c: 'x' }] }, 'k y': true, n: null });

  it('json_extract returns JSON text, json_value a scalar; a missing path is NULL, bad JSON rejects', () => {
    expect(str("json_extract(s, '$.a.b')", doc)).toBe('[10,{"c":"x"}]');
    expect(str("json_value(s, '$.a.b[1].c')", doc)).toBe('x');
    expect(str("json_value(s, '$.a.b[0]')", doc)).toBe('10');
    expect(str(`json_value(s, '$[''k y'']')`, doc)).toBe('true');
    expect(str("json_value(s, '$.missing')", doc)).toBeNull();
    expect(str("json_value(s, '$.a')", doc)).toBeNull();
    const run = runSql("SELECT json_value(s, '$.a') AS v FROM t", text, [{ s: '{"a": 1}' }, { s: '{bad' }, { s: null }]);
    expect(run.rows).toEqual([{ v: '1' }, { v: null }]);
    expect(run.rejects.map((r) => [r.row, r.error.code])).toEqual([[1, 'SQL_BAD_JSON']]);
  });

  it('bytes: compared by content, hashed, cast to text', () => {
    const schema = schemaOf({ b: new Binary() });
    const run = runSql("SELECT b = CAST('hi' AS BYTES) AS same, md5(b) AS h, CAST(b AS VARCHAR) AS s, octet_length(b) AS n FROM t", schema, [{ b: new Uint8Array([104, 105]) }, { b: new Uint8Array([0xff]) }]);
    expect(run.rows).toEqual([
      { same: true, h: '49f68a5c8493ec2c0bf489821c21fc3b', s: 'hi', n: 2n },
      { same: false, h: '00594fd4f42ba43fc1ca0427a0576295', s: '\ufffd', n: 1n },
    ]);
  });

  it('md5, sha256 of text (UTF-8)', () => {
    expect(value("md5('abc')")).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(value("sha256('')")).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(value('md5(NULL)')).toBeNull();
  });

  it('CASE forms, IF / CASEWHEN, MULTI_IF', () => {
    const nums = schemaOf({ x: new Int32() });
    const run = runSql("SELECT CASE x WHEN 1 THEN 'one' WHEN 2 THEN 'two' ELSE 'many' END AS a, casewhen(x > 1, 'big', 'small') AS b, multi_if(x = 1, 'A', x = 2, 'B', 'C') AS c FROM t", nums, [{ x: 1 }, { x: 2 }, { x: 3 }, { x: null }]);
    expect(run.rows).toEqual([
      { a: 'one', b: 'small', c: 'A' },
      { a: 'two', b: 'big', c: 'B' },
      { a: 'many', b: 'big', c: 'C' },
      { a: 'many', b: 'small', c: 'C' },
    ]);
  });
});

describe('the function table of the README', () => {
  // One call of every SeaTunnel SQL-transform function (and alias) the README lists, with valid arguments.
  const calls: string[] = ["IF(i > 1, 'y', 'n')", "IIF(i > 1, 1, 2)", "INSERT(s, 1, 1, 'x')", "REPLACE(s, ',')", "REPEAT(s, 2)", "TRUNCATE(d, 0)", "TRUNC(d)", "MOD(i, 2)", "LOG(2, 8)", "LOG(d)", "SECOND(t)", "WEEK(t)", "YEAR(t)", "MONTH(t)", "DAY(t)", "HOUR(t)", "MINUTE(t)", "DATE_TRUNC(t, 'DAY')", "TIMESTAMPADD(t, 1, 'DAY')", "TIMESTAMPDIFF(t, t, 'DAY')", "DATE_PART('year', t)", "POSITION(',', s)", "TRIM(s, 'a')", "CONCAT_WS('-', s, s)", "MULTI_IF(i = 1, 'a', 'b')", "ARRAY(1, 2)", "ISNULL(s, 'z')", "JSON_QUERY('{\"a\":1}', '$.a')", "SHA2(s)", "SPACE(2)", "SUBSTR(s, 2)", "TO_CHAR(t, 'yyyy')", "TO_CHAR(d)", "TRANSLATE(s, ',', ';')", "RANDOM()", "RAND(5)", "FROM_UNIXTIME(0)", "IS_DATE('2024-01-01')", "CHAR_LENGTH(s)", "OCTET_LENGTH(s)", "BIT_LENGTH(s)", "HEXTORAW('0041')", "RAWTOHEX(s)", "LCASE(s)", "UCASE(s)", "LOCATE(',', s)", "INSTR(s, ',')", "LPAD(s, 5)", "RPAD(s, 5, '*')", "LTRIM(s)", "RTRIM(s)", "REGEXP_REPLACE(s, ',', ';')", "REGEXP_LIKE(s, 'a')", "REGEXP_SUBSTR(s, '[a-z]')", "SPLIT(s, ',')", "SOUNDEX(s)", "SUBSTRING(s, 1, 1)", "ACOS(0.5)", "ASIN(0.5)", "ATAN(1)", "COS(0)", "COSH(0)", "COT(1)", "SIN(0)", "SINH(0)", "TAN(0)", "TANH(0)", "ARRAY_MAX(ARRAY(1,2))", "ARRAY_MIN(ARRAY(1,2))", "CEIL(d)", "CEILING(d)", "EXP(1)", "FLOOR(d)", "LN(1)", "LOG10(10)", "RADIANS(180)", "SQRT(4)", "POWER(2, 3)", "ROUND(d, 1)", "SIGN(d)", "TRIM_SCALE(d)", "CURRENT_DATE", "DATEADD(t, 1, 'MONTH')", "DATEDIFF(t, t, 'DAY')", "DAYNAME(t)", "DAY_OF_MONTH(t)", "DAY_OF_WEEK(t)", "DAY_OF_YEAR(t)", "EXTRACT(DOW FROM t)", "FORMATDATETIME(t, 'yyyy')", "MONTHNAME(t)", "PARSEDATETIME('2024', 'yyyy')", "TO_DATE('2024-01-02', 'yyyy-MM-dd')", "QUARTER(t)", "CAST(s AS STRING)", "TRY_CAST(s AS INT)", "COALESCE(s, 'x')", "IFNULL(s, 'x')", "NULLIF(s, 'x')", "CASEWHEN(i > 1, 1, 0)", "UUID()", "NVL(s, 'x')", "NVL2(s, 1, 0)", "ASCII(s)", "CHR(65)", "CHAR(65)", "CONCAT(s, 1)", "LEFT(s, 1)", "RIGHT(s, 1)", "ABS(d)", "GREATEST(1, 2)", "LEAST(1, 2)", "MD5(s)", "SHA256(s)", "JSON_EXTRACT('{\"a\":1}', '$.a')", "JSON_VALUE('{\"a\":1}', '$.a')", "SPLIT_PART(s, ',', 1)", "REGEXP_MATCH(s, 'a')", "STRFTIME(t, '%Y')", "TO_TIMESTAMP('2024-01-01')", "DATE_TRUNC('month', t)", "DATE_ADD(t, 1, 'DAY')", "DATE_DIFF(t, t, 'DAY')"];

  it.each(calls)('%s parses, type-checks and runs without rejecting', (call) => {
    const schema = schemaOf({ i: new Int32(), s: new Utf8(), t: new TimestampMillisecond(), d: new Float64() });
    const run = runSql(`SELECT ${call} AS v FROM t`, schema, [{ i: 3, s: 'a,b', t: Date.UTC(2024, 0, 15, 10), d: 2.5 }]);
    expect(run.rejects).toEqual([]);
    expect(run.rows).toHaveLength(1);
  });

  it.each(["LATERAL VIEW EXPLODE(SPLIT(s, ','))", 'LATERAL VIEW OUTER EXPLODE(l)', 'LATERAL VIEW EXPLODE(ARRAY(i, 2))'])('%s AS v parses, type-checks and makes one row per element', (clause) => {
    const schema = schemaOf({ i: new Int32(), s: new Utf8(), l: new List(new Field('item', new Int32(), true)) });
    const run = runSql(`SELECT v FROM t ${clause} AS v`, schema, [{ i: 3, s: 'a,b', l: [1, 2] }]);
    expect(run.rejects).toEqual([]);
    expect(run.rows).toHaveLength(2);
  });
});
