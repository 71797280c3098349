import type { RecordBatch, Schema } from 'apache-arrow';
import type { Json } from './json.js';
import type { Logger } from './logger.js';
import type { RowError } from './transform.js';

/**
 * A sink commits in two phases. Writers stage output that is durable but invisible and hand back commit
 * infos at each checkpoint; the committer makes them visible only after the checkpoint is complete.
 */
export interface Sink<C extends Json = Json, W extends Json = Json> {
  /**
   * Runs once on the coordinator before any writer exists: pre-flight checks (target ownership,
   * reachability), starting an embedded emulator. Its JSON result reaches writers and the committer as
   * `context.prepared`. Factories must not do I/O in `create`: a Sink object is also built in each pipeline.
   */
  prepare?(context: SinkContext): Promise<Json | undefined>;
  /**
   * A cheap pre-flight for `tideway check --connect`: the target is reachable, writable and not owned by
   * someone else, and (when `context.schema` is known) its columns fit the stream. It must change nothing
   * (no marker, no directory).
   */
  check?(context: SinkCheckContext): Promise<void>;
  /** `restored` is this writer's state from the checkpoint the job resumes from, if any. */
  createWriter(context: SinkWriterContext, restored: W | undefined): Promise<SinkWriter<C, W>>;
  createCommitter(context: SinkContext): Promise<SinkCommitter<C, W>>;
  close?(): Promise<void>;
}

export interface SinkContext {
  readonly jobName: string;
  /** A fresh id for each run of the job (the first run and every resume), used to keep staging areas apart. */
  readonly attemptId: string;
  readonly sinkName: string;
  readonly parallelism: number;
  readonly logger: Logger;
  /**
   * Aborted when the run is over and its pipelines are closed. A graceful stop does not abort it before
   * the last checkpoint is committed, so commits may honour it.
   */
  readonly signal: AbortSignal;
  /** What `Sink.prepare` returned on the coordinator (undefined before and during prepare). */
  readonly prepared: Json | undefined;
  /**
   * The checkpoint this run resumes from, or null when it starts from the beginning (a first run, or
   * `--fresh`). A sink applies its `data_save_mode` only when this is null.
   */
  readonly restoredCheckpointId: number | null;
  /**
   * The fencing epoch of the coordinator that runs the job, where the checkpoint store has one (cluster mode:
   * the revision at which it took the job's lease in NATS). It only grows from one coordinator of the job to
   * the next, and a coordinator with a lower one can no longer save a checkpoint, so nothing it commits later
   * takes effect. A sink that fences runs on its own (the OSS sink's run lease) may let a run with a higher
   * epoch take over at once from a run with a lower one, wherever that run's process was.
   */
  readonly epoch?: number;
  /**
   * A directory of this sink on the local disk of the machine that runs the committer, given only when every
   * writer of the job runs on that machine too (one-machine runs, not cluster mode). Writers may keep files
   * there that a commit, or a recommit after a crash, reads. It lives under env.checkpoint.dir and survives
   * restarts; it may not exist yet. The sink removes its own files after they are committed and in
   * `removeOrphans`.
   */
  readonly localDir?: string;
}

export interface SinkCheckContext extends SinkContext {
  /** The Arrow schema of the stream the sink reads, when the check could learn it without moving data. */
  readonly schema?: Schema;
}

export interface SinkWriterContext extends SinkContext {
  readonly writerIndex: number;
  /** The schema of the stream this writer receives. */
  readonly schema: Schema;
  /**
   * True when the sink's dirty-data policy lets the job go on past a refused row (`tolerance: all`). A writer
   * that can find out which row its target refused, at some cost, should then do so and `reject` that row.
   * When false, the first rejected row fails the job anyway, so a writer may keep a faster path that fails on
   * the first refused row, naming its position.
   */
  readonly rowErrorsTolerated?: boolean;
}

/**
 * What the engine gives a writer with each batch. A writer that learns which row its target refused (a
 * constraint, a value out of range) calls `reject` and leaves that row out of its output; the sink's
 * dirty-data policy then fails the job (the default), or counts the row and sends it to the dead-letter sink.
 * A writer that cannot tell which row failed fails the whole write instead (fail-fast).
 */
export interface SinkWriteContext {
  /** Marks row `row` of the batch given to `write` (its index in that batch) as refused. */
  reject(row: number, error: RowError): void;
}

export interface SinkWriter<C extends Json = Json, W extends Json = Json> {
  /** `context` is optional so that writers called outside the engine (tests, tools) need not pass one. */
  write(batch: RecordBatch, context?: SinkWriteContext): Promise<void>;
  /** Makes everything written so far durable but invisible and returns what the committer needs. */
  prepareCommit(checkpointId: number): Promise<C[]>;
  snapshotState(checkpointId: number): Promise<W | undefined> | W | undefined;
  /** Input has ended for this writer: the final checkpoint follows. */
  endOfInput?(): Promise<void>;
  /**
   * Checkpoint `checkpointId` has been saved, so what this writer's prepareCommit returned for it (and for
   * any earlier checkpoint) is now the decision to commit. A writer that holds that output in a transaction
   * of its own may commit it now, before the committer runs, so that the committer finds it done. The call is
   * a hint: it may come late, twice or never (a lost pipeline, a failed run), and the committer must reach
   * the same end without it. Called concurrently with `write`.
   */
  checkpointSaved?(checkpointId: number): Promise<void>;
  /** Discards what was staged and not yet handed over by prepareCommit. */
  abortPrepare(): Promise<void>;
  close(): Promise<void>;
  /** Rows this writer has committed to its output and bytes written, for the report. */
  readonly stats?: {
    readonly rowsWritten: number;
    readonly bytesWritten: number;
    /** Rows refused and not written anywhere (bad rows). */
    readonly rowsRejected?: number;
    /** Rows that arrived for a time slice already complete, and went to a late-data location. */
    readonly rowsLate?: number;
  };
}

export interface CommitContext {
  readonly checkpointId: number;
  /** True for the checkpoint taken after bounded input ended: the last commit of the job. */
  readonly endOfInput: boolean;
  /** Every writer's state at this checkpoint (for example watermarks), indexed by writer. */
  readonly writerStates: readonly (Json | undefined)[];
}

/** Runs on the coordinator. `commit` must be idempotent: committing a committed info is a no-op. */
export interface SinkCommitter<C extends Json = Json, W extends Json = Json> {
  commit(infos: readonly C[], context: CommitContext): Promise<void>;
  abort(infos: readonly C[]): Promise<void>;
  /**
   * Lists (and unless `dryRun`, removes) staged data of this job that no checkpoint owns: staging files,
   * multipart uploads, prepared transactions. `keep` is what the restored checkpoint still owns.
   */
  removeOrphans(options: { keep: readonly C[]; dryRun: boolean }): Promise<OrphanReport>;
  close(): Promise<void>;
  /** Present so the type parameter W is used; committers may ignore writer state. */
  readonly writerStateType?: W;
}

export interface OrphanReport {
  /** Human-readable names of what was (or would be) removed: paths, upload ids, transaction ids. */
  removed: string[];
}
