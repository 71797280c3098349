import { Bool, Int32, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { runSql, schemaOf } from './support.js';

const T = true;
const F = false;
const N = null;
const values = [T, F, N];
const pairs = values.flatMap((a) => values.map((b) => ({ a, b })));
const bools = schemaOf({ a: new Bool(), b: new Bool() });

/** SQL's three-valued logic, written out as the standard's tables. */
const AND: Record<string, boolean | null> = { 'true,true': T, 'true,false': F, 'true,null': N, 'false,true': F, 'false,false': F, 'false,null': F, 'null,true': N, 'null,false': F, 'null,null': N };
const OR: Record<string, boolean | null> = { 'true,true': T, 'true,false': T, 'true,null': T, 'false,true': T, 'false,false': F, 'false,null': N, 'null,true': T, 'null,false': N, 'null,null': N };

describe('sql three-valued logic', () => {
  it('AND, OR and NOT follow the truth tables over every pair', () => {
    const run = runSql('SELECT a AND b AS x, a OR b AS y, NOT a AS z FROM t', bools, pairs);
    expect(run.rows.map((r) => r.x)).toEqual(pairs.map(({ a, b }) => AND[`${a},${b}`]));
    expect(run.rows.map((r) => r.y)).toEqual(pairs.map(({ a, b }) => OR[`${a},${b}`]));
    expect(run.rows.map((r) => r.z)).toEqual(pairs.map(({ a }) => (a === null ? null : !a)));
  });

  it('WHERE keeps only rows whose condition is TRUE (not NULL, not FALSE)', () => {
    const run = runSql('SELECT a, b FROM t WHERE a OR b', bools, pairs);
    expect(run.rows).toEqual(pairs.filter(({ a, b }) => OR[`${a},${b}`] === true));
    const notRun = runSql('SELECT a FROM t WHERE NOT (a AND b)', bools, pairs);
    expect(notRun.rows.length).toBe(pairs.filter(({ a, b }) => AND[`${a},${b}`] === false).length);
  });

  it('comparisons with NULL are NULL, IS [NOT] NULL never is', () => {
    const schema = schemaOf({ x: new Int32(), y: new Int32() });
    const rows = [{ x: 1, y: 1 }, { x: 1, y: null }, { x: null, y: null }, { x: 2, y: 1 }];
    const run = runSql('SELECT x = y AS eq, x <> y AS ne, x < y AS lt, x IS NULL AS xn, y IS NOT NULL AS yn, x + y AS s FROM t', schema, rows);
    expect(run.rows).toEqual([
      { eq: T, ne: F, lt: F, xn: F, yn: T, s: 2 },
      { eq: N, ne: N, lt: N, xn: F, yn: F, s: N },
      { eq: N, ne: N, lt: N, xn: T, yn: F, s: N },
      { eq: F, ne: T, lt: F, xn: F, yn: T, s: 3 },
    ]);
  });

  it('IN with a NULL in the list is NULL when nothing matches; NOT IN likewise', () => {
    const schema = schemaOf({ x: new Int32() });
    const run = runSql('SELECT x IN (1, NULL) AS a, x NOT IN (1, NULL) AS b, x IN (1, 2) AS c, x NOT IN (1, 2) AS d FROM t', schema, [{ x: 1 }, { x: 3 }, { x: null }]);
    expect(run.rows).toEqual([
      { a: T, b: F, c: T, d: F },
      { a: N, b: N, c: F, d: T },
      { a: N, b: N, c: N, d: N },
    ]);
  });

  it('x IS TRUE / IS NOT FALSE are never NULL', () => {
    const run = runSql('SELECT a IS TRUE AS t1, a IS NOT FALSE AS t2 FROM t', bools, values.map((a) => ({ a, b: null })));
    expect(run.rows).toEqual([
      { t1: T, t2: T },
      { t1: F, t2: F },
      { t1: F, t2: T },
    ]);
  });

  it('COALESCE, IFNULL, NVL, NVL2 and NULLIF', () => {
    const schema = schemaOf({ s: new Utf8(), n: new Int32() });
    const run = runSql("SELECT COALESCE(s, 'none') AS a, IFNULL(n, -1) AS b, NVL(s, '') AS c, NVL2(n, 'has', 'none') AS d, NULLIF(n, 0) AS e, COALESCE(NULL, NULL, n) AS f FROM t", schema, [
      { s: 'x', n: 0 },
      { s: null, n: null },
      { s: '', n: 5 },
    ]);
    expect(run.rows).toEqual([
      { a: 'x', b: 0, c: 'x', d: 'has', e: null, f: 0 },
      { a: 'none', b: -1, c: '', d: 'none', e: null, f: null },
      { a: '', b: 5, c: '', d: 'has', e: 5, f: 5 },
    ]);
  });

  it('CASE without ELSE gives NULL; a NULL condition is not true', () => {
    const run = runSql("SELECT CASE WHEN a THEN 'yes' WHEN b THEN 'b' END AS v FROM t", bools, pairs);
    expect(run.rows.map((r) => r.v)).toEqual(pairs.map(({ a, b }) => (a === true ? 'yes' : b === true ? 'b' : null)));
  });

  it('a branch not taken does not reject its rows (CASE guards a division, AND guards the right side)', () => {
    const schema = schemaOf({ x: new Int32() });
    const run = runSql('SELECT CASE WHEN x = 0 THEN 0 ELSE 10 / x END AS v, COALESCE(x, 1 / 0) AS w FROM t WHERE x <> 0 OR x = 0', schema, [{ x: 0 }, { x: 5 }]);
    expect(run.rejects).toEqual([]);
    expect(run.rows).toEqual([
      { v: 0, w: 0 },
      { v: 2, w: 5 },
    ]);
    const guarded = runSql('SELECT x FROM t WHERE x <> 0 AND 10 / x > 1', schema, [{ x: 0 }, { x: 5 }, { x: 20 }]);
    expect(guarded.rejects).toEqual([]);
    expect(guarded.rows).toEqual([{ x: 5 }]);
  });
});
