/**
 * The job server behind `tideway serve`, for embedding: `createServer` builds it (fastify app, JobManager,
 * listen, close); the JobManager's events feed dashboards and metrics.
 */
export { BODY_LIMIT, checkExposure, createServer, isLoopback, MIN_TOKEN_LENGTH, type ServerOptions, type TidewayServer } from './app.js';
export type { JobSpec, PlanSummary } from './job-spec.js';
export {
  CHECKPOINT_HISTORY,
  type JobCheckpointEvent,
  JobManager,
  type JobManagerEvents,
  type JobManagerOptions,
  type JobProgressEvent,
  JobRequestError,
  type JobStatusEvent,
  type JobSubmission,
  type JobView,
  SERVER_JOB_STATUSES,
  type ServerJobStatus,
} from './jobs.js';
export type { Throughput } from './throughput.js';
export type { CheckpointEvent, PipelineProgress } from '../engine/result.js';
