import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startOssEmulator } from '../../connectors/oss/emulator/index.js';
import { bucketKeys, destroyCluster, openCluster } from '../../src/cluster/cluster-connection.js';
import type { WorkerInfo } from '../../src/cluster/protocol.js';
import { seededRandom } from '../../src/testing/random.js';
import { expectExactlyOnce } from '../helpers/output.js';
import { pgAvailable, usePgSchema } from '../unit/postgres/helpers.js';
import { committedIds, dataKeys, listUploads, ossBlock, randomBucket } from '../unit/oss/helpers.js';
import { KillSchedule, killOrder, startCoordinator, workerPool } from './crash-support.js';
import { createNetnsLab, requireNetns } from './netns-lab.js';

const unavailable = requireNetns('the cluster crash test on separate hosts');

/**
 * The cluster crash test with every process on a host of its own: three worker hosts and two coordinator
 * hosts, each a network namespace with its own host name and working directory, joined by a bridge. NATS (a
 * server of the test's own), the OSS emulator and PostgreSQL (through a relay; the server listens on loopback)
 * are reached at the bridge's address only, so nothing can work through loopback or a shared local path. One
 * job at parallelism 6 writes every row to both OSS and PostgreSQL; six SIGKILLs in a seeded order hit workers
 * hosting pipelines (a new worker starts on the same host) and the coordinator (the next one starts on the other
 * coordinator host, so every takeover comes from another machine: for the OSS sink's run lease too). Every id
 * must be committed exactly once in both, with no multipart upload, staging table or prepared transaction left.
 */
describe.skipIf(unavailable !== undefined || !pgAvailable)('cluster crash with every process on its own host (network namespaces)', () => {
  const db = usePgSchema();

  it('every id exactly once in OSS and PostgreSQL after 6 kills of workers and coordinators on separate hosts', async () => {
    const seed = Number(process.env.TIDEWAY_SEED ?? 5151);
    const random = seededRandom(seed);
    const lab = await createNetnsLab(5);
    const workerHosts = lab.hosts.slice(0, 3);
    const coordinatorHosts = lab.hosts.slice(3);
    const prefix = `ns${seed}`;
    const emulator = await startOssEmulator({ host: lab.serviceAddress });
    const control = await openCluster(lab.natsUrl, { prefix, leaseTtlMs: 2000 });
    const pool = workerPool(prefix, { url: lab.natsUrl, hosts: workerHosts });
    const schedule = new KillSchedule(killOrder(random, 4, 2), random, `seed ${seed}`);
    console.log(`cluster crash test on separate hosts, seed ${seed}: kills in the order ${schedule.order.join(', ')}`);
    // Runs even when the test times out: no process, namespace or server outlives it.
    onTestFinished(async () => {
      schedule.killCoordinators();
      await pool.stop();
      await destroyCluster(control).catch(() => undefined);
      await control.close();
      await emulator.close();
      await lab.close();
    });
    const bucket = randomBucket();
    await emulator.storage.createBucket(bucket);
    const pgPort = await lab.relay({ host: new URL(db.url).hostname, port: Number(new URL(db.url).port || 5432) });
    const pgUrl = Object.assign(new URL(db.url), { hostname: lab.serviceAddress, port: String(pgPort) }).toString();
    const rows = 12_000;
    const jobName = `netns-crash-${seed}-${db.schema}`;
    const target = db.table('netns_dst');
    const job = JSON.stringify({
      env: { name: jobName, parallelism: 6, checkpoint: { interval: '150ms' } },
      source: [{ type: 'fake', rows, splits: 24, chunk_rows: 100, rows_per_second: 2500 }],
      sink: [ossBlock(emulator, bucket, 'out', { format: 'jsonl', part_size: '100KiB', retry_backoff: '20ms' }), { type: 'postgres', url: pgUrl, table: target }],
    });
    // The job file is on the coordinator hosts' own disks, not on a path they share.
    for (const host of coordinatorHosts) writeFileSync(join(host.cwd, 'job.yaml'), job);

    for (let i = 0; i < 3; i++) pool.start();
    // Every worker is up, each reporting its own host's name.
    await expect
      .poll(async () => (await Promise.all((await bucketKeys(control, control.names.workers)).map(async (key) => (await control.workers.get(key))?.json<WorkerInfo>().host))).sort(), { timeout: 60_000, interval: 200 })
      .toEqual(workerHosts.map((h) => h.name));
    const finished = await schedule.runJob({
      cluster: control,
      jobName,
      label: 'job',
      pool,
      // Attempts alternate between the two coordinator hosts: a killed coordinator is replaced from the other one.
      start: (attempt) => startCoordinator('job.yaml', prefix, { url: lab.natsUrl, host: coordinatorHosts[attempt % 2] }),
    });
    console.log(`cluster crash test on separate hosts, seed ${seed}:\n${schedule.log.join('\n')}`);
    expect(finished, schedule.log.join('\n')).toBe(true);
    expect(schedule.kills).toEqual({ worker: 4, coordinator: 2 });

    expect(expectExactlyOnce(await committedIds(emulator, bucket, 'out/'), rows), `seed ${seed}`).toBeUndefined();
    const data = new Set(dataKeys(emulator, bucket, 'out/'));
    const others = emulator.storage.keys(bucket, 'out/').filter((key) => !data.has(key) && !key.startsWith('out/_tideway/') && key !== 'out/_SUCCESS');
    expect(others).toEqual([]);
    expect(await listUploads(emulator, bucket, 'out/')).toEqual([]);
    expect(emulator.storage.uploads(bucket)).toEqual([]);

    const [counts] = await db.query<{ n: string; distinct: string; min: string; max: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS distinct, min(id) AS min, max(id) AS max FROM ${target}`);
    expect({ n: Number(counts!.n), distinct: Number(counts!.distinct), min: Number(counts!.min), max: Number(counts!.max) }).toEqual({ n: rows, distinct: rows, min: 0, max: rows - 1 });
    const staging = await db.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relname LIKE 'tws\\_%'`, [db.schema]);
    expect(staging).toEqual([]);
    expect(await db.query(`SELECT gid FROM pg_prepared_xacts`)).toEqual([]);
  }, 300_000);
});
