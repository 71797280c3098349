import { Field, FixedSizeList, Float64, Int32, List, type RecordBatch, Struct, Utf8, Vector } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { SqlTransform } from '../../../connectors/sql/index.js';
import type { TidewayError } from '../../../src/api/errors.js';
import { batchToRows, type Row, rowsToBatch } from '../../../src/api/rows.js';
import { checkError, runSql, schemaOf } from './support.js';

const list = (type: Int32 | Utf8 | Float64 | Struct) => new List(new Field('item', type, true));
const schema = schemaOf({ id: new Int32(), tags: new Utf8(), nums: list(new Int32()), amount: new Float64() });
const rows: Row[] = [
  { id: 1, tags: 'a,b', nums: [1, 2], amount: 10 },
  { id: 2, tags: null, nums: [], amount: 20 },
  { id: 3, tags: '', nums: null, amount: 30 },
  { id: 4, tags: 'x', nums: [null, 5], amount: 40 },
];

/** Plain values of the rows (list values as arrays). */
function plain(values: Row[]): Row[] {
  return values.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Vector ? [...(v as Iterable<unknown>)] : v])));
}

describe('LATERAL VIEW EXPLODE over a list column', () => {
  it('one row per element with the element type; NULL and empty lists give no row, NULL elements are skipped', () => {
    const run = runSql('SELECT id, n FROM t LATERAL VIEW EXPLODE(nums) AS n', schema, rows);
    expect(run.rows).toEqual([
      { id: 1, n: 1 },
      { id: 1, n: 2 },
      { id: 4, n: 5 },
    ]);
    expect(run.schema.fields.map((f) => [f.name, String(f.type)])).toEqual([
      ['id', 'Int32'],
      ['n', 'Int32'],
    ]);
    expect(run.rejects).toEqual([]);
  });

  it('OUTER keeps a row with NULL for a NULL or empty list, and keeps NULL elements', () => {
    const run = runSql('SELECT id, n FROM t LATERAL VIEW OUTER EXPLODE(nums) AS n', schema, rows);
    expect(run.rows).toEqual([
      { id: 1, n: 1 },
      { id: 1, n: 2 },
      { id: 2, n: null },
      { id: 3, n: null },
      { id: 4, n: null },
      { id: 4, n: 5 },
    ]);
  });

  it('SELECT * gives the input columns then the new column; AS an existing column replaces it in place', () => {
    const added = runSql('SELECT * FROM t LATERAL VIEW EXPLODE(nums) AS n WHERE id = 1', schema, rows);
    expect(added.schema.fields.map((f) => f.name)).toEqual(['id', 'tags', 'nums', 'amount', 'n']);
    expect(plain(added.rows)).toEqual([
      { id: 1, tags: 'a,b', nums: [1, 2], amount: 10, n: 1 },
      { id: 1, tags: 'a,b', nums: [1, 2], amount: 10, n: 2 },
    ]);
    const replaced = runSql('SELECT * FROM t LATERAL VIEW EXPLODE(nums) AS NUMS', schema, rows);
    expect(replaced.schema.fields.map((f) => [f.name, String(f.type)])).toEqual([
      ['id', 'Int32'],
      ['tags', 'Utf8'],
      ['nums', 'Int32'],
      ['amount', 'Float64'],
    ]);
    expect(replaced.rows.map((r) => [r.id, r.nums])).toEqual([
      [1, 1],
      [1, 2],
      [4, 5],
    ]);
  });

  it('a list of structs: the element passes through as a struct, and expressions read it as JSON text', () => {
    const nested = schemaOf({ id: new Int32(), items: list(new Struct([new Field('sku', new Utf8(), true), new Field('qty', new Int32(), true)])) });
    const run = runSql("SELECT id, item, json_value(item, '$.sku') AS sku FROM t LATERAL VIEW EXPLODE(items) AS item", nested, [
      { id: 1, items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }] },
      { id: 2, items: [{ sku: 'c', qty: null }] },
    ]);
    expect(run.schema.fields[1]!.type.toString()).toContain('Struct');
    expect(run.rows.map((r) => [r.id, (r.item as { toJSON(): unknown }).toJSON(), r.sku])).toEqual([
      [1, { sku: 'a', qty: 1 }, 'a'],
      [1, { sku: 'b', qty: 2 }, 'b'],
      [2, { sku: 'c', qty: null }, 'c'],
    ]);
  });

  it('a fixed-size list column', () => {
    const fixed = schemaOf({ id: new Int32(), pair: new FixedSizeList(2, new Field('item', new Int32(), true)) });
    const run = runSql('SELECT id, v FROM t LATERAL VIEW EXPLODE(pair) AS v', fixed, [
      { id: 1, pair: [1, 2] },
      { id: 2, pair: null },
      { id: 3, pair: [3, null] },
    ]);
    expect(run.rows).toEqual([
      { id: 1, v: 1 },
      { id: 1, v: 2 },
      { id: 3, v: 3 },
    ]);
  });

  it('a sliced batch (as a file source hands on) explodes the rows of the slice', () => {
    const many: Row[] = Array.from({ length: 9 }, (_, i) => ({ id: i, tags: `t${i},u${i}`, nums: i % 3 === 0 ? [] : [i, i * 10], amount: i }));
    const query = "SELECT id, n, tag, upper(tag) AS up FROM t LATERAL VIEW EXPLODE(nums) AS n LATERAL VIEW EXPLODE(SPLIT(tags, ',')) AS tag WHERE n > 1";
    const transform = new SqlTransform(query, 't');
    transform.outputSchema(schema);
    const whole = rowsToBatch(schema, many);
    const sliced = whole.slice(3, 8) as RecordBatch;
    const out = transform.apply(sliced, { reject: () => {} });
    const expected = transform.apply(rowsToBatch(schema, many.slice(3, 8)), { reject: () => {} });
    expect(batchToRows(out!)).toEqual(batchToRows(expected!));
    expect(batchToRows(out!).map((r) => r.id)).toEqual([4, 4, 4, 4, 5, 5, 5, 5, 7, 7, 7, 7]);
  });
});

