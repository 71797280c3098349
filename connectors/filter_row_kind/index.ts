import { type Data, type RecordBatch, type Schema, Type } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import type { Logger } from '../../src/api/logger.js';
import { z } from '../../src/api/options.js';
import type { Transform, TransformContext } from '../../src/api/transform.js';
import { ColumnCheck } from '../field-kit/columns.js';
import { RowMask } from '../field-kit/rows.js';
import { textReader } from '../field-kit/text.js';
import { ROW_KIND_COLUMN, ROW_KINDS, type RowKind, rowKindOf, rowKindOfBytes } from './row-kind.js';

const kinds = z.array(z.enum(ROW_KINDS)).min(1);

export const filterRowKindOptions = z
  .object({
    include_kinds: kinds.optional().meta({ description: `Keep only rows of these kinds (${ROW_KINDS.join(', ')}). Set this or exclude_kinds.` }),
    exclude_kinds: kinds.optional().meta({ description: 'Drop rows of these kinds and keep the others. Set this or include_kinds.' }),
  })
  .superRefine((o, ctx) => {
    if (o.include_kinds && o.exclude_kinds) ctx.addIssue({ code: 'custom', path: ['exclude_kinds'], message: 'set include_kinds or exclude_kinds, not both' });
    if (!o.include_kinds && !o.exclude_kinds) ctx.addIssue({ code: 'custom', path: ['include_kinds'], message: 'set include_kinds (the kinds to keep) or exclude_kinds (the kinds to drop)' });
  });

type FilterRowKindOptions = z.output<typeof filterRowKindOptions>;

/** Row i's kind: straight from the bytes of a plain utf8 column, through its text otherwise. */
function kindReader(data: Data, read: (row: number) => string | null): (row: number) => RowKind | undefined {
  if (data.typeId !== Type.Utf8 || !data.valueOffsets || !data.values) return (row) => rowKindOf(read(row));
  const offsets = data.valueOffsets as Int32Array;
  const values = data.values as Uint8Array;
  const bitmap = data.nullCount > 0 ? data.nullBitmap : undefined;
  return (row) => {
    const bit = data.offset + row;
    if (bitmap && ((bitmap[bit >> 3]! >> (bit & 7)) & 1) === 0) return 'INSERT';
    return rowKindOfBytes(values, offsets[row]!, offsets[row + 1]!);
  };
}

/** Keeps the rows of a change stream whose kind (`__row_kind`) is wanted; the report counts the rest as filtered. */
class FilterRowKindTransform implements Transform {
  private readonly keep: ReadonlySet<RowKind>;
  /** The `__row_kind` column's index, or undefined when the stream has none (every row an insert). */
  private column: number | undefined;

  constructor(
    options: FilterRowKindOptions,
    private readonly logger: Logger,
  ) {
    this.keep = new Set(options.include_kinds ?? ROW_KINDS.filter((k) => !options.exclude_kinds!.includes(k)));
  }

  outputSchema(input: Schema): Schema {
    const index = input.fields.findIndex((f) => f.name === ROW_KIND_COLUMN);
    if (index < 0) {
      this.column = undefined;
      const inserts = this.keep.has('INSERT') ? 'keeps every row' : 'drops every row';
      this.logger.debug(`filter_row_kind: the stream has no ${ROW_KIND_COLUMN} column, so every row is an INSERT and this stage ${inserts}`, { columns: input.fields.map((f) => f.name) });
      return input;
    }
    this.column = new ColumnCheck('filter_row_kind', 'FILTER_ROW_KIND', input).textColumn(ROW_KIND_COLUMN, '').index;
    return input;
  }

  apply(batch: RecordBatch, context: TransformContext): RecordBatch | null {
    if (this.column === undefined) return this.keep.has('INSERT') ? batch : null;
    const data = batch.data.children[this.column]!;
    const read = textReader(data);
    const kindAt = kindReader(data, read);
    const mask = new RowMask(batch.numRows);
    for (let row = 0; row < batch.numRows; row++) {
      const kind = kindAt(row);
      if (kind === undefined) {
        mask.drop(row);
        context.reject(row, {
          code: 'ROW_KIND_UNKNOWN',
          column: ROW_KIND_COLUMN,
          message: `${ROW_KIND_COLUMN} is ${JSON.stringify(read(row))}, which is not a row kind (${ROW_KINDS.join(', ')}, or +I, -U, +U, -D)`,
        });
      } else if (!this.keep.has(kind)) mask.drop(row);
    }
    return mask.without(batch);
  }
}

/** The filter_row_kind transform's options as a job writes them. */
export type FilterRowKindConfig = z.input<typeof filterRowKindOptions>;

export const filterRowKindConnector: ConnectorDefinition = {
  name: 'filter_row_kind',
  description: `Keeps the rows of a change stream whose kind (the ${ROW_KIND_COLUMN} column) is included, or not excluded; without that column every row is an INSERT.`,
  transform: defineTransform({ options: filterRowKindOptions, create: (o, context) => new FilterRowKindTransform(o, context.logger) }),
  example: `transform:\n  - type: filter_row_kind\n    exclude_kinds: [UPDATE_BEFORE, DELETE]`,
};
