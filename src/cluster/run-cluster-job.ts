import { resolve, sep } from 'node:path';
import { CancelledError, TidewayError, describeError } from '../api/errors.js';
import { type Logger, silentLogger } from '../api/logger.js';
import type { JobConfig } from '../engine/job-config.js';
import { type JobPlan, planJobOrThrow } from '../engine/plan.js';
import type { JobResult, RunOptions } from '../engine/result.js';
import { runJob } from '../engine/run-job.js';
import { type Cluster, DEFAULT_TIMINGS, openCluster } from './cluster-connection.js';
import { JetStreamCheckpointStore } from './jetstream-checkpoint-store.js';
import { liveWorkers, natsTransport } from './nats-transport.js';

export interface ClusterRunOptions extends Omit<RunOptions, 'transport' | 'checkpointStore' | 'registryModule'> {
  /** NATS URL of the cluster (`nats://host:4222`); default `env.cluster`. */
  cluster?: string;
  /** Bucket and subject prefix (default `tideway`): separate clusters, or tests, on one NATS server. */
  prefix?: string;
  /** @default 3000 */
  heartbeatTimeoutMs?: number;
  /** @default 30000 */
  placementTimeoutMs?: number;
  /**
   * Runs of the job after a worker died or a checkpoint stalled, each resuming from the last checkpoint,
   * before the job is reported failed.
   * @default 10
   */
  maxRecoveries?: number;
  /** Directories every worker sees as the same storage; default `env.cluster_shared_paths`. */
  sharedPaths?: string[];
  /** How long to wait for a previous coordinator's lease to expire (default: the lease TTL plus 1 s). */
  takeoverWaitMs?: number;
  /**
   * After NATS dropped the connection, how long to wait for it to answer again before failing the job.
   * @default 60000
   */
  reconnectTimeoutMs?: number;
  /** Called with each run's placement (pipeline id to worker id). */
  onPlaced?: (placement: ReadonlyMap<number, string>) => void;
}

export interface ClusterJobResult extends JobResult {
  /** Runs after the first that resumed the job because a worker was lost or a checkpoint stalled. */
  recoveries: number;
}

/**
 * Failures after which the job is run again from its last checkpoint on the workers that remain. NO_CAPACITY
 * is not among them: placement already waited for slots.
 */
const RECOVERABLE = new Set(['PIPELINE_CRASHED', 'WORKER_LOST', 'WORKER_FENCED', 'CHECKPOINT_TIMEOUT', 'CLUSTER_DISCONNECTED']);

/**
 * Runs a job on a Tideway cluster: this process coordinates (enumerators, checkpoints, commits), workers
 * run the pipelines. Checkpoints live in JetStream, guarded by a coordinator lease; a lost worker makes the
 * run resume from the last checkpoint on the surviving workers, up to `maxRecoveries` times.
 */
export async function runClusterJob(config: JobConfig, options: ClusterRunOptions): Promise<ClusterJobResult> {
  if (!options.registry) throw new TidewayError('NO_REGISTRY', 'runClusterJob needs a connector registry');
  const url = options.cluster ?? config.env.cluster;
  if (!url) throw new TidewayError('CONFIG_INVALID', 'cluster mode needs a NATS URL: pass --cluster nats://host:4222 or set env.cluster');
  const logger = options.logger ?? silentLogger;
  // The job runs on a cluster whatever its env says: the cluster's parallelism limit applies (here, in runJob's
  // plan and in the workers').
  const plan = planJobOrThrow(options.parallelism === undefined ? config : { ...config, env: { ...config.env, parallelism: options.parallelism } }, options.registry, { cluster: true });
  refuseLocalStaging(plan, options.sharedPaths ?? config.env.cluster_shared_paths ?? [], options.baseDir ?? process.cwd());
  const cluster = await openCluster(url, { ...(options.prefix ? { prefix: options.prefix } : {}), name: `tideway run ${plan.env.name}` });
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal?.reason ?? new CancelledError());
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const store = new JetStreamCheckpointStore(cluster, plan.env.name, logger, { ...(options.takeoverWaitMs === undefined ? {} : { takeoverWaitMs: options.takeoverWaitMs }), signal: stop.signal });
  let release: (() => Promise<void>) | undefined;
  try {
    release = await store.lock();
    let leaseLost: TidewayError | undefined;
    store.heldLease?.onLost((error) => {
      leaseLost = error;
      stop.abort(error);
    });
    await staleRunsGone(cluster, plan.env.name, options.heartbeatTimeoutMs ?? DEFAULT_TIMINGS.heartbeatTimeoutMs, logger);
    let recoveries = 0;
    for (;;) {
      const result = await runOnce(config, options, cluster, store, stop.signal, recoveries === 0 && options.fresh === true);
      if (leaseLost) return { ...result, status: 'failed', error: { code: leaseLost.code, message: leaseLost.message }, recoveries };
      const code = result.error?.code;
      if (result.status !== 'failed' || !code || !RECOVERABLE.has(code) || stop.signal.aborted || recoveries >= (options.maxRecoveries ?? 10)) {
        return { ...result, recoveries };
      }
      recoveries++;
      await reconnected(cluster, stop.signal, options.reconnectTimeoutMs ?? 60_000);
      logger.warn(`recovering job ${plan.env.name} from its last checkpoint on the remaining workers (recovery ${recoveries}): ${result.error?.message}`, { job: plan.env.name });
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await release?.().catch((error: unknown) => logger.warn('could not release the coordinator lease; it expires on its own', { error: describeError(error) }));
    await cluster.close();
  }
}

