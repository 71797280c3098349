import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fakeRow } from '../../../connectors/fake/generator.js';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { LocalCheckpointStore } from '../../../src/engine/checkpoint-store.js';
import { runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedIds, expectExactlyOnce, stagedFiles } from '../../helpers/output.js';
import { writeRows } from './helpers.js';

const dir = useTempDirs('tideway-file-job-');

describe('file source through runJob', () => {
  it('CSV files -> Parquet -> JSON Lines: every row exactly once, values kept', async () => {
    const root = dir();
    const input = join(root, 'in');
    writeRows(join(input, 'a.csv'), 'csv', 6000, { first: 0 });
    writeRows(join(input, 'part', 'b.csv'), 'csv', 4000, { first: 6000 });
    const checkpoint = { interval: '100ms', dir: join(root, 'checkpoints') };
    const toParquet = await runJob(
      {
        env: { name: 'csv-to-parquet', parallelism: 2, transport: 'in-process', checkpoint },
        source: [{ type: 'file', path: input, split_size: '64KiB', chunk_rows: 1000 }],
        sink: [{ type: 'file', path: join(root, 'parquet'), format: 'parquet' }],
      },
      { logger: silentLogger },
    );
    expect(toParquet.error).toBeNull();
    expect(toParquet.status).toBe('finished');
    expect(toParquet.rowsRead).toBe(10_000);
    const back = await runJob(
      {
        env: { name: 'parquet-to-jsonl', parallelism: 2, transport: 'in-process', checkpoint },
        source: [{ type: 'file', path: join(root, 'parquet', '*.parquet') }],
        sink: [{ type: 'file', path: join(root, 'jsonl'), format: 'jsonl' }],
      },
      { logger: silentLogger },
    );
    expect(back.status).toBe('finished');
    expect(expectExactlyOnce(committedIds(join(root, 'jsonl')), 10_000)).toBeUndefined();
    const rows = readdirSync(join(root, 'jsonl'))
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => readFileSync(join(root, 'jsonl', f), 'utf8').split('\n').filter(Boolean))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const row of rows.filter((r) => Number(r.id) % 997 === 0)) {
      const want = fakeRow(7, Number(row.id));
      expect(row).toEqual({
        id: Number(want.id),
        name: want.name,
        category: want.category,
        amount: want.amount,
        quantity: want.quantity,
        active: want.active,
        created_at: new Date(want.created_at).toISOString().replace('Z', ''),
      });
    }
  });

  it('a stopped job resumes mid-file and still writes every row exactly once', async () => {
    const root = dir();
    writeRows(join(root, 'in', 'rows.jsonl'), 'jsonl', 60_000);
    const out = join(root, 'out');
    const checkpoints = join(root, 'checkpoints');
    const job = {
      env: { name: 'file-resume', parallelism: 2, transport: 'in-process' as const, checkpoint: { interval: '30ms', dir: checkpoints } },
      source: [{ type: 'file', path: join(root, 'in'), split_size: '1MiB', chunk_rows: 200 }],
      sink: [{ type: 'file', path: out }],
    };
    const controller = new AbortController();
    const first = await runJob(job, {
      logger: silentLogger,
      signal: controller.signal,
      progressIntervalMs: 10,
      onProgress: (p) => {
        if (p.rowsRead > 0) controller.abort();
      },
    });
    expect(first.status).toBe('cancelled');
    expect(first.rowsRead).toBeGreaterThan(0);
    expect(first.rowsRead).toBeLessThan(60_000);
    const second = await runJob(job, { logger: silentLogger });
    expect(second.status).toBe('finished');
    expect(second.resumedFromCheckpoint).not.toBeNull();
    expect(first.rowsRead + second.rowsRead).toBe(60_000);
    expect(expectExactlyOnce(committedIds(out), 60_000)).toBeUndefined();
    expect(stagedFiles(out)).toEqual([]);
    expect(await new LocalCheckpointStore(checkpoints, 'file-resume').latest()).toBeUndefined();
  });

  it('a file that does not parse fails the job with the file, line and column', async () => {
    const root = dir();
    const path = join(root, 'in.csv');
    writeRows(path, 'csv', 10);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(path, '10,customer-10,toys,not-a-number,1,true,2026-01-01T00:00:00.000\n');
    const result = await runJob(
      {
        env: { name: 'bad-file', transport: 'in-process', checkpoint: { dir: join(root, 'checkpoints') } },
        source: [{ type: 'file', path, infer_rows: 5 }],
        sink: [{ type: 'blackhole' }],
      },
      { logger: silentLogger },
    );
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('FORMAT_VALUE');
    expect(result.error?.message).toContain(`${path}, line 12`);
    expect(result.error?.message).toContain('column "amount"');
  });
});
