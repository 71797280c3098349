import type { RecordBatch, Schema } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import type { Transform } from '../../src/api/transform.js';
import { ColumnCheck } from '../field-kit/columns.js';
import { Projection } from '../field-kit/projection.js';

export const fieldMapperOptions = z.object({
  field_mapper: z
    .record(z.string(), z.string().min(1))
    .refine((map) => Object.keys(map).length > 0, { message: 'name at least one column: {old: new}' })
    .meta({ description: 'Columns to keep, in this order, each under its new name: {old: new} (write {name: name} to keep a name). Columns not listed are dropped.' }),
});

/** Keeps the listed columns, in the order listed, renamed; the data is shared, not copied. */
class FieldMapperTransform implements Transform {
  private projection!: Projection;

  constructor(private readonly mapping: Record<string, string>) {}

  outputSchema(input: Schema): Schema {
    const check = new ColumnCheck('field_mapper', 'FIELD_MAPPER', input);
    const columns = Object.entries(this.mapping).map(([from, to]) => ({ name: to, index: check.column(from, `field_mapper.${from}`).index, option: `field_mapper.${from}` }));
    check.unique(columns);
    this.projection = new Projection(input, columns);
    return this.projection.schema;
  }

  apply(batch: RecordBatch): RecordBatch {
    return this.projection.apply(batch);
  }
}

/** The field_mapper transform's options as a job writes them. */
export type FieldMapperConfig = z.input<typeof fieldMapperOptions>;

export const fieldMapperConnector: ConnectorDefinition = {
  name: 'field_mapper',
  description: 'Keeps only the listed columns, in the order listed, renamed ({old: new}); zero-copy.',
  transform: defineTransform({ options: fieldMapperOptions, create: (o) => new FieldMapperTransform(o.field_mapper) }),
  example: `transform:\n  - type: field_mapper\n    field_mapper:\n      id: id\n      name: customer\n      amount: total`,
};
