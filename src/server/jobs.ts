import { EventEmitter } from 'node:events';
import { stringify } from 'yaml';
import { resolve } from 'node:path';
import { describeError, errorCode, TidewayError } from '../api/errors.js';
import type { Logger } from '../api/logger.js';
import { silentLogger } from '../api/logger.js';
import { loadJobText } from '../config/load-job.js';
import { Redactor } from '../config/secrets.js';
import { LocalCheckpointStore } from '../engine/checkpoint-store.js';
import type { ConnectorRegistry } from '../engine/registry.js';
import type { CheckpointEvent, JobProgress, JobResult, RunOptions } from '../engine/result.js';
import { builtinRegistry, runJob } from '../index.js';
import { checkpointRoot, type JobSpec, maskedPlan, type PlanSummary, planSummary, prepareJob, type SpecProblem } from './job-spec.js';
import { JOB_ID, JobStore, newJobId } from './job-store.js';
import { runThroughput, type Throughput, ThroughputWindow } from './throughput.js';

/**
 * A job's life on the server:
 *
 *   queued -> running -> finished | failed | cancelled
 *   running -> stopping -> cancelled (a stop or cancel: a last checkpoint, then the run ends)
 *   queued | running | stopping -> interrupted (the server stopped or died while it ran; resumable)
 *   cancelled | failed | interrupted -> queued (POST resume: the same job again, resuming from its checkpoint)
 */
export type ServerJobStatus = 'queued' | 'running' | 'stopping' | 'finished' | 'failed' | 'cancelled' | 'interrupted';

export const SERVER_JOB_STATUSES: readonly ServerJobStatus[] = ['queued', 'running', 'stopping', 'finished', 'failed', 'cancelled', 'interrupted'];

/** Statuses in which a run of the job is under way (or about to be). */
const ACTIVE: ReadonlySet<ServerJobStatus> = new Set(['queued', 'running', 'stopping']);
const RESUMABLE: ReadonlySet<ServerJobStatus> = new Set(['cancelled', 'failed', 'interrupted']);

/** Checkpoints kept in a job's state (the newest). */
export const CHECKPOINT_HISTORY = 100;

/** A job's state as the API returns it and the state directory keeps it. Holds no secret. */
export interface JobView {
  id: string;
  name: string;
  status: ServerJobStatus;
  submittedAt: string;
  /** When the latest run started and ended (null before it starts, and while it runs). */
  startedAt: string | null;
  endedAt: string | null;
  /** Runs started so far (1 + resumes). */
  runs: number;
  /** The latest progress of the latest run, or null before its first report. */
  progress: JobProgress | null;
  /**
   * Rows and bytes per second: over the last 10 s while the job runs, the average of the whole run once it
   * ended; null before two progress reports.
   */
  throughput: Throughput | null;
  /** Rows each transform and sink handed to its dirty-data policy in the latest run, by stage name. */
  rowsErrored: Record<string, number>;
  /** The newest checkpoints of every run, oldest first (at most CHECKPOINT_HISTORY). */
  checkpoints: CheckpointEvent[];
  lastError: { code: string; message: string } | null;
  /** The checkpoint the latest run resumed from, or null for a fresh start. */
  resumedFrom: number | null;
  /** What ended or will end the latest run early: a stop or cancel request, or a server shutdown. */
  stopRequested: 'stop' | 'cancel' | 'shutdown' | null;
  plan: PlanSummary;
}

export interface JobProgressEvent {
  jobId: string;
  name: string;
  progress: JobProgress;
}

export interface JobCheckpointEvent {
  jobId: string;
  name: string;
  checkpoint: CheckpointEvent;
}

export interface JobStatusEvent {
  jobId: string;
  name: string;
  status: ServerJobStatus;
  job: JobView;
}

/** Events of a JobManager; every payload carries the job's id and name, and never a secret. */
export interface JobManagerEvents {
  progress: [JobProgressEvent];
  checkpoint: [JobCheckpointEvent];
  status: [JobStatusEvent];
}

export interface JobSubmission {
  /** The job's YAML, or the job as an object (written out as YAML, so positions refer to that text). */
  job: string | Record<string, unknown>;
  variables?: Record<string, string>;
  /** Names of variables whose values must be masked wherever they would appear. */
  secretVariables?: string[];
}