describe('LATERAL VIEW EXPLODE over SPLIT and ARRAY', () => {
  it('SPLIT gives text elements; NULL text gives no row, empty text one empty element', () => {
    const run = runSql("SELECT id, tag FROM t LATERAL VIEW EXPLODE(SPLIT(tags, ',')) AS tag", schema, rows);
    expect(run.rows).toEqual([
      { id: 1, tag: 'a' },
      { id: 1, tag: 'b' },
      { id: 3, tag: '' },
      { id: 4, tag: 'x' },
    ]);
    expect(String(run.schema.fields[1]!.type)).toBe('Utf8');
    const outer = runSql("SELECT id, tag FROM t LATERAL VIEW OUTER EXPLODE(SPLIT(tags, ',')) AS tag WHERE id = 2", schema, rows);
    expect(outer.rows).toEqual([{ id: 2, tag: null }]);
  });

  it('ARRAY(...) elements as text, NULL elements skipped unless OUTER', () => {
    const one = schemaOf({ id: new Int32() });
    expect(runSql("SELECT id, v FROM t LATERAL VIEW EXPLODE(ARRAY(1, 'a', NULL, 2.5)) AS v", one, [{ id: 7 }]).rows).toEqual([
      { id: 7, v: '1' },
      { id: 7, v: 'a' },
      { id: 7, v: '2.5' },
    ]);
    expect(runSql("SELECT v FROM t LATERAL VIEW OUTER EXPLODE(ARRAY(1, NULL)) AS v", one, [{ id: 7 }]).rows).toEqual([{ v: '1' }, { v: null }]);
  });
});

