import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { FactoryContext } from '../api/connector.js';
import { CancelledError, TidewayError, describeError, errorCode } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { Logger } from '../api/logger.js';
import type { Sink, SinkCommitter, SinkContext } from '../api/sink.js';
import type { Source } from '../api/source.js';
import { type CheckpointData, type CheckpointStore, LocalCheckpointStore, type SourceCheckpoint } from './checkpoint-store.js';
import { inProcessTransport } from './in-process-transport.js';
import type { JobConfig } from './job-config.js';
import { stderrLogger } from './logger.js';
import type { FromPipeline, PipelineMetrics } from './messages.js';
import { type JobPlan, planJobOrThrow } from './plan.js';
import type { JobProgress, JobResult, JobStatus, RunOptions } from './result.js';
import { schemaToIpc } from './schema-ipc.js';
import { SourceCoordinator } from './source-coordinator.js';
import type { PipelineHost, PipelineSpec, TransportFactory } from './transport.js';
import { fromWireError } from './wire-error.js';
import { workerThreadsTransport } from './worker-transport.js';

interface SinkRuntime {
  sinkIndex: number;
  name: string;
  type: string;
  sink: Sink;
  committer: SinkCommitter;
  prepared: Json | undefined;
  /** Rows made visible by commits in this run. */
  rowsCommitted: number;
}

interface PendingCheckpoint {
  id: number;
  endOfInput: boolean;
  acks: Map<number, Extract<FromPipeline, { kind: 'ack' }>>;
  resolve: () => void;
}

/**
 * Runs a job to the end (bounded input), until `signal` aborts (graceful stop), or until it fails.
 * Never throws for a job-level failure: the result says `failed` with the error. It throws only for a job
 * that cannot start (invalid configuration).
 */
export async function runJob(config: JobConfig, options: RunOptions = {}): Promise<JobResult> {
  if (!options.registry) throw new TidewayError('NO_REGISTRY', 'runJob needs a connector registry; use the runJob exported by the tideway package');
  const parallelism = options.parallelism ?? config.env?.parallelism;
  const effective: JobConfig = parallelism === undefined ? config : { ...config, env: { ...config.env, parallelism } };
  const plan = planJobOrThrow(effective, options.registry);
  const run = new JobRun(effective, plan, options);
  return run.execute();
}

class JobRun {
  private readonly logger: Logger;
  private readonly startedAt = new Date();
  private readonly attemptId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  /**
   * Aborted only once the run is over and everything is closed: connectors keep a live signal through a
   * graceful stop's last checkpoint and commit. `stop` is what the caller's signal triggers.
   */
  private readonly abort = new AbortController();
  private readonly stop = new AbortController();
  private readonly store: CheckpointStore;
  private readonly parallelism: number;
  private sources: SourceCoordinator[] = [];
  private sinks: SinkRuntime[] = [];
  private host: PipelineHost | undefined;
  private specs: PipelineSpec[] = [];
  private readonly metrics = new Map<number, PipelineMetrics>();
  private readonly finished = new Set<number>();
  private checkpointId = 0;
  private checkpointsCompleted = 0;
  private pending: PendingCheckpoint | undefined;
  private checkpointing = false;
  private inFlight: Promise<void> = Promise.resolve();
  private failure: unknown;
  private failed!: Promise<never>;
  private failJob!: (error: unknown) => void;
  private resumedFrom: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private allFinished!: Promise<void>;
  private markAllFinished!: () => void;

  constructor(
    private readonly config: JobConfig,
    private readonly plan: JobPlan,
    private readonly options: RunOptions,
  ) {
    this.logger = options.logger ?? stderrLogger('info');
    this.parallelism = plan.env.parallelism;
    this.store = new LocalCheckpointStore(resolve(plan.env.checkpoint.dir), plan.env.name);
    this.failed = new Promise<never>((_, reject) => {
      this.failJob = (error) => {
        if (this.failure === undefined) this.failure = error ?? new Error('unknown failure');
        reject(this.failure);
      };
    });
    this.failed.catch(() => undefined);
    this.allFinished = new Promise((resolve) => (this.markAllFinished = resolve));
  }

