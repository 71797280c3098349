import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import { columnMap } from '../field-kit/columns.js';
import { projectionTransform } from '../field-kit/projection.js';

export const renameOptions = z.object({
  fields: columnMap('name at least one column to rename: {old: new}', 'New names: {old: new}. Every other column is kept as it is, in its place.'),
});

/** The rename transform's options as a job writes them. */
export type RenameConfig = z.input<typeof renameOptions>;

/** Renames some columns and keeps every column in its place; the data is shared, not copied. */
export const renameConnector: ConnectorDefinition = {
  name: 'rename',
  description: 'Renames the listed columns ({old: new}) and keeps all others in place; zero-copy.',
  transform: defineTransform({
    options: renameOptions,
    create: (o) =>
      projectionTransform('rename', 'RENAME', (check, input) => {
        for (const from of Object.keys(o.fields)) check.column(from, `fields.${from}`);
        return input.fields.map((field, index) => {
          const to = o.fields[field.name];
          return to === undefined ? { name: field.name, index } : { name: to, index, option: `fields.${field.name}` };
        });
      }),
  }),
  example: `transform:\n  - type: rename\n    fields: { name: customer, amount: total }`,
};
