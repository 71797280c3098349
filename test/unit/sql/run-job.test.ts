import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { runJob } from '../../../src/index.js';

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
});
