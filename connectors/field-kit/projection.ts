import { type Data, Field, type RecordBatch, Schema } from 'apache-arrow';
import type { Transform } from '../../src/api/transform.js';
import { ColumnCheck } from './columns.js';
import { batchOf } from './rows.js';

/** One output column of a projection: the input column at `index`, under `name`. */
export interface ProjectedColumn {
  readonly name: string;
  readonly index: number;
}

/**
 * Output columns that are input columns, possibly renamed, reordered or repeated. The output batch shares
 * the input's Arrow buffers: nothing is copied, whatever the row count.
 */
export class Projection {
  readonly schema: Schema;
  private readonly indexes: number[];

  constructor(input: Schema, columns: readonly ProjectedColumn[]) {
    this.indexes = columns.map((c) => c.index);
    this.schema = new Schema(
      columns.map(({ name, index }) => {
        const field = input.fields[index]!;
        return new Field(name, field.type, field.nullable, field.metadata);
      }),
      input.metadata,
    );
  }

  apply(batch: RecordBatch): RecordBatch {
    const children: Data[] = this.indexes.map((i) => batch.data.children[i]!);
    return batchOf(this.schema, children, batch.numRows);
  }
}

/**
 * A transform whose output columns are input columns: `plan` names them (each with the option it comes
 * from, for errors; none for a column passed on as it is), using `check` to look input columns up; names
 * must come out unique.
 */
export function projectionTransform(
  connector: string,
  code: string,
  plan: (check: ColumnCheck, input: Schema) => (ProjectedColumn & { option?: string | undefined })[],
): Transform {
  let projection: Projection | undefined;
  return {
    outputSchema(input) {
      const check = new ColumnCheck(connector, code, input);
      const columns = plan(check, input);
      check.unique(columns);
      projection = new Projection(input, columns);
      return projection.schema;
    },
    apply(batch) {
      return projection!.apply(batch);
    },
  };
}
