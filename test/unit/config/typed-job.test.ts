/**
 * Type-level tests: `npm run typecheck` (tsc -p tsconfig.json, which includes test/) fails if a
 * `@ts-expect-error` line below stops being an error, i.e. if a mistake in a job built in code passes tsc again.
 */
import { describe, expect, it } from 'vitest';
import { defineJob, type TypedJobConfig, validateJob } from '../../../src/index.js';

const valid = {
  env: { name: 'typed', parallelism: 2, checkpoint: { interval: '5s' } },
  source: [{ type: 'fake', rows: 1000, name: 'orders', output: 'orders' }],
  transform: [
    { type: 'filter', where: [{ column: 'amount', op: '>=', value: 10 }] },
    { type: 'select', columns: ['id', 'amount'], rename: { amount: 'total' } },
  ],
  sink: [
    { type: 'file', path: 'out', format: 'parquet', max_file_size: '64MiB', data_save_mode: 'overwrite' },
    { type: 'console', limit: 5 },
    { type: 'blackhole', name: 'count', input: 'transform1' },
  ],
} satisfies TypedJobConfig;

const mistakes = [
  // @ts-expect-error rows is a number
  defineJob({ env: { name: 'x' }, source: [{ type: 'fake', rows: 'lots' }], sink: [{ type: 'blackhole' }] }),
  // @ts-expect-error there is no kafka connector
  defineJob({ env: { name: 'x' }, source: [{ type: 'kafka', topic: 't' }], sink: [{ type: 'blackhole' }] }),
  // @ts-expect-error rowz is not an option of fake
  defineJob({ env: { name: 'x' }, source: [{ type: 'fake', rowz: 10 }], sink: [{ type: 'blackhole' }] }),
  // @ts-expect-error the file sink needs a path
  defineJob({ env: { name: 'x' }, source: [{ type: 'fake' }], sink: [{ type: 'file', format: 'jsonl' }] }),
  // @ts-expect-error json is not a format
  defineJob({ env: { name: 'x' }, source: [{ type: 'fake' }], sink: [{ type: 'file', path: 'out', format: 'json' }] }),
  // @ts-expect-error data_save_mode is error, overwrite or append
  defineJob({ env: { name: 'x' }, source: [{ type: 'fake' }], sink: [{ type: 'file', path: 'out', data_save_mode: 'replace' }] }),
  // @ts-expect-error filter is a transform, not a sink
  defineJob({ env: { name: 'x' }, source: [{ type: 'fake' }], sink: [{ type: 'filter', where: [] }] }),
  // @ts-expect-error a sink has no output
  defineJob({ env: { name: 'x' }, source: [{ type: 'fake' }], sink: [{ type: 'blackhole', output: 's' }] }),
  // @ts-expect-error parallelism is a number
  defineJob({ env: { name: 'x', parallelism: 'many' }, source: [{ type: 'fake' }], sink: [{ type: 'blackhole' }] }),
];

describe('defineJob', () => {
  it('returns the job unchanged, and a job that passes tsc is valid at run time too', () => {
    const job = defineJob(valid);
    expect(job).toBe(valid);
    const plan = validateJob(job);
    expect(plan.ok, JSON.stringify(!plan.ok && plan.issues)).toBe(true);
    expect(mistakes).toHaveLength(9);
  });
});
