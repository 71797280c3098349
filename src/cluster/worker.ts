import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { describeError, errorCode } from '../api/errors.js';
import type { Logger } from '../api/logger.js';
import type { JobConfig } from '../engine/job-config.js';
import type { ToPipeline } from '../engine/messages.js';
import { Pipeline } from '../engine/pipeline.js';
import { planJobOrThrow } from '../engine/plan.js';
import type { ConnectorRegistry } from '../engine/registry.js';
import { type Cluster, decodeJson, encodeJson, onDisconnect } from './cluster-connection.js';
import { type FromPipelineEnvelope, type LeaseRef, specFromWire, type ToPipelineEnvelope, type WorkerInfo, type WorkerReply, type WorkerRequest } from './protocol.js';
import { type LeaseValue } from './coordinator-lease.js';

export interface WorkerOptions {
  cluster: Cluster;
  /** Pipelines this worker runs at once. */
  slots: number;
  /** The connectors pipelines are built from (the coordinator's job is planned again here). */
  registry: ConnectorRegistry | ((job: JobConfig) => ConnectorRegistry);
  logger: Logger;
  /**
   * How often the worker rewrites its key; must be well under the coordinators' heartbeat timeout.
   * @default 1000
   */
  heartbeatIntervalMs?: number;
  /** Default: host, pid and a random suffix. */
  id?: string;
}

/** One run's pipelines on this worker. */
interface HostedRun {
  runId: string;
  job: string;
  lease: LeaseRef | null;
  /** Without a successful heartbeat for this long, the worker stops the run on its own (see `fenceStale`). */
  fenceAfterMs: number;
  pipelines: Map<number, Pipeline>;
  subscriptions: Subscription[];
}

type WorkerState = 'created' | 'running' | 'closing' | 'closed';

/**
 * A long-running cluster worker: announces its slots through a heartbeat key, accepts pipeline placements
 * from coordinators, and runs each pipeline in this process as the in-process transport would. Batches never
 * leave the pipeline; only control messages cross NATS.
 *
 * It stops a run's pipelines when the run's coordinator asks (`stop`), when a test kills one (`kill`), and on
 * its own when the job's coordinator lease no longer carries the token it was placed under (the coordinator
 * died or was replaced): a deposed coordinator's pipelines do not keep staging output.
 */
