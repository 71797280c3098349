import { type Data, Field, type RecordBatch, Schema, Type, Utf8 } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import type { Transform, TransformContext } from '../../src/api/transform.js';
import { ColumnCheck } from '../field-kit/columns.js';
import { batchOf, RowMask } from '../field-kit/rows.js';
import { TextColumn, textReader } from '../field-kit/text.js';
import { columnTypeName, TypedColumn, typedField } from '../field-kit/typed-column.js';
import { splitter } from './splitter.js';

export const splitOptions = z
  .object({
    split_field: z.string().meta({ description: 'The text (utf8) column to split.' }),
    separator: z.string().min(1).meta({ description: 'What separates the parts: literal text, or a JavaScript regular expression (u flag) when is_regex is true.' }),
    is_regex: z.boolean().default(false).meta({ description: 'Whether separator is a regular expression.' }),
    output_fields: z.array(z.string().min(1)).min(1).meta({ description: 'Names of the new columns, one per part, added after the existing columns. A value with fewer parts gives NULL for the rest; with more, the last column keeps the rest of the value, separators included.' }),
    output_types: z
      .array(columnTypeName())
      .optional()
      .meta({ description: 'Types of the new columns, one per output field (string when unset): boolean, int32, int64, float64, decimal(p,s), date, timestamp, ... A part that does not convert rejects the row (SPLIT_TYPE); an empty part is NULL.' }),
    keep_split_field: z.boolean().default(true).meta({ description: 'Keep the split column in the output (false drops it).' }),
  })
  .superRefine((o, ctx) => {
    if (o.output_types && o.output_types.length !== o.output_fields.length) {
      ctx.addIssue({ code: 'custom', path: ['output_types'], message: `${o.output_types.length} types for ${o.output_fields.length} output_fields; give one type per output field` });
    }
    if (o.is_regex) {
      try {
        new RegExp(o.separator, 'u');
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['separator'], message: `separator is not a JavaScript regular expression (u flag): ${(error as Error).message}` });
      }
    }
  });

type SplitOptions = z.output<typeof splitOptions>;

/** Splits a text column into several new columns, typed or text. */
class SplitTransform implements Transform {
  private source = 0;
  /** Input columns passed through, by index. */
  private kept: number[] = [];
  private schema!: Schema;
  private outputs: Field[] = [];
  private readonly split: (text: string) => string[];

  constructor(private readonly options: SplitOptions) {
    this.split = splitter(options.separator, options.is_regex, options.output_fields.length);
  }

  outputSchema(input: Schema): Schema {
    const check = new ColumnCheck('split', 'SPLIT', input);
    const source = check.textColumn(this.options.split_field, 'split_field');
    this.source = source.index;
    const kept = input.fields.map((field, index) => ({ field, index })).filter(({ index }) => this.options.keep_split_field || index !== source.index);
    this.kept = kept.map((k) => k.index);
    const types = this.options.output_types;
    this.outputs = this.options.output_fields.map((name, i) => (types ? typedField(name, types[i]!) : new Field(name, new Utf8(), true)));
    check.unique([
      ...kept.map(({ field }) => ({ name: field.name })),
      ...this.outputs.map((f, i) => ({ name: f.name, option: `output_fields[${i}]` })),
    ]);
    this.schema = new Schema([...kept.map((k) => k.field), ...this.outputs], input.metadata);
    return this.schema;
  }

  apply(batch: RecordBatch, context: TransformContext): RecordBatch | null {
    const read = textReader(batch.data.children[this.source]!);
    // An empty part is NULL for a typed column, and empty text for a text one.
    const emptyIsNull = this.outputs.map((field) => field.type.typeId !== Type.Utf8);
    const columns = this.outputs.map((field, i) => (emptyIsNull[i] ? new TypedColumn(field) : new TextColumn(field.type)));
    const mask = new RowMask(batch.numRows);
    for (let row = 0; row < batch.numRows; row++) {
      const text = read(row);
      const parts = text === null ? [] : this.split(text);
      for (let i = 0; i < columns.length; i++) {
        const column = columns[i]!;
        const part = parts[i];
        if (mask.has(row) || part === undefined || (part === '' && emptyIsNull[i])) {
          column.appendNull();
          continue;
        }
        const problem = column.appendText(part);
        if (problem !== undefined) {
          mask.drop(row);
          context.reject(row, { code: 'SPLIT_TYPE', column: this.options.split_field, message: `part ${i + 1} of "${this.options.split_field}", for output field "${this.outputs[i]!.name}": ${problem}` });
        }
      }
    }
    const children: Data[] = [...this.kept.map((i) => batch.data.children[i]!), ...columns.map((c) => c.finish())];
    return mask.without(batchOf(this.schema, children, batch.numRows));
  }
}

/** The split transform's options as a job writes them. */
export type SplitConfig = z.input<typeof splitOptions>;

export const splitConnector: ConnectorDefinition = {
  name: 'split',
  description: 'Splits a text column by a separator into several new columns, optionally typed (a part that does not convert rejects the row).',
  transform: defineTransform({ options: splitOptions, create: (o) => new SplitTransform(o) }),
  example: `transform:\n  - type: split\n    split_field: name\n    separator: '-'\n    output_fields: [prefix, number]\n    output_types: [string, int64]`,
};
