import { type Data, type Field, type RecordBatch, Schema } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { IllegalStateError } from '../../src/api/errors.js';
import { z } from '../../src/api/options.js';
import type { Transform, TransformContext } from '../../src/api/transform.js';
import { ColumnCheck } from '../field-kit/columns.js';
import { batchOf, RowMask } from '../field-kit/rows.js';
import { textReader } from '../field-kit/text.js';
import { columnTypeName, TypedColumn, typedField } from '../field-kit/typed-column.js';
import { parsePath, PATH_SUBSET, type PathStep, valueAt } from './path.js';

const column = z
  .object({
    src_field: z.string().meta({ description: 'The text (utf8) column holding JSON.' }),
    path: z
      .string()
      .superRefine((path, ctx) => {
        const parsed = parsePath(path);
        if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.error });
      })
      .meta({ description: `Where the value is, in the JSONPath subset ${PATH_SUBSET}, e.g. $.user.tags[0].` }),
    dest_field: z.string().min(1).meta({ description: 'Name of the new column, added after the existing ones.' }),
    dest_type: columnTypeName().default('string').meta({ description: 'Type of the new column: string (objects and arrays become JSON text), boolean, int32, int64, float64, decimal(p,s), date, timestamp, ...' }),
  })
  .strict();

export const jsonPathOptions = z.object({
  columns: z.array(column).min(1).meta({ description: 'Values to extract: [{src_field, path, dest_field, dest_type}].' }),
  missing: z
    .union([z.literal('null'), z.literal('reject'), z.null()])
    .default('null')
    .meta({ description: 'What a path that leads nowhere in a row gives: null (a NULL value) or reject (the row goes to the dirty-data policy, JSON_PATH_NOT_FOUND). A JSON null is NULL either way.' }),
});

type JsonPathOptions = z.output<typeof jsonPathOptions>;

interface Extraction {
  /** Index into the distinct source columns. */
  readonly source: number;
  readonly srcField: string;
  readonly path: string;
  readonly steps: PathStep[];
  readonly field: Field;
}

/** What a row's JSON text is, once parsed: a document, nothing (NULL text) or not JSON. */
const NULL_TEXT = Symbol('null text');
const NOT_JSON = Symbol('not JSON');

/** Up to 60 characters of a value, for messages. */
function excerpt(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/** Extracts values from JSON text columns into new typed columns. */
class JsonPathTransform implements Transform {
  private schema!: Schema;
  private sources: number[] = [];
  private extractions: Extraction[] = [];

  constructor(private readonly options: JsonPathOptions) {}

  outputSchema(input: Schema): Schema {
    const check = new ColumnCheck('json_path', 'JSON_PATH', input);
    this.sources = [];
    this.extractions = this.options.columns.map((c, i) => {
      const { index } = check.textColumn(c.src_field, `columns[${i}].src_field`);
      if (!this.sources.includes(index)) this.sources.push(index);
      const parsed = parsePath(c.path);
      if (!parsed.ok) throw new IllegalStateError(`json_path columns[${i}].path passed option validation: ${parsed.error}`);
      return { source: this.sources.indexOf(index), srcField: c.src_field, path: c.path, steps: parsed.steps, field: typedField(c.dest_field, c.dest_type) };
    });
    check.unique([
      ...input.fields.map((f) => ({ name: f.name })),
      ...this.options.columns.map((c, i) => ({ name: c.dest_field, option: `columns[${i}].dest_field` })),
    ]);
    this.schema = new Schema([...input.fields, ...this.extractions.map((e) => e.field)], input.metadata);
    return this.schema;
  }

  apply(batch: RecordBatch, context: TransformContext): RecordBatch | null {
    const readers = this.sources.map((index) => textReader(batch.data.children[index]!));
    const documents: unknown[] = new Array(readers.length);
    const columns = this.extractions.map((e) => new TypedColumn(e.field));
    const mask = new RowMask(batch.numRows);
    for (let row = 0; row < batch.numRows; row++) {
      for (let s = 0; s < readers.length; s++) documents[s] = this.parse(readers[s]!(row));
      for (let c = 0; c < columns.length; c++) {
        const e = this.extractions[c]!;
        const column = columns[c]!;
        const document = documents[e.source];
        if (mask.has(row) || document === NULL_TEXT) {
          column.appendNull();
          continue;
        }
        if (document === NOT_JSON) {
          column.appendNull();
          mask.drop(row);
          const text = readers[e.source]!(row)!;
          context.reject(row, { code: 'JSON_PATH_INVALID_JSON', column: e.srcField, message: `"${e.srcField}" is not valid JSON: ${this.parseError(text)} (value ${excerpt(text)})` });
          continue;
        }
        const value = valueAt(document, e.steps);
        if (value === undefined) {
          column.appendNull();
          if (this.options.missing === 'reject') {
            mask.drop(row);
            context.reject(row, { code: 'JSON_PATH_NOT_FOUND', column: e.srcField, message: `${e.path} leads to no value in "${e.srcField}" (for "${e.field.name}"; missing: reject)` });
          }
          continue;
        }
        const problem = column.appendJson(value);
        if (problem !== undefined) {
          mask.drop(row);
          context.reject(row, { code: 'JSON_PATH_TYPE', column: e.srcField, message: `${e.path} in "${e.srcField}" does not convert to ${e.field.type} for "${e.field.name}": ${problem}` });
        }
      }
    }
    const children: Data[] = [...batch.data.children, ...columns.map((c) => c.finish())];
    return mask.without(batchOf(this.schema, children, batch.numRows));
  }

  private parse(text: string | null): unknown {
    if (text === null) return NULL_TEXT;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return NOT_JSON;
    }
  }

  private parseError(text: string): string {
    try {
      JSON.parse(text);
      return 'unparseable';
    } catch (error) {
      return (error as Error).message;
    }
  }
}

/** The json_path transform's options as a job writes them. */
export type JsonPathConfig = z.input<typeof jsonPathOptions>;

export const jsonPathConnector: ConnectorDefinition = {
  name: 'json_path',
  description: `Extracts values from a JSON text column into typed columns (JSONPath subset ${PATH_SUBSET}); bad JSON or a value of the wrong type rejects the row.`,
  transform: defineTransform({ options: jsonPathOptions, create: (o) => new JsonPathTransform(o) }),
  example: `transform:\n  - type: json_path\n    columns:\n      - { src_field: payload, path: $.user.name, dest_field: user_name }\n      - { src_field: payload, path: "$.items[0]['unit price']", dest_field: first_price, dest_type: float64 }\n    missing: null`,
};
