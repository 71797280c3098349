import { IllegalStateError, TidewayError, describeError } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { Logger } from '../api/logger.js';
import type { Sink, SinkCommitter } from '../api/sink.js';
import type { CheckpointData, CheckpointStore, SourceCheckpoint } from './checkpoint-store.js';
import type { FromPipeline, PipelineMetrics, ToPipelineBody } from './messages.js';
import { type CheckpointEvent, jobRowsWritten } from './result.js';
import type { SourceCoordinator } from './source-coordinator.js';

export interface SinkRuntime {
  sinkIndex: number;
  name: string;
  type: string;
  sink: Sink;
  committer: SinkCommitter;
  prepared: Json | undefined;
  /** Rows made visible by commits in this run. */
  rowsCommitted: number;
  /** A dead-letter sink: its rows are rejected ones, so it does not bound the job's committed rows. */
  deadLetter?: boolean;
}

type Ack = Extract<FromPipeline, { kind: 'ack' }>;

/**
 * The life of one checkpoint. The states are ordered; each transition below is the only way forward:
 *
 *   triggered -> acknowledged -> saving -> saved -> committing -> committed -> cleaned
 *
 * and two ends for a checkpoint that does not get there:
 * - `abandoned`: it failed before its save began (a pipeline failed, the timeout struck). No checkpoint on
 *   disk names its staged output, so that output may be aborted.
 * - `in-doubt`: its save or its commit failed. The save may have landed (a rename that succeeded before the
 *   directory fsync threw), so its staged output may belong to the checkpoint the next run restores. Nothing
 *   of it is aborted: the next run recommits it or removes it as an orphan, against the latest durable
 *   checkpoint.
 */
export type CheckpointState = 'triggered' | 'acknowledged' | 'saving' | 'saved' | 'committing' | 'committed' | 'cleaned' | 'abandoned' | 'in-doubt';

const NEXT: Record<CheckpointState, readonly CheckpointState[]> = {
  triggered: ['acknowledged', 'abandoned'],
  acknowledged: ['saving', 'abandoned'],
  saving: ['saved', 'in-doubt'],
  saved: ['committing', 'in-doubt'],
  committing: ['committed', 'in-doubt'],
  committed: ['cleaned'],
  cleaned: [],
  abandoned: [],
  'in-doubt': [],
};

/** One checkpoint: its id, its state, and the acknowledgements collected for it. */
export class CheckpointAttempt {
  private current: CheckpointState = 'triggered';
  readonly triggeredAt = new Date();
  readonly acks = new Map<number, Ack>();
  private resolveAcks!: () => void;
  readonly acknowledged = new Promise<void>((resolve) => (this.resolveAcks = resolve));

  constructor(
    readonly id: number,
    readonly endOfInput: boolean,
    private readonly expectedAcks: number,
  ) {}

  get state(): CheckpointState {
    return this.current;
  }

  moveTo(next: CheckpointState): void {
    if (!NEXT[this.current].includes(next)) throw new IllegalStateError(`checkpoint ${this.id} cannot go from ${this.current} to ${next}`);
    this.current = next;
  }

  /** Records a pipeline's acknowledgement; a repeated or late one is ignored. */
  acknowledge(pipelineId: number, ack: Ack): void {
    if (this.current !== 'triggered' || this.acks.has(pipelineId)) return;
    this.acks.set(pipelineId, ack);
    if (this.acks.size === this.expectedAcks) this.resolveAcks();
  }

  /** What the writers handed over for sink `sinkIndex`. */
  infosOf(sinkIndex: number): Json[] {
    const infos: Json[] = [];
    for (const ack of this.acks.values()) infos.push(...(ack.sinks.find((s) => s.sinkIndex === sinkIndex)?.infos ?? []));
    return infos;
  }
}