describe('several LATERAL VIEWs, WHERE and computed columns', () => {
  it('two LATERAL VIEWs in a row give every pair, in order; the second can explode the first one\'s column', () => {
    const run = runSql("SELECT id, n, tag FROM t LATERAL VIEW EXPLODE(nums) AS n LATERAL VIEW EXPLODE(SPLIT(tags, ',')) AS tag", schema, rows);
    expect(run.rows).toEqual([
      { id: 1, n: 1, tag: 'a' },
      { id: 1, n: 1, tag: 'b' },
      { id: 1, n: 2, tag: 'a' },
      { id: 1, n: 2, tag: 'b' },
      { id: 4, n: 5, tag: 'x' },
    ]);
    const chained = runSql("SELECT id, part FROM t LATERAL VIEW EXPLODE(SPLIT(tags, ',')) AS tag LATERAL VIEW EXPLODE(SPLIT(concat(tag, '-', tag), '-')) AS part WHERE id = 1", schema, rows);
    expect(chained.rows.map((r) => r.part)).toEqual(['a', 'a', 'b', 'b']);
  });

  it('a WHERE on input columns filters the input rows; one on the exploded column filters the exploded rows', () => {
    const before = runSql("SELECT id, upper(tag) AS up, amount * 2 AS double, concat(tag, ':', id) AS label FROM t LATERAL VIEW EXPLODE(SPLIT(tags, ',')) AS tag WHERE amount < 35", schema, rows);
    expect(before.rows).toEqual([
      { id: 1, up: 'A', double: 20, label: 'a:1' },
      { id: 1, up: 'B', double: 20, label: 'b:1' },
      { id: 3, up: '', double: 60, label: ':3' },
    ]);
    const after = runSql("SELECT id, n * 10 AS n10 FROM t LATERAL VIEW OUTER EXPLODE(nums) AS n WHERE n IS NULL OR n >= 2", schema, rows);
    expect(after.rows).toEqual([
      { id: 1, n10: 20 },
      { id: 2, n10: null },
      { id: 3, n10: null },
      { id: 4, n10: null },
      { id: 4, n10: 50 },
    ]);
  });

  it('the clause may follow the WHERE, name a table alias, and quote its column', () => {
    const run = runSql("select id, \"Tag Name\" from t where id < 4 lateral view explode(split(tags, ',')) parts as \"Tag Name\"", schema, rows);
    expect(run.rows).toEqual([
      { id: 1, 'Tag Name': 'a' },
      { id: 1, 'Tag Name': 'b' },
      { id: 3, 'Tag Name': '' },
    ]);
  });

  it('a row that fails is rejected once by its input row index and gives no row at all', () => {
    const data: Row[] = [
      { id: 1, tags: '1,2', nums: [], amount: 0 },
      { id: 2, tags: '3,x,4', nums: [], amount: 0 },
      { id: 3, tags: 'y,z', nums: [], amount: 0 },
      { id: 4, tags: '5', nums: [], amount: 0 },
    ];
    const run = runSql("SELECT id, CAST(tag AS INT) AS n FROM t LATERAL VIEW EXPLODE(SPLIT(tags, ',')) AS tag", schema, data);
    expect(run.rows).toEqual([
      { id: 1, n: 1 },
      { id: 1, n: 2 },
      { id: 4, n: 5 },
    ]);
    expect(run.rejects.map((r) => [r.row, r.error.code, r.error.column])).toEqual([
      [1, 'SQL_CAST_FAILED', 'n'],
      [2, 'SQL_CAST_FAILED', 'n'],
    ]);
    // A failure inside the EXPLODE argument names the LATERAL VIEW column; rows the WHERE dropped are not computed.
    const inArg = runSql("SELECT id, v FROM t LATERAL VIEW EXPLODE(SPLIT(CAST(CAST(tags AS INT) AS VARCHAR), ',')) AS v WHERE id > 2", schema, data);
    expect(inArg.rows).toEqual([{ id: 4, v: '5' }]);
    expect(inArg.rejects.map((r) => [r.row, r.error.code, r.error.column])).toEqual([[2, 'SQL_CAST_FAILED', 'v']]);
  });

  it('a batch whose rows all explode to nothing gives no batch', () => {
    expect(runSql('SELECT id, n FROM t LATERAL VIEW EXPLODE(nums) AS n WHERE id IN (2, 3)', schema, rows).rows).toEqual([]);
  });
});

