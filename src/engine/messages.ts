import type { ErrorContext } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { ReaderSnapshot, SourceSplit } from '../api/source.js';

/**
 * Control messages between the coordinator and the pipelines. They travel through a Transport that may
 * delay, duplicate and reorder them; each handler below is written to be correct under all three.
 */
export type ToPipeline =
  | { kind: 'assign'; splits: SourceSplit[] }
  /** `expected` lists every split id assigned to this reader in this run, so a late assign is still awaited. */
  | { kind: 'noMoreSplits'; expected: string[] }
  | { kind: 'event'; event: Json }
  /** A checkpoint barrier. `stop`: the job is stopping; the reader reads nothing after this snapshot. */
  | { kind: 'trigger'; checkpointId: number; endOfInput: boolean; stop: boolean }
  | { kind: 'complete'; checkpointId: number }
  | { kind: 'close' };

export type FromPipeline =
  | { kind: 'register' }
  | { kind: 'splitRequest' }
  | { kind: 'readerEvent'; event: Json }
  | { kind: 'ack'; checkpointId: number; reader: ReaderSnapshot; sinks: SinkAck[]; metrics: PipelineMetrics }
  | { kind: 'finished'; metrics: PipelineMetrics }
  | { kind: 'metrics'; metrics: PipelineMetrics }
  | { kind: 'failed'; error: WireError }
  | { kind: 'closed'; metrics: PipelineMetrics };

export interface SinkAck {
  sinkIndex: number;
  infos: Json[];
  state: Json | undefined;
}

export interface WireError {
  code: string;
  message: string;
  context: ErrorContext;
  retryable: boolean;
  stack?: string;
}

/** Cumulative counters of one pipeline: later values supersede earlier ones. */
export interface PipelineMetrics {
  seq: number;
  rowsRead: number;
  bytesRead: number;
  splitsDone: number;
  transforms: Record<number, { rowsIn: number; rowsOut: number }>;
  sinks: Record<number, { rowsWritten: number; bytesWritten: number; rowsRejected: number; rowsLate: number }>;
}

export function emptyMetrics(): PipelineMetrics {
  return { seq: 0, rowsRead: 0, bytesRead: 0, splitsDone: 0, transforms: {}, sinks: {} };
}
