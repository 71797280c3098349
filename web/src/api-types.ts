/**
 * The parts of the job server's JSON that the dashboard reads. Declared here rather than imported, because the
 * server's modules type-check against Node, not the browser; test/browser/api-types.ts fails the type check
 * when the server's types (src/server/jobs.ts, src/engine/result.ts) stop fitting these.
 */

export type JobStatus = 'queued' | 'running' | 'stopping' | 'finished' | 'failed' | 'cancelled' | 'interrupted';

export interface SourceProgress {
  name: string;
  type: string;
  rowsRead: number;
  bytesRead: number;
  splitsDone: number;
  splitsTotal: number | null;
  rowsTotal: number | null;
  rowsErrored?: number;
}

export interface TransformProgress {
  name: string;
  type: string;
  rowsIn: number;
  rowsOut: number;
  rowsFiltered: number;
  rowsErrored?: number;
}

export interface SinkProgress {
  name: string;
  type: string;
  rowsWritten: number;
  bytesWritten: number;
  rowsRejected: number;
  rowsLate: number;
  rowsErrored?: number;
}

export interface JobProgress {
  elapsedMs: number;
  rowsRead: number;
  rowsWritten: number;
  checkpoints: number;
  sources: SourceProgress[];
  transforms: TransformProgress[];
  sinks: SinkProgress[];
  pipelines: { id: number; source: string; queueDepth: number; queueCapacity: number }[];
  lastCheckpointAt: string | null;
}

export interface CheckpointEvent {
  id: number;
  status: 'committed' | 'failed' | 'abandoned' | 'in-doubt';
  triggeredAt: string;
  durationMs: number;
  bytes: number;
  rowsCommitted: number;
  endOfInput: boolean;
}

export interface StageSummary {
  name: string;
  kind: 'source' | 'transform' | 'sink';
  type: string;
  input: string | null;
  output: string | null;
  /** The dead-letter sink that receives the rows this stage rejects, if any. */
  deadLetterTo: string | null;
  /** A sink planned from a `dead_letter` block. */
  deadLetter: boolean;
}

export interface JobView {
  id: string;
  name: string;
  status: JobStatus;
  submittedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  runs: number;
  progress: JobProgress | null;
  rowsErrored: Record<string, number>;
  checkpoints: CheckpointEvent[];
  lastError: { code: string; message: string } | null;
  resumedFrom: number | null;
  plan: { mode: string; parallelism: number; checkpointInterval: number; stages: StageSummary[] };
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
  status: JobStatus;
  job: JobView;
}

/** GET /api/cluster: the cluster the server runs its jobs on (src/cluster/cluster-status.ts). */
export interface ClusterStatus {
  nats: string;
  workers: { id: string; host: string; pid: number; slots: number; used: number; startedAt: string; heartbeatAt: string; live: boolean; heartbeatAgeMs: number; runs: { runId: string; job: string; pipelines: number[] }[] }[];
  jobs: { job: string; coordinator: { host: string; pid: number; since: string } | null; checkpoint: number | null; pipelines: { pipelineId: number; worker: string }[] }[];
}
