import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { maskUrl, openCluster } from '../../src/cluster/cluster-connection.js';
import { type ClusterStatus, clusterStatus, statusText } from '../../src/cluster/cluster-status.js';
import { runClusterJob } from '../../src/cluster/run-cluster-job.js';
import { builtinConnectors, ConnectorRegistry, runClusterJob as runFromApi } from '../../src/index.js';
import { useTempDirs } from '../helpers/jobs.js';
import { NATS_URL, natsUp, startWorkers, useClusterPrefix } from './support.js';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;

function committedIds(dir: string): number[] {
  const ids: number[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.jsonl')) continue;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) if (line) ids.push(Number((JSON.parse(line) as { id: number }).id));
  }
  return ids.sort((a, b) => a - b);
}

describe.skipIf(!natsUp)('cluster run', () => {
  const space = useClusterPrefix({ leaseTtlMs: 2000 });
  const dir = useTempDirs('tideway-cluster-');
  const registry = new ConnectorRegistry(builtinConnectors);

  it('runs a job at parallelism 4 on two workers: every id once, pipelines spread over both', async () => {
    const workers = await startWorkers(space.prefix, 2, 2, registry);
    const out = join(dir(), 'out');
    try {
      const placements: ReadonlyMap<number, string>[] = [];
      const result = await runClusterJob(
        { env: { name: `cl-${space.prefix}-a`, parallelism: 4, checkpoint: { interval: '50ms' }, cluster_shared_paths: [out] }, source: [{ type: 'fake', rows: 3000, splits: 12, chunk_rows: 50 }], sink: [{ type: 'file', path: out, format: 'jsonl' }] },
        { registry, cluster: NATS_URL, prefix: space.prefix, logger: silentLogger, onPlaced: (p) => placements.push(p) },
      );
      expect(result.error).toBeNull();
      expect(result.status).toBe('finished');
      expect(committedIds(out)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
      expect(new Set(placements[0]!.values())).toEqual(new Set(workers.workers.map((w) => w.id)));
    } finally {
      await workers.close();
    }
  }, 60_000);

  it('runs a job above the one-machine parallelism limit (80 > 64) over the workers\' slots: every id once', async () => {
    const workers = await startWorkers(space.prefix, 2, 40, registry);
    const out = join(dir(), 'out');
    try {
      // No env.cluster: runClusterJob (tideway run --cluster) applies the cluster's limit itself.
      const job = { env: { name: `cl-${space.prefix}-wide`, parallelism: 80, checkpoint: { interval: '200ms' }, cluster_shared_paths: [out] }, source: [{ type: 'fake', rows: 8000, splits: 80, chunk_rows: 50 }], sink: [{ type: 'file', path: out, format: 'jsonl' }] };
      const placements: ReadonlyMap<number, string>[] = [];
      const result = await runClusterJob(job, { registry, cluster: NATS_URL, prefix: space.prefix, logger: silentLogger, onPlaced: (p) => placements.push(p) });
      expect(result.error).toBeNull();
      expect(result.status).toBe('finished');
      expect(committedIds(out)).toEqual(Array.from({ length: 8000 }, (_, i) => i));
      expect(placements[0]!.size).toBe(80);
    } finally {
      await workers.close();
    }
  }, 90_000);

  it('cluster status shows the workers, their slots and where the running job\'s pipelines are', async () => {
    const workers = await startWorkers(space.prefix, 2, 3, registry);
    try {
      const job = `cl-${space.prefix}-s`;
      let status: ClusterStatus | undefined;
      const queries: Promise<void>[] = [];
      const result = await runClusterJob(
        { env: { name: job, parallelism: 3, checkpoint: { interval: '50ms' } }, source: [{ type: 'fake', rows: 600, splits: 6, chunk_rows: 20, rows_per_second: 1500 }], sink: [{ type: 'blackhole' }] },
        {
          registry,
          cluster: NATS_URL,
          prefix: space.prefix,
          onProgress: () => {
            if (status) return;
            queries.push(
              clusterStatus(space.cluster(), 3000).then((s) => {
                if (s.jobs.find((j) => j.job === job)?.pipelines.length === 3) status ??= s;
              }),
            );
          },
          progressIntervalMs: 100,
        },
      );
      await Promise.all(queries);
      expect(result.status).toBe('finished');
      expect(status, 'no status showed the three pipelines while the job ran').toBeDefined();
      const entry = status!.jobs.find((j) => j.job === job)!;
      expect(entry.coordinator?.pid).toBe(process.pid);
      expect(entry.pipelines.map((p) => p.pipelineId)).toEqual([0, 1, 2]);
      const ids = new Set(workers.workers.map((w) => w.id));
      for (const p of entry.pipelines) expect(ids.has(p.worker)).toBe(true);
      const live = status!.workers.filter((w) => ids.has(w.id));
      expect(live.map((w) => [w.live, w.slots])).toEqual([[true, 3], [true, 3]]);
      expect(live.reduce((n, w) => n + w.used, 0)).toBe(3);
      const text = statusText(status!);
      expect(text).toContain(`${job}  coordinator`);
      expect(text).toMatch(/pipelines [0-9, ]+ on /);
      // Finished: the lease is released and the checkpoint cleared.
      const after = await clusterStatus(space.cluster(), 3000);
      expect(after.jobs.find((j) => j.job === job)).toBeUndefined();
    } finally {
      await workers.close();
    }
  }, 60_000);

  it('tideway cluster status --json prints the workers; an unreachable NATS is a clear error', async () => {
    const workers = await startWorkers(space.prefix, 2, 4, registry);
    try {
      // Asynchronous: the workers in this process must go on heartbeating while the command runs.
      const cli = (args: string[]) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args]);
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.once('close', (status) => resolve({ status, stdout, stderr }));
        });
      const status = await cli(['cluster', 'status', '--nats', NATS_URL, '--prefix', space.prefix, '--json']);
      expect(status.status, status.stderr).toBe(0);
      const parsed = JSON.parse(status.stdout) as ClusterStatus;
      expect(parsed.workers.filter((w) => w.live).map((w) => w.id).sort()).toEqual(workers.workers.map((w) => w.id).sort());
      expect(parsed.workers.every((w) => w.slots === 4)).toBe(true);
      const down = await cli(['cluster', 'status', '--nats', 'nats://127.0.0.1:1', '--json']);
      expect(down.status).toBe(1);
      expect(down.stderr).toMatch(/CLUSTER_UNREACHABLE.*nats:\/\/127\.0\.0\.1:1/s);
    } finally {
      await workers.close();
    }
  }, 60_000);

  it('fails at once, with the worker\'s reason, when a worker cannot build the pipelines', async () => {
    const withoutBlackhole = new ConnectorRegistry(builtinConnectors.filter((c) => c.name !== 'blackhole'));
    const workers = await startWorkers(space.prefix, 1, 2, withoutBlackhole);
    try {
      const result = await runClusterJob(
        { env: { name: `cl-${space.prefix}-f`, parallelism: 2 }, source: [{ type: 'fake', rows: 10 }], sink: [{ type: 'blackhole' }] },
        // Were the refusal retried as missing capacity, this would wait past the test's timeout.
        { registry, cluster: NATS_URL, prefix: space.prefix, placementTimeoutMs: 120_000 },
      );
      expect(result.status).toBe('failed');
      expect(result.error?.code).not.toBe('NO_CAPACITY');
      expect(result.error?.message).toMatch(new RegExp(`worker ${workers.workers[0]!.id} could not start pipelines.*blackhole`, 's'));
    } finally {
      await workers.close();
    }
  }, 30_000);

  it('keeps the credentials of a NATS URL out of errors', async () => {
    expect(maskUrl('nats://tideway:hunter2@nats.example:4222')).toBe('nats://***@nats.example:4222');
    expect(maskUrl('nats://nats.example:4222')).toBe('nats://nats.example:4222');
    const error = await openCluster('nats://tideway:hunter2@127.0.0.1:1').catch((e: unknown) => e as Error);
    expect(error).toMatchObject({ code: 'CLUSTER_UNREACHABLE' });
    expect(String((error as Error).message)).not.toContain('hunter2');
    expect(String((error as Error).message)).toContain('nats://***@127.0.0.1:1');
  });

  it('runs through the programmatic API with the built-in connectors', async () => {
    const workers = await startWorkers(space.prefix, 1, 2, registry);
    try {
      const result = await runFromApi({ env: { name: `cl-${space.prefix}-api`, parallelism: 2 }, source: [{ type: 'fake', rows: 500, splits: 4 }], sink: [{ type: 'blackhole' }] }, { cluster: NATS_URL, prefix: space.prefix });
      expect(result.error).toBeNull();
      expect([result.status, result.rowsRead, result.recoveries]).toEqual(['finished', 500, 0]);
    } finally {
      await workers.close();
    }
  });

  it('refuses a file sink whose path is not listed as shared, naming the option', async () => {
    await expect(
      runClusterJob({ env: { name: `cl-${space.prefix}-b` }, source: [{ type: 'fake', rows: 10 }], sink: [{ type: 'file', path: join(dir(), 'x'), format: 'jsonl' }] }, { registry, cluster: NATS_URL, prefix: space.prefix }),
    ).rejects.toThrow(/cluster_shared_paths/);
  });
});
