import { Binary, Bool, DateDay, Decimal, Field, FixedSizeList, Float64, Int32, Int64, List, Map_, Struct, TimestampMillisecond, Uint64, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { fakeSchema, generateBatch } from '../../../connectors/fake/generator.js';
import { SqlTransform } from '../../../connectors/sql/index.js';
import { batchToRows, rowsToBatch } from '../../../src/api/rows.js';
import { runSql, schemaOf } from './support.js';

const schema = schemaOf({ id: new Int64(), name: new Utf8(), amount: new Float64(), qty: new Int32(), ok: new Bool(), at: new TimestampMillisecond() });
const rows = [
  { id: 1n, name: 'apple', amount: 10.5, qty: 3, ok: true, at: Date.UTC(2024, 0, 1) },
  { id: 2n, name: 'Banana', amount: 99.0, qty: null, ok: false, at: Date.UTC(2024, 5, 1) },
  { id: 3n, name: null, amount: 150.25, qty: 7, ok: null, at: null },
  { id: 4n, name: 'cherry', amount: -1, qty: 0, ok: true, at: Date.UTC(2025, 0, 1) },
];

describe('sql WHERE and output schema', () => {
  it('SELECT * passes every column through unchanged', () => {
    const run = runSql('SELECT * FROM t', schema, rows);
    expect(run.rows).toEqual(rows);
    expect(run.schema.fields.map((f) => f.name)).toEqual(['id', 'name', 'amount', 'qty', 'ok', 'at']);
  });

  it('a query of bare columns without WHERE returns the same batch object (no copy)', () => {
    const transform = new SqlTransform('SELECT * FROM t', 't');
    transform.outputSchema(fakeSchema);
    const batch = generateBatch(1, 0, 100);
    expect(transform.apply(batch, { reject: () => undefined })).toBe(batch);
  });

  it('WHERE with BETWEEN, IN, LIKE, ILIKE, IS NULL and timestamps', () => {
    const ids = (where: string) => runSql(`SELECT id FROM t WHERE ${where}`, schema, rows).rows.map((r) => r.id);
    expect(ids('amount BETWEEN 0 AND 100')).toEqual([1n, 2n]);
    expect(ids('amount NOT BETWEEN 0 AND 100')).toEqual([3n, 4n]);
    expect(ids("name IN ('apple', 'cherry')")).toEqual([1n, 4n]);
    expect(ids("name LIKE 'b%'")).toEqual([]);
    expect(ids("name ILIKE 'b%'")).toEqual([2n]);
    expect(ids('qty IS NULL OR name IS NULL')).toEqual([2n, 3n]);
    expect(ids("at >= '2024-06-01'")).toEqual([2n, 4n]);
    expect(ids("at < TIMESTAMP '2024-06-01 00:00:00'")).toEqual([1n]);
    expect(ids('ok')).toEqual([1n, 4n]);
    expect(ids('id % 2 = 0 AND amount > 0')).toEqual([2n]);
    expect(ids('FALSE')).toEqual([]);
  });

  it('computed columns over the kept rows, with aliases and the types they produce', () => {
    const run = runSql("SELECT id, upper(name) AS up, amount * 2 AS twice, qty + 1 AS next, amount > 50 AS big, CAST(at AS DATE) AS day, name || '!' AS shout FROM t WHERE id <> 2", schema, rows);
    expect(run.schema.fields.map((f) => [f.name, String(f.type)])).toEqual([
      ['id', 'Int64'],
      ['up', 'Utf8'],
      ['twice', 'Float64'],
      ['next', 'Int32'],
      ['big', 'Bool'],
      ['day', 'Date32<DAY>'],
      ['shout', 'Utf8'],
    ]);
    expect(run.rows).toEqual([
      { id: 1n, up: 'APPLE', twice: 21, next: 4, big: false, day: Date.UTC(2024, 0, 1), shout: 'apple!' },
      { id: 3n, up: null, twice: 300.5, next: 8, big: true, day: null, shout: null },
      { id: 4n, up: 'CHERRY', twice: -2, next: 1, big: false, day: Date.UTC(2025, 0, 1), shout: 'cherry!' },
    ]);
  });

  it('the output schema is known before any row moves; unaliased expressions get stable names', () => {
    const transform = new SqlTransform('SELECT lower(name), amount + 1, CAST(qty AS BIGINT), id AS key FROM t', 't');
    const out = transform.outputSchema(schema);
    expect(out.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(['lower:Utf8', 'col_2:Float64', 'qty:Int64', 'key:Int64']);
  });

  it('a WHERE that drops every row returns null; rejected rows are left out and reported by input index', () => {
    expect(runSql('SELECT id FROM t WHERE amount > 1000', schema, rows).rows).toEqual([]);
    const run = runSql("SELECT id, CAST(name AS INT) AS n FROM t WHERE amount > 0", schema, [...rows, { ...rows[0]!, id: 5n, name: '12' }]);
    expect(run.rows).toEqual([
      { id: 3n, n: null },
      { id: 5n, n: 12 },
    ]);
    expect(run.rejects.map((r) => r.row)).toEqual([0, 1]);
  });

  it('filters and computes on the fake source batch with the same result as a row-by-row evaluation', () => {
    const transform = new SqlTransform("SELECT id, name, amount * 1.1 AS gross, quantity + 1 AS next, upper(category) AS category FROM t WHERE amount > 5000 AND category <> 'toys'", 't');
    transform.outputSchema(fakeSchema);
    const batch = generateBatch(7, 0, 5000);
    const output = transform.apply(batch, { reject: () => undefined });
    const expected = batchToRows(batch)
      .filter((r) => (r.amount as number) > 5000 && r.category !== 'toys')
      .map((r) => ({ id: r.id, name: r.name, gross: (r.amount as number) * 1.1, next: r.quantity === null ? null : (r.quantity as number) + 1, category: (r.category as string).toUpperCase() }));
    expect(expected.length).toBeGreaterThan(1000);
    expect(batchToRows(output!)).toEqual(expected);
  });

  it('a sliced batch (the file source cuts batches to chunk_rows) gives the same rows as the same rows unsliced', () => {
    const wide = schemaOf({ id: new Int64(), name: new Utf8(), amount: new Float64(), qty: new Int32(), ok: new Bool(), at: new TimestampMillisecond(), day: new DateDay(), bin: new Binary(), u: new Uint64(), price: new Decimal(2, 10, 128) });
    const all = Array.from({ length: 40 }, (_, k) => ({
      id: BigInt(k) * 1_000_000_007n,
      name: k % 7 === 0 ? null : k % 5 === 0 ? `é-${k}` : `name-${k}`,
      amount: k * 1.5,
      qty: k % 3 === 0 ? null : k,
      ok: k % 4 === 0 ? null : k % 2 === 0,
      at: Date.UTC(2024, 0, 1) + k * 3_600_000,
      day: Date.UTC(2024, 0, 1 + k),
      bin: new Uint8Array([k, k + 1]),
      u: BigInt(k),
      price: new Uint32Array([k * 100 + 5, 0, 0, 0]),
    }));
    const queries = [
      'SELECT * FROM t WHERE qty > 10 OR name IS NULL',
      'SELECT id, name, amount, qty, ok, at, day, bin, u, price FROM t WHERE ok',
      "SELECT id + 1 AS a, upper(name) AS b, lower(name) AS b2, amount * 2 AS c, qty - 1 AS d, NOT ok AS e, dateadd(at, 1, 'HOUR') AS f FROM t",
      "SELECT day + 1 AS g, length(name) AS h, md5(bin) AS i, u * 2 AS j, price * 2 AS k, CAST(id AS VARCHAR) AS l FROM t WHERE amount >= 15 AND name LIKE 'name%'",
    ];
    const batch = rowsToBatch(wide, all);
    for (const [from, to] of [[1, 40], [3, 17], [9, 10], [13, 38]] as const) {
      const sliced = batch.slice(from, to);
      const fresh = rowsToBatch(wide, all.slice(from, to));
      for (const query of queries) {
        const run = (input: typeof batch) => {
          const transform = new SqlTransform(query, 't');
          transform.outputSchema(wide);
          const rejects: number[] = [];
          const out = transform.apply(input, { reject: (row) => rejects.push(row) });
          return { rows: out ? batchToRows(out) : [], rejects };
        };
        expect(run(sliced), `${query} over rows ${from}..${to}`).toEqual(run(fresh));
      }
    }
  });

  it('list, struct and map columns pass through a WHERE with their values (each value gathered, sliced or not)', () => {
    const item = (type: Int32 | Utf8) => new Field('item', type, true);
    const nested = schemaOf({
      id: new Int32(),
      nums: new List(item(new Int32())),
      words: new List(item(new Utf8())),
      pair: new FixedSizeList(2, item(new Int32())),
      address: new Struct([new Field('city', new Utf8(), true), new Field('zip', new List(item(new Int32())), true)]),
      attrs: new Map_(new Field('entries', new Struct([new Field('key', new Utf8(), false), new Field('value', new Int32(), true)]), false) as never),
    });
    const all = Array.from({ length: 12 }, (_, k) => ({
      id: k,
      nums: k % 4 === 0 ? null : Array.from({ length: k % 3 }, (_, j) => (j === 1 ? null : k * 10 + j)),
      words: [`w${k}`, `é${k}`],
      pair: k % 5 === 0 ? null : [k, -k],
      address: k % 6 === 0 ? null : { city: `c${k}`, zip: [k, k + 1] },
      attrs: new Map([[`k${k}`, k]]),
    }));
    const plain = (rows: Record<string, unknown>[]) => JSON.parse(JSON.stringify(rows, (_, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v)));
    const batch = rowsToBatch(nested, all);
    for (const [from, to] of [[0, 12], [3, 11]] as const) {
      const transform = new SqlTransform('SELECT * FROM t WHERE id % 2 = 1', 't');
      transform.outputSchema(nested);
      const out = transform.apply(from === 0 ? batch : batch.slice(from, to), { reject: () => undefined });
      const expected = all.slice(from, to).filter((r) => r.id % 2 === 1);
      expect(plain(batchToRows(out!)), `rows ${from}..${to}`).toEqual(plain(expected));
    }
  });
});