export interface JobManagerOptions {
  /** Job records, specs and (by default) checkpoints live here. */
  stateDir: string;
  /** Connectors jobs may use; defaults to the built-in list (which also lets pipelines run on worker threads). */
  registry?: ConnectorRegistry;
  /** Variables a submission does not set come from here (default: process.env), as in `tideway run`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Relative paths in jobs resolve against this directory (default: the working directory). */
  baseDir?: string;
  /** Server log; each line is masked with every secret the manager knows. */
  logger?: Logger;
  /** Progress events per running job, in milliseconds (default 1000). */
  progressIntervalMs?: number;
  /** Masks secrets in everything the manager hands out; shared with the process's output streams by `tideway serve`. */
  redactor?: Redactor;
  /**
   * Run every job on this Tideway cluster (see runClusterJob). Without it, a job whose YAML sets `env.cluster`
   * still runs on that cluster, as with `tideway run`.
   */
  cluster?: ServerCluster;
  /**
   * Job records kept (default DEFAULT_KEEP_JOBS). Beyond it the oldest *finished* jobs are forgotten, record
   * and spec; a job that is running, queued, interrupted, failed or cancelled is never removed (it may still
   * need resuming), so the count can stay above this while many of those are kept.
   */
  keepJobs?: number;
}

/** Job records a server keeps by default (`tideway serve --keep-jobs`). */
export const DEFAULT_KEEP_JOBS = 1000;

/** The cluster a server's jobs run on, as `tideway serve --cluster URL --cluster-prefix P` gives it. */
export interface ServerCluster {
  /** NATS URL (`nats://host:4222`); credentials in it are masked wherever it would appear. */
  url: string;
  /** Bucket and subject prefix of the cluster (default `tideway`). */
  prefix?: string;
}

/** A failure the API maps to an HTTP status. */
export class JobRequestError extends TidewayError {
  constructor(
    code: string,
    message: string,
    readonly httpStatus: number,
    readonly issues?: SpecProblem['issues'],
  ) {
    super(code, message);
  }
}

interface ManagedJob {
  view: JobView;
  spec: JobSpec;
  controller: AbortController | undefined;
  /** The run under way, held so close() can wait for it. */
  run: Promise<void> | undefined;
  /** Record writes, one after another in the order they were asked for. */
  writes: Promise<void>;
  masked: ReturnType<typeof maskedPlan> | undefined;
  throughput: ThroughputWindow;
}

/**
 * Runs submitted jobs, each as `tideway run` would (same validation, checkpoints, resume), keeps their records
 * in the state directory, and tells listeners about progress, checkpoints and status changes.
 */
