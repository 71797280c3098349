import { randomBytes } from 'node:crypto';
import { type KvEntry, KvWatchInclude } from '@nats-io/kv';
import { TidewayError, describeError } from '../api/errors.js';
import type { Logger } from '../api/logger.js';
import type { JobPlan } from '../engine/plan.js';
import type { PipelineHost, PipelineSpec, TransportFactory, TransportHandlers } from '../engine/transport.js';
import { bucketKeys, type Cluster, DEFAULT_TIMINGS, decodeJson, encodeJson, onDisconnect } from './cluster-connection.js';
import { type FromPipelineEnvelope, type LeaseRef, specToWire, type ToPipelineEnvelope, type WorkerInfo, type WorkerReply, type WorkerRequest } from './protocol.js';

export interface NatsTransportOptions {
  logger: Logger;
  /** The coordinator lease the run's pipelines live under (workers stop them when it changes hands). */
  lease?: () => LeaseRef | null;
  /**
   * A worker whose heartbeat key has not changed for this long is dead, and its pipelines crashed.
   * @default 3000
   */
  heartbeatTimeoutMs?: number;
  /**
   * How long to wait for enough free slots on live workers before failing with NO_CAPACITY.
   * @default 30000
   */
  placementTimeoutMs?: number;
  /** Called with each placement, for status and tests. */
  onPlaced?: (placement: ReadonlyMap<number, string>) => void;
}

/** A live worker as the coordinator sees it when placing. */
interface Candidate {
  info: WorkerInfo;
  free: number;
}

const REQUEST_TIMEOUT_MS = 10_000;
/** Placement answers worth retrying (with fresh heartbeats) until the placement timeout. */
const TRANSIENT_PLACEMENT = new Set(['WORKER_FULL', 'WORKER_UNREACHABLE', 'WORKER_CLOSING']);
const STOP_TIMEOUT_MS = 30_000;
const STOP_ATTEMPT_MS = 2_000;

/**
 * Runs pipelines on cluster workers. Each `start` is one run of the job with its own run id: its control
 * messages travel on that run's subjects, so a late message of an earlier run (before a crash) never reaches
 * this one. Pipelines are placed across live workers' free slots, spread evenly; a worker whose heartbeat
 * stops for `heartbeatTimeoutMs` takes its pipelines with it (`onCrash`), and the cluster runner resumes the
 * job from its last checkpoint on the workers that remain.
 */
