import { Field, makeData, RecordBatch, Schema, Struct } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { TidewayError } from '../../src/api/errors.js';
import { didYouMean, z } from '../../src/api/options.js';
import type { Transform } from '../../src/api/transform.js';

export const selectOptions = z.object({
  columns: z.array(z.string()).optional().meta({ description: 'Columns to keep, in this order (all when unset).' }),
  rename: z.record(z.string(), z.string()).default({}).meta({ description: 'New names: {old: new}.' }),
});

/** Projects and renames columns without copying data. */
class SelectTransform implements Transform {
  private names: string[] = [];
  private schema!: Schema;

  constructor(
    private readonly columns: string[] | undefined,
    private readonly rename: Record<string, string>,
  ) {}

  outputSchema(input: Schema): Schema {
    const available = input.fields.map((f) => f.name);
    this.names = this.columns ?? available;
    const named: [string, string][] = [...(this.columns ?? []).map((name, i): [string, string] => [name, `columns[${i}]`]), ...Object.keys(this.rename).map((name): [string, string] => [name, `rename.${name}`])];
    for (const [name, option] of named) {
      if (available.includes(name)) continue;
      const hint = didYouMean(name, available);
      throw new TidewayError('SELECT_UNKNOWN_COLUMN', `select names column "${name}", which the stream does not have${hint ? `; did you mean "${hint}"?` : ''} (columns: ${available.join(', ')})`, {
        context: { connector: 'select', option },
      });
    }
    this.schema = new Schema(
      this.names.map((name) => {
        const field = input.fields.find((f) => f.name === name)!;
        return new Field(this.rename[name] ?? name, field.type, field.nullable, field.metadata);
      }),
    );
    return this.schema;
  }

  apply(batch: RecordBatch): RecordBatch {
    const children = this.names.map((name) => batch.getChild(name)!.data[0]!);
    return new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length: batch.numRows, nullCount: 0, children }));
  }
}

/** The select transform's options as a job writes them. */
export type SelectConfig = z.input<typeof selectOptions>;

export const selectConnector: ConnectorDefinition = {
  name: 'select',
  description: 'Keeps, orders and renames columns.',
  transform: defineTransform({ options: selectOptions, create: (o) => new SelectTransform(o.columns, o.rename) }),
  example: `transform:\n  - type: select\n    columns: [id, amount]\n    rename: { amount: total }`,
};
