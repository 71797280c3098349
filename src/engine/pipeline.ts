import { Mutex } from 'async-mutex';
import type { RecordBatch, Schema } from 'apache-arrow';
import type { FactoryContext } from '../api/connector.js';
import { TidewayError } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { Logger } from '../api/logger.js';
import type { Sink, SinkWriter } from '../api/sink.js';
import type { PollStatus, ReaderOutput, ReaderSnapshot, Source, SourceReader, SourceSplit } from '../api/source.js';
import type { Transform } from '../api/transform.js';
import { sinkLocalDir } from './checkpoint-store.js';
import { BoundedQueue, Wakeup, yieldToEventLoop } from './async-tools.js';
import { BatchRejections, DEAD_LETTER_SCHEMA, ERROR_SAMPLES, SecretMask, type StageRef, stageRef } from './dirty-data.js';
import { ReaderLimiter } from './rate-limit.js';
import { toWireError } from './wire-error.js';
import { emptyMetrics, type PipelineMetrics, SeenSequences, type SinkAck, type ToPipeline } from './messages.js';
import type { JobPlan } from './plan.js';
import { schemaFromIpc } from './schema-ipc.js';
import type { PipelineEndpoint, PipelineSpec } from './transport.js';

type Item =
  | { kind: 'batch'; batch: RecordBatch }
  | { kind: 'barrier'; checkpointId: number; endOfInput: boolean; reader: ReaderSnapshot }
  | { kind: 'end' };

interface SinkNode {
  kind: 'sink';
  sinkIndex: number;
  writer: SinkWriter;
  sink: Sink;
}
interface TransformNode {
  kind: 'transform';
  transformIndex: number;
  transform: Transform;
  children: Node[];
}
type Node = SinkNode | TransformNode;

const METRICS_INTERVAL_MS = 500;

/**
 * One parallel slice of a job: a source reader, the transforms downstream of its stream, and one writer per
 * sink fed by it. The reader task and the writer loop are joined by a bounded queue; barriers travel in that
 * queue behind the rows, so a writer prepares exactly what was read before the reader's snapshot.
 */
export class Pipeline {
  private readonly lock = new Mutex();
  private readonly wake = new Wakeup();
  private readonly queue: BoundedQueue<Item>;
  private readonly abort = new AbortController();
  private readonly metrics: PipelineMetrics = emptyMetrics();
  private reader!: SourceReader;
  private source!: Source;
  private roots: Node[] = [];
  private readonly sinkNodes: SinkNode[] = [];
  /** The writers of the dead-letter sinks, by sink index: every pipeline has one per dead-letter sink. */
  private readonly deadLetters = new Map<number, SinkNode>();
  private readonly mask: SecretMask;
  private readonly limiter: ReaderLimiter | undefined;
  private metricsSoon = false;
  /** Split ids delivered by assign messages in this run; a repeated id is dropped. */
  private readonly delivered = new Set<string>();
  private readonly seen = new SeenSequences();
  private eventSeq = 0;
  /** Assignments and events stamped with a checkpoint this pipeline has not snapshotted yet. */
  private held: Extract<ToPipeline, { kind: 'assign' | 'event' }>[] = [];
  /** The newest checkpoint whose reader snapshot this pipeline has taken. */
  private barrierTaken: number;
  private expected: string[] | undefined;
  private noMoreForwarded = false;
  private requestOutstanding = false;
  private lastTrigger = 0;
  private stopped = false;
  private inputEnded = false;
  /** The writers handed their last output to a final or stopping checkpoint: nothing staged is left. */
  private drained = false;
  private closing: Promise<void> | undefined;
  private isClosing = false;
  private halted = false;
  private metricsTimer: NodeJS.Timeout | undefined;
  private done: Promise<void> | undefined;

  constructor(
    private readonly spec: PipelineSpec,
    private readonly plan: JobPlan,
    private readonly endpoint: PipelineEndpoint,
    private readonly logger: Logger,
  ) {
    this.queue = new BoundedQueue(spec.queueCapacity);
    this.barrierTaken = spec.restoredCheckpoint;
    this.mask = SecretMask.ofStages([...plan.sources, ...plan.transforms, ...plan.sinks]);
    const limit = plan.env.read_limit;
    if (limit && (limit.rows_per_second || limit.bytes_per_second)) {
      this.limiter = new ReaderLimiter({ rowsPerSecond: limit.rows_per_second, bytesPerSecond: limit.bytes_per_second }, plan.sources.length * spec.parallelism);
    }
  }

