import type { ErrorContext } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { ReaderSnapshot, SourceSplit } from '../api/source.js';
import type { ErrorSample } from './dirty-data.js';

/**
 * Control messages between the coordinator and the pipelines. They travel through a Transport that may
 * delay, duplicate and reorder them; each handler below is written to be correct under all three.
 * This is what the coordinator says to a pipeline, before the link numbers it (`ToPipeline`).
 */
export type ToPipelineBody =
  | {
      kind: 'assign';
      splits: SourceSplit[];
      /**
       * The newest checkpoint whose enumerator snapshot was taken before this assignment. The pipeline
       * hands the splits to its reader only after its own snapshot for that checkpoint, so a split
       * assigned after the enumerator's snapshot is never inside a reader's snapshot of the same
       * checkpoint: the consistent cut (see README, "Exactly once").
       */
      epoch: number;
    }
  /** `expected` lists every split id assigned to this reader in this run, so a late assign is still awaited. */
  | { kind: 'noMoreSplits'; expected: string[] }
  /** An enumerator event, held back like an assignment until the reader passed checkpoint `epoch`. */
  | { kind: 'event'; event: Json; epoch: number }
  /** A checkpoint barrier. `stop`: the job is stopping; the reader reads nothing after this snapshot. */
  | { kind: 'trigger'; checkpointId: number; endOfInput: boolean; stop: boolean }
  /** Checkpoint `checkpointId` is saved: writers may make its output visible themselves (SinkWriter.checkpointSaved). */
  | { kind: 'saved'; checkpointId: number }
  | { kind: 'complete'; checkpointId: number }
  /**
   * How many of the job's readers are still reading, for the read-limit shares (env.read_limit). The count
   * only goes down in a run, so a pipeline keeps the smallest it has seen: a late or repeated one is harmless.
   */
  | { kind: 'readers'; active: number }
  | { kind: 'close' };

export type ToPipeline = ToPipelineBody & Sequenced;

/**
 * `seq` numbers the messages of one sender to one receiver in one run. A transport may deliver a message
 * twice; the receiver drops a `seq` it has seen, so every handler runs once per message.
 */
export interface Sequenced {
  seq: number;
}

/** The `seq` values one receiver has seen; memory stays bounded by how far messages are reordered. */
export class SeenSequences {
  private floor = 0;
  private readonly above = new Set<number>();

  /** Records `seq`; false when it was seen before. Sequences start at 1. */
  firstTime(seq: number): boolean {
    if (seq <= this.floor || this.above.has(seq)) return false;
    this.above.add(seq);
    while (this.above.delete(this.floor + 1)) this.floor++;
    return true;
  }
}

export type FromPipeline =
  | { kind: 'register' }
  | { kind: 'splitRequest' }
  | { kind: 'readerEvent'; event: Json; seq: number }
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
  /** Items waiting in the queue between the reader and the writers when the snapshot was taken. */
  queueDepth: number;
  /** `rowsErrored`: rows the stage rejected (its dirty-data policy counted them, and dead-lettered them if it has a sink). */
  transforms: Record<number, { rowsIn: number; rowsOut: number; rowsErrored: number; rowsFiltered: number }>;
  /** `rowsWritten` leaves out the rows the sink rejected (`rowsErrored`); for a dead-letter sink it counts rejected rows written to it. */
  sinks: Record<number, { rowsWritten: number; bytesWritten: number; rowsRejected: number; rowsLate: number; rowsErrored: number }>;
  /** The first rejected rows of each stage (by stage key, see dirty-data.ts), secrets masked, for failure messages. */
  errorSamples: Record<string, ErrorSample[]>;
  /** Time the reader waited for its share of env.read_limit. */
  throttledMs: number;
}

export function emptyMetrics(): PipelineMetrics {
  return { seq: 0, rowsRead: 0, bytesRead: 0, splitsDone: 0, queueDepth: 0, transforms: {}, sinks: {}, errorSamples: {}, throttledMs: 0 };
}
