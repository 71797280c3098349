import { Float64, Int32, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { SqlTransform } from '../../../connectors/sql/index.js';
import { TidewayError } from '../../../src/api/errors.js';
import { checkError, schemaOf } from './support.js';

const schema = schemaOf({ amount: new Float64(), name: new Utf8(), quantity: new Int32() });

function expectError(query: string, code: string, line: number, column: number, text?: string, stream = 't'): TidewayError {
  const error = checkError(query, schema, stream);
  expect(error, `no error for ${query}`).toBeDefined();
  expect(error!.code).toBe(code);
  expect(error!.context).toMatchObject({ connector: 'sql', option: 'query', line, column });
  expect(error!.message).toContain(`line ${line}, column ${column}`);
  if (text) expect(error!.message).toContain(text);
  return error!;
}

describe('sql check-time errors', () => {
  it('unknown column: position of the reference and a did-you-mean', () => {
    expectError('SELECT amount, nmae FROM t', 'SQL_UNKNOWN_COLUMN', 1, 16, 'did you mean "name"?');
    expectError('SELECT amount\nFROM t\nWHERE quantty > 3', 'SQL_UNKNOWN_COLUMN', 3, 7, 'did you mean "quantity"?');
    const far = expectError('SELECT zzz FROM t', 'SQL_UNKNOWN_COLUMN', 1, 8);
    expect(far.message).not.toContain('did you mean');
    expect(far.message).toContain('columns: amount, name, quantity');
  });

  it('unknown function with a did-you-mean', () => {
    expectError('SELECT uper(name) FROM t', 'SQL_UNKNOWN_FUNCTION', 1, 8, 'did you mean upper()?');
    expectError('SELECT name,\n  regexp_replac(name, \'a\', \'b\') FROM t', 'SQL_UNKNOWN_FUNCTION', 2, 3, 'did you mean regexp_replace()?');
  });

  it('type mismatches name both types', () => {
    expectError('SELECT amount + name FROM t', 'SQL_TYPE_MISMATCH', 1, 8, 'got float64 and utf8');
    expectError('SELECT abs(name) FROM t', 'SQL_TYPE_MISMATCH', 1, 12, 'ABS argument 1 must be a number');
    expectError('SELECT name FROM t WHERE amount', 'SQL_TYPE_MISMATCH', 1, 26, 'WHERE needs a boolean');
    expectError("SELECT CASE WHEN quantity > 1 THEN 'a' ELSE 2 END FROM t", 'SQL_TYPE_MISMATCH', 1, 8, 'CASE mixes utf8 and int32');
    expectError("SELECT amount FROM t WHERE amount > 'abc'", 'SQL_TYPE_MISMATCH', 1, 28, 'cannot be compared');
    expectError('SELECT name LIKE 3 FROM t', 'SQL_TYPE_MISMATCH', 1, 8);
  });

  it('syntax errors point at the offending token', () => {
    expectError('SELECT amount FROM t WHERE', 'SQL_SYNTAX', 1, 27, 'syntax error');
    expectError('SELECT amount,\n  FROM t', 'SQL_SYNTAX', 2, 8);
  });

  it('a query that starts with blank lines or spaces (the parser trims them) still points at the right line and column', () => {
    expectError('\n  SELECT amout FROM t', 'SQL_UNKNOWN_COLUMN', 2, 10, 'did you mean "amount"?');
    expectError('\n\n    SELECT amount\n    FROM t\n    WHERE quantty > 1', 'SQL_UNKNOWN_COLUMN', 5, 11);
    expectError('  SELECT amount FROM t WHERE', 'SQL_SYNTAX', 1, 29);
    expectError('\t/* c */ SELECT abs(name) FROM t', 'SQL_TYPE_MISMATCH', 1, 21);
  });

  it('wrong arity and unsupported clauses', () => {
    expectError("SELECT lpad(name) FROM t", 'SQL_WRONG_ARGUMENTS', 1, 8, 'LPAD takes 2 to 3 arguments, got 1');
    expectError('SELECT name FROM t ORDER BY name', 'SQL_UNSUPPORTED', 1, 1, 'ORDER BY');
    expectError('SELECT name FROM t GROUP BY name', 'SQL_UNSUPPORTED', 1, 1, 'GROUP BY');
    expectError('SELECT name FROM t JOIN u ON t.a = u.a', 'SQL_UNSUPPORTED', 1, 25, 'joins are not supported');
    expectError('SELECT name, name FROM t', 'SQL_DUPLICATE_COLUMN', 1, 14, 'two columns named "name"');
  });

  it('FROM must name the stage\'s input stream, with a did-you-mean', () => {
    expectError('SELECT name FROM orderz', 'SQL_UNKNOWN_STREAM', 1, 18, 'did you mean it?', 'orders');
    const other = expectError('SELECT name FROM foo', 'SQL_UNKNOWN_STREAM', 1, 18, undefined, 'default');
    expect(other.message).toContain('write FROM default');
    expect(checkError('SELECT name FROM "default"', schema, 'default')).toBeUndefined();
    expect(checkError('SELECT name FROM ORDERS', schema, 'orders')).toBeUndefined();
    // Without a known stream name (a transform built outside a job), any FROM is accepted.
    expect(() => new SqlTransform('SELECT name FROM anything', undefined).outputSchema(schema)).not.toThrow();
  });

  it('a column known only in another case is found; one the parser quotes keeps its case', () => {
    const mixed = schemaOf({ OrderId: new Int32(), 'order id': new Int32() });
    expect(checkError('SELECT orderid, "order id" FROM t', mixed)).toBeUndefined();
  });
});
