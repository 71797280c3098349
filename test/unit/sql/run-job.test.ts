import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { runJob } from '../../../src/index.js';
import { committedRows } from '../../helpers/output.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function job(query: string) {
  const dir = mkdtempSync(join(tmpdir(), 'tideway-sql-'));
  dirs.push(dir);
  return runJob(
    {
      env: { name: 'sql-run-job', transport: 'in-process', checkpoint: { interval: '1s', dir } },
      source: [{ type: 'fake', rows: 2000, splits: 2, chunk_rows: 500 }],
      transform: [{ type: 'sql', query }],
      sink: [{ type: 'blackhole' }],
    },
    { logger: silentLogger },
  );
}

describe('sql transform in runJob', () => {
  it('filters and counts: rows in, out and filtered per stage', async () => {
    const result = await job('SELECT id, amount * 2 AS doubled FROM default WHERE id % 4 = 0');
    expect(result.status, result.error?.message).toBe('finished');
    expect(result.rowsWritten).toBe(500);
    expect(result.transforms[0]).toMatchObject({ type: 'sql', rowsIn: 2000, rowsOut: 500 });
  });

  it('FROM another stream fails the run with SQL_UNKNOWN_STREAM (the stream name reaches the transform at run time too)', async () => {
    const result = await job('SELECT id FROM defualt');
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('SQL_UNKNOWN_STREAM');
    expect(result.error?.message).toContain('did you mean it?');
  });

  it('reads the sliced batches a file source hands on (an Arrow IPC batch cut to chunk_rows): every value right', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tideway-sql-sliced-'));
    dirs.push(dir);
    // One 5,000-row record batch in the file; the file source cuts it into slices of 300 rows.
    const written = await runJob(
      { env: { name: 'sql-sliced-write', parallelism: 1, checkpoint: { dir: join(dir, 'ck-write') } }, source: [{ type: 'fake', rows: 5000, splits: 1, chunk_rows: 5000 }], sink: [{ type: 'file', path: join(dir, 'in'), format: 'arrow' }] },
      { logger: silentLogger },
    );
    expect(written.status, written.error?.message).toBe('finished');
    const result = await runJob(
      {
        env: { name: 'sql-sliced-read', checkpoint: { dir: join(dir, 'ck-read') } },
        source: [{ type: 'file', path: join(dir, 'in'), format: 'arrow', chunk_rows: 300 }],
        transform: [{ type: 'sql', query: 'SELECT id, id * 2 AS twice, upper(name) AS upper_name, name, amount + 0 AS amount FROM default WHERE id % 2 = 0' }],
        sink: [{ type: 'file', path: join(dir, 'out'), format: 'jsonl' }],
      },
      { logger: silentLogger },
    );
    expect(result.status, result.error?.message).toBe('finished');
    const rows = committedRows(join(dir, 'out'));
    expect(rows).toHaveLength(2500);
    expect(rows.filter((r) => Number(r.twice) !== Number(r.id) * 2 || r.upper_name !== (r.name as string).toUpperCase() || Number(r.id) % 2 !== 0)).toEqual([]);
    expect(new Set(rows.map((r) => Number(r.id))).size).toBe(2500);
  });
});
