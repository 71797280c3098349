import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { JobConfig } from '../../../src/engine/job-config.js';
import { runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedRows } from '../../helpers/output.js';
import { pgAvailable, usePgSchema } from './helpers.js';

const ROWS = 300;
/** Rows the target refuses: a CHECK on the id, and ids already in the table (unique). */
const checked = (id: number) => id % 50 === 7;
const present = [10, 11, 12, 13, 14];

/**
 * The postgres sink under a tolerant dirty-data policy: each batch is its own COPY in a savepoint, so a row
 * PostgreSQL refuses (CHECK, unique, NOT NULL, too long) is found by its line and rejected to the dead letter,
 * and every other row is committed exactly once, also across a stop and a resume.
 */
describe.skipIf(!pgAvailable)('postgres sink: rows the database refuses go to the dead letter', () => {
  const db = usePgSchema();
  const dir = useTempDirs('tideway-pg-reject-');

  async function target(label: string, text = false): Promise<string> {
    const table = db.table(label);
    // A text amount makes the COPY text instead of binary: both formats report the refused row's line.
    await db.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY CHECK (id % 50 <> 7), name varchar(64) NOT NULL, amount ${text ? 'numeric' : 'double precision'})`);
    await db.query(`INSERT INTO ${table} SELECT id, 'before', 0 FROM unnest($1::bigint[]) AS id`, [present]);
    return table;
  }

  function job(name: string, work: string, table: string, extra: Record<string, unknown> = {}, rowsPerSecond = 1500): JobConfig {
    return {
      env: {
        name,
        parallelism: 2,
        transport: 'in-process',
        checkpoint: { interval: '50ms', dir: join(work, 'chk') },
        errors: { tolerance: 'all', dead_letter: { type: 'file', path: join(work, 'bad'), format: 'jsonl' } },
      },
      source: [{ type: 'fake', rows: ROWS, splits: 4, chunk_rows: 40, rows_per_second: rowsPerSecond }],
      transform: [{ type: 'select', columns: ['id', 'name', 'amount'] }],
      sink: [{ type: 'postgres', url: db.url, table, batch_rows: 16, ...extra }],
    } as JobConfig;
  }

  async function expectSplit(table: string, work: string): Promise<void> {
    const ids = (await db.query<{ id: string; name: string }>(`SELECT id, name FROM ${table} ORDER BY id`)).map((r) => [Number(r.id), r.name] as const);
    const expected = Array.from({ length: ROWS }, (_, id) => id).filter((id) => !checked(id));
    expect(ids.map(([id]) => id)).toEqual(expected);
    // The rows already there are untouched; their twins from the source were refused.
    expect(ids.filter(([id]) => present.includes(id)).every(([, name]) => name === 'before')).toBe(true);
    const bad = committedRows(join(work, 'bad'));
    const rejected = bad.map((r) => (JSON.parse(r.row_json as string) as { id: number }).id).sort((a, b) => a - b);
    expect(rejected).toEqual(Array.from({ length: ROWS }, (_, id) => id).filter((id) => checked(id) || present.includes(id)));
    expect(bad[0]).toMatchObject({ stage: 'postgres', stage_type: 'postgres', error_code: 'POSTGRES_ROW_REJECTED' });
    const messages = bad.map((r) => String(r.error_message));
    expect(messages.some((m) => /violates check constraint/.test(m))).toBe(true);
    expect(messages.some((m) => /duplicate key value violates unique constraint .*\(id\)=\(1[0-4]\)/.test(m))).toBe(true);
  }

  it.each([false, true])('every refused row once in the dead letter, every other row once in the table (text COPY %s)', async (text) => {
    const work = dir();
    const table = await target(`reject_${text ? 'text' : 'binary'}`, text);
    const result = await runJob(job(`pg-reject-${text}`, work, table), { logger: silentLogger });
    expect(result.status, result.error?.message).toBe('finished');
    await expectSplit(table, work);
    const refused = Array.from({ length: ROWS }, (_, id) => id).filter((id) => checked(id) || present.includes(id)).length;
    expect(result.sinks.find((s) => s.name === 'postgres')).toMatchObject({ rowsWritten: ROWS - refused, rowsErrored: refused });
  });

  it('the same across a stop and a resume', async () => {
    const work = dir();
    const table = await target('reject_resume');
    const stop = new AbortController();
    // Stop once the first rows are committed (not at a fixed time: a fast or a loaded machine would finish
    // first, or stop before anything), with the source slowed so that the job is still running then.
    const running = runJob(job('pg-reject-resume', work, table, {}, 300), { logger: silentLogger, signal: stop.signal });
    for (let i = 0; i < 400; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE name <> 'before'`);
      if (Number(row!.n) > 0) break;
    }
    stop.abort();
    const first = await running;
    expect(first.status, first.error?.message).toBe('cancelled');
    const second = await runJob(job('pg-reject-resume', work, table), { logger: silentLogger });
    expect(second.status, second.error?.message).toBe('finished');
    expect(second.resumedFromCheckpoint).not.toBeNull();
    await expectSplit(table, work);
  });

  it('under tolerance none the first refused row still fails the job, naming it, with nothing of its checkpoint written', async () => {
    const work = dir();
    const table = await target('reject_strict');
    const config = job('pg-reject-strict', work, table);
    const { errors: _, ...env } = config.env!;
    const result = await runJob({ ...config, env }, { logger: silentLogger });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('POSTGRES_ROW_REJECTED');
    expect(result.error?.message).toMatch(/PostgreSQL rejected row \d+ of the rows writer \d received since its last checkpoint/);
  });
});
