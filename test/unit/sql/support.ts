import { type DataType, Field, Schema } from 'apache-arrow';
import { TidewayError } from '../../../src/api/errors.js';
import { batchToRows, type Row, rowsToBatch } from '../../../src/api/rows.js';
import type { RowError } from '../../../src/api/transform.js';
import { SqlTransform } from '../../../connectors/sql/index.js';

export interface SqlRun {
  rows: Row[];
  rejects: { row: number; error: RowError }[];
  schema: Schema;
}

/** A schema of nullable columns. */
export function schemaOf(columns: Record<string, DataType>): Schema {
  return new Schema(Object.entries(columns).map(([name, type]) => new Field(name, type, true)));
}

/** Runs `query` over one batch of `rows` with a context that records rejects (the policy's job in the engine). */
export function runSql(query: string, schema: Schema, rows: Row[], stream = 't'): SqlRun {
  const transform = new SqlTransform(query, stream);
  const output = transform.outputSchema(schema);
  const rejects: SqlRun['rejects'] = [];
  const result = transform.apply(rowsToBatch(schema, rows), { reject: (row, error) => rejects.push({ row, error }) });
  return { rows: result ? batchToRows(result) : [], rejects, schema: output };
}

/** The value of one expression over a one-row table `t(x)` (or no columns): `SELECT <expr> AS v FROM t`. */
export function value(expr: string, schema: Schema = schemaOf({}), row: Row = {}): unknown {
  const run = runSql(`SELECT ${expr} AS v FROM t`, schema, [row]);
  if (run.rejects.length) throw new Error(`rejected: ${run.rejects[0]!.error.code} ${run.rejects[0]!.error.message}`);
  return run.rows[0]!.v;
}

/** The TidewayError a query raises at check time (outputSchema), or undefined. */
export function checkError(query: string, schema: Schema, stream = 't'): TidewayError | undefined {
  try {
    new SqlTransform(query, stream).outputSchema(schema);
    return undefined;
  } catch (error) {
    if (error instanceof TidewayError) return error;
    throw error;
  }
}