export class JobManager extends EventEmitter<JobManagerEvents> {
  readonly stateDir: string;
  readonly redactor: Redactor;
  private readonly store: JobStore;
  private readonly jobs = new Map<string, ManagedJob>();
  private readonly registry: ConnectorRegistry;
  private readonly logger: Logger;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: JobManagerOptions) {
    super();
    this.stateDir = resolve(options.stateDir);
    this.store = new JobStore(this.stateDir);
    this.registry = options.registry ?? builtinRegistry();
    this.redactor = options.redactor ?? new Redactor();
    // The cluster code masks its URL itself; this covers the credentials anywhere else (a client's own message).
    const credentials = options.cluster ? /^\w+:\/\/([^@/]*)@/.exec(options.cluster.url)?.[1] : undefined;
    if (credentials) this.redactor.add([credentials, ...credentials.split(':').slice(1)]);
    const base = options.logger ?? silentLogger;
    const mask = (fields: Record<string, unknown> | undefined) => (fields ? maskDeep(this.redactor, fields) : undefined);
    this.logger = {
      debug: (m, f) => base.debug(this.redactor.redact(m), mask(f)),
      info: (m, f) => base.info(this.redactor.redact(m), mask(f)),
      warn: (m, f) => base.warn(this.redactor.redact(m), mask(f)),
      error: (m, f) => base.error(this.redactor.redact(m), mask(f)),
    };
  }

  /**
   * Loads the jobs of earlier servers. A job that was queued or running when its server stopped is marked
   * `interrupted` (or `cancelled` when a stop or cancel had been asked for); with `resumeInterrupted` each
   * interrupted one runs again and resumes from its checkpoint.
   */
  async open(options: { resumeInterrupted?: boolean } = {}): Promise<void> {
    await this.store.open();
    const interrupted: ManagedJob[] = [];
    for (const { id, record } of await this.store.readAll<JobView>()) {
      let spec: JobSpec;
      try {
        spec = await this.store.readSpec(id);
      } catch (error) {
        this.logger.warn('skipping a stored job whose spec cannot be read', { job: id, error: describeError(error) });
        continue;
      }
      const job: ManagedJob = { view: record, spec, controller: undefined, run: undefined, writes: Promise.resolve(), masked: undefined, throughput: new ThroughputWindow() };
      this.jobs.set(id, job);
      this.learnSecrets(spec);
      if (ACTIVE.has(record.status)) {
        // A job someone asked to stop or cancel stays stopped; one the server's end cut short is interrupted.
        const resumable = record.stopRequested === null || record.stopRequested === 'shutdown';
        job.view = { ...record, status: resumable ? 'interrupted' : 'cancelled', endedAt: record.endedAt ?? new Date().toISOString() };
        this.persist(job);
        await job.writes;
        if (resumable) interrupted.push(job);
      }
    }
    await this.pruneHistory();
    if (options.resumeInterrupted) {
      for (const job of interrupted) {
        if (this.activeWithName(job.view.name)) continue;
        this.logger.info('resuming a job interrupted by the last server stop', { job: job.view.id, name: job.view.name });
        this.start(job);
      }
    }
  }

  /** Validates and starts a job. Throws a JobRequestError (400 CONFIG_INVALID with positions, 409 when a job of that name is active). */
  async submit(submission: JobSubmission): Promise<JobView> {
    this.refuseWhenClosing();
    const spec = specOf(submission);
    const prepared = await this.prepare(spec);
    const name = prepared.plan.env.name;
    this.refuseActiveName(name);
    const id = newJobId();
    const job: ManagedJob = {
      view: {
        id,
        name,
        status: 'queued',
        submittedAt: new Date().toISOString(),
        startedAt: null,
        endedAt: null,
        runs: 0,
        progress: null,
        throughput: null,
        rowsErrored: {},
        checkpoints: [],
        lastError: null,
        resumedFrom: null,
        stopRequested: null,
        plan: planSummary(prepared.plan),
      },
      spec,
      controller: undefined,
      run: undefined,
      writes: Promise.resolve(),
      masked: maskedPlan(prepared.plan),
      throughput: new ThroughputWindow(),
    };
    // Listed before the first await, so that a second submission of the name meanwhile is refused.
    this.jobs.set(id, job);
    await this.pruneHistory();
    try {
      // The spec first: a record without its spec could never be resumed.
      await this.store.writeSpec(id, spec);
    } catch (error) {
      this.jobs.delete(id);
      throw error;
    }
    this.persist(job);
    await job.writes;
    const view = this.masked(job.view);
    this.emit('status', { jobId: id, name, status: view.status, job: view });
    this.start(job);
    return this.view(id)!;
  }

  /** Every job, newest first. */
  list(): JobView[] {
    return [...this.jobs.values()].map((job) => this.masked(job.view)).sort((a, b) => (a.submittedAt < b.submittedAt ? 1 : a.submittedAt > b.submittedAt ? -1 : b.id.localeCompare(a.id)));
  }

  view(id: string): JobView | undefined {
    const job = this.jobs.get(id);
    return job ? this.masked(job.view) : undefined;
  }

  /** The validated plan with every option; secrets as `***`. */
  async plan(id: string): Promise<ReturnType<typeof maskedPlan>> {
    const job = this.lookup(id);
    if (!job.masked) job.masked = maskedPlan((await this.prepare(job.spec)).plan);
    return maskDeep(this.redactor, job.masked);
  }

  /**
   * Graceful stop: the run takes a last checkpoint at once (it does not wait for the next interval), commits
   * what was read, and ends `cancelled`; POST resume goes on from there. A queued job is simply not started.
   */
  stop(id: string): JobView {
    return this.requestStop(id, 'stop');
  }

  /**
   * Like stop for a running job (the same last checkpoint: nothing read is lost or written twice), and it also
   * applies to an `interrupted` job, which then ends `cancelled` and is no longer resumed by
   * `--resume-interrupted`. Its checkpoint stays, so a later resume still finishes it exactly once.
   */
  cancel(id: string): JobView {
    const job = this.lookup(id);
    if (job.view.status === 'interrupted') {
      this.update(job, { status: 'cancelled', stopRequested: 'cancel' });
      return this.view(id)!;
    }
    return this.requestStop(id, 'cancel');
  }

  /** Runs a cancelled, failed or interrupted job again; the engine resumes it from its checkpoint. */
  resume(id: string): JobView {
    this.refuseWhenClosing();
    const job = this.lookup(id);
    if (!RESUMABLE.has(job.view.status)) {
      throw new JobRequestError('JOB_NOT_RESUMABLE', `job ${id} is ${job.view.status}; only a cancelled, failed or interrupted job can be resumed`, 409);
    }
    this.refuseActiveName(job.view.name);
    this.start(job);
    return this.view(id)!;
  }

  /**
   * Stops every running job gracefully (each takes a last checkpoint and shows as `interrupted`, so that
   * `--resume-interrupted` picks it up) and waits for every run and record write. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const job of this.jobs.values()) {
        if (!ACTIVE.has(job.view.status)) continue;
        job.view = { ...job.view, stopRequested: job.view.stopRequested ?? 'shutdown' };
        job.controller?.abort(new TidewayError('SERVER_STOPPING', 'the server is stopping'));
      }
      await Promise.all([...this.jobs.values()].map((job) => job.run));
      await Promise.all([...this.jobs.values()].map((job) => job.writes));
    })();
    return this.closing;
  }

  private requestStop(id: string, kind: 'stop' | 'cancel'): JobView {
    const job = this.lookup(id);
    if (!ACTIVE.has(job.view.status)) throw new JobRequestError('JOB_NOT_RUNNING', `job ${id} is ${job.view.status}, so there is nothing to ${kind}`, 409);
    if (job.view.status === 'stopping') return this.view(id)!;
    this.update(job, { status: 'stopping', stopRequested: kind });
    job.controller?.abort(new TidewayError('JOB_STOPPED', `${kind} requested through the API`));
    return this.view(id)!;
  }

  private start(job: ManagedJob): void {
    if (job.view.status !== 'queued') this.update(job, { status: 'queued', stopRequested: null });
    const controller = new AbortController();
    job.controller = controller;
    job.run = this.execute(job, controller).catch((error: unknown) => {
      // execute reports every failure itself; this is a bug guard so that no rejection goes unhandled.
      this.logger.error('job run failed unexpectedly', { job: job.view.id, error: describeError(error) });
    });
  }

  private async execute(job: ManagedJob, controller: AbortController): Promise<void> {
    await job.writes;
    if (controller.signal.aborted) {
      this.update(job, { status: job.view.stopRequested === 'shutdown' ? 'interrupted' : 'cancelled', endedAt: new Date().toISOString() });
      return;
    }
    this.update(job, { status: 'running', startedAt: new Date().toISOString(), endedAt: null, runs: job.view.runs + 1, lastError: null, progress: null, throughput: null, rowsErrored: {}, resumedFrom: null });
    job.throughput = new ThroughputWindow();
    let result: JobResult | undefined;
    let failure: { code: string; message: string } | undefined;
    try {
      const prepared = await prepareJob(job.spec, this.prepareOptions());
      if (!prepared.ok) {
        this.redactor.add(prepared.secrets);
        failure = { code: prepared.problem.code, message: prepared.problem.message };
      } else {
        const { loaded } = prepared;
        this.redactor.add(loaded.secrets);
        job.masked = maskedPlan(loaded.plan);
        const cluster = this.options.cluster?.url ?? loaded.config.env.cluster;
        // On a cluster the checkpoints live in JetStream, not in checkpoint.dir: the run's result tells where it resumed.
        const resumedFrom = cluster
          ? null
          : await new LocalCheckpointStore(loaded.plan.env.checkpoint.dir, loaded.plan.env.name).latest().then(
              (c) => c?.checkpointId ?? null,
              () => null,
            );
        this.update(job, { resumedFrom, plan: planSummary(loaded.plan) });
        this.logger.info(cluster ? 'job starting on the cluster' : resumedFrom === null ? 'job starting' : `job resuming from checkpoint ${resumedFrom}`, { job: job.view.id, name: job.view.name });
        const runOptions: RunOptions = {
          signal: controller.signal,
          logger: this.jobLogger(job.view.id),
          baseDir: this.options.baseDir ?? process.cwd(),
          progressIntervalMs: this.options.progressIntervalMs ?? 1000,
          onProgress: (progress) => this.guard('progress', () => this.onProgress(job, progress)),
          onCheckpoint: (checkpoint) => this.guard('checkpoint', () => this.onCheckpoint(job, checkpoint)),
          ...(this.options.registry ? { registry: this.options.registry } : {}),
        };
        if (cluster) {
          // Loaded on demand, as `tideway run` does: a server whose jobs run locally never loads the NATS client.
          const { runClusterJob } = await import('../cluster/run-cluster-job.js');
          const prefix = this.options.cluster?.prefix;
          result = await runClusterJob(loaded.config, { ...runOptions, cluster, registry: this.registry, ...(prefix ? { prefix } : {}) });
        } else {
          result = await runJob(loaded.config, runOptions);
        }
      }
    } catch (error) {
      failure = { code: errorCode(error), message: describeError(error) };
    }
    const endedAt = new Date().toISOString();
    // Before the status changes: a listener told of the end may resume the job, which sets a new controller.
    if (job.controller === controller) job.controller = undefined;
    if (result) {
      const { status, startedAt: _s, endedAt: _e, durationMs: _d, resumedFromCheckpoint, error, ...progress } = result;
      const interrupted = status === 'cancelled' && job.view.stopRequested === 'shutdown';
      this.update(job, {
        status: interrupted ? 'interrupted' : status,
        endedAt,
        progress,
        throughput: runThroughput(progress),
        rowsErrored: rowsErroredOf(progress),
        lastError: error ? this.mask(error) : null,
        resumedFrom: resumedFromCheckpoint,
      });
    } else {
      this.update(job, { status: 'failed', endedAt, lastError: this.mask(failure ?? { code: 'INTERNAL', message: 'the job did not run' }) });
    }
    await job.writes;
  }

  /** Forgets the oldest finished jobs beyond `keepJobs` (see JobManagerOptions.keepJobs). */
  private async pruneHistory(): Promise<void> {
    const keep = this.options.keepJobs ?? DEFAULT_KEEP_JOBS;
    if (this.jobs.size <= keep) return;
    const finished = [...this.jobs.values()].filter((job) => job.view.status === 'finished').sort((a, b) => (a.view.endedAt ?? '').localeCompare(b.view.endedAt ?? '') || a.view.id.localeCompare(b.view.id));
    const excess = finished.slice(0, this.jobs.size - keep);
    for (const job of excess) {
      this.jobs.delete(job.view.id);
      await job.writes;
      await this.store.remove(job.view.id).catch((error: unknown) => this.logger.warn('could not remove a forgotten job\'s folder', { job: job.view.id, error: describeError(error) }));
    }
    if (excess.length > 0) this.logger.debug('forgot the oldest finished jobs', { jobs: excess.length, keep });
  }

  /** The engine calls these from its timers: a listener that throws must not take the server down. */
  private guard(what: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.logger.warn(`a ${what} listener failed`, { error: describeError(error) });
    }
  }

  private onProgress(job: ManagedJob, progress: JobProgress): void {
    job.view = { ...job.view, progress, throughput: job.throughput.add(progress), rowsErrored: rowsErroredOf(progress) };
    this.emit('progress', { jobId: job.view.id, name: job.view.name, progress: this.masked(progress) });
  }

  private onCheckpoint(job: ManagedJob, checkpoint: CheckpointEvent): void {
    const checkpoints = [...job.view.checkpoints, checkpoint].slice(-CHECKPOINT_HISTORY);
    job.view = { ...job.view, checkpoints };
    this.persist(job);
    this.emit('checkpoint', { jobId: job.view.id, name: job.view.name, checkpoint });
  }

  private update(job: ManagedJob, change: Partial<JobView>): void {
    const before = job.view.status;
    job.view = { ...job.view, ...change };
    this.persist(job);
    if (change.status !== undefined && change.status !== before && !ACTIVE.has(change.status)) {
      const { id, name, status, lastError } = job.view;
      this.logger.info(`job ${status}`, { job: id, name, ...(lastError ? { error: `[${lastError.code}] ${lastError.message}` } : {}) });
    }
    if (change.status !== undefined && (change.status !== before || change.status === 'queued')) {
      const view = this.masked(job.view);
      this.emit('status', { jobId: view.id, name: view.name, status: view.status, job: view });
    }
  }

  /** Queues a write of the job's record as it is now; a failed write is logged, and the next one tries again. */
  private persist(job: ManagedJob): void {
    const snapshot = this.masked(job.view);
    job.writes = job.writes.then(() =>
      this.store.writeRecord(snapshot.id, snapshot).catch((error: unknown) => this.logger.error('could not save the job record', { job: snapshot.id, error: describeError(error) })),
    );
  }

  private async prepare(spec: JobSpec) {
    const prepared = await prepareJob(spec, this.prepareOptions());
    if (!prepared.ok) {
      this.redactor.add(prepared.secrets);
      throw new JobRequestError(prepared.problem.code, this.redactor.redact(prepared.problem.message), 400, prepared.problem.issues.map((i) => ({ ...i, message: this.redactor.redact(i.message) })));
    }
    this.redactor.add(prepared.loaded.secrets);
    return prepared.loaded;
  }

  private prepareOptions() {
    const baseDir = this.options.baseDir ?? process.cwd();
    return { registry: this.registry, env: this.options.env ?? process.env, baseDir, checkpointDir: checkpointRoot(this.stateDir), cluster: this.options.cluster !== undefined };
  }

  /** Secrets of a stored job, so that its records and logs are masked before it runs again (no I/O: loading only). */
  private learnSecrets(spec: JobSpec): void {
    for (const name of spec.secretVariables) {
      const value = spec.variables[name];
      if (value) this.redactor.add([value]);
    }
    this.redactor.add(loadJobText(spec.text, spec.file, { registry: this.registry, vars: spec.variables, env: this.options.env ?? process.env }).secrets);
  }

  private lookup(id: string): ManagedJob {
    const job = JOB_ID.test(id) ? this.jobs.get(id) : undefined;
    if (!job) throw new JobRequestError('JOB_NOT_FOUND', `no job with id ${JSON.stringify(id)}; GET /api/jobs lists them`, 404);
    return job;
  }

  private refuseActiveName(name: string): void {
    const other = this.activeWithName(name);
    if (other) throw new JobRequestError('JOB_ACTIVE', `a job named "${name}" is already ${other.view.status} (${other.view.id}); stop it first or wait for it to end`, 409);
  }

  private activeWithName(name: string): ManagedJob | undefined {
    for (const job of this.jobs.values()) if (job.view.name === name && ACTIVE.has(job.view.status)) return job;
    return undefined;
  }

  private refuseWhenClosing(): void {
    if (this.closing) throw new JobRequestError('SERVER_STOPPING', 'the server is stopping and starts no job', 503);
  }

  private jobLogger(id: string): Logger {
    const with_ = (f: Record<string, unknown> | undefined) => ({ job: id, ...f });
    return {
      debug: (m, f) => this.logger.debug(m, with_(f)),
      info: (m, f) => this.logger.info(m, with_(f)),
      warn: (m, f) => this.logger.warn(m, with_(f)),
      error: (m, f) => this.logger.error(m, with_(f)),
    };
  }

  private mask(error: { code: string; message: string }): { code: string; message: string } {
    return { code: error.code, message: this.redactor.redact(error.message) };
  }

  private masked<T>(value: T): T {
    return maskDeep(this.redactor, value);
  }
}

