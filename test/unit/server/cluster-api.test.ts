import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../../src/cluster/cluster-status.js';
import { builtinConnectors, ConnectorRegistry } from '../../../src/index.js';
import { createServer, type ServerOptions, type TidewayServer } from '../../../src/server/app.js';
import { NATS_URL, natsUp, startWorkers, useClusterPrefix } from '../../cluster/support.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedIds, expectExactlyOnce } from '../../helpers/output.js';
import { waitFor, waitForEnd } from './helpers.js';

const dir = useTempDirs('tideway-cluster-api-');
const registry = new ConnectorRegistry(builtinConnectors);
const servers: TidewayServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(options: Partial<ServerOptions> = {}): Promise<TidewayServer> {
  const s = createServer({ stateDir: dir(), env: {}, progressIntervalMs: 50, registry, ...options });
  servers.push(s);
  await s.jobs.open();
  await s.app.ready();
  return s;
}

describe('job server without a cluster', () => {
  it('answers GET /api/cluster with 404 NO_CLUSTER', async () => {
    const s = await server();
    const response = await s.app.inject({ method: 'GET', url: '/api/cluster' });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('NO_CLUSTER');
    expect((await s.app.inject({ method: 'GET', url: '/api/health' })).json()).toEqual({ status: 'ok', cluster: false });
  });

  it('runs a job whose YAML sets env.cluster on that cluster, as tideway run does (here one nobody answers at)', async () => {
    const s = await server();
    // Port 1: nothing listens, so the job must fail trying to reach the cluster rather than run locally.
    const yaml = `env:\n  name: env-cluster\n  cluster: nats://someone:pw-0123456789@127.0.0.1:1\nsource:\n  - type: fake\n    rows: 10\nsink:\n  - type: blackhole\n`;
    const submitted = await s.app.inject({ method: 'POST', url: '/api/jobs', headers: { 'content-type': 'application/yaml' }, payload: yaml });
    expect(submitted.statusCode).toBe(201);
    const end = await waitForEnd(s.jobs, submitted.json<{ id: string }>().id);
    expect(end.status).toBe('failed');
    expect(end.lastError?.code).toBe('CLUSTER_UNREACHABLE');
    expect(end.lastError?.message).toContain('nats://***@127.0.0.1:1');
    expect(JSON.stringify(end)).not.toContain('pw-0123456789');
  });
});

describe.skipIf(!natsUp)('job server on a cluster', () => {
  const space = useClusterPrefix({ leaseTtlMs: 2000 });

  it('runs a submitted job on the cluster workers, every row once, and shows the workers and where its pipelines run', async () => {
    const workers = await startWorkers(space.prefix, 2, 2, registry);
    try {
      // Credentials in the URL (the local server accepts any) must never show in the API.
      const url = NATS_URL.replace('nats://', 'nats://someone:s3cret-pass@');
      const s = await server({ cluster: { url, prefix: space.prefix } });
      expect((await s.app.inject({ method: 'GET', url: '/api/health' })).json()).toEqual({ status: 'ok', cluster: true });
      const out = join(dir(), 'out');
      const name = `api-${space.prefix}`;
      const yaml = `env:
  name: ${name}
  parallelism: 2
  checkpoint:
    interval: 50ms
  cluster_shared_paths: ["${out}"]
source:
  - type: fake
    rows: 1500
    splits: 6
    chunk_rows: 25
    rows_per_second: 1500
sink:
  - type: file
    path: ${out}
    format: jsonl
`;
      const submitted = await s.app.inject({ method: 'POST', url: '/api/jobs', headers: { 'content-type': 'application/yaml' }, payload: yaml });
      expect(submitted.statusCode).toBe(201);
      const id = submitted.json<{ id: string }>().id;

      // While it runs, the cluster status names both pipelines of the job and the workers they run on.
      let seen: ClusterStatus | undefined;
      await waitFor(s.jobs, id, (v) => v.status === 'running', 'running');
      while (!seen && s.jobs.view(id)?.status === 'running') {
        const response = await s.app.inject({ method: 'GET', url: '/api/cluster' });
        expect(response.statusCode).toBe(200);
        expect(response.body).not.toContain('s3cret-pass');
        const status = response.json<ClusterStatus>();
        if (status.jobs.find((j) => j.job === name)?.pipelines.length === 2) seen = status;
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const end = await waitForEnd(s.jobs, id);
      expect(end.lastError).toBeNull();
      expect(end.status).toBe('finished');
      expect(expectExactlyOnce(committedIds(out), 1500)).toBeUndefined();

      expect(seen, 'no GET /api/cluster showed the two pipelines while the job ran').toBeDefined();
      expect(seen!.nats).toBe(NATS_URL.replace('nats://', 'nats://***@'));
      const ids = new Set(workers.workers.map((w) => w.id));
      const entry = seen!.jobs.find((j) => j.job === name)!;
      expect(entry.pipelines.map((p) => p.pipelineId)).toEqual([0, 1]);
      for (const p of entry.pipelines) expect(ids.has(p.worker)).toBe(true);
      expect(entry.coordinator?.pid).toBe(process.pid);
      const listed = seen!.workers.filter((w) => ids.has(w.id));
      expect(listed.map((w) => [w.live, w.slots])).toEqual([[true, 2], [true, 2]]);
      expect(listed.reduce((n, w) => n + w.used, 0)).toBe(2);

      // After the job, the workers are still listed, live, with their slots free.
      const after = (await s.app.inject({ method: 'GET', url: '/api/cluster' })).json<ClusterStatus>();
      expect(after.workers.filter((w) => ids.has(w.id)).map((w) => w.live)).toEqual([true, true]);
    } finally {
      await workers.close();
    }
  }, 90_000);
});
