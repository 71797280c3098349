import { defineTransform, type ConnectorDefinition } from '../api/connector.js';
import { TidewayError } from '../api/errors.js';
import { z } from '../api/options.js';
import type { RecordBatch, Schema } from 'apache-arrow';
import type { Transform, TransformContext } from '../api/transform.js';
import { takeRows } from '../../connectors/oss/take.js';

const options = z
  .object({
    column: z.string().default('id').meta({ description: 'The integer column whose value decides.' }),
    every: z.number().int().min(1).meta({ description: 'Rejects the rows whose value modulo `every` is `remainder`.' }),
    remainder: z.number().int().min(0).default(0).meta({ description: 'See `every`.' }),
    code: z.string().default('TEST_REJECTED').meta({ description: 'The error code of each rejected row.' }),
    token: z.string().optional().meta({ description: 'A secret the error message quotes, to test that secrets are masked.', secret: true }),
  })
  .strict();

/**
 * A test transform that rejects the rows whose `column` value modulo `every` is `remainder`, through
 * `context.reject`, and passes the others on unchanged. Deterministic, so a row re-processed after a restore
 * is rejected again. Registered only in tests (never in the built-in list).
 */
export const rejectTransformConnector: ConnectorDefinition = {
  name: 'test-reject',
  description: 'test transform: rejects the rows whose column value modulo `every` is `remainder`',
  transform: defineTransform({
    options,
    create: (o): Transform => ({
      outputSchema(input: Schema): Schema {
        if (!input.fields.some((f) => f.name === o.column)) throw new TidewayError('TEST_UNKNOWN_COLUMN', `test-reject: no column ${o.column}`);
        return input;
      },
      apply(batch: RecordBatch, context: TransformContext): RecordBatch | null {
        const column = batch.getChild(o.column)!;
        const keep: number[] = [];
        for (let row = 0; row < batch.numRows; row++) {
          const value = Number(column.get(row));
          if (value % o.every !== o.remainder) {
            keep.push(row);
            continue;
          }
          const quoted = o.token === undefined ? '' : ` (with token ${o.token})`;
          context.reject(row, { code: o.code, message: `value ${value} of ${o.column} is refused${quoted}`, column: o.column });
        }
        if (keep.length === batch.numRows) return batch;
        return keep.length === 0 ? null : takeRows(batch, Uint32Array.from(keep));
      },
    }),
  }),
};
