import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startOssEmulator, type OssEmulator } from '../../connectors/oss/emulator/index.js';
import { seededRandom } from '../../src/testing/random.js';
import { tempDir } from '../helpers/jobs.js';
import { expectExactlyOnce } from '../helpers/output.js';
import { committedIds, dataKeys, listUploads, ossBlock, randomBucket } from '../unit/oss/helpers.js';
import { checkpointPast, coordinatorFinished, hostingPids, sleep, startCoordinator, workerPool } from './crash-support.js';
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
    const plan: ('worker' | 'coordinator')[] = ['worker', 'worker', 'worker', 'worker', 'coordinator', 'coordinator'];
    for (let i = plan.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [plan[i], plan[j]] = [plan[j]!, plan[i]!];
    }
    const minKills = plan.length;
    console.log(`cluster crash OSS test seed ${seed}: kills in the order ${plan.join(', ')}`);
    const pool = workerPool(space.prefix);
    const coordinators: ChildProcess[] = [];
    const log: string[] = [];
    const note = (line: string) => {
      log.push(line);
      if (process.env.TIDEWAY_DEBUG) console.log(`${new Date().toISOString()} ${line}`);
    };
    onTestFinished(async () => {
      await pool.stop();
      faults.UploadPart.remove();
      faults.CompleteMultipartUpload.remove();
      dir.remove();
    });
    let workerKills = 0;
    let coordinatorKills = 0;
    let killsDuringUpload = 0;
    let killsDuringComplete = 0;
    const prefixes: string[] = [];
    try {
      for (let i = 0; i < 3; i++) pool.start();
      for (let job = 0; workerKills + coordinatorKills < minKills || job === 0; job++) {
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
        let lastCheckpoint = 0;
        let finished = false;
        for (let attempt = 0; !finished && attempt < 30; attempt++) {
          const coordinator = startCoordinator(file, space.prefix);
          coordinators.push(coordinator.child);
          const done = coordinator.done;
          while (!done() && workerKills + coordinatorKills < minKills) {
            // Kill mid-run: only once the job checkpoints again after the last recovery, so there is committed
            // output to keep and uploads in flight.
            const progressed = await checkpointPast(space.cluster(), jobName, lastCheckpoint + 1, done);
            if (!progressed) break;
            lastCheckpoint = progressed;
            await sleep(Math.floor(random() * 300));
            if (done()) break;
            if (plan[workerKills + coordinatorKills] === 'coordinator') {
              if (await awaitInFlight('CompleteMultipartUpload')) killsDuringComplete++;
              if (done()) break;
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
            if (await awaitInFlight('UploadPart')) killsDuringUpload++;
            if (done()) break;
            if (victim.child.exitCode !== null) continue;
            victim.child.kill('SIGKILL');
            workerKills++;
            note(`job ${job} attempt ${attempt}: killed a worker hosting pipelines after checkpoint ${progressed}`);
            pool.start();
          }
          finished = await coordinatorFinished(coordinator, note, `job ${job} attempt ${attempt}`, `seed ${seed}`, log);
        }
        console.log(`cluster crash OSS test seed ${seed}:\n${log.join('\n')}`);
        expect(finished, log.join('\n')).toBe(true);
        const prefix = `${path}/`;
        expect(expectExactlyOnce(await committedIds(emulator, bucket, prefix), rows), `seed ${seed}`).toBeUndefined();
        // Nothing but the job's data objects and the sink's own records under the prefix: no staged object.
        const data = new Set(dataKeys(emulator, bucket, prefix));
        for (const key of data) expect(key.slice(key.lastIndexOf('/') + 1).startsWith(`part-${jobName}-`), key).toBe(true);
        const others = emulator.storage.keys(bucket, prefix).filter((key) => !data.has(key) && !key.startsWith(`${prefix}_tideway/`) && key !== `${prefix}_SUCCESS`);
        expect(others).toEqual([]);
      }
      console.log(`cluster crash OSS test: ${workerKills} worker kills, ${coordinatorKills} coordinator kills, ${killsDuringUpload} worker kills with a part upload in flight, ${killsDuringComplete} coordinator kills with a complete in flight`);
      expect({ workerKills, coordinatorKills }).toEqual({ workerKills: 4, coordinatorKills: 2 });
      // No multipart upload left open, as ali-oss lists them and as the emulator holds them.
      for (const prefix of prefixes) expect(await listUploads(emulator, bucket, prefix)).toEqual([]);
      expect(emulator.storage.uploads(bucket)).toEqual([]);
    } finally {
      for (const coordinator of coordinators) coordinator.kill('SIGKILL');
    }
  }, 180_000);
});
