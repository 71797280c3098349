import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DateDay, Decimal, Field, Int64, makeData, RecordBatch, Schema, Struct, Utf8, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { type ConnectorDefinition, defineSink } from '../../../src/api/connector.js';
import { silentLogger } from '../../../src/api/logger.js';
import { z } from '../../../src/api/options.js';
import { NoopCommitter } from '../../../src/api/simple-sink.js';
import type { Sink } from '../../../src/api/sink.js';
import { planText } from '../../../src/cli/plan-text.js';
import { createProgress } from '../../../src/cli/progress.js';
import type { JobProgress } from '../../../src/engine/result.js';
import { collectSecrets } from '../../../src/config/secrets.js';
import type { RowError } from '../../../src/api/transform.js';
import { BatchRejections, DEAD_LETTER_SCHEMA, ErrorBudget, type ErrorPolicy, limitCrossed, mergePolicy, rowJson, SecretMask, type StageRef } from '../../../src/engine/dirty-data.js';
import type { JobConfig } from '../../../src/engine/job-config.js';
import { planJob } from '../../../src/engine/plan.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../../src/index.js';
import { FaultSession } from '../../../src/testing/fault-injection.js';
import { rangeSourceConnector } from '../../../src/testing/range-source.js';
import { rejectTransformConnector } from '../../../src/testing/reject-transform.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedIds, committedRows, stagedFiles } from '../../helpers/output.js';

const dir = useTempDirs('tideway-dirty-');

/** Ids a `test-picky` writer wrote (not committed: enough to see what it left out). */
const pickyWritten: number[] = [];

/** A sink whose target refuses ids ending in 7, row by row, through the write context. */
const pickySink: ConnectorDefinition = {
  name: 'test-picky',
  description: 'test sink: refuses ids ending in 7 through context.reject',
  sink: defineSink({
    options: z.object({}).strict(),
    create: (): Sink => ({
      createWriter: async () => ({
        async write(batch, context) {
          const ids = batch.getChild('id')!;
          for (let row = 0; row < batch.numRows; row++) {
            const id = Number(ids.get(row));
            if (id % 10 === 7) context?.reject(row, { code: 'PICKY_REFUSED', message: `the target refuses id ${id}`, column: 'id' });
            else pickyWritten.push(id);
          }
        },
        prepareCommit: async () => [],
        snapshotState: () => undefined,
        abortPrepare: async () => undefined,
        close: async () => undefined,
      }),
      createCommitter: async () => new NoopCommitter(),
    }),
  }),
};

const registry = new ConnectorRegistry([...builtinConnectors, rejectTransformConnector, pickySink]);

const policy = (over: Partial<ErrorPolicy> = {}): ErrorPolicy => ({ tolerance: 'all', maxErrors: null, maxErrorRatio: null, ratioMinRows: 1000, deadLetter: null, origin: 'env.errors', ...over });
const stage = (over: Partial<ErrorPolicy> = {}): StageRef => ({ key: 'transform:check', path: 'transform[0]', name: 'check', type: 'test-reject', policy: policy(over) });

function idBatch(ids: number[]): RecordBatch {
  const schema = new Schema([new Field('id', new Int64(), false), new Field('name', new Utf8(), false)]);
  const children = [vectorFromArray(ids.map(BigInt), new Int64()).data[0]!, vectorFromArray(ids.map((i) => `n${i}`), new Utf8()).data[0]!];
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: ids.length, nullCount: 0, children }));
}

/** A job of 1,000 fake rows whose transform rejects ids ending in 3; `dead_letter: null` leaves the dead letter out. */
function job(out: string, bad: string, checkpoints: string, errors: Record<string, unknown>, transform: Record<string, unknown> = {}): JobConfig {
  const { dead_letter: deadLetter, ...rest } = errors;
  return {
    env: {
      name: `dirty-${Math.random().toString(36).slice(2, 8)}`,
      transport: 'in-process',
      checkpoint: { interval: '20ms', dir: checkpoints },
      errors: { ...rest, ...(deadLetter === null ? {} : { dead_letter: { type: 'file', path: bad, format: 'jsonl' } }) },
    },
    source: [{ type: 'fake', rows: 1000, splits: 3, chunk_rows: 50 }],
    transform: [{ type: 'test-reject', name: 'every-tenth', every: 10, remainder: 3, ...transform }],
    sink: [{ type: 'file', path: out, format: 'jsonl' }],
  };
}

