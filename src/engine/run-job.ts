import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { FactoryContext } from '../api/connector.js';
import { CancelledError, TidewayError, describeError, errorCode } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { Logger } from '../api/logger.js';
import { ensureDirectory } from '../api/durable-fs.js';
import { silentLogger } from '../api/logger.js';
import type { SinkContext } from '../api/sink.js';
import type { Source } from '../api/source.js';
import { CheckpointCoordinator, type SinkRuntime } from './checkpoint-coordinator.js';
import { ErrorBudget } from './dirty-data.js';
import { ReadShares } from './rate-limit.js';
import { type CheckpointData, type CheckpointStore, LocalCheckpointStore, sinkLocalDir, sinksLocalRoot } from './checkpoint-store.js';
import { inProcessTransport } from './in-process-transport.js';
import type { JobConfig } from './job-config.js';
import { type FromPipeline, type PipelineMetrics, SeenSequences, type ToPipelineBody } from './messages.js';
import { type JobPlan, planJobOrThrow } from './plan.js';
import { jobRowsWritten, type JobProgress, type JobResult, type JobStatus, type RunOptions } from './result.js';
import { schemaToIpc } from './schema-ipc.js';
import { SourceCoordinator } from './source-coordinator.js';
import type { PipelineHost, PipelineSpec, TransportFactory } from './transport.js';
import { fromWireError } from './wire-error.js';
import { workerThreadsTransport } from './worker-transport.js';

/**
 * Runs a job to the end (bounded input), until `signal` aborts (graceful stop), or until it fails.
 * Never throws for a job-level failure: the result says `failed` with the error. It throws only for a job
 * that cannot start (invalid configuration: ConfigError). It returns only when nothing of the run is still
 * working: no checkpoint save or commit, no pipeline, no enumerator call.
 */
