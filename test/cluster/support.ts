import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { type Cluster, destroyCluster, openCluster } from '../../src/cluster/cluster-connection.js';
import { ClusterWorker } from '../../src/cluster/worker.js';
import type { ConnectorRegistry } from '../../src/engine/registry.js';
import type { JobConfig } from '../../src/engine/job-config.js';
import { requireService } from '../helpers/services.js';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** True when NATS answers (under CI=true a missing server fails the file instead). */
export const natsUp = await requireService('NATS', '127.0.0.1', 4222);

/** A cluster prefix of this file's own (random buckets), removed after the file. */
export function useClusterPrefix(options: { leaseTtlMs?: number } = {}): { readonly prefix: string; cluster(): Cluster } {
  const prefix = `twt_${randomBytes(4).toString('hex')}`;
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    if (!natsUp) return;
    cluster = await openCluster(NATS_URL, { prefix, ...options });
  });
  afterAll(async () => {
    if (!cluster) return;
    await destroyCluster(cluster);
    await cluster.close();
  });
  return {
    prefix,
    cluster: () => {
      if (!cluster) throw new Error('cluster not open');
      return cluster;
    },
  };
}

/** Workers in this process, each with its own NATS connection as a separate process would have. */
export async function startWorkers(
  prefix: string,
  count: number,
  slots: number,
  registry: ConnectorRegistry | ((job: JobConfig) => ConnectorRegistry),
  url = NATS_URL,
): Promise<{ workers: ClusterWorker[]; close(): Promise<void> }> {
  const workers: ClusterWorker[] = [];
  const connections: Cluster[] = [];
  for (let i = 0; i < count; i++) {
    const cluster = await openCluster(url, { prefix });
    connections.push(cluster);
    const worker = new ClusterWorker({ cluster, slots, registry, logger: silentLogger, heartbeatIntervalMs: 300 });
    await worker.start();
    workers.push(worker);
  }
  return {
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(connections.map((c) => c.close()));
    },
  };
}