describe('LATERAL VIEW check-time errors, at their position in the query', () => {
  function expectError(query: string, code: string, line: number, column: number, text?: string): TidewayError {
    const error = checkError(query, schema);
    expect(error, `no error for ${query}`).toBeDefined();
    expect([error!.code, error!.context]).toEqual([code, expect.objectContaining({ line, column })]);
    expect(error!.message).toContain(`line ${line}, column ${column}`);
    if (text) expect(error!.message).toContain(text);
    return error!;
  }

  it('an unknown column inside the clause, with a did-you-mean', () => {
    expectError("SELECT id FROM t\n  LATERAL VIEW EXPLODE(SPLIT(tagz, ',')) AS tag", 'SQL_UNKNOWN_COLUMN', 2, 30, 'did you mean "tags"?');
    expectError('SELECT id FROM t LATERAL VIEW OUTER EXPLODE(numz) AS n', 'SQL_UNKNOWN_COLUMN', 1, 45, 'did you mean "nums"?');
  });

  it('an argument that is not an array', () => {
    expectError('SELECT id FROM t LATERAL VIEW EXPLODE(id) AS n', 'SQL_TYPE_MISMATCH', 1, 39, 'EXPLODE needs an array');
    expectError("SELECT id FROM t\nLATERAL VIEW EXPLODE(\n  upper(tags)) AS n", 'SQL_TYPE_MISMATCH', 3, 3, 'got a utf8 expression');
    expectError('SELECT id FROM t LATERAL VIEW EXPLODE(nums, nums) AS n', 'SQL_WRONG_ARGUMENTS', 1, 31, 'EXPLODE takes 1 argument, got 2');
  });

  it('an unknown function, as the generator or inside the argument', () => {
    expectError('SELECT id FROM t LATERAL VIEW EXPLOD(nums) AS n', 'SQL_UNKNOWN_FUNCTION', 1, 31, 'did you mean explode()?');
    expectError("SELECT id FROM t LATERAL VIEW EXPLODE(splt(tags, ',')) AS n", 'SQL_UNKNOWN_FUNCTION', 1, 39, 'did you mean split()?');
    expectError('SELECT explode(nums) AS n FROM t', 'SQL_UNSUPPORTED', 1, 8, 'LATERAL VIEW [OUTER] EXPLODE(<array>) AS <column>');
  });

  it('errors in the rest of the query keep their positions around the clause', () => {
    expectError("SELECT id, tag FROM t LATERAL VIEW EXPLODE(SPLIT(tags, ',')) AS tag WHERE amout > 1", 'SQL_UNKNOWN_COLUMN', 1, 75, 'did you mean "amount"?');
    expectError('SELECT id, nn FROM t\n  LATERAL VIEW EXPLODE(nums) AS n\nWHERE n > 1', 'SQL_UNKNOWN_COLUMN', 1, 12, 'columns: id, tags, nums, amount, n');
    expectError('SELECT id FROM t\n  LATERAL VIEW EXPLODE(nums) AS n\nWHERE n >', 'SQL_SYNTAX', 3, 10);
    expectError("SELECT id, n FROM t LATERAL VIEW EXPLODE(nums) AS n WHERE n = 'x1'", 'SQL_TYPE_MISMATCH', 1, 59);
  });

  it('a malformed clause', () => {
    expectError('SELECT id FROM t LATERAL VIEW EXPLODE(nums)', 'SQL_SYNTAX', 1, 44, 'needs AS <column>');
    expectError('SELECT id FROM t LATERAL VIEW EXPLODE(nums) AS a, b', 'SQL_UNSUPPORTED', 1, 49, 'one column');
    expectError('SELECT id FROM t LATERAL VIEW EXPLODE() AS a', 'SQL_WRONG_ARGUMENTS', 1, 31, 'got 0');
    expectError('SELECT id LATERAL VIEW EXPLODE(nums) AS n FROM t', 'SQL_SYNTAX', 1, 11, 'goes after FROM');
    expectError('SELECT id, n, n FROM t LATERAL VIEW EXPLODE(nums) AS n', 'SQL_DUPLICATE_COLUMN', 1, 15);
  });

  it('a query that starts with a blank line points inside the clause all the same', () => {
    expectError('\n  SELECT id FROM t\n  LATERAL VIEW EXPLODE(numz) AS n', 'SQL_UNKNOWN_COLUMN', 3, 24);
  });
});
