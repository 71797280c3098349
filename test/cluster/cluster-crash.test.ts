import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { seededRandom } from '../../src/testing/random.js';
import { tempDir } from '../helpers/jobs.js';
import { pgAvailable, usePgSchema } from '../unit/postgres/helpers.js';
import { KillSchedule, killOrder, startCoordinator, workerPool } from './crash-support.js';
import { natsUp, useClusterPrefix } from './support.js';

/**
 * Three worker processes, a job at parallelism 6 into PostgreSQL (exactly-once sink), and SIGKILLs at random
 * moments: a worker (a new one joins in its place) or the coordinator (`tideway run --cluster`
 * is started again, waits out the dead coordinator's lease and resumes). At least 10 kills in all; every id
 * must be in the target exactly once, with no staging table or prepared transaction left.
 */
describe.skipIf(!natsUp || !pgAvailable)('cluster crash: SIGKILL workers and the coordinator mid-run', () => {
  const space = useClusterPrefix({ leaseTtlMs: 2000 });
  const db = usePgSchema();

  it('every id committed exactly once after at least 10 kills; the job finishes on the survivors', async () => {
    const seed = Number(process.env.TIDEWAY_SEED ?? 4242);
    const random = seededRandom(seed);
    const dir = tempDir('tideway-cluster-crash-');
    // Ten kills, seven of workers hosting pipelines and three of the coordinator, in a seeded order.
    const schedule = new KillSchedule(killOrder(random, 7, 3), random, `seed ${seed}`);
    console.log(`cluster crash test seed ${seed}: kills in the order ${schedule.order.join(', ')}`);
    const pool = workerPool(space.prefix);
    // Runs even when the test times out: no worker process outlives it.
    onTestFinished(async () => {
      await pool.stop();
      dir.remove();
    });
    try {
      for (let i = 0; i < 3; i++) pool.start();
      for (let job = 0; schedule.remaining > 0 || job === 0; job++) {
        const rows = 12_000;
        const jobName = `crash-${space.prefix}-${job}`;
        const target = db.table(`cluster_dst${job}`);
        const file = join(dir.path, `job${job}.yaml`);
        writeFileSync(
          file,
          JSON.stringify({
            env: { name: jobName, parallelism: 6, checkpoint: { interval: '150ms', dir: join(dir.path, 'ckpt') } },
            source: [{ type: 'fake', rows, splits: 24, chunk_rows: 100, rows_per_second: 2500 }],
            sink: [{ type: 'postgres', url: db.url, table: target }],
          }),
        );
        const finished = await schedule.runJob({ cluster: space.cluster(), jobName, label: `job ${job}`, pool, start: () => startCoordinator(file, space.prefix) });
        console.log(`cluster crash test seed ${seed}:\n${schedule.log.join('\n')}`);
        expect(finished, schedule.log.join('\n')).toBe(true);
        const [counts] = await db.query<{ n: string; distinct: string; min: string; max: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS distinct, min(id) AS min, max(id) AS max FROM ${target}`);
        expect({ n: Number(counts!.n), distinct: Number(counts!.distinct), min: Number(counts!.min), max: Number(counts!.max) }).toEqual({ n: rows, distinct: rows, min: 0, max: rows - 1 });
      }
      expect(schedule.kills).toEqual({ worker: 7, coordinator: 3 });
      const staging = await db.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relname LIKE 'tws\\_%'`, [db.schema]);
      expect(staging).toEqual([]);
      expect(await db.query(`SELECT gid FROM pg_prepared_xacts`)).toEqual([]);
    } finally {
      // The coordinator of an attempt that the test gave up on.
      schedule.killCoordinators();
    }
  }, 240_000);
});
