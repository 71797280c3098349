import type { Json } from '../api/json.js';
import type { JobConfig } from './job-config.js';
import type { FromPipeline, ToPipeline } from './messages.js';
import type { JobPlan } from './plan.js';

/** Everything a pipeline needs, as plain data: it may cross into a worker thread. */
export interface PipelineSpec {
  pipelineId: number;
  sourceIndex: number;
  subtask: number;
  parallelism: number;
  /** The job as validated (variables already substituted): workers plan it again from this. */
  job: JobConfig;
  baseDir: string;
  attemptId: string;
  sourcePrepared: Json | undefined;
  sinkPrepared: Record<number, Json | undefined>;
  /** The source's Arrow schema as an IPC stream with no batches. */
  schemaIpc: Uint8Array;
  /** The checkpoint this run resumed from (0 for a fresh start): assignments stamped up to it are due at once. */
  restoredCheckpoint: number;
  writerStates: Record<number, Json | undefined>;
  /** The root of the sinks' local directories (SinkContext.localDir), when the pipeline runs on the coordinator's machine. */
  localRoot?: string;
  queueCapacity: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export interface TransportHandlers {
  onMessage(pipelineId: number, message: FromPipeline): void;
  /** A pipeline died outside the message protocol (a worker crashed). */
  onCrash(pipelineId: number, error: Error): void;
}

/** The coordinator's handle on running pipelines. */
export interface PipelineHost {
  send(pipelineId: number, message: ToPipeline): void;
  /**
   * Ends one pipeline abruptly, as the death of its worker would: no clean-up, no further message, and
   * `onCrash` reports it. For fault-injection tests.
   */
  kill?(pipelineId: number): void;
  /** Stops every pipeline and waits for it; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Where pipelines run and how control messages reach them. `in-process` runs them on the main thread,
 * `worker-threads` one per worker; tests wrap either to delay, duplicate and reorder messages.
 */
export interface TransportFactory {
  readonly name: string;
  start(specs: PipelineSpec[], plan: JobPlan, handlers: TransportHandlers): Promise<PipelineHost>;
}

/** The pipeline's side of a link. */
export interface PipelineEndpoint {
  send(message: FromPipeline): void;
  onMessage(handler: (message: ToPipeline) => void): void;
}
