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
  /** Called every `progressIntervalMs` (default 1000) and once at the end. */
  onProgress?: (progress: JobProgress) => void;
  progressIntervalMs?: number;
  /** How control messages travel between the coordinator and the readers (tests inject faults here). */
  transport?: TransportFactory;
  /** Where checkpoints are kept; defaults to a local directory (env.checkpoint.dir). Tests inject faults here. */
  checkpointStore?: CheckpointStore;
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
}

export interface SinkProgress {
  name: string;
  type: string;
  rowsWritten: number;
  bytesWritten: number;
  rowsRejected: number;
  /** Rows sent to a late-data location (time slices already complete). */
  rowsLate: number;
}

export interface TransformProgress {
  name: string;
  type: string;
  rowsIn: number;
  rowsOut: number;
  rowsFiltered: number;
}

export interface JobProgress {
  job: string;
  elapsedMs: number;
  rowsRead: number;
  rowsWritten: number;
  bytesWritten: number;
  checkpoints: number;
  sources: SourceProgress[];
  transforms: TransformProgress[];
  sinks: SinkProgress[];
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
