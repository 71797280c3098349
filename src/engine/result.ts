import type { Logger } from '../api/logger.js';
import type { ConnectorRegistry } from './registry.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { TransportFactory } from './transport.js';

export type JobStatus = 'finished' | 'failed' | 'cancelled';

export interface RunOptions {
  /** Aborting stops the job gracefully: a last checkpoint is taken and committed, so the next run resumes. */
  signal?: AbortSignal;
  /** Discard an unfinished earlier run of the same job (aborting its staged output) instead of resuming it. */
  fresh?: boolean;
  /** Connectors the job may use; defaults to the built-in list. */
  registry?: ConnectorRegistry;
  /**
   * Validate with the cluster's limits (parallelism up to MAX_CLUSTER_PARALLELISM) whatever env.cluster says:
   * set by runClusterJob, whose transport spreads the pipelines over workers.
   */
  clusterLimits?: boolean;
  logger?: Logger;
  /** Relative paths in connector options resolve against this directory (default: the working directory). */
  baseDir?: string;
  /**
   * URL of a module whose `connectors` export lists the registry's connectors, so worker threads can build
   * the same registry. Without it, pipelines run in-process.
   */
  registryModule?: string;
  /** Overrides env.parallelism. */
  parallelism?: number;
  /** Called once when the pipelines start, every `progressIntervalMs` (default 1000), and once at the end. */
  onProgress?: (progress: JobProgress) => void;
  progressIntervalMs?: number;
  /** How control messages travel between the coordinator and the readers (tests inject faults here). */
  transport?: TransportFactory;
  /** Where checkpoints are kept; defaults to a local directory (env.checkpoint.dir). Tests inject faults here. */
  checkpointStore?: CheckpointStore;
  /**
   * Called once for each checkpoint of this run when it settles: committed, or given up (`abandoned` before its
   * save began, `in-doubt` when its save or commit failed). A listener that throws does not affect the run.
   */
  onCheckpoint?: (event: CheckpointEvent) => void;
}

/** One checkpoint of a run, as it settled (see RunOptions.onCheckpoint). */
export interface CheckpointEvent {
  id: number;
  /** `failed` is reserved for a store that reports a definite failure; the engine reports the other three. */
  status: 'committed' | 'failed' | 'abandoned' | 'in-doubt';
  triggeredAt: string;
  /** From the trigger until it settled. */
  durationMs: number;
  /** Size of the saved checkpoint (0 when it was not saved). */
  bytes: number;
  /** Rows every sink has made visible when it settled: the job's rowsWritten after this commit. */
  rowsCommitted: number;
  endOfInput: boolean;
}

/** One pipeline's queue between its reader and its writers: a full queue means the sinks hold the reader back. */
export interface PipelineProgress {
  id: number;
  /** Name of the source stage the pipeline reads. */
  source: string;
  queueDepth: number;
  queueCapacity: number;
}

export interface SourceProgress {
  name: string;
  type: string;
  rowsRead: number;
  bytesRead: number;
  splitsDone: number;
  splitsAssigned: number;
  /** Known total, when the source can tell (for percentages). */
  splitsTotal: number | null;
  rowsTotal: number | null;
  /**
   * On a resumed run, the rows of `rowsTotal` that earlier runs had already read (when the engine knows them);
   * `rowsRead` counts this run only. Progress displays add the two against `rowsTotal`.
   */
  rowsReadEarlier?: number;
}

export interface SinkProgress {
  name: string;
  type: string;
  /** Rows this sink has committed (made visible), counted by the sink; never "read minus something". */
  rowsWritten: number;
  bytesWritten: number;
  rowsRejected: number;
  /** Rows sent to a late-data location (time slices already complete). */
  rowsLate: number;
  /** Rows this sink refused per row in this run (counted by its dirty-data policy; see README, "Dirty data"). */
  rowsErrored: number;
  /** True for a sink planned from a `dead_letter` block: its rows are rejected rows, not the job's output. */
  deadLetter?: boolean;
}

export interface TransformProgress {
  name: string;
  type: string;
  rowsIn: number;
  rowsOut: number;
  /** Rows the transform dropped on purpose (rowsIn - rowsOut - rowsErrored). */
  rowsFiltered: number;
  /** Rows the transform rejected in this run (`context.reject`): counted, and dead-lettered if its policy has a sink. */
  rowsErrored: number;
}

export interface JobProgress {
  job: string;
  elapsedMs: number;
  /** Rows read by every source, summed (sources read different rows). */
  rowsRead: number;
  /**
   * Rows committed by the job: the smallest `rowsWritten` over its sinks (see `jobRowsWritten`). Never a sum
   * over sinks, because a row fanned out to two sinks is one row, written twice.
   */
  rowsWritten: number;
  /** Bytes written by every sink, summed (each sink writes its own bytes). */
  bytesWritten: number;
  /** Rows rejected by every transform and sink in this run, summed (each row is rejected once, by one stage). */
  rowsErrored: number;
  /** The job's env.read_limit and how long its readers waited for it in this run; absent without a limit. */
  readLimit?: { rowsPerSecond: number | null; bytesPerSecond: number | null; throttledMs: number };
  checkpoints: number;
  sources: SourceProgress[];
  transforms: TransformProgress[];
  sinks: SinkProgress[];
  /** Queue depth of each pipeline, for backpressure. */
  pipelines: PipelineProgress[];
  /** When the latest checkpoint of this run committed, or null before the first. */
  lastCheckpointAt: string | null;
}

export interface JobResult extends JobProgress {
  status: JobStatus;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** The checkpoint this run resumed from, or null for a fresh start. */
  resumedFromCheckpoint: number | null;
  error: { code: string; message: string } | null;
}

/**
 * The job's `rowsWritten`: the rows every sink has committed, i.e. the smallest count over the sinks (0 for
 * a job without sinks). With one sink it is that sink's count; with a fan-out to two sinks of 50,000 rows
 * each it is 50,000, not 100,000. Per-sink counts are in `sinks[].rowsWritten`.
 */
export function jobRowsWritten(sinks: readonly (Pick<SinkProgress, 'rowsWritten'> & { deadLetter?: boolean })[]): number {
  let least = Infinity;
  // Dead-letter sinks hold rejected rows, not the job's output.
  for (const sink of sinks) if (!sink.deadLetter) least = Math.min(least, sink.rowsWritten);
  return least === Infinity ? 0 : least;
}