/** What the checkpoint coordinator needs from the job run. */
export interface CheckpointHost {
  readonly jobName: string;
  readonly attemptId: string;
  readonly store: CheckpointStore;
  readonly logger: Logger;
  readonly timeoutMs: number;
  readonly retain: number;
  readonly sources: readonly SourceCoordinator[];
  readonly sinks: readonly SinkRuntime[];
  /** Pipeline ids with the source each reads. */
  readonly pipelines: readonly { pipelineId: number; sourceIndex: number; subtask: number }[];
  send(pipelineId: number, message: ToPipelineBody): void;
  /** Rejects when the job fails; waiting for acknowledgements gives up then. */
  readonly failed: Promise<never>;
  /** The dirty-data counts to store with a checkpoint, from the metrics its acknowledgements carry. */
  errorCounts?(metrics: PipelineMetrics[]): Record<string, { rowsIn: number; errors: number }>;
  /** Told once per checkpoint when it settles (committed, abandoned or in doubt). */
  readonly onCheckpoint?: ((event: CheckpointEvent) => void) | undefined;
}

/**
 * Runs checkpoints one at a time, each to a state it cannot leave. `idle()` resolves only when the one in
 * progress has settled, so the job run never returns, and never aborts staged output, while a save or a
 * commit is still running.
 */
export class CheckpointCoordinator {
  private lastId: number;
  private attempt: CheckpointAttempt | undefined;
  private running: Promise<void> = Promise.resolve();
  completed = 0;

  constructor(
    private readonly host: CheckpointHost,
    restoredId: number,
  ) {
    this.lastId = restoredId;
  }

  get busy(): boolean {
    const state = this.attempt?.state;
    return state !== undefined && state !== 'cleaned' && state !== 'abandoned' && state !== 'in-doubt';
  }

  /** The latest checkpoint attempt of this run, whatever its state. */
  get latest(): CheckpointAttempt | undefined {
    return this.attempt;
  }

  /** Takes one checkpoint from trigger to clean-up; rejects if it does not complete. */
  run(endOfInput: boolean, stop: boolean): Promise<void> {
    if (this.busy) return Promise.reject(new IllegalStateError(`checkpoint ${this.attempt?.id} is still in progress`));
    const attempt = new CheckpointAttempt(++this.lastId, endOfInput, this.host.pipelines.length);
    this.attempt = attempt;
    const done = this.take(attempt, stop);
    this.running = done.catch(() => undefined);
    return done;
  }

  /** Resolves once the checkpoint in progress, if any, has settled. */
  idle(): Promise<void> {
    return this.running;
  }

  onAck(pipelineId: number, ack: Ack): void {
    if (this.attempt?.id === ack.checkpointId) this.attempt.acknowledge(pipelineId, ack);
  }

  private async take(attempt: CheckpointAttempt, stop: boolean): Promise<void> {
    const { host } = this;
    let sources: Omit<SourceCheckpoint, 'readers'>[];
    try {
      sources = await Promise.all(host.sources.map((s) => s.snapshot(attempt.id)));
      for (const p of host.pipelines) host.send(p.pipelineId, { kind: 'trigger', checkpointId: attempt.id, endOfInput: attempt.endOfInput, stop });
      await this.acknowledgements(attempt);
      attempt.moveTo('acknowledged');
    } catch (error) {
      attempt.moveTo('abandoned');
      this.settled(attempt, 0);
      throw error;
    }
    const data = this.compose(attempt, sources);
    // Measured only for a listener: the serialisation costs as much as the save's own.
    const bytes = host.onCheckpoint ? Buffer.byteLength(JSON.stringify(data)) : 0;
    attempt.moveTo('saving');
    try {
      await host.store.save(data);
      attempt.moveTo('saved');
      host.sources.forEach((source, index) => source.checkpointSaved(data.sources[index]!));
      for (const p of host.pipelines) host.send(p.pipelineId, { kind: 'saved', checkpointId: attempt.id });
      attempt.moveTo('committing');
      for (const sink of host.sinks) {
        const entry = data.sinks[sink.sinkIndex]!;
        await sink.committer.commit(entry.pending, { checkpointId: attempt.id, endOfInput: attempt.endOfInput, writerStates: entry.writerStates });
        let rows = 0;
        for (const ack of attempt.acks.values()) rows += ack.metrics.sinks[sink.sinkIndex]?.rowsWritten ?? 0;
        sink.rowsCommitted = rows;
      }
      attempt.moveTo('committed');
    } catch (error) {
      attempt.moveTo('in-doubt');
      this.settled(attempt, bytes);
      throw error;
    }
    this.settled(attempt, bytes);
    this.completed++;
    for (const p of host.pipelines) host.send(p.pipelineId, { kind: 'complete', checkpointId: attempt.id });
    for (const source of host.sources) source.notifyComplete(attempt.id);
    await host.store.retain(host.retain).catch((error: unknown) => host.logger.warn('could not remove old checkpoints', { error: describeError(error) }));
    attempt.moveTo('cleaned');
    host.logger.debug('checkpoint complete', { checkpoint: attempt.id, endOfInput: attempt.endOfInput });
  }