describe('dirty-data policy: merging env.errors with a stage block', () => {
  it('defaults to tolerance none (the first bad row fails the job)', () => {
    const merged = mergePolicy(undefined, undefined, 'transform[0]');
    expect(merged.policy.tolerance).toBe('none');
    expect(merged.deadLetter).toBeUndefined();
    expect(merged.problems).toEqual([]);
  });

  it('takes the stage fields over the job fields, one by one', () => {
    const merged = mergePolicy({ tolerance: 'all', max_errors: 100, dead_letter: { type: 'file', path: 'bad' } }, { max_errors: 5 }, 'transform[1]');
    expect(merged.policy).toMatchObject({ tolerance: 'all', maxErrors: 5, maxErrorRatio: null, origin: 'transform[1].errors' });
    expect(merged.deadLetter?.path).toBe('env.errors.dead_letter');
  });

  it('refuses limits and a dead letter under tolerance none, naming the key to fix', () => {
    const merged = mergePolicy({ max_errors: 3, dead_letter: { type: 'file', path: 'bad' } }, undefined, 'sink[0]');
    expect(merged.problems.map((p) => p.path)).toEqual(['env.errors.max_errors', 'env.errors.dead_letter']);
    expect(merged.problems[0]!.message).toMatch(/tolerance: all/);
  });
});

