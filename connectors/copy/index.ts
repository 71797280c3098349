import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import { columnMap } from '../field-kit/columns.js';
import { projectionTransform } from '../field-kit/projection.js';

export const copyOptions = z.object({
  fields: columnMap('name at least one column to copy: {new: source}', 'Columns to add: {new: source}. Each new column is added after the existing ones and holds the same values as its source.'),
});

/** The copy transform's options as a job writes them. */
export type CopyConfig = z.input<typeof copyOptions>;

/** Adds copies of columns under new names; the copies share the source's Arrow buffers. */
export const copyConnector: ConnectorDefinition = {
  name: 'copy',
  description: 'Adds copies of columns under new names ({new: source}); zero-copy.',
  transform: defineTransform({
    options: copyOptions,
    create: (o) =>
      projectionTransform('copy', 'COPY', (check, input) => [
        ...input.fields.map((field, index) => ({ name: field.name, index })),
        ...Object.entries(o.fields).map(([to, from]) => ({ name: to, index: check.column(from, `fields.${to}`).index, option: `fields.${to}` })),
      ]),
  }),
  example: `transform:\n  - type: copy\n    fields: { name_raw: name, amount_original: amount }`,
};