  /** Builds the reader, transforms and writers, registers with the enumerator and starts reading. */
  async start(): Promise<void> {
    this.endpoint.onMessage((message) => this.onMessage(message));
    try {
      await this.build();
    } catch (error) {
      this.fail(error);
      return;
    }
    this.endpoint.send({ kind: 'register' });
    this.metricsTimer = setInterval(() => this.sendMetrics(), METRICS_INTERVAL_MS);
    this.metricsTimer.unref();
    // Each loop reports its own failure at once; `done` settles only when both loops have stopped, so that
    // close() never runs while a writer is still writing.
    const settle = (loop: Promise<void>) =>
      loop.catch((error: unknown) => {
        if (!this.isClosing) this.fail(error);
      });
    this.done = Promise.all([settle(this.readLoop()), settle(this.writeLoop())]).then(() => undefined);
  }

  private async build(): Promise<void> {
    const { spec, plan } = this;
    const stage = plan.sources[spec.sourceIndex];
    if (!stage) throw new TidewayError('ILLEGAL_STATE', `pipeline ${spec.pipelineId} names source ${spec.sourceIndex}, which the job does not have`);
    const factoryContext: FactoryContext = {
      jobName: plan.env.name,
      mode: plan.env.mode,
      parallelism: spec.parallelism,
      logger: this.logger,
      baseDir: spec.baseDir,
    };
    this.source = await stage.factory.create(stage.options as never, factoryContext);
    this.reader = await this.source.createReader({
      readerId: spec.subtask,
      parallelism: spec.parallelism,
      jobName: plan.env.name,
      logger: this.logger,
      signal: this.abort.signal,
      consumedSplitIds: new Set<string>(),
      prepared: spec.sourcePrepared,
      sendSplitRequest: () => this.requestSplit(),
      sendEventToEnumerator: (event: Json) => this.endpoint.send({ kind: 'readerEvent', event, seq: ++this.eventSeq }),
      wakeup: () => this.wake.notify(),
    });
    const schema = schemaFromIpc(spec.schemaIpc);
    this.roots = await this.buildChildren(stage.output ?? '', schema, factoryContext);
    for (const [sinkIndex, sinkStage] of plan.sinks.entries()) {
      if (sinkStage.deadLetterFor !== undefined) this.deadLetters.set(sinkIndex, await this.buildWriter(sinkIndex, DEAD_LETTER_SCHEMA, factoryContext));
    }
  }

  private async buildChildren(stream: string, schema: Schema, factoryContext: FactoryContext): Promise<Node[]> {
    const nodes: Node[] = [];
    for (const [transformIndex, stage] of this.plan.transforms.entries()) {
      if (stage.input !== stream) continue;
      const transform = await stage.factory.create(stage.options as never, { ...factoryContext, input: stage.input });
      const children = await this.buildChildren(stage.output ?? '', transform.outputSchema(schema), factoryContext);
      nodes.push({ kind: 'transform', transformIndex, transform, children });
      this.metrics.transforms[transformIndex] = { rowsIn: 0, rowsOut: 0, rowsErrored: 0, rowsFiltered: 0 };
    }
    for (const [sinkIndex, stage] of this.plan.sinks.entries()) {
      if (stage.input !== stream || stage.deadLetterFor !== undefined) continue;
      nodes.push(await this.buildWriter(sinkIndex, schema, factoryContext));
    }
    return nodes;
  }

  /**
   * A writer of sink `sinkIndex`. A dead-letter sink has one in every pipeline of every source, so its
   * writers are numbered by pipeline (the subtask, when the job has one source).
   */
  private async buildWriter(sinkIndex: number, schema: Schema, factoryContext: FactoryContext): Promise<SinkNode> {
    const stage = this.plan.sinks[sinkIndex]!;
    const deadLetter = stage.deadLetterFor !== undefined;
    const sink = await stage.factory.create(stage.options as never, factoryContext);
    const writer = await sink.createWriter(
      {
        jobName: this.plan.env.name,
        attemptId: this.spec.attemptId,
        sinkName: stage.name,
        parallelism: deadLetter ? this.plan.sources.length * this.spec.parallelism : this.spec.parallelism,
        logger: this.logger,
        signal: this.abort.signal,
        prepared: this.spec.sinkPrepared[sinkIndex],
        restoredCheckpointId: this.spec.restoredCheckpoint === 0 ? null : this.spec.restoredCheckpoint,
        writerIndex: deadLetter ? this.spec.pipelineId : this.spec.subtask,
        schema,
        rowErrorsTolerated: !deadLetter && stage.errors?.tolerance === 'all',
        ...(this.spec.localRoot === undefined ? {} : { localDir: sinkLocalDir(this.spec.localRoot, stage.name) }),
      },
      this.spec.writerStates[sinkIndex],
    );
    const node: SinkNode = { kind: 'sink', sinkIndex, writer, sink };
    this.sinkNodes.push(node);
    this.metrics.sinks[sinkIndex] = { rowsWritten: 0, bytesWritten: 0, rowsRejected: 0, rowsLate: 0, rowsErrored: 0 };
    return node;
  }