export async function runJob(config: JobConfig, options: RunOptions = {}): Promise<JobResult> {
  if (!options.registry) throw new TidewayError('NO_REGISTRY', 'runJob needs a connector registry; use the runJob exported by the tideway package');
  const parallelism = options.parallelism ?? config.env?.parallelism;
  const effective: JobConfig = parallelism === undefined ? config : { ...config, env: { ...config.env, parallelism } };
  const plan = planJobOrThrow(effective, options.registry, { cluster: options.clusterLimits === true });
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
  private readonly localRoot: string | undefined;
  private readonly parallelism: number;
  private sources: SourceCoordinator[] = [];
  private sinks: SinkRuntime[] = [];
  private host: PipelineHost | undefined;
  private specs: PipelineSpec[] = [];
  private readonly metrics = new Map<number, PipelineMetrics>();
  private readonly finished = new Set<number>();
  private readonly sentSeq = new Map<number, number>();
  private readonly seenEvents = new Map<number, SeenSequences>();
  private checkpoints: CheckpointCoordinator | undefined;
  /** Dirty-data limits over this run and the runs before it (the counts of the restored checkpoint). */
  private budget: ErrorBudget;
  private readShares: ReadShares | undefined;
  private failure: unknown;
  private failed!: Promise<never>;
  private failJob!: (error: unknown) => void;
  private resumedFrom: number | null = null;
  private lastCheckpointAt: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private allFinished!: Promise<void>;
  private markAllFinished!: () => void;

  constructor(
    private readonly config: JobConfig,
    private readonly plan: JobPlan,
    private readonly options: RunOptions,
  ) {
    // A library is quiet unless asked: the CLI passes its own logger.
    this.logger = options.logger ?? silentLogger;
    this.parallelism = plan.env.parallelism;
    this.store = options.checkpointStore ?? new LocalCheckpointStore(resolve(plan.env.checkpoint.dir), plan.env.name);
    // On a cluster, writers run on other hosts than the committer: no local directory is shared with them.
    this.localRoot = options.clusterLimits ? undefined : sinksLocalRoot(plan.env.checkpoint.dir, plan.env.name);
    this.budget = new ErrorBudget(plan);
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
    if (this.options.signal?.aborted) {
      this.logger.info('not starting: the stop signal was already given', { job: this.plan.env.name });
      return this.result('cancelled');
    }
    let status: JobStatus = 'finished';
    let release: (() => Promise<void>) | undefined;
    const onAbort = () => this.stop.abort(new CancelledError());
    this.options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (!this.options.checkpointStore) await ensureDirectory(resolve(this.plan.env.checkpoint.dir), { option: 'env.checkpoint.dir' });
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
    } finally {
      this.options.signal?.removeEventListener('abort', onAbort);
      if (this.timer) clearInterval(this.timer);
      if (this.progressTimer) clearInterval(this.progressTimer);
      await this.shutDown(status);
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
      restoredCheckpointId: this.resumedFrom,
      ...(this.store.epoch === undefined ? {} : { epoch: this.store.epoch }),
      ...(this.localRoot === undefined ? {} : { localDir: sinkLocalDir(this.localRoot, this.plan.sinks[sinkIndex]!.name) }),
    };
  }

  /** Builds the coordinator side, settles the previous run (recommit, or abort with --fresh) and removes orphans. */
  private async prepare(): Promise<CheckpointData | undefined> {
    const context = this.factoryContext();
    const previous = await this.latestCheckpoint();
    // Sinks learn in prepare whether this run resumes: a fresh start is when their data_save_mode applies.
    this.resumedFrom = previous && !this.options.fresh ? previous.checkpointId : null;
    for (const [sinkIndex, stage] of this.plan.sinks.entries()) {
      const sink = await stage.factory.create(stage.options as never, context);
      const prepared = await sink.prepare?.(this.sinkContext(sinkIndex, undefined));
      const committer = await sink.createCommitter(this.sinkContext(sinkIndex, prepared));
      this.sinks.push({ sinkIndex, name: stage.name, type: stage.type, sink, committer, prepared, rowsCommitted: 0, deadLetter: stage.deadLetterFor !== undefined });
    }
    let restored: CheckpointData | undefined;
    if (previous && this.options.fresh) {
      this.logger.info(
        "starting fresh: discarding the unfinished earlier run's staged output; what it already committed stays in the targets unless a sink's data_save_mode removes it (overwrite) or refuses to start (error)",
        { job: this.plan.env.name, checkpoint: previous.checkpointId },
      );
      for (const sink of this.sinks) await sink.committer.abort(this.pendingOf(previous, sink.sinkIndex));
      await this.store.clear();
    } else if (previous) {
      restored = previous;
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

  /** With --fresh a damaged checkpoint is set aside like any other: the user chose to start over. */
  private async latestCheckpoint(): Promise<CheckpointData | undefined> {
    try {
      return await this.store.latest();
    } catch (error) {
      if (!this.options.fresh || errorCode(error) !== 'CHECKPOINT_DAMAGED') throw error;
      this.logger.warn('starting fresh past a damaged checkpoint; staged output it owned is removed as orphaned', { job: this.plan.env.name });
      await this.store.clear();
      return undefined;
    }
  }

  private pendingOf(checkpoint: CheckpointData, sinkIndex: number): Json[] {
    const entry = checkpoint.sinks[sinkIndex];
    if (entry && entry.name !== this.plan.sinks[sinkIndex]?.name) {
      throw new TidewayError(
        'CHECKPOINT_MISMATCH',
        `the checkpoint in ${this.store.location} was taken for a job whose sink ${sinkIndex} is "${entry.name}", but this job's is "${this.plan.sinks[sinkIndex]?.name}"; ` +
          `the job's sinks were renamed or reordered while a run was unfinished. Put them back as they were to resume it (its output is then written exactly once)`,
      );
    }
    return entry?.pending ?? [];
  }

  private async startPipelines(restored: CheckpointData | undefined): Promise<void> {
    const context = this.factoryContext();
    const prepared: (Json | undefined)[] = [];
    const schemas: Uint8Array[] = [];
    const send = (sourceIndex: number) => (readerId: number, message: ToPipelineBody) => this.sendTo(sourceIndex * this.parallelism + readerId, message);
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
        throw new TidewayError('CHECKPOINT_MISMATCH', `the checkpoint in ${this.store.location} was taken for a job whose source ${sourceIndex} is "${restoredSource.name}", but this job's is "${stage.name}"; the job's sources were renamed or reordered while a run was unfinished. Put them back as they were to resume it`);
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
      );
      this.sources.push(coordinator);
      prepared.push(await source.prepare?.({ signal: this.abort.signal }));
      schemas.push(schemaToIpc(await source.schema({ signal: this.abort.signal })));
      await coordinator.open(restoredSource, restored?.checkpointId ?? 0);
    }
    for (const [sinkIndex, sink] of (restored?.sinks ?? []).entries()) {
      // A dead-letter sink has a writer in every pipeline of every source: its writers are numbered by pipeline.
      const perUnit = this.plan.sinks[sinkIndex]?.deadLetterFor !== undefined ? this.plan.sources.length : 1;
      const stranded = sink.writerStates.findIndex((state, index) => index >= this.parallelism * perUnit && state !== null && state !== undefined);
      if (stranded >= 0) {
        const needed = Math.ceil(sink.writerStates.length / perUnit);
        throw new TidewayError(
          'CHECKPOINT_MISMATCH',
          `sink "${sink.name}" holds state for writer ${stranded}, but this run has parallelism ${this.parallelism}; resume with parallelism ${needed} or more (-p ${needed}), which finishes the unfinished run exactly once`,
        );
      }
    }
    for (const source of this.sources) {
      for (let subtask = 0; subtask < this.parallelism; subtask++) {
        const sinkPrepared: Record<number, Json | undefined> = {};
        const writerStates: Record<number, Json | undefined> = {};
        for (const sink of this.sinks) {
          sinkPrepared[sink.sinkIndex] = sink.prepared;
          const state = restored?.sinks[sink.sinkIndex]?.writerStates[sink.deadLetter ? source.sourceIndex * this.parallelism + subtask : subtask];
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
          restoredCheckpoint: restored?.checkpointId ?? 0,
          writerStates,
          ...(this.localRoot === undefined ? {} : { localRoot: this.localRoot }),
          queueCapacity: this.plan.env.queue_capacity,
          logLevel: 'info',
        });
      }
    }
    this.budget = new ErrorBudget(this.plan, restored?.errors ?? {});
    if (this.plan.env.read_limit) this.readShares = new ReadShares(this.specs.length);
    this.checkpoints = new CheckpointCoordinator(
      {
        jobName: this.plan.env.name,
        attemptId: this.attemptId,
        store: this.store,
        logger: this.logger,
        timeoutMs: this.plan.env.checkpoint.timeout,
        retain: this.plan.env.checkpoint.retain,
        sources: this.sources,
        sinks: this.sinks,
        pipelines: this.specs,
        send: (pipelineId, message) => this.sendTo(pipelineId, message),
        failed: this.failed,
        errorCounts: (metrics) => this.budget.counts(metrics),
        onCheckpoint: (event) => {
          if (event.status === 'committed') this.lastCheckpointAt = new Date().toISOString();
          this.options.onCheckpoint?.(event);
        },
      },
      restored?.checkpointId ?? 0,
    );
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

  /** Numbers each message to a pipeline, so that the pipeline can drop a copy the transport delivers twice. */
  private sendTo(pipelineId: number, body: ToPipelineBody): void {
    const seq = (this.sentSeq.get(pipelineId) ?? 0) + 1;
    this.sentSeq.set(pipelineId, seq);
    this.host?.send(pipelineId, { ...body, seq });
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
      case 'readerEvent': {
        let seen = this.seenEvents.get(pipelineId);
        if (!seen) this.seenEvents.set(pipelineId, (seen = new SeenSequences()));
        if (seen.firstTime(message.seq)) source.readerEvent(spec.subtask, message.event);
        return;
      }
      case 'metrics':
      case 'closed':
        this.updateMetrics(pipelineId, message.metrics);
        return;
      case 'finished':
        this.updateMetrics(pipelineId, message.metrics);
        this.shareReadLimit(pipelineId);
        this.finished.add(pipelineId);
        if (this.finished.size === this.specs.length) this.markAllFinished();
        return;
      case 'ack':
        this.updateMetrics(pipelineId, message.metrics);
        // A checkpoint whose counts cross a dirty-data limit is never saved.
        if (this.failure === undefined) this.checkpoints?.onAck(pipelineId, message);
        return;
      case 'failed':
        this.failJob(fromWireError(message.error));
        return;
    }
  }

  private updateMetrics(pipelineId: number, metrics: PipelineMetrics): void {
    const current = this.metrics.get(pipelineId);
    if (current && metrics.seq <= current.seq) return;
    this.metrics.set(pipelineId, metrics);
    const crossed = this.budget.check(this.metrics.values());
    if (crossed) this.failJob(crossed);
  }

  /** A reader ended: the others share its part of env.read_limit. */
  private shareReadLimit(pipelineId: number): void {
    const active = this.readShares?.readerEnded(pipelineId);
    if (active === undefined) return;
    for (const spec of this.specs) if (!this.finished.has(spec.pipelineId) && spec.pipelineId !== pipelineId) this.sendTo(spec.pipelineId, { kind: 'readers', active });
  }

  /** Periodic checkpoints until bounded input ends (final checkpoint) or the signal stops the job. */
  private async drive(): Promise<JobStatus> {
    const checkpoints = this.checkpoints!;
    const interval = this.plan.env.checkpoint.interval;
    this.timer = setInterval(() => {
      if (checkpoints.busy || this.stop.signal.aborted) return;
      checkpoints.run(false, false).catch((error: unknown) => this.failJob(error));
    }, interval);
    if (this.options.onProgress) {
      this.options.onProgress(this.progress());
      this.progressTimer = setInterval(() => this.options.onProgress?.(this.progress()), this.options.progressIntervalMs ?? 1000);
    }
    const stopped = new Promise<'stopped'>((resolve) => {
      if (this.stop.signal.aborted) resolve('stopped');
      this.stop.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
    });
    const outcome = await Promise.race([this.allFinished.then(() => 'finished' as const), stopped, this.failed]);
    clearInterval(this.timer);
    await Promise.race([checkpoints.idle(), this.failed]);
    if (outcome === 'finished' || this.finished.size === this.specs.length) {
      await Promise.race([checkpoints.run(true, false), this.failed]);
      this.logger.debug('final checkpoint committed', { checkpoint: checkpoints.latest?.id });
      return 'finished';
    }
    this.logger.info('stopping: taking a last checkpoint so the next run resumes here', { job: this.plan.env.name });
    await Promise.race([checkpoints.run(false, true), this.failed]);
    return 'cancelled';
  }

  /**
   * Ends the run in an order where nothing races: pipelines stop first (writers discard what they staged
   * after their last acknowledgement), then the checkpoint in progress settles (a save or a commit runs to
   * its end), and only then is anything aborted: the staged output of a checkpoint that was abandoned before
   * its save began. A checkpoint in doubt (its save or commit failed) is left to the next run.
   */
  private async shutDown(status: JobStatus): Promise<void> {
    const steps: [string, () => Promise<unknown> | undefined][] = [
      ['pipelines', () => this.host?.close()],
      ['the checkpoint in progress', () => this.checkpoints?.idle()],
      ['staged output of an abandoned checkpoint', () => (status === 'finished' ? undefined : this.abortAbandoned())],
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

  private async abortAbandoned(): Promise<void> {
    const attempt = this.checkpoints?.latest;
    if (!attempt) return;
    if (attempt.state === 'in-doubt') {
      this.logger.warn(`checkpoint ${attempt.id} failed while it was saved or committed; the next run completes it or removes its staged output`, { job: this.plan.env.name });
      return;
    }
    if (attempt.state !== 'abandoned') return;
    for (const sink of this.sinks) {
      const infos = attempt.infosOf(sink.sinkIndex);
      if (infos.length === 0) continue;
      await sink.committer.abort(infos).catch((error: unknown) => this.logger.warn('could not abort staged output; the next run removes it', { sink: sink.name, error: describeError(error) }));
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
      const rowsErrored = sum(all.map((m) => m.transforms[i]?.rowsErrored ?? 0));
      const rowsFiltered = sum(all.map((m) => m.transforms[i]?.rowsFiltered ?? 0));
      return { name: stage.name, type: stage.type, rowsIn, rowsOut, rowsFiltered, rowsErrored };
    });
    const sinks = this.sinks.map((sink) => ({
      name: sink.name,
      type: sink.type,
      rowsWritten: sink.rowsCommitted,
      bytesWritten: sum(all.map((m) => m.sinks[sink.sinkIndex]?.bytesWritten ?? 0)),
      rowsRejected: sum(all.map((m) => m.sinks[sink.sinkIndex]?.rowsRejected ?? 0)),
      rowsLate: sum(all.map((m) => m.sinks[sink.sinkIndex]?.rowsLate ?? 0)),
      rowsErrored: sum(all.map((m) => m.sinks[sink.sinkIndex]?.rowsErrored ?? 0)),
      deadLetter: this.plan.sinks[sink.sinkIndex]?.deadLetterFor !== undefined,
    }));
    const limit = this.plan.env.read_limit;
    return {
      job: this.plan.env.name,
      elapsedMs: Date.now() - this.startedAt.getTime(),
      rowsRead: sum(sources.map((s) => s.rowsRead)),
      rowsWritten: jobRowsWritten(sinks),
      bytesWritten: sum(sinks.map((s) => s.bytesWritten)),
      rowsErrored: sum([...transforms, ...sinks].map((s) => s.rowsErrored)),
      ...(limit ? { readLimit: { rowsPerSecond: limit.rows_per_second ?? null, bytesPerSecond: limit.bytes_per_second ?? null, throttledMs: sum(all.map((m) => m.throttledMs)) } } : {}),
      checkpoints: this.checkpoints?.completed ?? 0,
      sources,
      transforms,
      sinks,
      pipelines: this.specs.map((spec) => ({
        id: spec.pipelineId,
        source: this.plan.sources[spec.sourceIndex]!.name,
        queueDepth: this.metrics.get(spec.pipelineId)?.queueDepth ?? 0,
        queueCapacity: spec.queueCapacity,
      })),
      lastCheckpointAt: this.lastCheckpointAt,
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