describe('dirty-data policy: planning', () => {
  const base = { env: { name: 'p' }, source: [{ type: 'fake', rows: 10 }], sink: [{ type: 'blackhole' }] };

  it('plans env.errors.dead_letter once, as an extra sink after the job\'s sinks, shared by every stage that uses it', () => {
    const result = planJob(
      { ...base, env: { name: 'p', errors: { tolerance: 'all', dead_letter: { type: 'file', path: 'bad', format: 'jsonl' } } }, transform: [{ type: 'test-reject', every: 2 }, { type: 'select', columns: ['id'] }] },
      registry,
    );
    expect(result.ok, JSON.stringify(!result.ok && result.issues)).toBe(true);
    if (!result.ok) return;
    const { plan } = result;
    expect(plan.sinks.map((s) => [s.name, s.type, s.deadLetterFor])).toEqual([
      ['blackhole', 'blackhole', undefined],
      ['dead-letter', 'file', 'env.errors.dead_letter'],
    ]);
    expect(plan.transforms.map((t) => t.errors?.deadLetter)).toEqual([1, 1]);
    expect(plan.sinks[0]!.errors?.deadLetter).toBe(1);
    // The dead-letter sink's own rows cannot be dead-lettered: a row it refuses fails the job.
    expect(plan.sinks[1]!.errors?.tolerance).toBe('none');
  });

  it('gives a stage that names its own dead_letter a sink of its own, and keeps stages without errors on the default', () => {
    const result = planJob(
      { ...base, transform: [{ type: 'test-reject', name: 'check', every: 2, errors: { tolerance: 'all', max_errors: 3, dead_letter: { type: 'file', path: 'bad' } } }] },
      registry,
    );
    expect(result.ok, JSON.stringify(!result.ok && result.issues)).toBe(true);
    if (!result.ok) return;
    expect(result.plan.sinks.map((s) => s.name)).toEqual(['blackhole', 'check-dead-letter']);
    expect(result.plan.transforms[0]!.errors).toMatchObject({ tolerance: 'all', maxErrors: 3, deadLetter: 1, origin: 'transform[0].errors' });
    expect(result.plan.sinks[0]!.errors?.tolerance).toBe('none');
  });

  it('reports a bad errors block with its key path', () => {
    const result = planJob(
      {
        ...base,
        source: [{ type: 'fake', rows: 10, errors: { tolerance: 'all' } }],
        transform: [{ type: 'test-reject', every: 2, errors: { tolerance: 'some', max_errorz: 1 } }],
        sink: [{ type: 'blackhole', errors: { tolerance: 'all', dead_letter: { type: 'file', path: 'bad', input: 'x' } } }],
      },
      registry,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.issues.map((i) => i.path);
    expect(paths).toContain('source[0].errors');
    expect(paths).toContain('transform[0].errors.tolerance');
    expect(paths).toContain('transform[0].errors.max_errorz');
    expect(paths).toContain('sink[0].errors.dead_letter.input');
  });

  it('masks the dead-letter sink\'s secret options like any stage\'s', () => {
    const result = planJob(
      { ...base, env: { name: 'p', errors: { tolerance: 'all', dead_letter: { type: 'postgres', url: 'postgres://u:hunter22@db/x', table: 'bad_rows' } } } },
      registry,
    );
    expect(result.ok, JSON.stringify(!result.ok && result.issues)).toBe(true);
    if (!result.ok) return;
    const deadLetter = result.plan.sinks[1]!;
    expect(JSON.stringify(deadLetter.maskedOptions)).not.toContain('hunter22');
  });

  it('collects the dead-letter sink\'s secrets, so the CLI masks them in logs and errors', () => {
    const url = 'postgres://u:hunter22@db/x';
    const config = { ...base, env: { name: 'p', errors: { tolerance: 'all', dead_letter: { type: 'postgres', url, table: 'bad_rows' } } }, transform: [{ type: 'test-reject', every: 2, errors: { dead_letter: { type: 'postgres', url: `${url}2`, table: 't' } } }] };
    const secrets = collectSecrets(config, registry);
    expect(secrets).toContain(url);
    expect(secrets).toContain(`${url}2`);
  });

  it('shows a dead-letter sink in the plan as reading the rejected rows', () => {
    const result = planJob({ ...base, env: { name: 'p', errors: { tolerance: 'all', dead_letter: { type: 'file', path: 'bad' } } } }, registry);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(planText(result.plan)).toMatch(/^ {2}dead-letter \(file\) {2}\[env.errors.dead_letter\] {2}<- rejected rows \(env.errors.dead_letter\)$/m);
    expect(planText(result.plan)).toMatch(/^ {2}errors +tolerance all, dead letter: see sinks$/m);
  });
});

describe('dirty-data policy: limits', () => {
  it('max_errors: as many errors as the limit pass, one more fails', () => {
    expect(limitCrossed(policy({ maxErrors: 3 }), { rowsIn: 10, errors: 3 })).toBeUndefined();
    expect(limitCrossed(policy({ maxErrors: 3 }), { rowsIn: 10, errors: 4 })).toMatch(/max_errors \(3\)/);
    expect(limitCrossed(policy({ maxErrors: 0 }), { rowsIn: 10, errors: 1 })).toBeDefined();
  });

  it('max_error_ratio is judged only once ratio_min_rows rows entered the stage', () => {
    const p = policy({ maxErrorRatio: 0.01, ratioMinRows: 1000 });
    expect(limitCrossed(p, { rowsIn: 999, errors: 500 })).toBeUndefined();
    expect(limitCrossed(p, { rowsIn: 1000, errors: 10 })).toBeUndefined();
    expect(limitCrossed(p, { rowsIn: 1000, errors: 11 })).toMatch(/max_error_ratio \(0.01\)/);
  });

  it('tolerance none never reaches the budget (it fails at the first row)', () => {
    expect(limitCrossed(policy({ tolerance: 'none', maxErrors: 0 }), { rowsIn: 10, errors: 5 })).toBeUndefined();
  });

  it('the budget adds the counts of earlier runs (from the checkpoint) to this run\'s, and names the stage and first errors', () => {
    const plan = { transforms: [{ path: 'transform[0]', name: 'check', type: 'test-reject', errors: policy({ maxErrors: 10 }) }], sinks: [] };
    const metrics = (rowsIn: number, errors: number) => ({ transforms: { 0: { rowsIn, rowsErrored: errors } }, sinks: {}, errorSamples: { 'transform:check': [{ row: '{"id":3}', code: 'BAD', message: 'no good' }] } });
    const budget = new ErrorBudget(plan, { 'transform:check': { rowsIn: 500, errors: 8 } });
    expect(budget.counts([metrics(100, 1), metrics(50, 1)])).toEqual({ 'transform:check': { rowsIn: 650, errors: 10 } });
    expect(budget.check([metrics(100, 1), metrics(50, 1)])).toBeUndefined();
    const error = budget.check([metrics(100, 2), metrics(50, 1)]);
    expect(error?.code).toBe('DIRTY_DATA_LIMIT');
    expect(error?.message).toMatch(/^transform\[0\] \(check\) rejected 11 of 650 rows \(8 of the rejected rows in earlier runs/);
    expect(error?.message).toContain('[BAD] no good; row {"id":3}');
    // Without earlier counts the same run is within budget.
    expect(new ErrorBudget(plan).check([metrics(100, 2), metrics(50, 1)])).toBeUndefined();
  });
});

describe('dirty-data policy: rejected rows', () => {
  const error: RowError = { code: 'BAD_VALUE', message: 'value refused', column: 'id' };

  it('with tolerance none, the first reject throws, naming the stage, the row and the error', () => {
    const rejections = new BatchRejections(stage({ tolerance: 'none' }), idBatch([7, 8]), new SecretMask([]));
    expect(() => rejections.reject(1, error)).toThrow(/^transform\[0\] \(check\) rejected row 1 of a batch \(column id\): value refused; row \{"id":8,"name":"n8"\}/);
  });

  it('with tolerance all, records each row once (its first error) and builds dead-letter rows in row order', () => {
    const rejections = new BatchRejections(stage(), idBatch([5, 6, 7]), new SecretMask([]));
    rejections.reject(2, error);
    rejections.reject(0, { code: 'OTHER', message: 'also bad' });
    rejections.reject(2, { code: 'SECOND', message: 'ignored' });
    expect(rejections.rows.size).toBe(2);
    const rows = rejections.deadLetterBatch('the-job');
    expect(rows.schema.fields.map((f) => [f.name, f.nullable])).toEqual(DEAD_LETTER_SCHEMA.fields.map((f) => [f.name, f.nullable]));
    expect(rows.toArray().map((r) => r.toJSON())).toEqual([
      { job: 'the-job', stage: 'check', stage_type: 'test-reject', error_code: 'OTHER', error_message: 'also bad', column: null, row_json: '{"id":5,"name":"n5"}' },
      { job: 'the-job', stage: 'check', stage_type: 'test-reject', error_code: 'BAD_VALUE', error_message: 'value refused', column: 'id', row_json: '{"id":7,"name":"n7"}' },
    ]);
  });

  it('refuses a row index outside the batch', () => {
    const rejections = new BatchRejections(stage(), idBatch([1]), new SecretMask([]));
    expect(() => rejections.reject(1, error)).toThrow(/rejected row 1 of a batch of 1 rows/);
  });

  it('renders the original row losslessly: 64-bit integers past 2^53, decimals, dates', () => {
    const schema = new Schema([new Field('big', new Int64(), false), new Field('price', new Decimal(2, 10, 128), false), new Field('day', new DateDay(), false)]);
    const big = vectorFromArray([9007199254740993n], new Int64()).data[0]!;
    const price = makeData({ type: new Decimal(2, 10, 128), length: 1, nullCount: 0, data: new Uint32Array([12345, 0, 0, 0]) });
    const day = vectorFromArray([new Date(Date.UTC(2024, 1, 29))], new DateDay()).data[0]!;
    const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 1, nullCount: 0, children: [big, price, day] }));
    expect(JSON.parse(rowJson(batch, 0))).toEqual({ big: '9007199254740993', price: '123.45', day: '2024-02-29' });
  });

  it('masks secret option values in error messages and samples, not the row data', () => {
    const mask = SecretMask.ofStages([{ options: { token: 's3cr3t-token', every: 2 }, factory: rejectTransformConnector.transform! }]);
    const rejections = new BatchRejections(stage(), idBatch([1]), mask);
    rejections.reject(0, { code: 'X', message: 'refused (with token s3cr3t-token)' });
    const row = rejections.deadLetterBatch('j').toArray()[0]!.toJSON();
    expect(row.error_message).toBe('refused (with token ***)');
    expect(rejections.samples(3)[0]!.message).toBe('refused (with token ***)');
    const none = new BatchRejections(stage({ tolerance: 'none' }), idBatch([1]), mask);
    expect(() => none.reject(0, { code: 'X', message: 'token s3cr3t-token' })).toThrow(/token \*\*\*/);
  });
});

