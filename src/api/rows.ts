import {
  type DataType,
  type Field,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  type TypeMap,
  vectorFromArray,
} from 'apache-arrow';

/**
 * Row-at-a-time helpers for simple connectors. Hot paths should build columns directly; these are for
 * sources and sinks whose natural unit is a row (a message, an HTTP record).
 */
export type Row = Record<string, unknown>;

/** Builds one RecordBatch with `schema` from rows (missing keys become nulls). */
export function rowsToBatch(schema: Schema, rows: readonly Row[]): RecordBatch {
  const children = schema.fields.map((field: Field) => {
    const values = rows.map((row) => row[field.name] ?? null);
    return vectorFromArray(values, field.type as DataType).data[0]!;
  });
  const data = makeData({
    type: new Struct(schema.fields),
    length: rows.length,
    nullCount: 0,
    children,
  });
  return new RecordBatch(schema as Schema<TypeMap>, data);
}

/** Plain objects for each row of a batch (Int64 values are bigint). */
export function batchToRows(batch: RecordBatch): Row[] {
  const rows: Row[] = new Array(batch.numRows);
  const columns = batch.schema.fields.map((f) => [f.name, batch.getChild(f.name)] as const);
  for (let i = 0; i < batch.numRows; i++) {
    const row: Row = {};
    for (const [name, column] of columns) row[name] = column?.get(i) ?? null;
    rows[i] = row;
  }
  return rows;
}

export { Schema };
