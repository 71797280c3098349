import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import { columnMap } from '../field-kit/columns.js';
import { projectionTransform } from '../field-kit/projection.js';

export const fieldMapperOptions = z.object({
  field_mapper: columnMap('name at least one column: {old: new}', 'Columns to keep, in this order, each under its new name: {old: new} (write {name: name} to keep a name). Columns not listed are dropped.'),
});

/** The field_mapper transform's options as a job writes them. */
export type FieldMapperConfig = z.input<typeof fieldMapperOptions>;

/** Keeps the listed columns, in the order listed, renamed; the data is shared, not copied. */
export const fieldMapperConnector: ConnectorDefinition = {
  name: 'field_mapper',
  description: 'Keeps only the listed columns, in the order listed, renamed ({old: new}); zero-copy.',
  transform: defineTransform({
    options: fieldMapperOptions,
    create: (o) =>
      projectionTransform('field_mapper', 'FIELD_MAPPER', (check) =>
        Object.entries(o.field_mapper).map(([from, to]) => ({ name: to, index: check.column(from, `field_mapper.${from}`).index, option: `field_mapper.${from}` })),
      ),
  }),
  example: `transform:\n  - type: field_mapper\n    field_mapper:\n      id: id\n      name: customer\n      amount: total`,
};