export function natsTransport(cluster: Cluster, options: NatsTransportOptions): TransportFactory {
  const timeout = options.heartbeatTimeoutMs ?? DEFAULT_TIMINGS.heartbeatTimeoutMs;
  return {
    name: `nats(${cluster.url})`,
    async start(specs: PipelineSpec[], plan: JobPlan, handlers: TransportHandlers): Promise<PipelineHost> {
      const runId = `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
      const job = plan.env.name;
      const { nc, names } = cluster;
      const dead = new Set<number>();
      const request = async (workerId: string, body: WorkerRequest, timeoutMs = REQUEST_TIMEOUT_MS): Promise<WorkerReply> => {
        const msg = await nc.request(names.worker(workerId), encodeJson(body), { timeout: timeoutMs });
        return decodeJson<WorkerReply>(msg.data);
      };
      const inbound = nc.subscribe(names.fromPipelines(runId), {
        callback: (error, msg) => {
          if (error) return;
          const { pipelineId, message } = decodeJson<FromPipelineEnvelope>(msg.data);
          if (!dead.has(pipelineId)) handlers.onMessage(pipelineId, message);
        },
      });
      await nc.flush();
      let placement: Map<number, string>;
      try {
        placement = await place(cluster, { runId, job, specs, lease: options.lease?.() ?? null, request, timeoutMs: options.placementTimeoutMs ?? 30_000, heartbeatTimeoutMs: timeout, logger: options.logger });
      } catch (error) {
        inbound.unsubscribe();
        throw error;
      }
      options.onPlaced?.(placement);
      const crash = (pipelineId: number, error: Error) => {
        if (dead.has(pipelineId)) return;
        dead.add(pipelineId);
        handlers.onCrash(pipelineId, error);
      };
      const monitor = new WorkerMonitor(cluster, new Set(placement.values()), timeout, (workerId, why) => {
        options.logger.warn(`worker ${workerId} is lost (${why}); its pipelines are treated as crashed`, { job, run: runId });
        for (const [pipelineId, host] of placement) {
          if (host === workerId) crash(pipelineId, new TidewayError('WORKER_LOST', `worker ${workerId}, which ran pipeline ${pipelineId}, is lost: ${why}`, { retryable: true, context: { worker: workerId } }));
        }
      });
      await monitor.start();
      // Core NATS drops what is published while a connection is down: a control message may be lost, and the
      // engine tolerates delay and duplicates, not loss. Treat the run as crashed; the next one resumes.
      const disconnects = onDisconnect(nc, () => {
        options.logger.warn('lost the connection to NATS; control messages may be lost, so the run resumes from its last checkpoint', { job, run: runId });
        for (const pipelineId of placement.keys()) crash(pipelineId, new TidewayError('CLUSTER_DISCONNECTED', `the coordinator lost its connection to NATS at ${cluster.url} while pipeline ${pipelineId} ran`, { retryable: true }));
      });
      /**
       * Asks a worker to close the run's pipelines. The request is repeated (stopping is idempotent) because one
       * sent while the connection was down is lost; a dead worker has no responders, and its pipelines are gone.
       */
      const stopOn = async (workerId: string): Promise<void> => {
        const deadline = Date.now() + STOP_TIMEOUT_MS;
        for (;;) {
          try {
            await request(workerId, { kind: 'stop', runId }, STOP_ATTEMPT_MS);
            return;
          } catch (error) {
            if (!/timeout/i.test((error as Error).message) || Date.now() > deadline) {
              options.logger.debug('worker did not confirm the stop', { worker: workerId, error: describeError(error) });
              return;
            }
          }
        }
      };
      let closing: Promise<void> | undefined;
      return {
        send(pipelineId, message) {
          if (dead.has(pipelineId)) return;
          nc.publish(names.toPipeline(runId, pipelineId), encodeJson({ message } satisfies ToPipelineEnvelope));
        },
        kill(pipelineId) {
          const workerId = placement.get(pipelineId);
          if (!workerId || dead.has(pipelineId)) return;
          dead.add(pipelineId);
          void request(workerId, { kind: 'kill', runId, pipelineId })
            .catch(() => undefined)
            .then(() => handlers.onCrash(pipelineId, new Error('pipeline killed')));
        },
        close() {
          closing ??= (async () => {
            await monitor.close();
            await disconnects.stop();
            const hosts = new Set(placement.values());
            // A lost worker is not asked: it is dead, or cut off and stopping its pipelines on its own.
            await Promise.all([...hosts].filter((workerId) => !monitor.isLost(workerId)).map((workerId) => stopOn(workerId)));
            inbound.unsubscribe();
          })();
          return closing;
        },
      };
    },
  };
}

interface PlaceArgs {
  runId: string;
  job: string;
  specs: PipelineSpec[];
  lease: LeaseRef | null;
  request: (workerId: string, body: WorkerRequest, timeoutMs?: number) => Promise<WorkerReply>;
  timeoutMs: number;
  heartbeatTimeoutMs: number;
  logger: Logger;
}

/** Live workers with their free slots, from the workers bucket (fresh heartbeats only). */
export async function liveWorkers(cluster: Cluster, heartbeatTimeoutMs: number): Promise<{ info: WorkerInfo; entry: KvEntry }[]> {
  const live: { info: WorkerInfo; entry: KvEntry }[] = [];
  for (const key of await bucketKeys(cluster, cluster.names.workers)) {
    const entry = await cluster.workers.get(key);
    if (!entry || entry.operation !== 'PUT') continue;
    // The server stamps `created`; a worker on another host with a skewed clock does not matter here.
    if (Date.now() - entry.created.getTime() > heartbeatTimeoutMs) continue;
    live.push({ info: decodeJson<WorkerInfo>(entry.value), entry });
  }
  return live;
}

/**
 * Spreads the specs across live workers' free slots (one at a time to the worker with the most slots left),
 * asks each worker to start its share, and retries with fresh heartbeats if one refuses or is gone, until
 * `timeoutMs` passes.
 */
async function place(cluster: Cluster, args: PlaceArgs): Promise<Map<number, string>> {
  const deadline = Date.now() + args.timeoutMs;
  let last = '';
  for (;;) {
    const candidates: Candidate[] = (await liveWorkers(cluster, args.heartbeatTimeoutMs)).map(({ info }) => ({ info, free: info.slots - info.used }));
    const total = candidates.reduce((n, c) => n + Math.max(0, c.free), 0);
    if (total >= args.specs.length) {
      const shares = new Map<string, PipelineSpec[]>();
      for (const spec of args.specs) {
        const best = candidates.reduce((a, b) => (b.free > a.free ? b : a));
        best.free--;
        shares.set(best.info.id, [...(shares.get(best.info.id) ?? []), spec]);
      }
      const results = await Promise.all(
        [...shares].map(async ([workerId, specs]) => {
          try {
            const reply = await args.request(workerId, { kind: 'place', runId: args.runId, job: args.job, lease: args.lease, heartbeatTimeoutMs: args.heartbeatTimeoutMs, specs: specs.map(specToWire) });
            return { workerId, reply };
          } catch (error) {
            return { workerId, reply: { ok: false, code: 'WORKER_UNREACHABLE', message: describeError(error) } satisfies WorkerReply };
          }
        }),
      );
      const failed = results.filter((r) => !r.reply.ok);
      // A worker that cannot build the pipelines (a connector it lacks, an invalid option) will not later.
      const fatal = failed.find((r) => !r.reply.ok && !TRANSIENT_PLACEMENT.has(r.reply.code));
      if (fatal && !fatal.reply.ok) {
        await Promise.all(results.filter((r) => r.reply.ok).map((r) => args.request(r.workerId, { kind: 'stop', runId: args.runId }).catch(() => undefined)));
        throw new TidewayError(fatal.reply.code, `worker ${fatal.workerId} could not start pipelines of job ${args.job}: ${fatal.reply.message}`);
      }
      if (failed.length === 0) {
        const placement = new Map<number, string>();
        for (const [workerId, specs] of shares) for (const spec of specs) placement.set(spec.pipelineId, workerId);
        args.logger.info(`placed ${args.specs.length} pipeline(s) on ${shares.size} worker(s)`, { job: args.job, run: args.runId });
        return placement;
      }
      // Undo the partial placement before trying again.
      await Promise.all(results.filter((r) => r.reply.ok).map((r) => args.request(r.workerId, { kind: 'stop', runId: args.runId }).catch(() => undefined)));
      last = failed.map((f) => `${f.workerId}: ${f.reply.ok ? '' : f.reply.message}`).join('; ');
    } else {
      last = `${candidates.length} live worker(s) with ${total} free slot(s) for ${args.specs.length} pipeline(s)`;
    }
    if (Date.now() > deadline) {
      throw new TidewayError(
        'NO_CAPACITY',
        `could not place the ${args.specs.length} pipeline(s) of job ${args.job} within ${args.timeoutMs} ms (${last}); ` +
          `start more workers (tideway worker --nats ${cluster.url} --slots N), or lower the job's parallelism (-p)`,
        { retryable: true },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Watches the heartbeat keys of the workers a run uses: a key deleted (a worker that shut down) or not
 * rewritten for `timeoutMs` (measured on this process's monotonic clock, so clocks of other hosts do not
 * matter) means the worker is lost.
 */
class WorkerMonitor {
  private readonly lastChange = new Map<string, number>();
  private readonly lost = new Set<string>();
  private watcher: Awaited<ReturnType<Cluster['workers']['watch']>> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watching: Promise<void> | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly workers: Set<string>,
    private readonly timeoutMs: number,
    private readonly onLost: (workerId: string, why: string) => void,
  ) {}

  async start(): Promise<void> {
    const now = performance.now();
    for (const id of this.workers) this.lastChange.set(id, now);
    this.watcher = await this.cluster.workers.watch({ include: KvWatchInclude.UpdatesOnly });
    const watcher = this.watcher;
    this.watching = (async () => {
      for await (const entry of watcher) {
        if (!this.workers.has(entry.key)) continue;
        if (entry.operation !== 'PUT') this.lose(entry.key, 'it shut down');
        else this.lastChange.set(entry.key, performance.now());
      }
    })().catch(() => undefined);
    this.timer = setInterval(() => {
      const at = performance.now();
      for (const [id, seen] of this.lastChange) {
        if (at - seen > this.timeoutMs) this.lose(id, `no heartbeat for ${Math.round(at - seen)} ms (timeout ${this.timeoutMs} ms)`);
      }
    }, Math.max(50, Math.floor(this.timeoutMs / 6)));
  }

  isLost(workerId: string): boolean {
    return this.lost.has(workerId);
  }

  private lose(workerId: string, why: string): void {
    if (this.lost.has(workerId)) return;
    this.lost.add(workerId);
    this.lastChange.delete(workerId);
    this.onLost(workerId, why);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.watcher?.stop();
    await this.watching;
  }
}