  private onMessage(message: ToPipeline): void {
    if (this.halted || !this.seen.firstTime(message.seq)) return;
    switch (message.kind) {
      case 'assign':
      case 'event':
        if (message.epoch > this.barrierTaken) this.held.push(message);
        else this.deliver(message);
        return;
      case 'noMoreSplits':
        if (!this.expected) this.expected = message.expected;
        void this.guard(() => this.maybeForwardNoMoreSplits());
        return;
      case 'trigger':
        void this.guard(() => this.onTrigger(message.checkpointId, message.endOfInput, message.stop));
        return;
      case 'saved':
        void this.onSaved(message.checkpointId);
        return;
      case 'complete':
        void this.guard(() => this.onComplete(message.checkpointId));
        return;
      case 'readers':
        this.limiter?.setActiveReaders(message.active);
        return;
      case 'close':
        void this.close();
        return;
    }
  }

  private deliver(message: Extract<ToPipeline, { kind: 'assign' | 'event' }>): void {
    if (message.kind === 'assign') void this.guard(() => this.onAssign(message.splits));
    else void this.guard(() => this.lock.runExclusive(() => this.reader.handleSourceEvent?.(message.event)));
  }

  private async guard(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.fail(error);
    }
  }

  private async onAssign(splits: SourceSplit[]): Promise<void> {
    const fresh = splits.filter((s) => !this.delivered.has(s.splitId));
    if (fresh.length === 0) return;
    for (const s of fresh) this.delivered.add(s.splitId);
    this.requestOutstanding = false;
    await this.lock.runExclusive(() => this.reader.addSplits(fresh));
    await this.maybeForwardNoMoreSplits();
    this.wake.notify();
  }

  /** No-more-splits reaches the reader only once every split it names has arrived. */
  private async maybeForwardNoMoreSplits(): Promise<void> {
    if (this.noMoreForwarded || !this.expected) return;
    if (!this.expected.every((id) => this.delivered.has(id))) return;
    this.noMoreForwarded = true;
    this.requestOutstanding = false;
    await this.lock.runExclusive(() => this.reader.handleNoMoreSplits());
    this.wake.notify();
  }

  private requestSplit(): void {
    if (this.requestOutstanding || this.noMoreForwarded) return;
    this.requestOutstanding = true;
    this.endpoint.send({ kind: 'splitRequest' });
  }

  private readonly output: ReaderOutput = {
    emit: async (batch: RecordBatch) => {
      this.metrics.rowsRead += batch.numRows;
      const bytes = batchBytes(batch);
      this.metrics.bytesRead += bytes;
      this.limiter?.charge(batch.numRows, bytes);
      await this.queue.push({ kind: 'batch', batch });
    },
  };

  private async readLoop(): Promise<void> {
    for (;;) {
      if (this.abort.signal.aborted) return;
      // Outside the checkpoint lock: a reader waiting for its read-limit share never holds up a barrier.
      if (this.limiter) await this.limiter.ready(this.abort.signal);
      const status: PollStatus | 'stopped' = await this.lock.runExclusive(() =>
        this.stopped ? 'stopped' : this.reader.pollNext(this.output),
      );
      if (status === 'stopped') return;
      if (status === 'more') {
        // Lets control messages (barriers, assignments) run between chunks even when reads never block.
        await yieldToEventLoop();
        continue;
      }
      if (status === 'waiting') {
        this.requestSplit();
        await this.wake.wait();
        continue;
      }
      await this.lock.runExclusive(async () => {
        if (this.stopped) return;
        this.inputEnded = true;
        await this.queue.push({ kind: 'end' });
      });
      return;
    }
  }

  private async onTrigger(checkpointId: number, endOfInput: boolean, stop: boolean): Promise<void> {
    if (checkpointId <= this.lastTrigger) return;
    this.lastTrigger = checkpointId;
    await this.lock.runExclusive(async () => {
      const reader = this.reader.snapshotState(checkpointId);
      if (stop) this.stopped = true;
      await this.queue.push({ kind: 'barrier', checkpointId, endOfInput: endOfInput && this.inputEnded, reader });
    });
    // Only now may what the enumerator sent after its own snapshot for this checkpoint reach the reader.
    this.barrierTaken = checkpointId;
    const ready = this.held.filter((m) => m.epoch <= checkpointId);
    this.held = this.held.filter((m) => m.epoch > checkpointId);
    for (const message of ready) this.deliver(message);
    this.wake.notify();
  }

  private async writeLoop(): Promise<void> {
    for (;;) {
      const item = await this.queue.pop();
      if (item.kind === 'batch') {
        await this.push(this.roots, item.batch);
      } else if (item.kind === 'end') {
        for (const node of this.sinkNodes) await node.writer.endOfInput?.();
        this.endpoint.send({ kind: 'finished', metrics: this.snapshotMetrics() });
      } else {
        const sinks: SinkAck[] = [];
        for (const node of this.sinkNodes) {
          const infos = await node.writer.prepareCommit(item.checkpointId);
          const state = await node.writer.snapshotState(item.checkpointId);
          sinks.push({ sinkIndex: node.sinkIndex, infos, state });
        }
        if (item.endOfInput || this.stopped) this.drained = true;
        this.endpoint.send({ kind: 'ack', checkpointId: item.checkpointId, reader: item.reader, sinks, metrics: this.snapshotMetrics() });
        if (this.stopped && !this.inputEnded) return;
      }
    }
  }

  private async push(nodes: Node[], batch: RecordBatch): Promise<void> {
    for (const node of nodes) {
      if (node.kind === 'sink') {
        const m = this.metrics.sinks[node.sinkIndex]!;
        const rejections = new BatchRejections(this.stageRef('sink', node.sinkIndex), batch, this.mask);
        await node.writer.write(batch, { reject: rejections.reject });
        m.rowsWritten += batch.numRows - rejections.rows.size;
        this.copySinkStats(node);
        await this.rejected(rejections, m);
      } else {
        const m = this.metrics.transforms[node.transformIndex]!;
        m.rowsIn += batch.numRows;
        const rejections = new BatchRejections(this.stageRef('transform', node.transformIndex), batch, this.mask);
        let reported: number | undefined;
        const out = await node.transform.apply(batch, { reject: rejections.reject, filtered: (rows) => void (reported = (reported ?? 0) + rows) });
        const rowsOut = out?.numRows ?? 0;
        m.rowsFiltered += reported ?? Math.max(0, batch.numRows - rowsOut - rejections.rows.size);
        await this.rejected(rejections, m);
        if (out && rowsOut > 0) {
          m.rowsOut += rowsOut;
          await this.push(node.children, out);
        }
      }
    }
  }

  private readonly stageRefs = new Map<string, StageRef>();

  /** How a transform or sink is named in counts, messages and dead-letter rows, with its dirty-data policy. */
  private stageRef(section: 'transform' | 'sink', index: number): StageRef {
    const id = `${section}:${index}`;
    let ref = this.stageRefs.get(id);
    if (!ref) {
      ref = stageRef(section, (section === 'sink' ? this.plan.sinks : this.plan.transforms)[index]!);
      this.stageRefs.set(id, ref);
    }
    return ref;
  }

  /**
   * Counts the rows a stage rejected in one batch and hands them to its dead-letter writer, in this pipeline
   * and before the next barrier, so they are committed with the checkpoint that covers the batch. The
   * coordinator judges the limits on the job's counts, which it learns at once.
   */
  private async rejected(rejections: BatchRejections, m: { rowsErrored: number }): Promise<void> {
    if (rejections.rows.size === 0) return;
    m.rowsErrored += rejections.rows.size;
    const stage = rejections.stage;
    const samples = (this.metrics.errorSamples[stage.key] ??= []);
    if (samples.length < ERROR_SAMPLES) samples.push(...rejections.samples(ERROR_SAMPLES - samples.length));
    const deadLetter = stage.policy.deadLetter === null ? undefined : this.deadLetters.get(stage.policy.deadLetter);
    if (deadLetter) {
      const rows = rejections.deadLetterBatch(this.plan.env.name);
      await deadLetter.writer.write(rows);
      this.metrics.sinks[deadLetter.sinkIndex]!.rowsWritten += rows.numRows;
      this.copySinkStats(deadLetter);
    }
    if (!this.metricsSoon) {
      this.metricsSoon = true;
      queueMicrotask(() => {
        this.metricsSoon = false;
        this.sendMetrics();
      });
    }
  }

  private copySinkStats(node: SinkNode): void {
    const stats = node.writer.stats;
    if (!stats) return;
    const m = this.metrics.sinks[node.sinkIndex]!;
    m.bytesWritten = stats.bytesWritten;
    m.rowsRejected = stats.rowsRejected ?? 0;
    m.rowsLate = stats.rowsLate ?? 0;
  }

  /** A hint to writers (SinkWriter.checkpointSaved): if one fails, its committer still commits, so the pipeline goes on. */
  private async onSaved(checkpointId: number): Promise<void> {
    await Promise.all(
      this.sinkNodes.map(async (node) => {
        try {
          await node.writer.checkpointSaved?.(checkpointId);
        } catch (error) {
          this.logger.debug('a writer could not act on a saved checkpoint; its committer commits instead', { checkpoint: checkpointId, error: String(error) });
        }
      }),
    );
  }

  private async onComplete(checkpointId: number): Promise<void> {
    await this.reader.notifyCheckpointComplete?.(checkpointId);
  }

  private snapshotMetrics(): PipelineMetrics {
    this.metrics.seq++;
    this.metrics.splitsDone = this.reader?.finishedSplits?.() ?? this.metrics.splitsDone;
    this.metrics.queueDepth = this.queue.size;
    this.metrics.throttledMs = this.limiter?.throttledMs ?? 0;
    for (const node of this.sinkNodes) this.copySinkStats(node);
    return structuredClone(this.metrics);
  }

  private sendMetrics(): void {
    if (this.reader && !this.halted) this.endpoint.send({ kind: 'metrics', metrics: this.snapshotMetrics() });
  }

  private failed = false;
  private fail(error: unknown): void {
    if (this.failed || this.halted) return;
    this.failed = true;
    this.logger.debug('pipeline failed', { pipeline: this.spec.pipelineId, error: String(error) });
    this.endpoint.send({ kind: 'failed', error: toWireError(error) });
    this.abort.abort(error);
    this.queue.fail(new TidewayError('PIPELINE_STOPPED', 'pipeline stopped'));
    this.wake.notify();
  }

  /** Closes the reader, transforms and writers; each step runs even if an earlier one fails. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.isClosing = true;
      if (this.metricsTimer) clearInterval(this.metricsTimer);
      this.stopped = true;
      this.abort.abort(new TidewayError('PIPELINE_CLOSED', 'pipeline closed'));
      this.queue.fail(new TidewayError('PIPELINE_STOPPED', 'pipeline stopped'));
      this.wake.notify();
      await this.done?.catch(() => undefined);
      const steps: (() => Promise<void> | undefined)[] = [
        () => this.reader?.close(),
        // A pipeline that did not end in a final or stopping checkpoint leaves staged output no checkpoint
        // owns: discard it now rather than leave it to the next run's orphan sweep.
        ...this.sinkNodes.map((n) => () => (this.drained || this.halted ? undefined : n.writer.abortPrepare())),
        ...this.sinkNodes.map((n) => () => n.writer.close()),
        ...this.sinkNodes.map((n) => () => n.sink.close?.()),
        ...allTransforms(this.roots).map((t) => () => t.close?.()),
        () => this.source?.close?.(),
      ];
      for (const step of steps) {
        try {
          await step();
        } catch (error) {
          this.logger.warn('a pipeline part failed to close', { pipeline: this.spec.pipelineId, error: String(error) });
        }
      }
      if (!this.halted) this.endpoint.send({ kind: 'closed', metrics: this.snapshotMetricsSafe() });
    })();
    return this.closing;
  }

  /**
   * Stops the pipeline as a dying worker thread would: it sends nothing more, handles no message, and leaves
   * its staged output behind (the next run's orphan sweep owns it). Used by tests that kill a pipeline.
   */
  halt(): Promise<void> {
    this.halted = true;
    return this.close();
  }

  private snapshotMetricsSafe(): PipelineMetrics {
    try {
      return this.snapshotMetrics();
    } catch {
      return structuredClone(this.metrics);
    }
  }
}

function allTransforms(nodes: Node[]): Transform[] {
  return nodes.flatMap((n) => (n.kind === 'transform' ? [n.transform, ...allTransforms(n.children)] : []));
}

function batchBytes(batch: RecordBatch): number {
  let bytes = 0;
  for (const child of batch.data.children) bytes += dataBytes(child);
  return bytes;
}

function dataBytes(data: { values?: { byteLength: number }; valueOffsets?: { byteLength: number }; nullBitmap?: { byteLength: number }; children: unknown[] }): number {
  let bytes = (data.values?.byteLength ?? 0) + (data.valueOffsets?.byteLength ?? 0) + (data.nullBitmap?.byteLength ?? 0);
  for (const child of data.children) bytes += dataBytes(child as never);
  return bytes;
}