/**
 * Before this coordinator sweeps the job's orphans, the pipelines of the coordinator it replaced must be gone:
 * one still running could stage output after the sweep, and nothing would remove it. Workers stop them at
 * their next heartbeat once the lease changed hands; a dead worker's stop showing is bounded by the timeout.
 */
async function staleRunsGone(cluster: Cluster, job: string, heartbeatTimeoutMs: number, logger: Logger): Promise<void> {
  const deadline = Date.now() + 2 * heartbeatTimeoutMs;
  for (;;) {
    const stale = (await liveWorkers(cluster, heartbeatTimeoutMs)).filter(({ info }) => info.runs.some((r) => r.job === job));
    if (stale.length === 0) return;
    if (Date.now() > deadline) {
      logger.warn(`workers still report pipelines of an earlier coordinator of job ${job}; their staged output may outlive this run's orphan sweep (tideway clean removes it)`, { workers: stale.map((w) => w.info.id).join(',') });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until NATS answers a round trip again (after a restart of the server), or fails with CLUSTER_UNREACHABLE. */
async function reconnected(cluster: Cluster, signal: AbortSignal, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    try {
      await Promise.race([cluster.nc.rtt(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 2 s')), 2000))]);
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new TidewayError('CLUSTER_UNREACHABLE', `NATS at ${cluster.url} did not come back within ${timeoutMs} ms (${(error as Error).message}); the job resumes from its last checkpoint when you run it again`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function runOnce(config: JobConfig, options: ClusterRunOptions, cluster: Cluster, store: JetStreamCheckpointStore, signal: AbortSignal, fresh: boolean): Promise<JobResult> {
  const logger = options.logger ?? silentLogger;
  const transport = natsTransport(cluster, {
    logger,
    lease: () => (store.heldLease ? { key: store.heldLease.job, token: store.heldLease.value.token } : null),
    ...(options.heartbeatTimeoutMs === undefined ? {} : { heartbeatTimeoutMs: options.heartbeatTimeoutMs }),
    ...(options.placementTimeoutMs === undefined ? {} : { placementTimeoutMs: options.placementTimeoutMs }),
    ...(options.onPlaced ? { onPlaced: options.onPlaced } : {}),
  });
  return runJob(config, { ...options, fresh, signal, transport, checkpointStore: store, clusterLimits: true });
}

/**
 * Sinks whose staged output lives on the local disk of the host that wrote it cannot work across hosts: the
 * coordinator commits (renames) what a worker staged elsewhere. Their paths must be on storage every worker
 * and the coordinator share (NFS, a cluster filesystem), which the user states with env.cluster_shared_paths.
 */
export function refuseLocalStaging(plan: JobPlan, sharedPaths: readonly string[], baseDir: string): void {
  const shared = sharedPaths.map((p) => resolve(baseDir, p));
  for (const stage of plan.sinks) {
    if (stage.type !== 'file') continue;
    const path = resolve(baseDir, String((stage.options as { path?: unknown }).path ?? ''));
    if (shared.some((root) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep))) continue;
    throw new TidewayError(
      'CLUSTER_LOCAL_SINK',
      `${stage.path} (file) stages its output under ${path} on the disk of the worker that writes it, but in cluster mode the coordinator ` +
        `commits it from another process, possibly on another host. Put path on storage that every worker and the coordinator mount ` +
        `at the same place and list it in env.cluster_shared_paths (for example cluster_shared_paths: ["${path}"]), or run the job without --cluster`,
      { context: { path } },
    );
  }
}
