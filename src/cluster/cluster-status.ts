import { bucketKeys, type Cluster, decodeJson } from './cluster-connection.js';
import type { LeaseValue } from './coordinator-lease.js';
import type { CheckpointPointer } from './jetstream-checkpoint-store.js';
import type { WorkerInfo } from './protocol.js';

export interface ClusterStatus {
  nats: string;
  workers: (WorkerInfo & { live: boolean; heartbeatAgeMs: number })[];
  jobs: {
    job: string;
    /** The coordinator holding the job's lease, or null when none does (finished, or its coordinator died). */
    coordinator: { host: string; pid: number; since: string } | null;
    /** The latest completed checkpoint (resumable), or null. */
    checkpoint: number | null;
    /** Where each pipeline of the job's current run runs. */
    pipelines: { pipelineId: number; worker: string }[];
  }[];
}

async function entries<T>(cluster: Cluster, kv: Cluster['workers'], bucket: string): Promise<{ key: string; value: T; created: Date }[]> {
  const out: { key: string; value: T; created: Date }[] = [];
  for (const key of await bucketKeys(cluster, bucket)) {
    const entry = await kv.get(key);
    if (entry && entry.operation === 'PUT') out.push({ key, value: decodeJson<T>(entry.value), created: entry.created });
  }
  return out;
}

/** Workers (live or recently lost), jobs with a lease or a resumable checkpoint, and where their pipelines run. */
export async function clusterStatus(cluster: Cluster, heartbeatTimeoutMs: number): Promise<ClusterStatus> {
  const now = Date.now();
  const workers = (await entries<WorkerInfo>(cluster, cluster.workers, cluster.names.workers))
    .map(({ value, created }) => ({ ...value, heartbeatAgeMs: Math.max(0, now - created.getTime()), live: now - created.getTime() <= heartbeatTimeoutMs }))
    .sort((a, b) => a.id.localeCompare(b.id));
  const leases = new Map((await entries<LeaseValue>(cluster, cluster.leases, cluster.names.leases)).map((e) => [e.key, e.value]));
  const pointers = new Map((await entries<CheckpointPointer>(cluster, cluster.pointers, cluster.names.pointers)).map((e) => [e.key, e.value]));
  const names = new Set([...leases.keys(), ...[...pointers].filter(([, p]) => p.latest).map(([k]) => k), ...workers.flatMap((w) => (w.live ? w.runs.map((r) => r.job) : []))]);
  const jobs = [...names].sort().map((job) => {
    const lease = leases.get(job);
    const pipelines = workers
      .filter((w) => w.live)
      .flatMap((w) => w.runs.filter((r) => r.job === job).flatMap((r) => r.pipelines.map((pipelineId) => ({ pipelineId, worker: w.id }))))
      .sort((a, b) => a.pipelineId - b.pipelineId);
    return {
      job,
      coordinator: lease ? { host: lease.host, pid: lease.pid, since: lease.acquiredAt } : null,
      checkpoint: pointers.get(job)?.latest?.checkpointId ?? null,
      pipelines,
    };
  });
  return { nats: cluster.url, workers, jobs };
}

/** `tideway cluster status` for people. */
export function statusText(status: ClusterStatus): string {
  const lines = [`cluster at ${status.nats}`];
  const live = status.workers.filter((w) => w.live);
  lines.push(`workers: ${live.length} live, ${live.reduce((n, w) => n + w.slots - w.used, 0)} of ${live.reduce((n, w) => n + w.slots, 0)} slots free`);
  for (const w of status.workers) {
    lines.push(`  ${w.id}  ${w.live ? 'live' : 'LOST'}  ${w.host} pid ${w.pid}  slots ${w.used}/${w.slots} used  heartbeat ${(w.heartbeatAgeMs / 1000).toFixed(1)} s ago`);
  }
  lines.push(`jobs: ${status.jobs.length}`);
  for (const j of status.jobs) {
    const coordinator = j.coordinator ? `coordinator ${j.coordinator.host} pid ${j.coordinator.pid} since ${j.coordinator.since}` : 'no coordinator';
    lines.push(`  ${j.job}  ${coordinator}  checkpoint ${j.checkpoint ?? 'none'}`);
    const byWorker = new Map<string, number[]>();
    for (const p of j.pipelines) byWorker.set(p.worker, [...(byWorker.get(p.worker) ?? []), p.pipelineId]);
    for (const [worker, ids] of byWorker) lines.push(`    pipelines ${ids.join(', ')} on ${worker}`);
  }
  return `${lines.join('\n')}\n`;
}
