import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { silentLogger } from '../../../src/api/logger.js';
import { runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedRows } from '../../helpers/output.js';
import { dataKeys, listUploads, ossBlock, useOssTestBed } from '../oss/helpers.js';

const dir = useTempDirs('tideway-sql-oss-dead-letter-');
let emulator: OssEmulator;
let bucket: string;
useOssTestBed((e, b) => {
  emulator = e;
  bucket = b;
});

/** Every dead-letter row committed under `prefix`, parsed from its JSON Lines objects. */
async function deadLetterRows(prefix: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const key of dataKeys(emulator, bucket, prefix)) {
    const bytes = await emulator.storage.read(bucket, key);
    for (const line of Buffer.from(bytes!).toString('utf8').split('\n').filter(Boolean)) rows.push(JSON.parse(line) as Record<string, unknown>);
  }
  return rows;
}

describe('sql transform with an OSS prefix as its dead-letter sink', () => {
  it('each row whose CAST fails is committed once under the prefix with its stage, code and row; the others reach the output', async () => {
    const work = dir();
    const rows = 1200;
    const result = await runJob(
      {
        env: { name: 'sql-oss-dead-letter', parallelism: 2, checkpoint: { interval: '200ms', dir: join(work, 'checkpoints') } },
        source: [{ type: 'fake', rows, splits: 4, chunk_rows: 100 }],
        transform: [
          {
            type: 'sql',
            name: 'to-int',
            // Ids that are 3 modulo 5 become 'x<id>', which does not cast.
            query: "SELECT id, CAST(CASE WHEN id % 5 = 3 THEN 'x' || CAST(id AS VARCHAR) ELSE CAST(id AS VARCHAR) END AS INT) AS n FROM default",
            errors: { tolerance: 'all', dead_letter: ossBlock(emulator, bucket, 'bad-rows', { format: 'jsonl' }) },
          },
        ],
        sink: [{ type: 'file', path: join(work, 'out'), format: 'jsonl' }],
      },
      { logger: silentLogger },
    );
    expect(result.status, result.error?.message).toBe('finished');
    const isBad = (id: number) => id % 5 === 3;
    const good = committedRows(join(work, 'out')).map((r) => Number(r.id));
    const bad = await deadLetterRows('bad-rows/');
    const badIds = bad.map((r) => Number((JSON.parse(r.row_json as string) as { id: number | string }).id));
    const all = Array.from({ length: rows }, (_, i) => i);
    expect([...good].sort((a, b) => a - b)).toEqual(all.filter((id) => !isBad(id)));
    expect([...badIds].sort((a, b) => a - b)).toEqual(all.filter(isBad));
    expect(bad[0]).toMatchObject({ job: 'sql-oss-dead-letter', stage: 'to-int', stage_type: 'sql', error_code: 'SQL_CAST_FAILED', column: 'n' });
    expect(result.transforms[0]).toMatchObject({ name: 'to-int', rowsIn: rows, rowsOut: rows - badIds.length });
    expect(result.transforms[0]).toMatchObject({ rowsErrored: rows / 5, rowsFiltered: 0 });
    // Nothing is left staged: under the prefix only committed data objects and the sink's own records.
    expect(emulator.storage.keys(bucket, 'bad-rows/').filter((key) => !key.startsWith('bad-rows/_tideway/') && !dataKeys(emulator, bucket, 'bad-rows/').includes(key))).toEqual([]);
    expect(await listUploads(emulator, bucket, 'bad-rows/')).toEqual([]);
  });
});
