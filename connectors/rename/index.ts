import type { RecordBatch, Schema } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import type { Transform } from '../../src/api/transform.js';
import { ColumnCheck } from '../field-kit/columns.js';
import { Projection } from '../field-kit/projection.js';

export const renameOptions = z.object({
  fields: z
    .record(z.string(), z.string().min(1))
    .refine((map) => Object.keys(map).length > 0, { message: 'name at least one column to rename: {old: new}' })
    .meta({ description: 'New names: {old: new}. Every other column is kept as it is, in its place.' }),
});

/** Renames some columns and keeps every column in its place; the data is shared, not copied. */
class RenameTransform implements Transform {
  private projection!: Projection;

  constructor(private readonly fields: Record<string, string>) {}

  outputSchema(input: Schema): Schema {
    const check = new ColumnCheck('rename', 'RENAME', input);
    const renamed = new Map<string, string>();
    for (const [from, to] of Object.entries(this.fields)) {
      check.column(from, `fields.${from}`);
      renamed.set(from, to);
    }
    const columns = input.fields.map((field, index) => {
      const to = renamed.get(field.name);
      return { name: to ?? field.name, index, option: to === undefined ? `(input column "${field.name}", not renamed)` : `fields.${field.name}` };
    });
    check.unique(columns);
    this.projection = new Projection(input, columns);
    return this.projection.schema;
  }

  apply(batch: RecordBatch): RecordBatch {
    return this.projection.apply(batch);
  }
}

/** The rename transform's options as a job writes them. */
export type RenameConfig = z.input<typeof renameOptions>;

export const renameConnector: ConnectorDefinition = {
  name: 'rename',
  description: 'Renames the listed columns ({old: new}) and keeps all others in place; zero-copy.',
  transform: defineTransform({ options: renameOptions, create: (o) => new RenameTransform(o.fields) }),
  example: `transform:\n  - type: rename\n    fields: { name: customer, amount: total }`,
};