export class ClusterWorker {
  readonly id: string;
  private state: WorkerState = 'created';
  private readonly runs = new Map<string, HostedRun>();
  private readonly startedAt = new Date().toISOString();
  private requests: Subscription | undefined;
  private disconnects: { stop(): Promise<void> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastBeat = performance.now();
  private beating: Promise<void> | undefined;
  private closed: Promise<void> | undefined;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: WorkerOptions) {
    this.id = options.id ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  private get cluster(): Cluster {
    return this.options.cluster;
  }

  private get used(): number {
    let n = 0;
    for (const run of this.runs.values()) n += run.pipelines.size;
    return n;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error(`worker ${this.id} cannot start from ${this.state}`);
    this.state = 'running';
    this.requests = this.cluster.nc.subscribe(this.cluster.names.worker(this.id), {
      callback: (error, msg) => {
        if (error) return;
        this.track(this.handle(msg));
      },
    });
    await this.cluster.nc.flush();
    this.watchConnection();
    await this.heartbeat();
    this.timer = setInterval(() => {
      this.beating ??= this.heartbeat().finally(() => (this.beating = undefined));
    }, this.options.heartbeatIntervalMs ?? 1000);
    this.watchdog = setInterval(() => this.fenceStale(), 100);
    this.options.logger.info(`worker ${this.id} ready with ${this.options.slots} slot(s)`, { nats: this.cluster.url });
  }

  /**
   * A disconnect may have dropped control messages to or from the hosted pipelines, which the protocol does not
   * recover from: halt them (their coordinators resume from the last checkpoint and place them again).
   */
  private watchConnection(): void {
    this.disconnects = onDisconnect(this.cluster.nc, async () => {
      if (this.runs.size === 0) return;
      this.options.logger.warn('lost the connection to NATS; halting the hosted pipelines (their jobs resume from their last checkpoints)');
      await Promise.all([...this.runs.keys()].map((runId) => this.stopRun(runId, true)));
    });
  }

  private track(work: Promise<unknown>): void {
    const settled = work.catch((error: unknown) => this.options.logger.warn('worker request failed', { error: describeError(error) })).finally(() => this.pending.delete(settled));
    this.pending.add(settled);
  }

  private info(): WorkerInfo {
    return {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      slots: this.options.slots,
      used: this.used,
      startedAt: this.startedAt,
      heartbeatAt: new Date().toISOString(),
      runs: [...this.runs.values()].map((r) => ({ runId: r.runId, job: r.job, pipelines: [...r.pipelines.keys()] })),
    };
  }

  /**
   * A worker cut off from NATS (a partition: its connection may not even notice for minutes) is declared lost
   * by its coordinators after their heartbeat timeout, and the job resumes elsewhere; its pipelines must not
   * go on staging output that the new run's orphan sweep has already passed. So once the worker has had no
   * successful heartbeat for half the coordinator's timeout, it closes the run's pipelines itself (writers
   * discard what no acknowledged checkpoint owns) and tells the coordinator, should it still hear.
   */
  private fenceStale(): void {
    const silent = performance.now() - this.lastBeat;
    for (const run of [...this.runs.values()]) {
      if (silent <= run.fenceAfterMs) continue;
      this.options.logger.warn(`no heartbeat for ${Math.round(silent)} ms: stopping the pipelines of job ${run.job}, whose coordinator counts this worker as lost`, { run: run.runId });
      for (const pipelineId of run.pipelines.keys()) {
        const error = { code: 'WORKER_FENCED', message: `worker ${this.id} could not heartbeat for ${Math.round(silent)} ms and stopped pipeline ${pipelineId}`, context: {}, retryable: true };
        this.cluster.nc.publish(this.cluster.names.fromPipelines(run.runId), encodeJson({ pipelineId, message: { kind: 'failed', error } } satisfies FromPipelineEnvelope));
      }
      this.track(this.stopRun(run.runId, false));
    }
  }

  /** Rewrites the worker's key, then stops runs whose coordinator lease is gone or changed hands. */
  private async heartbeat(): Promise<void> {
    if (this.state !== 'running') return;
    try {
      await this.cluster.workers.put(this.id, encodeJson(this.info()));
      this.lastBeat = performance.now();
    } catch (error) {
      this.options.logger.warn('heartbeat failed; retrying', { error: describeError(error) });
      return;
    }
    for (const run of [...this.runs.values()]) {
      if (!run.lease) continue;
      const entry = await this.cluster.leases.get(run.lease.key).catch(() => undefined);
      if (entry === undefined) continue;
      const holder = entry && entry.operation === 'PUT' ? decodeJson<LeaseValue>(entry.value) : undefined;
      if (holder?.token === run.lease.token) continue;
      this.options.logger.warn(`stopping the pipelines of job ${run.job}: its coordinator's lease is ${holder ? 'held by another coordinator' : 'gone'}`, { run: run.runId });
      await this.stopRun(run.runId, true);
    }
  }

  private async handle(msg: Msg): Promise<void> {
    const request = decodeJson<WorkerRequest>(msg.data);
    let reply: WorkerReply;
    try {
      reply = await this.dispatch(request);
    } catch (error) {
      reply = { ok: false, code: errorCode(error), message: describeError(error) };
    }
    msg.respond(encodeJson(reply));
  }

  private async dispatch(request: WorkerRequest): Promise<WorkerReply> {
    switch (request.kind) {
      case 'place':
        return this.place(request);
      case 'kill': {
        const run = this.runs.get(request.runId);
        const pipeline = run?.pipelines.get(request.pipelineId);
        if (run && pipeline) {
          run.pipelines.delete(request.pipelineId);
          await pipeline.halt();
        }
        return { ok: true };
      }
      case 'stop':
        await this.stopRun(request.runId, false);
        return { ok: true };
    }
  }

  private async place(request: Extract<WorkerRequest, { kind: 'place' }>): Promise<WorkerReply> {
    if (this.state !== 'running') return { ok: false, code: 'WORKER_CLOSING', message: `worker ${this.id} is shutting down` };
    if (this.runs.has(request.runId)) return { ok: true };
    const free = this.options.slots - this.used;
    if (request.specs.length > free) return { ok: false, code: 'WORKER_FULL', message: `worker ${this.id} has ${free} free slot(s), ${request.specs.length} asked` };
    const interval = this.options.heartbeatIntervalMs ?? 1000;
    const run: HostedRun = {
      runId: request.runId,
      job: request.job,
      lease: request.lease,
      fenceAfterMs: Math.max(request.heartbeatTimeoutMs / 2, interval * 1.5),
      pipelines: new Map(),
      subscriptions: [],
    };
    this.runs.set(run.runId, run);
    const { nc, names } = this.cluster;
    try {
      for (const wire of request.specs) {
        const spec = specFromWire(wire);
        const registry = typeof this.options.registry === 'function' ? this.options.registry(spec.job) : this.options.registry;
        const plan = planJobOrThrow(spec.job, registry, { cluster: true });
        let inbox: ((message: ToPipeline) => void) | undefined;
        const pipeline = new Pipeline(
          spec,
          plan,
          {
            send: (message) => {
              if (run.pipelines.get(spec.pipelineId) !== pipeline) return;
              nc.publish(names.fromPipelines(run.runId), encodeJson({ pipelineId: spec.pipelineId, message } satisfies FromPipelineEnvelope));
            },
            onMessage: (handler) => (inbox = handler),
          },
          this.options.logger,
        );
        run.pipelines.set(spec.pipelineId, pipeline);
        run.subscriptions.push(
          nc.subscribe(names.toPipeline(run.runId, spec.pipelineId), {
            callback: (error, msg) => {
              if (error || run.pipelines.get(spec.pipelineId) !== pipeline) return;
              inbox?.(decodeJson<ToPipelineEnvelope>(msg.data).message);
            },
          }),
        );
      }
      // Subscriptions are in place on the server before the coordinator learns the placement succeeded.
      await nc.flush();
      await Promise.all([...run.pipelines.values()].map((p) => p.start()));
    } catch (error) {
      await this.stopRun(run.runId, true);
      throw error;
    }
    this.track(this.heartbeat());
    this.options.logger.info(`placed ${run.pipelines.size} pipeline(s) of job ${run.job}`, { run: run.runId, pipelines: [...run.pipelines.keys()].join(',') });
    return { ok: true };
  }

  /** Ends a run's pipelines: closed (the coordinator asked) or halted (its coordinator is gone). */
  private async stopRun(runId: string, halt: boolean): Promise<void> {
    const run = this.runs.get(runId);
    if (!run) return;
    this.runs.delete(runId);
    const pipelines = [...run.pipelines.values()];
    await Promise.all(pipelines.map((p) => (halt ? p.halt() : p.close())));
    for (const sub of run.subscriptions) sub.unsubscribe();
    this.track(this.heartbeat());
  }

  /** Closes every hosted pipeline, removes the worker's key and stops; safe to call twice. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.state = 'closing';
      if (this.timer) clearInterval(this.timer);
      if (this.watchdog) clearInterval(this.watchdog);
      this.requests?.unsubscribe();
      await this.disconnects?.stop();
      await this.beating;
      await Promise.all([...this.runs.keys()].map((runId) => this.stopRun(runId, false)));
      await Promise.all([...this.pending]);
      await this.cluster.workers.delete(this.id).catch(() => undefined);
      this.state = 'closed';
    })();
    return this.closed;
  }
}