/**
 * A copy of `value` with every known secret masked in its strings (keys included). Numbers stay numbers: a
 * secret of digits must not turn a row count into `***`, which would also break the JSON around it.
 */
export function maskDeep<T>(redactor: Redactor, value: T): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactor.redact(v);
    if (Array.isArray(v)) return v.map(walk);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [redactor.redact(k), walk(x)]));
    return v;
  };
  return walk(value) as T;
}

function specOf(submission: JobSubmission): JobSpec {
  const variables = submission.variables ?? {};
  for (const [name, value] of Object.entries(variables)) {
    if (typeof value !== 'string') throw new JobRequestError('REQUEST_INVALID', `variables.${name} must be a string`, 400);
  }
  const secretVariables = submission.secretVariables ?? [];
  if (!Array.isArray(secretVariables) || secretVariables.some((n) => typeof n !== 'string')) {
    throw new JobRequestError('REQUEST_INVALID', 'secretVariables must be a list of variable names', 400);
  }
  const { job } = submission;
  if (typeof job === 'string') return { text: job, file: 'job.yaml', variables, secretVariables };
  if (typeof job === 'object' && job !== null && !Array.isArray(job)) return { text: yamlText(job), file: 'job.yaml', variables, secretVariables };
  throw new JobRequestError('REQUEST_INVALID', 'job must be the job\'s YAML text or the job as an object', 400);
}

/**
 * The object as YAML, so that config errors point into this text and `${NAME}` in a string is substituted and
 * typed as it would be in a file (a plain scalar; YAML quotes only strings that would otherwise change type).
 */
function yamlText(job: Record<string, unknown>): string {
  return stringify(job);
}

/** Rows each transform and sink handed to its dirty-data policy, by stage name. */
function rowsErroredOf(progress: JobProgress): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const stage of [...progress.transforms, ...progress.sinks]) counts[stage.name] = stage.rowsErrored;
  return counts;
}