  private settled(attempt: CheckpointAttempt, bytes: number): void {
    const listener = this.host.onCheckpoint;
    if (!listener) return;
    const state = attempt.state;
    const status = state === 'committed' || state === 'abandoned' || state === 'in-doubt' ? state : 'failed';
    try {
      listener({
        id: attempt.id,
        status,
        triggeredAt: attempt.triggeredAt.toISOString(),
        durationMs: Date.now() - attempt.triggeredAt.getTime(),
        bytes: state === 'abandoned' ? 0 : bytes,
        rowsCommitted: jobRowsWritten(this.host.sinks.map((s) => ({ rowsWritten: s.rowsCommitted, deadLetter: s.deadLetter }))),
        endOfInput: attempt.endOfInput,
      });
    } catch (error) {
      this.host.logger.warn('a checkpoint listener failed', { error: describeError(error) });
    }
  }

  private async acknowledgements(attempt: CheckpointAttempt): Promise<void> {
    const { timeoutMs } = this.host;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TidewayError(
              'CHECKPOINT_TIMEOUT',
              `checkpoint ${attempt.id} did not complete within ${timeoutMs} ms (${attempt.acks.size}/${this.host.pipelines.length} pipelines acknowledged); raise env.checkpoint.timeout or look for a stuck sink`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([attempt.acknowledged, timedOut, this.host.failed]);
    } finally {
      clearTimeout(timer);
    }
  }

  private compose(attempt: CheckpointAttempt, sources: Omit<SourceCheckpoint, 'readers'>[]): CheckpointData {
    const { host } = this;
    const ackOf = (pipelineId: number) => attempt.acks.get(pipelineId)!;
    return {
      format: 'tideway-checkpoint',
      version: 2,
      job: host.jobName,
      checkpointId: attempt.id,
      attemptId: host.attemptId,
      createdAt: new Date().toISOString(),
      endOfInput: attempt.endOfInput,
      sources: sources.map((s, sourceIndex) => ({
        ...s,
        readers: host.pipelines.filter((p) => p.sourceIndex === sourceIndex).map((p) => ackOf(p.pipelineId).reader),
      })),
      sinks: host.sinks.map((sink) => {
        const writerStates: (Json | null)[] = [];
        const pending: Json[] = [];
        for (const p of host.pipelines) {
          const entry = ackOf(p.pipelineId).sinks.find((x) => x.sinkIndex === sink.sinkIndex);
          if (!entry) continue;
          // A dead-letter sink's writers are numbered by pipeline (one in every pipeline of every source).
          writerStates[sink.deadLetter ? p.pipelineId : p.subtask] = entry.state ?? null;
          pending.push(...entry.infos);
        }
        return { name: sink.name, writerStates, pending };
      }),
      ...(host.errorCounts ? { errors: host.errorCounts([...attempt.acks.values()].map((ack) => ack.metrics)) } : {}),
    };
  }
}
