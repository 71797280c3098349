import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { runJob } from '../../src/index.js';
import { faulty, seeds, tempDir } from '../helpers/jobs.js';

/**
 * Every control message and barrier is delayed, duplicated and reordered by a seeded schedule. For each seed
 * the job must still deliver every id exactly once: the assert sink fails the job on a duplicate id
 * (`unique`) and on a lost one (`rows.equals` with unique ids). Replay a failing seed with
 * TIDEWAY_SEED=<seed> npx vitest run test/race
 */
describe('split protocol under a faulty transport', () => {
  const cases = seeds(200).map((seed) => ({
    seed,
    parallelism: 1 + (seed % 8),
    rows: 300 + ((seed * 7919) % 2500),
    splits: 1 + ((seed * 31) % 17),
    chunkRows: 37 + (seed % 90),
  }));

  it.each(cases)('seed $seed: parallelism $parallelism, $rows rows in $splits splits', async ({ seed, parallelism, rows, splits, chunkRows }) => {
    const dir = tempDir();
    try {
      const result = await runJob(
        {
          env: { name: `race-${seed}`, parallelism, checkpoint: { interval: '3ms', dir: dir.path } },
          source: [{ type: 'fake', rows, splits, chunk_rows: chunkRows, seed }],
          sink: [{ type: 'assert', rows: { equals: rows }, fields: [{ name: 'id', unique: true, not_null: true, min: 0, max: rows - 1 }] }],
        },
        { transport: faulty({ seed, maxDelayMs: 4, duplicateRate: 0.3 }), logger: silentLogger },
      );
      if (result.status !== 'finished') console.error(`failing seed ${seed}: replay with TIDEWAY_SEED=${seed}`, result.error);
      expect(result.error).toBeNull();
      expect(result.status).toBe('finished');
      expect(result.rowsRead).toBe(rows);
      expect(result.sinks[0]?.rowsWritten).toBe(rows);
    } finally {
      dir.remove();
    }
  });
});
