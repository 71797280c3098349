import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { seededRandom } from '../../src/testing/random.js';
import { tempDir } from '../helpers/jobs.js';
import { pgAvailable, usePgSchema } from '../unit/postgres/helpers.js';
import { checkpointPast, coordinatorFinished, hostingPids, sleep, startCoordinator, workerPool } from './crash-support.js';
import { natsUp, useClusterPrefix } from './support.js';

/**
 * Three worker processes, a job at parallelism 6 into PostgreSQL (exactly-once sink), and SIGKILLs at random
 * moments: mostly a worker (a new one joins in its place), sometimes the coordinator (`tideway run --cluster`
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
    const pool = workerPool(space.prefix);
    const coordinators: ChildProcess[] = [];
    const log: string[] = [];
    const note = (line: string) => {
      log.push(line);
      if (process.env.TIDEWAY_DEBUG) console.log(`${new Date().toISOString()} ${line}`);
    };
    // Runs even when the test times out: no worker process outlives it.
    onTestFinished(async () => {
      await pool.stop();
      dir.remove();
    });
    let workerKills = 0;
    let coordinatorKills = 0;
    try {
      for (let i = 0; i < 3; i++) pool.start();
      for (let job = 0; workerKills + coordinatorKills < 10 || job === 0; job++) {
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
        let lastCheckpoint = 0;
        let finished = false;
        for (let attempt = 0; !finished && attempt < 30; attempt++) {
          const coordinator = startCoordinator(file, space.prefix);
          coordinators.push(coordinator.child);
          const done = coordinator.done;
          while (!done() && workerKills + coordinatorKills < 10) {
            // Kill mid-run: only once the job checkpoints again after the last recovery, so there is committed
            // output to keep and staged output in flight.
            const progressed = await checkpointPast(space.cluster(), jobName, lastCheckpoint + 1, done);
            if (!progressed) break;
            lastCheckpoint = progressed;
            await sleep(Math.floor(random() * 300));
            if (done()) break;
            if (random() < 0.25) {
              coordinator.child.kill('SIGKILL');
              coordinatorKills++;
              note(`job ${job} attempt ${attempt}: killed the coordinator after checkpoint ${progressed}`);
              break;
            }
            // A worker that hosts pipelines of the job, as its heartbeat key says.
            const hosting = await hostingPids(space.cluster(), jobName);
            const victims = [...pool.live].filter((w) => hosting.has(w.child.pid!));
            if (victims.length === 0) continue;
            const victim = victims[Math.floor(random() * victims.length)]!;
            victim.child.kill('SIGKILL');
            workerKills++;
            note(`job ${job} attempt ${attempt}: killed a worker hosting pipelines after checkpoint ${progressed}`);
            pool.start();
          }
          finished = await coordinatorFinished(coordinator, note, `job ${job} attempt ${attempt}`, `seed ${seed}`, log);
        }
        console.log(`cluster crash test seed ${seed}:\n${log.join('\n')}`);
        expect(finished, log.join('\n')).toBe(true);
        const [counts] = await db.query<{ n: string; distinct: string; min: string; max: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS distinct, min(id) AS min, max(id) AS max FROM ${target}`);
        expect({ n: Number(counts!.n), distinct: Number(counts!.distinct), min: Number(counts!.min), max: Number(counts!.max) }).toEqual({ n: rows, distinct: rows, min: 0, max: rows - 1 });
      }
      expect(workerKills + coordinatorKills).toBeGreaterThanOrEqual(10);
      const staging = await db.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relname LIKE 'tws\\_%'`, [db.schema]);
      expect(staging).toEqual([]);
      expect(await db.query(`SELECT gid FROM pg_prepared_xacts`)).toEqual([]);
    } finally {
      // The coordinator of an attempt that the test gave up on.
      for (const coordinator of coordinators) coordinator.kill('SIGKILL');
    }
  }, 240_000);
});
