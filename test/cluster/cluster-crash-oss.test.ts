import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startOssEmulator, type OssEmulator } from '../../connectors/oss/emulator/index.js';
import { seededRandom } from '../../src/testing/random.js';
import { tempDir } from '../helpers/jobs.js';
import { expectExactlyOnce } from '../helpers/output.js';
import { committedIds, dataKeys, listUploads, ossBlock, randomBucket } from '../unit/oss/helpers.js';
import { KillSchedule, killOrder, sleep, startCoordinator, workerPool } from './crash-support.js';
import { natsUp, useClusterPrefix } from './support.js';

// One emulator for the whole cluster, in the test process: every worker's and every coordinator's sink reaches
// it over TCP (`endpoint: embedded` would start one per process, each with its own storage).
let emulator: OssEmulator;
beforeAll(async () => {
  if (natsUp) emulator = await startOssEmulator();
});
afterAll(async () => {
  await emulator?.close();
});

/**
 * The cluster crash test (cluster-crash.test.ts) into OSS: three worker processes, a job at parallelism 6 into
 * the oss sink on one shared emulator, and SIGKILLs at random moments, of a worker hosting pipelines (a new one
 * joins in its place) or of the coordinator (`tideway run --cluster` is started again and resumes). At least 6
 * kills; every id must be in the committed objects exactly once, with no multipart upload left open and no
 * object under the prefix other than data objects and the sink's own records.
 */
describe.skipIf(!natsUp)('cluster crash into OSS: SIGKILL workers and the coordinator mid-run', () => {
  const space = useClusterPrefix({ leaseTtlMs: 2000 });
  it(`every id committed exactly once after at least 6 kills; the job finishes on the survivors`, async () => {
    const seed = Number(process.env.TIDEWAY_SEED ?? 1313);
    const random = seededRandom(seed);
    const dir = tempDir('tideway-cluster-crash-oss-');
    const bucket = randomBucket();
    await emulator.storage.createBucket(bucket);
    // Every part upload and every complete waits a little at the emulator, so that a kill can land while one
    // is in flight: a worker's while it uploads a part, the coordinator's while it completes an upload (a commit).
    const faults = {
      UploadPart: emulator.addFault({ bucket, op: 'UploadPart', action: { kind: 'delay', ms: 30 } }),
      CompleteMultipartUpload: emulator.addFault({ bucket, op: 'CompleteMultipartUpload', action: { kind: 'delay', ms: 30 } }),
    };
    const inFlight = (op: keyof typeof faults) => faults[op].fired - emulator.journal.count({ op, bucket });
    /** Waits up to 400 ms for a request of `op` to be in flight at the emulator; true when one is. */
    const awaitInFlight = async (op: keyof typeof faults): Promise<boolean> => {
      for (let waited = 0; waited < 400; waited += 2) {
        if (inFlight(op) > 0) return true;
        await sleep(2);
      }
      return false;
    };
    // Which process each kill hits, in a seeded order: both kinds are always exercised.
    const schedule = new KillSchedule(killOrder(random, 4, 2), random, `seed ${seed}`);
    console.log(`cluster crash OSS test seed ${seed}: kills in the order ${schedule.order.join(', ')}`);
    const pool = workerPool(space.prefix);
    onTestFinished(async () => {
      await pool.stop();
      faults.UploadPart.remove();
      faults.CompleteMultipartUpload.remove();
      dir.remove();
    });
    const prefixes: string[] = [];
    try {
      for (let i = 0; i < 3; i++) pool.start();
      for (let job = 0; schedule.remaining > 0 || job === 0; job++) {
        const rows = 12_000;
        const jobName = `crash-oss-${space.prefix}-${job}`;
        const path = `out/job${job}`;
        prefixes.push(`${path}/`);
        const file = join(dir.path, `job${job}.yaml`);
        writeFileSync(
          file,
          JSON.stringify({
            env: { name: jobName, parallelism: 6, checkpoint: { interval: '150ms', dir: join(dir.path, 'ckpt') } },
            source: [{ type: 'fake', rows, splits: 24, chunk_rows: 100, rows_per_second: 2500 }],
            sink: [ossBlock(emulator, bucket, path, { format: 'jsonl', part_size: '100KiB', retry_backoff: '20ms' })],
          }),
        );
        // A worker is killed while it uploads a part, the coordinator while it completes an upload (a commit).
        const finished = await schedule.runJob({
          cluster: space.cluster(),
          jobName,
          label: `job ${job}`,
          pool,
          start: () => startCoordinator(file, space.prefix),
          inFlight: { worker: () => awaitInFlight('UploadPart'), coordinator: () => awaitInFlight('CompleteMultipartUpload') },
        });
        console.log(`cluster crash OSS test seed ${seed}:\n${schedule.log.join('\n')}`);
        expect(finished, schedule.log.join('\n')).toBe(true);
        const prefix = `${path}/`;
        expect(expectExactlyOnce(await committedIds(emulator, bucket, prefix), rows), `seed ${seed}`).toBeUndefined();
        // Nothing but the job's data objects and the sink's own records under the prefix: no staged object.
        const data = new Set(dataKeys(emulator, bucket, prefix));
        for (const key of data) expect(key.slice(key.lastIndexOf('/') + 1).startsWith(`part-${jobName}-`), key).toBe(true);
        const others = emulator.storage.keys(bucket, prefix).filter((key) => !data.has(key) && !key.startsWith(`${prefix}_tideway/`) && key !== `${prefix}_SUCCESS`);
        expect(others).toEqual([]);
      }
      const { kills, inFlightKills } = schedule;
      console.log(`cluster crash OSS test: ${kills.worker} worker kills, ${kills.coordinator} coordinator kills, ${inFlightKills.worker} worker kills with a part upload in flight, ${inFlightKills.coordinator} coordinator kills with a complete in flight`);
      expect(kills).toEqual({ worker: 4, coordinator: 2 });
      // No multipart upload left open, as ali-oss lists them and as the emulator holds them.
      for (const prefix of prefixes) expect(await listUploads(emulator, bucket, prefix)).toEqual([]);
      expect(emulator.storage.uploads(bucket)).toEqual([]);
    } finally {
      schedule.killCoordinators();
    }
  }, 180_000);
});