describe('dirty-data policy: jobs', () => {
  it('tolerance none (the default) fails the job at the first bad row, naming the stage, row and error', async () => {
    const base = dir();
    const config = job(join(base, 'out'), join(base, 'bad'), join(base, 'chk'), { dead_letter: null });
    delete config.env.errors;
    const result = await runJob(config, { registry, logger: silentLogger });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('TEST_REJECTED');
    expect(result.error?.message).toMatch(/^transform\[0\] \(every-tenth\) rejected row \d+ of a batch \(column id\): value 3 of id is refused/);
  });

  it('tolerance all with a dead-letter sink: every bad row in the dead letter once, every good row in the output once, counted in the report', async () => {
    const base = dir();
    const [out, bad] = [join(base, 'out'), join(base, 'bad')];
    const result = await runJob(job(out, bad, join(base, 'chk'), { tolerance: 'all' }), { registry, logger: silentLogger, parallelism: 2 });
    expect(result.status, result.error?.message).toBe('finished');
    const good = committedIds(out).sort((a, b) => a - b);
    const rejected = committedRows(bad);
    const badIds = rejected.map((r) => Number((JSON.parse(r.row_json as string) as { id: number }).id)).sort((a, b) => a - b);
    expect(good).toEqual(Array.from({ length: 1000 }, (_, i) => i).filter((i) => i % 10 !== 3));
    expect(badIds).toEqual(Array.from({ length: 100 }, (_, i) => i * 10 + 3));
    expect(rejected[0]).toMatchObject({ job: expect.stringMatching(/^dirty-/), stage: 'every-tenth', stage_type: 'test-reject', error_code: 'TEST_REJECTED', column: 'id' });
    expect(result.transforms[0]).toMatchObject({ rowsIn: 1000, rowsOut: 900, rowsFiltered: 0, rowsErrored: 100 });
    expect(result.rowsErrored).toBe(100);
    expect(result.rowsWritten).toBe(900);
    expect(result.sinks.map((s) => [s.name, s.rowsWritten, s.deadLetter])).toEqual([
      ['file', 900, false],
      ['dead-letter', 100, true],
    ]);
    expect(stagedFiles(out)).toEqual([]);
    expect(stagedFiles(bad)).toEqual([]);
  });

  it('the progress line counts the errored rows', async () => {
    const base = dir();
    const seen: JobProgress[] = [];
    const result = await runJob(job(join(base, 'out'), join(base, 'bad'), join(base, 'chk'), { tolerance: 'all' }), { registry, logger: silentLogger, onProgress: (p) => seen.push(p) });
    expect(result.status).toBe('finished');
    let printed = '';
    const display = createProgress('lines', { isTTY: false, write: (text: string) => ((printed += text), true) } as never, { lineIntervalMs: 0 });
    display.update(seen.at(-1)!);
    expect(printed).toMatch(/^progress: read 1,000 rows \| written 900 \| .* \| errored 100 \| checkpoints/);
  });

  it('tolerance all without a dead letter: bad rows are counted, not recorded', async () => {
    const base = dir();
    const result = await runJob(job(join(base, 'out'), join(base, 'bad'), join(base, 'chk'), { tolerance: 'all', dead_letter: null }), { registry, logger: silentLogger });
    expect(result.status, result.error?.message).toBe('finished');
    expect(result.rowsErrored).toBe(100);
    expect(result.sinks.map((s) => s.name)).toEqual(['file']);
    expect(existsSync(join(base, 'bad'))).toBe(false);
  });

  it('fails the job when a stage crosses max_errors, showing the first errors with secrets masked; nothing past the last checkpoint is committed', async () => {
    const base = dir();
    const [out, bad] = [join(base, 'out'), join(base, 'bad')];
    const result = await runJob(job(out, bad, join(base, 'chk'), { tolerance: 'all', max_errors: 40 }, { token: 'tok-very-secret' }), { registry, logger: silentLogger });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('DIRTY_DATA_LIMIT');
    expect(result.error?.message).toMatch(/^transform\[0\] \(every-tenth\) rejected 4\d of \d+ rows \(in this run\), more than max_errors \(40\) set in env.errors/);
    expect(result.error?.message).toMatch(/First errors: \[TEST_REJECTED\] value \d+ of id is refused \(with token \*\*\*\) \(column id\); row \{"id":\d+/);
    expect(result.error?.message).not.toContain('tok-very-secret');
    // What was committed before the failure is consistent: each dead-letter row once, never more than the limit.
    const rejected = committedRows(bad);
    expect(rejected.length).toBeLessThanOrEqual(40);
    expect(new Set(rejected.map((r) => r.row_json)).size).toBe(rejected.length);
    expect(rejected.every((r) => !String(r.error_message).includes('tok-very-secret'))).toBe(true);
  });

  it('fails on max_error_ratio once ratio_min_rows rows were seen', async () => {
    const base = dir();
    const result = await runJob(job(join(base, 'out'), join(base, 'bad'), join(base, 'chk'), { tolerance: 'all', max_error_ratio: 0.05, ratio_min_rows: 200 }), { registry, logger: silentLogger });
    expect(result.status).toBe('failed');
    expect(result.error?.message).toMatch(/rejected \d+ of \d+ rows \(in this run\), 1\d\.\d% of its rows, above max_error_ratio \(0.05\)/);
  });

  it('a sink that refuses rows one by one: they follow the sink\'s policy, go to the dead letter and are counted for the sink', async () => {
    const base = dir();
    const bad = join(base, 'bad');
    pickyWritten.length = 0;
    const config = job(join(base, 'out'), bad, join(base, 'chk'), { tolerance: 'all' });
    config.sink = [{ type: 'test-picky', name: 'picky' }];
    const result = await runJob(config, { registry, logger: silentLogger });
    expect(result.status, result.error?.message).toBe('finished');
    expect(result.sinks.map((s) => [s.name, s.rowsWritten, s.rowsErrored])).toEqual([
      ['picky', 800, 100],
      ['dead-letter', 200, 0],
    ]);
    expect(result.rowsErrored).toBe(200);
    const rows = committedRows(bad);
    const byStage = (stage: string) => rows.filter((r) => r.stage === stage).map((r) => Number((JSON.parse(r.row_json as string) as { id: number }).id)).sort((a, b) => a - b);
    expect(byStage('picky')).toEqual(Array.from({ length: 100 }, (_, i) => i * 10 + 7));
    expect(byStage('every-tenth')).toEqual(Array.from({ length: 100 }, (_, i) => i * 10 + 3));
    expect(rows.find((r) => r.stage === 'picky')).toMatchObject({ stage_type: 'test-picky', error_code: 'PICKY_REFUSED', column: 'id' });
    expect(pickyWritten.some((id) => id % 10 === 7 || id % 10 === 3)).toBe(false);
  });

  it('a sink refusing a row under tolerance none fails the job naming the sink', async () => {
    const base = dir();
    const config = job(join(base, 'out'), join(base, 'bad'), join(base, 'chk'), { dead_letter: null });
    delete config.env.errors;
    config.transform = [];
    config.sink = [{ type: 'test-picky', name: 'picky' }];
    const result = await runJob(config, { registry, logger: silentLogger });
    expect(result.status).toBe('failed');
    expect(result.error?.message).toMatch(/^sink\[0\] \(picky\) rejected row \d+ of a batch \(column id\): the target refuses id \d*7;/);
  });

  it('two sources, each with a rejecting transform, share the dead letter: a writer in every pipeline, each row once across a stop and a resume', async () => {
    const base = dir();
    const [outA, outB, bad, chk] = [join(base, 'a'), join(base, 'b'), join(base, 'bad'), join(base, 'chk')];
    const config: JobConfig = {
      env: {
        name: 'two-sources',
        parallelism: 2,
        transport: 'in-process',
        checkpoint: { interval: '20ms', dir: chk },
        read_limit: { rows_per_second: 2000 },
        errors: { tolerance: 'all', dead_letter: { type: 'file', path: bad, format: 'jsonl' } },
      },
      source: [
        { type: 'fake', rows: 900, splits: 4, chunk_rows: 30, output: 'a' },
        { type: 'test-range', rows: 900, splits: 4, chunk_rows: 30, output: 'b' },
      ],
      transform: [
        { type: 'test-reject', name: 'reject-a', input: 'a', output: 'ta', every: 10, remainder: 3 },
        { type: 'test-reject', name: 'reject-b', input: 'b', output: 'tb', every: 10, remainder: 6 },
      ],
      sink: [
        { type: 'file', name: 'out-a', input: 'ta', path: outA, format: 'jsonl' },
        { type: 'file', name: 'out-b', input: 'tb', path: outB, format: 'jsonl' },
      ],
    };
    const connectors = [...builtinConnectors, rejectTransformConnector, rangeSourceConnector];
    const session = new FaultSession([{ kind: 'stop', atRow: 400 }]);
    const first = await runJob(config, { registry: new ConnectorRegistry(session.connectors(connectors)), logger: silentLogger, signal: session.stopController.signal });
    expect(first.status, first.error?.message).toBe('cancelled');
    const second = await runJob(config, { registry: new ConnectorRegistry(connectors), logger: silentLogger });
    expect(second.status, second.error?.message).toBe('finished');
    expect(second.resumedFromCheckpoint).not.toBeNull();
    const ids = (from: string, remainder: number) => Array.from({ length: 900 }, (_, i) => i).filter((i) => (i % 10 === remainder) === from.startsWith('bad'));
    expect(committedIds(outA).sort((x, y) => x - y)).toEqual(ids('out', 3));
    expect(committedIds(outB).sort((x, y) => x - y)).toEqual(ids('out', 6));
    const rows = committedRows(bad);
    const badIds = (stage: string) => rows.filter((r) => r.stage === stage).map((r) => Number((JSON.parse(r.row_json as string) as { id: number }).id)).sort((x, y) => x - y);
    expect(badIds('reject-a')).toEqual(ids('bad', 3));
    expect(badIds('reject-b')).toEqual(ids('bad', 6));
    expect(stagedFiles(bad)).toEqual([]);
  });

  it('a stage block overrides env.errors for that stage only', async () => {
    const base = dir();
    const config = job(join(base, 'out'), join(base, 'bad'), join(base, 'chk'), { tolerance: 'all', max_errors: 5 });
    config.transform = [
      { type: 'test-reject', name: 'lenient', every: 10, remainder: 3, errors: { max_errors: 1000 } },
      { type: 'test-reject', name: 'strict', every: 10, remainder: 4 },
    ];
    const result = await runJob(config, { registry, logger: silentLogger });
    expect(result.status).toBe('failed');
    // The lenient stage rejected 100 rows but has its own limit; the strict one fails within a batch (45 rows, 5 bad) of its 6th.
    const rejected = Number(/^transform\[1\] \(strict\) rejected (\d+) of/.exec(result.error?.message ?? '')?.[1]);
    expect(rejected, result.error?.message).toBeGreaterThan(5);
    expect(rejected).toBeLessThanOrEqual(15);
  });
});
