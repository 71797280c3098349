import { IllegalStateError } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { Logger } from '../api/logger.js';
import type { Source, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../api/source.js';
import type { SourceCheckpoint } from './checkpoint-store.js';
import type { ToPipeline } from './messages.js';

/**
 * The coordinator's side of one source: its enumerator, and the engine's own ledger of what was assigned to
 * whom. The ledger is what makes restore exact whatever the enumerator does: a split that a checkpoint shows
 * as consumed is never assigned again, a split a reader held is reassigned with the reader's progress, and a
 * split is assigned at most once per run.
 */
export class SourceCoordinator {
  private enumerator!: SplitEnumerator;
  private serial: Promise<unknown> = Promise.resolve();
  private readonly registered = new Set<number>();
  private readonly assignedTo = new Map<number, string[]>();
  private readonly ledger = new Map<string, SourceSplit>();
  private readonly noMoreSignalled = new Set<number>();
  /** Consumed by runs before this one (from the restored checkpoint). */
  readonly consumedBefore: Set<string>;
  /** Held splits with progress, from the restored checkpoint. */
  private readonly progress: Map<string, SourceSplit>;
  splitsAssigned = 0;

  constructor(
    readonly sourceIndex: number,
    readonly name: string,
    readonly source: Source,
    private readonly parallelism: number,
    private readonly send: (readerId: number, message: ToPipeline) => void,
    private readonly jobName: string,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
    private readonly onError: (error: unknown) => void,
    restored: SourceCheckpoint | undefined,
  ) {
    this.consumedBefore = new Set(restored?.consumed ?? []);
    this.progress = new Map();
    for (const reader of restored?.readers ?? []) {
      for (const id of reader.consumed) this.consumedBefore.add(id);
    }
    for (const reader of restored?.readers ?? []) {
      for (const split of reader.splits) if (!this.consumedBefore.has(split.splitId)) this.progress.set(split.splitId, split);
    }
  }

  private context(): SplitEnumeratorContext {
    return {
      parallelism: this.parallelism,
      jobName: this.jobName,
      logger: this.logger,
      signal: this.signal,
      registeredReaders: () => new Set(this.registered),
      assignSplit: (readerId, splits) => this.assign(readerId, splits),
      signalNoMoreSplits: (readerId) => this.signalNoMoreSplits(readerId),
      sendEventToReader: (readerId, event: Json) => this.send(readerId, { kind: 'event', event }),
    };
  }

  /** Creates or restores the enumerator and gives back what the restored checkpoint's readers held. */
  async open(restored: SourceCheckpoint | undefined): Promise<void> {
    if (!restored) {
      this.enumerator = await this.source.createEnumerator(this.context());
      return;
    }
    this.enumerator = await this.source.restoreEnumerator(this.context(), restored.enumerator);
    const byReader = new Map<number, SourceSplit[]>();
    const owner = new Map<string, number>();
    // A resume may run with another parallelism: splits go back to the reader with the same index, modulo.
    restored.readers.forEach((reader, readerId) => reader.splits.forEach((s) => owner.set(s.splitId, readerId % this.parallelism)));
    for (const split of restored.assigned) {
      if (this.consumedBefore.has(split.splitId)) continue;
      const readerId = owner.get(split.splitId) ?? 0;
      const list = byReader.get(readerId) ?? [];
      list.push(this.progress.get(split.splitId) ?? split);
      byReader.set(readerId, list);
    }
    for (const [readerId, splits] of byReader) await this.enumerator.addSplitsBack(splits, readerId);
  }

  /** Runs enumerator calls one at a time, in arrival order. */
  private call<T>(action: () => Promise<T> | T): Promise<T> {
    const next = this.serial.then(action);
    this.serial = next.catch((error: unknown) => this.onError(error));
    return next;
  }

  run(): void {
    void this.call(() => this.enumerator.run());
  }

  register(readerId: number): void {
    if (this.registered.has(readerId)) return;
    this.registered.add(readerId);
    void this.call(() => this.enumerator.registerReader(readerId));
  }

  splitRequest(readerId: number): void {
    void this.call(() => this.enumerator.handleSplitRequest(readerId));
  }

  readerEvent(readerId: number, event: Json): void {
    void this.call(() => this.enumerator.handleSourceEvent?.(readerId, event));
  }

  private assign(readerId: number, splits: readonly SourceSplit[]): void {
    if (readerId < 0 || readerId >= this.parallelism) throw new IllegalStateError(`enumerator assigned splits to reader ${readerId}, which does not exist`, { connector: this.name });
    if (this.noMoreSignalled.has(readerId)) {
      throw new IllegalStateError(`enumerator assigned splits to reader ${readerId} after signalling no more splits`, { connector: this.name });
    }
    const out: SourceSplit[] = [];
    for (const split of splits) {
      if (this.consumedBefore.has(split.splitId)) {
        this.logger.debug('not assigning a split an earlier run consumed', { source: this.name, splitId: split.splitId });
        continue;
      }
      if (this.ledger.has(split.splitId)) {
        this.logger.warn('enumerator assigned a split twice in one run; ignoring the second', { source: this.name, splitId: split.splitId });
        continue;
      }
      const withProgress = this.progress.get(split.splitId) ?? split;
      this.ledger.set(split.splitId, withProgress);
      const list = this.assignedTo.get(readerId) ?? [];
      list.push(split.splitId);
      this.assignedTo.set(readerId, list);
      out.push(withProgress);
    }
    this.splitsAssigned += out.length;
    if (out.length > 0) this.send(readerId, { kind: 'assign', splits: out });
  }

  private signalNoMoreSplits(readerId: number): void {
    this.noMoreSignalled.add(readerId);
    this.send(readerId, { kind: 'noMoreSplits', expected: [...(this.assignedTo.get(readerId) ?? [])] });
  }

  /** The enumerator's state and the ledger, taken together between two enumerator calls. */
  snapshot(checkpointId: number): Promise<Omit<SourceCheckpoint, 'readers'>> {
    return this.call(async () => {
      const enumerator = await this.enumerator.snapshotState(checkpointId);
      return { name: this.name, enumerator, assigned: [...this.ledger.values()], consumed: [...this.consumedBefore] };
    });
  }

  notifyComplete(checkpointId: number): void {
    void this.call(() => this.enumerator.notifyCheckpointComplete?.(checkpointId));
  }

  totals(): { totalSplits?: number; totalRows?: number } {
    try {
      return this.enumerator?.progress?.() ?? {};
    } catch {
      return {};
    }
  }

  async close(): Promise<void> {
    await this.serial.catch(() => undefined);
    await this.enumerator?.close();
  }
}