  async execute(): Promise<JobResult> {
    let status: JobStatus = 'finished';
    let release: (() => Promise<void>) | undefined;
    const onAbort = () => this.stop.abort(new CancelledError());
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      release = await this.store.lock();
      const restored = await this.prepare();
      if (restored?.endOfInput) {
        this.logger.info('the previous run had already finished; its last commit was completed again', { job: this.plan.env.name, checkpoint: restored.checkpointId });
      } else {
        await this.startPipelines(restored);
        status = await this.drive();
      }
    } catch (error) {
      status = this.stop.signal.aborted && error instanceof CancelledError ? 'cancelled' : 'failed';
      if (status === 'failed') this.failure ??= error;
      await this.shutdownAfterFailure();
    } finally {
      this.options.signal?.removeEventListener('abort', onAbort);
      if (this.timer) clearInterval(this.timer);
      if (this.progressTimer) clearInterval(this.progressTimer);
      await this.closeAll();
      // Last of all: until the finished run's checkpoint is gone, a run killed now is resumed as already
      // finished (recommit, nothing read again) rather than started over.
      if (status === 'finished') {
        await this.store.clear().catch((error: unknown) => {
          status = 'failed';
          this.failure = error;
        });
      }
      await release?.().catch(() => undefined);
    }
    return this.result(status);
  }

  private factoryContext(): FactoryContext {
    return {
      jobName: this.plan.env.name,
      mode: this.plan.env.mode,
      parallelism: this.parallelism,
      logger: this.logger,
      baseDir: this.options.baseDir ?? process.cwd(),
    };
  }

  private sinkContext(sinkIndex: number, prepared: Json | undefined): SinkContext {
    return {
      jobName: this.plan.env.name,
      attemptId: this.attemptId,
      sinkName: this.plan.sinks[sinkIndex]!.name,
      parallelism: this.parallelism,
      logger: this.logger,
      signal: this.abort.signal,
      prepared,
    };
  }

  /** Builds the coordinator side, settles the previous run (recommit, or abort with --fresh) and removes orphans. */
  private async prepare(): Promise<CheckpointData | undefined> {
    const context = this.factoryContext();
    const previous = await this.store.latest();
    for (const [sinkIndex, stage] of this.plan.sinks.entries()) {
      const sink = await stage.factory.create(stage.options as never, context);
      const prepared = await sink.prepare?.(this.sinkContext(sinkIndex, undefined));
      const committer = await sink.createCommitter(this.sinkContext(sinkIndex, prepared));
      this.sinks.push({ sinkIndex, name: stage.name, type: stage.type, sink, committer, prepared, rowsCommitted: 0 });
    }
    let restored: CheckpointData | undefined;
    if (previous && this.options.fresh) {
      this.logger.info('starting fresh: discarding the unfinished earlier run', { job: this.plan.env.name, checkpoint: previous.checkpointId });
      for (const sink of this.sinks) await sink.committer.abort(this.pendingOf(previous, sink.sinkIndex));
      await this.store.clear();
    } else if (previous) {
      restored = previous;
      this.resumedFrom = previous.checkpointId;
      this.checkpointId = previous.checkpointId;
      this.logger.info(`resuming from checkpoint ${previous.checkpointId} of an unfinished earlier run (use --fresh to start over)`, { job: this.plan.env.name });
      for (const sink of this.sinks) {
        await sink.committer.commit(this.pendingOf(previous, sink.sinkIndex), {
          checkpointId: previous.checkpointId,
          endOfInput: previous.endOfInput,
          writerStates: previous.sinks[sink.sinkIndex]?.writerStates ?? [],
        });
      }
    }
    for (const sink of this.sinks) {
      const report = await sink.committer.removeOrphans({ keep: restored ? this.pendingOf(restored, sink.sinkIndex) : [], dryRun: false });
      if (report.removed.length > 0) {
        this.logger.info(`removed ${report.removed.length} staged item(s) that no checkpoint owns`, { sink: sink.name, example: report.removed[0] });
      }
    }
    return restored;
  }

  private pendingOf(checkpoint: CheckpointData, sinkIndex: number): Json[] {
    const entry = checkpoint.sinks[sinkIndex];
    if (entry && entry.name !== this.plan.sinks[sinkIndex]?.name) {
      throw new TidewayError(
        'CHECKPOINT_MISMATCH',
        `the checkpoint in ${this.store.location} was taken for a job whose sink ${sinkIndex} is "${entry.name}", but this job's is "${this.plan.sinks[sinkIndex]?.name}"; run with --fresh to discard it`,
      );
    }
    return entry?.pending ?? [];
  }

  private async startPipelines(restored: CheckpointData | undefined): Promise<void> {
    const context = this.factoryContext();
    const prepared: (Json | undefined)[] = [];
    const schemas: Uint8Array[] = [];
    const send = (sourceIndex: number) => (readerId: number, message: Parameters<PipelineHost['send']>[1]) =>
      this.host?.send(sourceIndex * this.parallelism + readerId, message);
    for (const [sourceIndex, stage] of this.plan.sources.entries()) {
      const source: Source = await stage.factory.create(stage.options as never, context);
      if (this.plan.env.mode === 'batch' && source.boundedness === 'unbounded') {
        await source.close?.();
        throw new TidewayError(
          'CONFIG_INVALID',
          `${stage.path} (${stage.type}) is unbounded, so it never ends in env.mode: batch; set env.mode: streaming (or make the source bounded)`,
        );
      }
      const restoredSource = restored?.sources[sourceIndex];
      if (restoredSource && restoredSource.name !== stage.name) {
        throw new TidewayError('CHECKPOINT_MISMATCH', `the checkpoint's source ${sourceIndex} is "${restoredSource.name}" but this job's is "${stage.name}"; run with --fresh to discard it`);
      }
      const coordinator = new SourceCoordinator(
        sourceIndex,
        stage.name,
        source,
        this.parallelism,
        send(sourceIndex),
        this.plan.env.name,
        this.logger,
        this.abort.signal,
        (error) => this.failJob(error),
        restoredSource,
      );
      this.sources.push(coordinator);
      prepared.push(await source.prepare?.({ signal: this.abort.signal }));
      schemas.push(schemaToIpc(await source.schema({ signal: this.abort.signal })));
      await coordinator.open(restoredSource);
    }
    for (const sink of restored?.sinks ?? []) {
      const stranded = sink.writerStates.findIndex((state, index) => index >= this.parallelism && state !== null && state !== undefined);
      if (stranded >= 0) {
        throw new TidewayError(
          'CHECKPOINT_MISMATCH',
          `sink "${sink.name}" holds state for writer ${stranded}, but this run has parallelism ${this.parallelism}; resume with parallelism ${sink.writerStates.length} or more, or start over with --fresh`,
        );
      }
    }
    for (const source of this.sources) {
      for (let subtask = 0; subtask < this.parallelism; subtask++) {
        const sinkPrepared: Record<number, Json | undefined> = {};
        const writerStates: Record<number, Json | undefined> = {};
        for (const sink of this.sinks) {
          sinkPrepared[sink.sinkIndex] = sink.prepared;
          const state = restored?.sinks[sink.sinkIndex]?.writerStates[subtask];
          writerStates[sink.sinkIndex] = state === null ? undefined : state;
        }
        this.specs.push({
          pipelineId: source.sourceIndex * this.parallelism + subtask,
          sourceIndex: source.sourceIndex,
          subtask,
          parallelism: this.parallelism,
          job: this.config,
          baseDir: context.baseDir,
          attemptId: this.attemptId,
          sourcePrepared: prepared[source.sourceIndex],
          sinkPrepared,
          schemaIpc: schemas[source.sourceIndex]!,
          consumedSplitIds: [...source.consumedBefore],
          writerStates,
          queueCapacity: this.plan.env.queue_capacity,
          logLevel: 'info',
        });
      }
    }
    const transport = this.transport();
    this.logger.debug('starting pipelines', { transport: transport.name, pipelines: this.specs.length });
    // Pipelines may speak before start() returns; hold their messages until the enumerators can answer.
    const early: [number, FromPipeline][] = [];
    let ready = false;
    this.host = await transport.start(this.specs, this.plan, {
      onMessage: (pipelineId, message) => (ready ? this.onMessage(pipelineId, message) : early.push([pipelineId, message])),
      onCrash: (pipelineId, error) => this.failJob(new TidewayError('PIPELINE_CRASHED', `pipeline ${pipelineId} crashed: ${error.message}`, { cause: error })),
    });
    for (const source of this.sources) source.run();
    ready = true;
    for (const [pipelineId, message] of early) this.onMessage(pipelineId, message);
  }

  private transport(): TransportFactory {
    if (this.options.transport) return this.options.transport;
    const choice = this.plan.env.transport;
    const wantsWorkers = choice === 'worker-threads' || (choice === 'auto' && this.parallelism > 1);
    if (wantsWorkers && this.options.registryModule) return workerThreadsTransport(this.logger, this.options.registryModule);
    if (choice === 'worker-threads') {
      this.logger.warn('env.transport is worker-threads but the registry has no module workers can load; running pipelines in-process');
    }
    return inProcessTransport(this.logger);
  }

  private onMessage(pipelineId: number, message: FromPipeline): void {
    const spec = this.specs[pipelineId];
    if (!spec) return;
    const source = this.sources[spec.sourceIndex]!;
    switch (message.kind) {
      case 'register':
        source.register(spec.subtask);
        return;
      case 'splitRequest':
        source.splitRequest(spec.subtask);
        return;
      case 'readerEvent':
        source.readerEvent(spec.subtask, message.event);
        return;
      case 'metrics':
      case 'closed':
        this.updateMetrics(pipelineId, message.metrics);
        return;
      case 'finished':
        this.updateMetrics(pipelineId, message.metrics);
        this.finished.add(pipelineId);
        if (this.finished.size === this.specs.length) this.markAllFinished();
        return;
      case 'ack': {
        this.updateMetrics(pipelineId, message.metrics);
        const pending = this.pending;
        if (!pending || pending.id !== message.checkpointId || pending.acks.has(pipelineId)) return;
        pending.acks.set(pipelineId, message);
        if (pending.acks.size === this.specs.length) pending.resolve();
        return;
      }
      case 'failed':
        this.failJob(fromWireError(message.error));
        return;
    }
  }

  private updateMetrics(pipelineId: number, metrics: PipelineMetrics): void {
    const current = this.metrics.get(pipelineId);
    if (!current || metrics.seq > current.seq) this.metrics.set(pipelineId, metrics);
  }

  /** Periodic checkpoints until bounded input ends (final checkpoint) or the signal stops the job. */
  private async drive(): Promise<JobStatus> {
    const interval = this.plan.env.checkpoint.interval;
    this.timer = setInterval(() => {
      if (this.checkpointing || this.stop.signal.aborted) return;
      this.inFlight = this.checkpoint(false, false).catch((error: unknown) => this.failJob(error));
    }, interval);
    if (this.options.onProgress) {
      this.progressTimer = setInterval(() => this.options.onProgress?.(this.progress()), this.options.progressIntervalMs ?? 1000);
    }
    const stopped = new Promise<'stopped'>((resolve) => {
      if (this.stop.signal.aborted) resolve('stopped');
      this.stop.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
    });
    const outcome = await Promise.race([this.allFinished.then(() => 'finished' as const), stopped, this.failed]);
    clearInterval(this.timer);
    await Promise.race([this.inFlight, this.failed]);
    if (outcome === 'finished') {
      await Promise.race([this.checkpoint(true, false), this.failed]);
      this.logger.debug('final checkpoint committed', { checkpoint: this.checkpointId });
      return 'finished';
    }
    if (this.finished.size === this.specs.length) {
      await Promise.race([this.checkpoint(true, false), this.failed]);
      return 'finished';
    }
    this.logger.info('stopping: taking a last checkpoint so the next run resumes here', { job: this.plan.env.name });
    await Promise.race([this.checkpoint(false, true), this.failed]);
    return 'cancelled';
  }

  /** One checkpoint at a time, from trigger to commit and clean-up: the next starts after this one ends. */
  private async checkpoint(endOfInput: boolean, stop: boolean): Promise<void> {
    this.checkpointing = true;
    try {
      await this.takeCheckpoint(endOfInput, stop);
    } finally {
      this.checkpointing = false;
    }
  }

  private async takeCheckpoint(endOfInput: boolean, stop: boolean): Promise<void> {
    const id = ++this.checkpointId;
    const sources = await Promise.all(this.sources.map((s) => s.snapshot(id)));
    let resolveAcks!: () => void;
    const acked = new Promise<void>((resolve) => (resolveAcks = resolve));
    const pending: PendingCheckpoint = { id, endOfInput, acks: new Map(), resolve: resolveAcks };
    this.pending = pending;
    for (const spec of this.specs) this.host?.send(spec.pipelineId, { kind: 'trigger', checkpointId: id, endOfInput, stop });
    const timeoutMs = this.plan.env.checkpoint.timeout;
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timeout = setTimeout(
        () => reject(new TidewayError('CHECKPOINT_TIMEOUT', `checkpoint ${id} did not complete within ${timeoutMs} ms (${pending.acks.size}/${this.specs.length} pipelines acknowledged); raise env.checkpoint.timeout or look for a stuck sink`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([acked, timedOut, this.failed]);
    } finally {
      clearTimeout(timeout);
    }
    const data = this.compose(id, endOfInput, sources, pending);
    await this.store.save(data);
    this.pending = undefined;
    for (const sink of this.sinks) {
      const pendingInfos = data.sinks[sink.sinkIndex]!.pending;
      await sink.committer.commit(pendingInfos, { checkpointId: id, endOfInput, writerStates: data.sinks[sink.sinkIndex]!.writerStates });
      let rows = 0;
      for (const ack of pending.acks.values()) rows += ack.metrics.sinks[sink.sinkIndex]?.rowsWritten ?? 0;
      sink.rowsCommitted = rows;
    }
    this.checkpointsCompleted++;
    for (const spec of this.specs) this.host?.send(spec.pipelineId, { kind: 'complete', checkpointId: id });
    for (const source of this.sources) source.notifyComplete(id);
    await this.store.retain(this.plan.env.checkpoint.retain);
    this.logger.debug('checkpoint complete', { checkpoint: id, endOfInput });
  }

  private compose(id: number, endOfInput: boolean, sources: Omit<SourceCheckpoint, 'readers'>[], pending: PendingCheckpoint): CheckpointData {
    const acks = (sourceIndex: number) =>
      this.specs.filter((s) => s.sourceIndex === sourceIndex).map((s) => pending.acks.get(s.pipelineId)!);
    return {
      format: 'tideway-checkpoint',
      version: 1,
      job: this.plan.env.name,
      checkpointId: id,
      attemptId: this.attemptId,
      createdAt: new Date().toISOString(),
      endOfInput,
      sources: sources.map((s, sourceIndex) => ({ ...s, readers: acks(sourceIndex).map((a) => a.reader) })),
      sinks: this.sinks.map((sink) => {
        const writerStates: (Json | null)[] = [];
        const infos: Json[] = [];
        for (const spec of this.specs) {
          const entry = pending.acks.get(spec.pipelineId)!.sinks.find((x) => x.sinkIndex === sink.sinkIndex);
          if (!entry) continue;
          writerStates[spec.subtask] = entry.state ?? null;
          infos.push(...entry.infos);
        }
        return { name: sink.name, writerStates, pending: infos };
      }),
    };
  }

  /** After a failure: abort what writers handed over for the checkpoint that will never complete. */
  private async shutdownAfterFailure(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    for (const sink of this.sinks) {
      const infos: Json[] = [];
      for (const ack of pending.acks.values()) infos.push(...(ack.sinks.find((s) => s.sinkIndex === sink.sinkIndex)?.infos ?? []));
      if (infos.length === 0) continue;
      await sink.committer.abort(infos).catch((error: unknown) => this.logger.warn('could not abort staged output; the next run removes it', { sink: sink.name, error: describeError(error) }));
    }
  }

  /** Every close runs, in order, even when one fails. */
  private async closeAll(): Promise<void> {
    const steps: [string, () => Promise<unknown> | undefined][] = [
      ['pipelines', () => this.host?.close()],
      // Every commit is done by now: enumerators and connectors may stop what they still wait on.
      ['the run signal', async () => this.abort.abort(new CancelledError('the job run is over'))],
      ...this.sources.map((s) => [`source ${s.name}`, () => s.close()] as [string, () => Promise<void>]),
      ...this.sources.map((s) => [`source ${s.name}`, () => s.source.close?.()] as [string, () => Promise<void> | undefined]),
      ...this.sinks.map((s) => [`committer ${s.name}`, () => s.committer.close()] as [string, () => Promise<void>]),
      ...this.sinks.map((s) => [`sink ${s.name}`, () => s.sink.close?.()] as [string, () => Promise<void> | undefined]),
    ];
    for (const [what, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.logger.warn(`closing ${what} failed`, { error: describeError(error) });
      }
    }
  }

  private progress(): JobProgress {
    const all = [...this.metrics.values()];
    const sources = this.plan.sources.map((stage, sourceIndex) => {
      const ms = this.specs.filter((s) => s.sourceIndex === sourceIndex).map((s) => this.metrics.get(s.pipelineId)).filter((m) => m !== undefined);
      const totals = this.sources[sourceIndex]?.totals() ?? {};
      return {
        name: stage.name,
        type: stage.type,
        rowsRead: sum(ms.map((m) => m.rowsRead)),
        bytesRead: sum(ms.map((m) => m.bytesRead)),
        splitsDone: sum(ms.map((m) => m.splitsDone)),
        splitsAssigned: this.sources[sourceIndex]?.splitsAssigned ?? 0,
        splitsTotal: totals.totalSplits ?? null,
        rowsTotal: totals.totalRows ?? null,
      };
    });
    const transforms = this.plan.transforms.map((stage, i) => {
      const rowsIn = sum(all.map((m) => m.transforms[i]?.rowsIn ?? 0));
      const rowsOut = sum(all.map((m) => m.transforms[i]?.rowsOut ?? 0));
      return { name: stage.name, type: stage.type, rowsIn, rowsOut, rowsFiltered: rowsIn - rowsOut };
    });
    const sinks = this.sinks.map((sink) => ({
      name: sink.name,
      type: sink.type,
      rowsWritten: sink.rowsCommitted,
      bytesWritten: sum(all.map((m) => m.sinks[sink.sinkIndex]?.bytesWritten ?? 0)),
      rowsRejected: sum(all.map((m) => m.sinks[sink.sinkIndex]?.rowsRejected ?? 0)),
      rowsLate: sum(all.map((m) => m.sinks[sink.sinkIndex]?.rowsLate ?? 0)),
    }));
    return {
      job: this.plan.env.name,
      elapsedMs: Date.now() - this.startedAt.getTime(),
      rowsRead: sum(sources.map((s) => s.rowsRead)),
      rowsWritten: sum(sinks.map((s) => s.rowsWritten)),
      bytesWritten: sum(sinks.map((s) => s.bytesWritten)),
      checkpoints: this.checkpointsCompleted,
      sources,
      transforms,
      sinks,
    };
  }

  private result(status: JobStatus): JobResult {
    const progress = this.progress();
    const endedAt = new Date();
    const result: JobResult = {
      ...progress,
      status,
      startedAt: this.startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      durationMs: endedAt.getTime() - this.startedAt.getTime(),
      resumedFromCheckpoint: this.resumedFrom,
      error: status === 'failed' ? { code: errorCode(this.failure), message: describeError(this.failure) } : null,
    };
    this.options.onProgress?.(progress);
    // The caller reports a failure (the CLI prints it once); the engine only leaves a trace for debugging.
    if (status === 'failed') this.logger.debug(`job failed [${result.error!.code}]: ${result.error!.message}`, { job: this.plan.env.name });
    return result;
  }
}

function sum(values: number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
