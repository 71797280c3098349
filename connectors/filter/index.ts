import { type Data, type DataType, Field, makeData, RecordBatch, Schema, Struct, vectorFromArray } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { TidewayError } from '../../src/api/errors.js';
import { z } from '../../src/api/options.js';
import type { Transform } from '../../src/api/transform.js';

const condition = z
  .object({
    column: z.string().meta({ description: 'Column to test.' }),
    op: z.enum(['==', '!=', '<', '<=', '>', '>=', 'in', 'not_in', 'is_null', 'not_null']).meta({ description: 'Comparison.' }),
    value: z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))]).optional().meta({ description: 'Value to compare with (a list for in / not_in).' }),
  })
  .strict()
  .superRefine((cond, ctx) => {
    if (!['is_null', 'not_null'].includes(cond.op) && cond.value === undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `${cond.op} needs a value to compare ${cond.column} with` });
    }
  });

export const filterOptions = z.object({
  where: z.array(condition).min(1).meta({ description: 'Conditions a row must all meet to be kept: {column, op, value}.' }),
});

type Condition = z.output<typeof condition>;

function normalise(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.getTime();
  return value;
}

function test(cond: Condition, raw: unknown): boolean {
  const value = normalise(raw);
  switch (cond.op) {
    case 'is_null':
      return value === null || value === undefined;
    case 'not_null':
      return value !== null && value !== undefined;
    case 'in':
    case 'not_in': {
      const list = Array.isArray(cond.value) ? cond.value : [cond.value];
      const found = list.some((v) => v === value);
      return cond.op === 'in' ? found : !found;
    }
  }
  if (value === null || value === undefined) return false;
  const other = cond.value as string | number | boolean;
  switch (cond.op) {
    case '==':
      return value === other;
    case '!=':
      return value !== other;
    case '<':
      return (value as number) < (other as number);
    case '<=':
      return (value as number) <= (other as number);
    case '>':
      return (value as number) > (other as number);
    case '>=':
      return (value as number) >= (other as number);
  }
}

/** Keeps the rows that meet every condition; the engine counts the rest as filtered. */
class FilterTransform implements Transform {
  constructor(private readonly conditions: Condition[]) {}

  outputSchema(input: Schema): Schema {
    for (const [i, cond] of this.conditions.entries()) {
      if (!input.fields.some((f) => f.name === cond.column)) {
        throw new TidewayError('FILTER_UNKNOWN_COLUMN', `filter where[${i}] names column "${cond.column}", which the stream does not have (columns: ${input.fields.map((f) => f.name).join(', ')})`, {
          context: { connector: 'filter', option: `where[${i}].column` },
        });
      }
      if (!['is_null', 'not_null'].includes(cond.op) && cond.value === undefined) {
        throw new TidewayError('FILTER_NO_VALUE', `filter where[${i}] (${cond.column} ${cond.op}) needs a value`, { context: { connector: 'filter', option: `where[${i}]` } });
      }
    }
    return input;
  }

  apply(batch: RecordBatch): RecordBatch | null {
    const columns = this.conditions.map((c) => batch.getChild(c.column)!);
    const keep: number[] = [];
    for (let row = 0; row < batch.numRows; row++) {
      let ok = true;
      for (let c = 0; c < columns.length && ok; c++) ok = test(this.conditions[c]!, columns[c]!.get(row));
      if (ok) keep.push(row);
    }
    if (keep.length === batch.numRows) return batch;
    if (keep.length === 0) return null;
    return take(batch, keep);
  }
}

/** A new batch of the given rows of `batch`. */
export function take(batch: RecordBatch, rows: readonly number[]): RecordBatch {
  const children: Data[] = batch.schema.fields.map((field: Field) => {
    const column = batch.getChild(field.name)!;
    return vectorFromArray(rows.map((r) => column.get(r)), field.type as DataType).data[0]!;
  });
  return new RecordBatch(batch.schema, makeData({ type: new Struct(batch.schema.fields), length: rows.length, nullCount: 0, children }));
}

/** The filter transform's options as a job writes them. */
export type FilterConfig = z.input<typeof filterOptions>;

export const filterConnector: ConnectorDefinition = {
  name: 'filter',
  description: 'Keeps the rows that meet every condition (==, !=, <, <=, >, >=, in, not_in, is_null, not_null).',
  transform: defineTransform({ options: filterOptions, create: (o) => new FilterTransform(o.where) }),
  example: `transform:\n  - type: filter\n    where:\n      - { column: amount, op: '>=', value: 100 }\n      - { column: category, op: in, value: [books, games] }`,
};

export { Schema };
