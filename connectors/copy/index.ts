import type { RecordBatch, Schema } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import type { Transform } from '../../src/api/transform.js';
import { ColumnCheck } from '../field-kit/columns.js';
import { Projection } from '../field-kit/projection.js';

export const copyOptions = z.object({
  fields: z
    .record(z.string().min(1), z.string())
    .refine((map) => Object.keys(map).length > 0, { message: 'name at least one column to copy: {new: source}' })
    .meta({ description: 'Columns to add: {new: source}. Each new column is added after the existing ones and holds the same values as its source.' }),
});

/** Adds copies of columns under new names; the copies share the source's Arrow buffers. */
class CopyTransform implements Transform {
  private projection!: Projection;

  constructor(private readonly fields: Record<string, string>) {}

  outputSchema(input: Schema): Schema {
    const check = new ColumnCheck('copy', 'COPY', input);
    const columns = input.fields.map((field, index) => ({ name: field.name, index, option: `(input column "${field.name}")` }));
    for (const [to, from] of Object.entries(this.fields)) columns.push({ name: to, index: check.column(from, `fields.${to}`).index, option: `fields.${to}` });
    check.unique(columns);
    this.projection = new Projection(input, columns);
    return this.projection.schema;
  }

  apply(batch: RecordBatch): RecordBatch {
    return this.projection.apply(batch);
  }
}

/** The copy transform's options as a job writes them. */
export type CopyConfig = z.input<typeof copyOptions>;

export const copyConnector: ConnectorDefinition = {
  name: 'copy',
  description: 'Adds copies of columns under new names ({new: source}); zero-copy.',
  transform: defineTransform({ options: copyOptions, create: (o) => new CopyTransform(o.fields) }),
  example: `transform:\n  - type: copy\n    fields: { name_raw: name, amount_original: amount }`,
};
