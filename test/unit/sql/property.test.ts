import { Bool, Float64, Int32, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import type { Row } from '../../../src/api/rows.js';
import { seededRandom } from '../../../src/testing/random.js';
import { runSql, schemaOf } from './support.js';

/**
 * The compiled, column-at-a-time evaluator against a plain row-at-a-time reference written from the SQL rules
 * (three-valued logic, NULL propagation, lazy CASE / COALESCE / AND / OR, integer division and overflow), on
 * random expressions over random batches with NULLs. Replay a failure with TIDEWAY_SQL_SEED=<seed>.
 */

type V = number | boolean | null;
class RowFail extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

interface Gen {
  sql: string;
  type: 'int' | 'float' | 'bool';
  eval: (row: Row) => V;
  /**
   * NULL known from the query alone (a NULL literal, or built only from them). An operator with such an
   * operand is NULL without evaluating the other one, as PostgreSQL folds strict operators at plan time.
   */
  staticNull?: boolean;
}

function generator(random: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const int32 = (r: number): number => {
    if (r > 2147483647 || r < -2147483648) throw new RowFail('SQL_NUMERIC_OVERFLOW');
    // An INT has no negative zero.
    return r === 0 ? 0 : r;
  };

  function num(depth: number): Gen {
    const choice = depth <= 0 ? pick(['col', 'lit']) : pick(['col', 'lit', 'arith', 'arith', 'case', 'coalesce', 'abs', 'nullif']);
    switch (choice) {
      case 'col': {
        const c = pick(['a', 'b', 'c'] as const);
        return { sql: c, type: c === 'c' ? 'float' : 'int', eval: (row) => row[c] as number | null };
      }
      case 'lit': {
        const v = Math.floor(random() * 21) - 10;
        return random() < 0.2 ? { sql: 'NULL', type: 'int', eval: () => null, staticNull: true } : { sql: `(${v})`, type: 'int', eval: () => v };
      }
      case 'arith': {
        const l = num(depth - 1);
        const r = num(depth - 1);
        const op = pick(['+', '-', '*', '/'] as const);
        const type = l.type === 'float' || r.type === 'float' ? 'float' : 'int';
        return {
          sql: `(${l.sql} ${op} ${r.sql})`,
          type,
          eval: (row) => {
            if (l.staticNull || r.staticNull) return null;
            const x = l.eval(row) as number | null;
            const y = r.eval(row) as number | null;
            if (x === null || y === null) return null;
            if (op === '/' && y === 0) throw new RowFail('SQL_DIVISION_BY_ZERO');
            const v = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y : type === 'int' ? Math.trunc(x / y) : x / y;
            return type === 'int' ? int32(v) : v;
          },
        };
      }
      case 'case': {
        const cond = bool(depth - 1);
        const a = num(depth - 1);
        const b = num(depth - 1);
        const type = a.type === 'float' || b.type === 'float' ? 'float' : 'int';
        return { sql: `CASE WHEN ${cond.sql} THEN ${a.sql} ELSE ${b.sql} END`, type, eval: (row) => (cond.eval(row) === true ? a.eval(row) : b.eval(row)), staticNull: !!a.staticNull && !!b.staticNull };
      }
      case 'coalesce': {
        const a = num(depth - 1);
        const b = num(depth - 1);
        const type = a.type === 'float' || b.type === 'float' ? 'float' : 'int';
        return { sql: `COALESCE(${a.sql}, ${b.sql})`, type, eval: (row) => a.eval(row) ?? b.eval(row), staticNull: !!a.staticNull && !!b.staticNull };
      }
      case 'abs': {
        const a = num(depth - 1);
        return { sql: `abs(${a.sql})`, type: a.type, eval: (row) => (a.eval(row) === null ? null : Math.abs(a.eval(row) as number)), staticNull: !!a.staticNull };
      }
      default: {
        const a = num(depth - 1);
        const v = Math.floor(random() * 5) - 2;
        return { sql: `NULLIF(${a.sql}, ${v})`, type: a.type, eval: (row) => (a.eval(row) === v ? null : a.eval(row)), staticNull: !!a.staticNull };
      }
    }
  }

  function bool(depth: number): Gen {
    const choice = depth <= 0 ? pick(['col', 'cmp']) : pick(['col', 'cmp', 'cmp', 'and', 'or', 'not', 'isnull', 'in', 'between']);
    switch (choice) {
      case 'col':
        return { sql: 'p', type: 'bool', eval: (row) => row.p as boolean | null };
      case 'cmp': {
        const l = num(depth - 1);
        const r = num(depth - 1);
        const op = pick(['=', '<>', '<', '<=', '>', '>='] as const);
        return {
          sql: `(${l.sql} ${op} ${r.sql})`,
          type: 'bool',
          eval: (row) => {
            if (l.staticNull || r.staticNull) return null;
            const x = l.eval(row) as number | null;
            const y = r.eval(row) as number | null;
            if (x === null || y === null) return null;
            return op === '=' ? x === y : op === '<>' ? x !== y : op === '<' ? x < y : op === '<=' ? x <= y : op === '>' ? x > y : x >= y;
          },
        };
      }
      case 'and':
      case 'or': {
        const l = bool(depth - 1);
        const r = bool(depth - 1);
        const and = choice === 'and';
        return {
          sql: `(${l.sql} ${and ? 'AND' : 'OR'} ${r.sql})`,
          type: 'bool',
          eval: (row) => {
            const x = l.eval(row);
            if (x === !and) return !and;
            const y = r.eval(row);
            if (y === !and) return !and;
            return x === null || y === null ? null : and;
          },
        };
      }
      case 'not': {
        const a = bool(depth - 1);
        return { sql: `(NOT ${a.sql})`, type: 'bool', eval: (row) => (a.eval(row) === null ? null : !a.eval(row)) };
      }
      case 'isnull': {
        const a = num(depth - 1);
        const negated = random() < 0.5;
        return { sql: `(${a.sql} IS ${negated ? 'NOT ' : ''}NULL)`, type: 'bool', eval: (row) => (a.eval(row) === null) !== negated };
      }
      case 'in': {
        const a = num(depth - 1);
        const list = [Math.floor(random() * 7) - 3, Math.floor(random() * 7) - 3];
        const withNull = random() < 0.3;
        return {
          sql: `(${a.sql} IN (${list.join(', ')}${withNull ? ', NULL' : ''}))`,
          type: 'bool',
          eval: (row) => {
            const x = a.eval(row);
            if (x === null) return null;
            if (list.includes(x as number)) return true;
            return withNull ? null : false;
          },
        };
      }
      default: {
        const a = num(depth - 1);
        const lo = Math.floor(random() * 7) - 5;
        const hi = lo + Math.floor(random() * 6);
        return {
          sql: `(${a.sql} BETWEEN ${lo} AND ${hi})`,
          type: 'bool',
          eval: (row) => {
            const x = a.eval(row) as number | null;
            if (x === null) return null;
            return x >= lo && x <= hi;
          },
        };
      }
    }
  }
  return { num, bool };
}

function randomRows(random: () => number, n: number): Row[] {
  const maybe = <T>(v: T): T | null => (random() < 0.2 ? null : v);
  return Array.from({ length: n }, () => ({
    a: maybe(Math.floor(random() * 201) - 100),
    b: maybe(Math.floor(random() * 7) - 3),
    c: maybe(Math.round((random() * 200 - 100) * 4) / 4),
    p: maybe(random() < 0.5),
  }));
}

const schema = schemaOf({ a: new Int32(), b: new Int32(), c: new Float64(), p: new Bool() });

describe('sql compiled evaluator against a row-by-row reference', () => {
  it('agrees on values, filtered rows and rejected rows for random expressions and batches', () => {
    const seed = Number(process.env.TIDEWAY_SQL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stdout.write(`sql property test seed ${seed} (replay: TIDEWAY_SQL_SEED=${seed})\n`);
    const random = seededRandom(seed);
    const { num, bool } = generator(random);
    let compared = 0;
    let rejected = 0;
    for (let round = 0; round < 150; round++) {
      const value = num(3);
      const flag = bool(2);
      const where = bool(2);
      const rows = randomRows(random, 40);
      const query = `SELECT ${value.sql} AS v, ${flag.sql} AS w FROM t WHERE ${where.sql}`;
      const expected: Row[] = [];
      const expectedRejects: [number, string][] = [];
      rows.forEach((row, i) => {
        try {
          if (where.eval(row) !== true) return;
          expected.push({ v: value.eval(row), w: flag.eval(row) });
        } catch (error) {
          if (!(error instanceof RowFail)) throw error;
          expectedRejects.push([i, error.code]);
        }
      });
      const run = runSql(query, schema, rows);
      const context = `seed ${seed}, round ${round}: ${query}`;
      expect(run.rows, context).toEqual(expected);
      expect(run.rejects.map((r) => [r.row, r.error.code]), context).toEqual(expectedRejects);
      compared += expected.length;
      rejected += expectedRejects.length;
    }
    expect(compared).toBeGreaterThan(500);
    process.stdout.write(`sql property test: ${compared} rows compared, ${rejected} rejects compared\n`);
  });
});

/** SQL LIKE by recursion on the pattern: an implementation independent of the compiled one (a RegExp). */
function like(text: string[], pattern: string[], ti = 0, pi = 0): boolean {
  if (pi === pattern.length) return ti === text.length;
  const p = pattern[pi]!;
  if (p === '%') {
    for (let k = ti; k <= text.length; k++) if (like(text, pattern, k, pi + 1)) return true;
    return false;
  }
  if (ti === text.length) return false;
  return (p === '_' || p === text[ti]) && like(text, pattern, ti + 1, pi + 1);
}

describe('sql text expressions against a row-by-row reference', () => {
  it('agrees for random text expressions over random text with NULLs and unicode', () => {
    const seed = Number(process.env.TIDEWAY_SQL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    process.stdout.write(`sql text property test seed ${seed} (replay: TIDEWAY_SQL_SEED=${seed})\n`);
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const alphabet = ['a', 'b', 'A', 'é', '_', ' ', '😀'];
    const word = () => Array.from({ length: Math.floor(random() * 5) }, () => pick(alphabet)).join('');
    type T = { sql: string; eval: (row: Row) => string | null };
    type B = { sql: string; eval: (row: Row) => boolean | null };
    const lit = (v: string) => `'${v}'`;
    const text = (depth: number): T => {
      const choice = depth <= 0 ? pick(['col', 'lit']) : pick(['col', 'upper', 'lower', 'concat', 'coalesce', 'left', 'replace', 'trim', 'case']);
      switch (choice) {
        case 'col':
          return { sql: 's', eval: (row) => row.s as string | null };
        case 'lit': {
          const v = word();
          return { sql: lit(v), eval: () => v };
        }
        case 'upper':
        case 'lower': {
          const a = text(depth - 1);
          return { sql: `${choice}(${a.sql})`, eval: (row) => { const v = a.eval(row); return v === null ? null : choice === 'upper' ? v.toUpperCase() : v.toLowerCase(); } };
        }
        case 'concat': {
          const a = text(depth - 1);
          const b = text(depth - 1);
          return { sql: `(${a.sql} || ${b.sql})`, eval: (row) => { const x = a.eval(row); const y = b.eval(row); return x === null || y === null ? null : x + y; } };
        }
        case 'coalesce': {
          const a = text(depth - 1);
          const v = word();
          return { sql: `COALESCE(${a.sql}, ${lit(v)})`, eval: (row) => a.eval(row) ?? v };
        }
        case 'left': {
          const a = text(depth - 1);
          const n = Math.floor(random() * 4);
          return { sql: `left(${a.sql}, ${n})`, eval: (row) => { const v = a.eval(row); return v === null ? null : [...v].slice(0, n).join(''); } };
        }
        case 'replace': {
          const a = text(depth - 1);
          return { sql: `replace(${a.sql}, 'a', 'xy')`, eval: (row) => { const v = a.eval(row); return v === null ? null : v.split('a').join('xy'); } };
        }
        case 'trim': {
          const a = text(depth - 1);
          return { sql: `trim(${a.sql})`, eval: (row) => { const v = a.eval(row); return v === null ? null : v.replace(/^ +| +$/g, ''); } };
        }
        default: {
          const c = cond(depth - 1);
          const a = text(depth - 1);
          const b = text(depth - 1);
          return { sql: `CASE WHEN ${c.sql} THEN ${a.sql} ELSE ${b.sql} END`, eval: (row) => (c.eval(row) === true ? a.eval(row) : b.eval(row)) };
        }
      }
    };
    const cond = (depth: number): B => {
      const a = text(depth);
      const choice = pick(['like', 'ilike', 'eq', 'in', 'length', 'isnull']);
      switch (choice) {
        case 'like':
        case 'ilike': {
          const pattern = Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(['%', '_', 'a', 'A', 'é', '😀'])).join('');
          const fold = (v: string) => (choice === 'ilike' ? v.toLowerCase() : v);
          return { sql: `(${a.sql} ${choice.toUpperCase()} ${lit(pattern)})`, eval: (row) => { const v = a.eval(row); return v === null ? null : like([...fold(v)], [...fold(pattern)]); } };
        }
        case 'eq': {
          const v = word();
          return { sql: `(${a.sql} = ${lit(v)})`, eval: (row) => { const x = a.eval(row); return x === null ? null : x === v; } };
        }
        case 'in': {
          const values = [word(), word()];
          return { sql: `(${a.sql} IN (${values.map(lit).join(', ')}))`, eval: (row) => { const x = a.eval(row); return x === null ? null : values.includes(x); } };
        }
        case 'length': {
          const n = Math.floor(random() * 5);
          return { sql: `(length(${a.sql}) > ${n})`, eval: (row) => { const x = a.eval(row); return x === null ? null : [...x].length > n; } };
        }
        default:
          return { sql: `(${a.sql} IS NULL)`, eval: (row) => a.eval(row) === null };
      }
    };
    const schema = schemaOf({ s: new Utf8() });
    let compared = 0;
    for (let round = 0; round < 150; round++) {
      const value = text(3);
      const where = cond(2);
      const rows = Array.from({ length: 30 }, () => ({ s: random() < 0.2 ? null : word() }));
      const query = `SELECT ${value.sql} AS v FROM t WHERE ${where.sql}`;
      const expected = rows.filter((row) => where.eval(row) === true).map((row) => ({ v: value.eval(row) }));
      const run = runSql(query, schema, rows);
      expect(run.rows, `seed ${seed}, round ${round}: ${query}`).toEqual(expected);
      expect(run.rejects).toEqual([]);
      compared += expected.length;
    }
    expect(compared).toBeGreaterThan(300);
  });
});
