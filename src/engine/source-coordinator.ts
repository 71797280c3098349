import { IllegalStateError } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { Logger } from '../api/logger.js';
import type { Source, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../api/source.js';
import type { SourceCheckpoint } from './checkpoint-store.js';
import type { ToPipelineBody } from './messages.js';

/** How many times in a row an enumerator may answer a reader with nothing but splits already done. */
const MAX_EMPTY_ANSWERS = 1000;

interface LedgerEntry {
  split: SourceSplit;
  readerId: number;
}

/**
 * The coordinator's side of one source: its enumerator, and the engine's ledger of what was assigned to
 * whom and not yet known to be done.
 *
 * The consistent cut: `snapshot(n)` records the enumerator and the ledger together, between two enumerator
 * calls, and from then on stamps every assignment with epoch n. A pipeline hands an assignment of epoch n to
 * its reader only after the reader's own snapshot for checkpoint n. So in checkpoint n every split is in
 * exactly one place: still with the enumerator, in the ledger and in flight, in the ledger and held by a
 * reader (with its offset), or consumed.
 *
 * The ledger is pruned when a checkpoint that shows a split consumed is saved: from then on the enumerator's
 * own state (which counts the split as handed out) is what keeps it from being read again. So a checkpoint
 * carries the splits in flight, not every split ever read.
 */
export class SourceCoordinator {
  private enumerator!: SplitEnumerator;
  private serial: Promise<unknown> = Promise.resolve();
  private readonly registered = new Set<number>();
  private readonly ledger = new Map<string, LedgerEntry>();
  /** Per reader, ids assigned in this run and not yet pruned: what no-more-splits tells it to wait for. */
  private readonly assignedTo = new Map<number, Set<string>>();
  /**
   * Ids known to be done (consumed in a saved checkpoint, or in the restored one). Memory only: it guards
   * against an enumerator that hands a split out twice, and never needs to be checkpointed.
   */
  private readonly done = new Set<string>();
  private readonly noMoreSignalled = new Set<number>();
  /** Readers whose last split request has not been answered with a split or with no-more-splits. */
  private readonly waiting = new Map<number, number>();
  private epoch = 0;
  splitsAssigned = 0;
  splitsFinished = 0;

  constructor(
    readonly sourceIndex: number,
    readonly name: string,
    readonly source: Source,
    private readonly parallelism: number,
    private readonly send: (readerId: number, message: ToPipelineBody) => void,
    private readonly jobName: string,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
    private readonly onError: (error: unknown) => void,
  ) {}

  private context(): SplitEnumeratorContext {
    return {
      parallelism: this.parallelism,
      jobName: this.jobName,
      logger: this.logger,
      signal: this.signal,
      registeredReaders: () => new Set(this.registered),
      assignSplit: (readerId, splits) => this.assign(readerId, splits),
      signalNoMoreSplits: (readerId) => this.signalNoMoreSplits(readerId),
      sendEventToReader: (readerId, event: Json) => this.send(readerId, { kind: 'event', event, epoch: this.epoch }),
    };
  }

  /**
   * Creates or restores the enumerator. On restore, what the checkpoint's ledger holds and no reader finished
   * goes back to the enumerator, with the offset the reader had reached, to the reader with the same index.
   */
  async open(restored: SourceCheckpoint | undefined, restoredEpoch: number): Promise<void> {
    this.epoch = restoredEpoch;
    if (!restored) {
      this.enumerator = await this.source.createEnumerator(this.context());
      return;
    }
    this.enumerator = await this.source.restoreEnumerator(this.context(), restored.enumerator);
    const consumed = new Set(restored.consumed ?? []);
    const progress = new Map<string, SourceSplit>();
    for (const reader of restored.readers) {
      for (const id of reader.consumed) consumed.add(id);
      for (const split of reader.splits) progress.set(split.splitId, split);
    }
    const owner = new Map<string, number>();
    // A resume may run with another parallelism: splits go back to the reader with the same index, modulo.
    restored.readers.forEach((reader, readerId) => reader.splits.forEach((s) => owner.set(s.splitId, readerId % this.parallelism)));
    const byReader = new Map<number, SourceSplit[]>();
    for (const split of restored.assigned) {
      if (consumed.has(split.splitId)) continue;
      const readerId = owner.get(split.splitId) ?? 0;
      const list = byReader.get(readerId) ?? [];
      list.push(progress.get(split.splitId) ?? split);
      byReader.set(readerId, list);
    }
    for (const id of consumed) this.done.add(id);
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
    if (this.noMoreSignalled.has(readerId)) return;
    this.waiting.set(readerId, 0);
    void this.call(() => this.enumerator.handleSplitRequest(readerId));
  }

  readerEvent(readerId: number, event: Json): void {
    void this.call(() => this.enumerator.handleSourceEvent?.(readerId, event));
  }

  private assign(readerId: number, splits: readonly SourceSplit[]): void {
    if (!Number.isInteger(readerId) || readerId < 0 || readerId >= this.parallelism) {
      throw new IllegalStateError(`enumerator assigned splits to reader ${readerId}, which does not exist`, { connector: this.name });
    }
    if (this.noMoreSignalled.has(readerId)) {
      throw new IllegalStateError(`enumerator assigned splits to reader ${readerId} after signalling no more splits`, { connector: this.name });
    }
    const out: SourceSplit[] = [];
    for (const split of splits) {
      if (this.done.has(split.splitId)) {
        this.logger.debug('not assigning a split that is already done', { source: this.name, splitId: split.splitId });
        continue;
      }
      if (this.ledger.has(split.splitId)) {
        this.logger.warn('enumerator assigned a split that is still assigned; ignoring the second assignment', { source: this.name, splitId: split.splitId });
        continue;
      }
      this.ledger.set(split.splitId, { split, readerId });
      let ids = this.assignedTo.get(readerId);
      if (!ids) this.assignedTo.set(readerId, (ids = new Set()));
      ids.add(split.splitId);
      out.push(split);
    }
    this.splitsAssigned += out.length;
    if (out.length > 0) {
      this.waiting.delete(readerId);
      this.send(readerId, { kind: 'assign', splits: out, epoch: this.epoch });
      return;
    }
    this.askAgain(readerId);
  }

  /**
   * Every split request gets an answer. When the enumerator answered a waiting reader only with splits that
   * are already done or assigned, the reader would wait forever: ask the enumerator again on its behalf.
   */
  private askAgain(readerId: number): void {
    const answers = this.waiting.get(readerId);
    if (answers === undefined) return;
    if (answers >= MAX_EMPTY_ANSWERS) {
      this.onError(
        new IllegalStateError(
          `enumerator answered reader ${readerId} ${MAX_EMPTY_ANSWERS} times in a row with splits that are already done or assigned, and never with a new split or no-more-splits`,
          { connector: this.name },
        ),
      );
      return;
    }
    this.waiting.set(readerId, answers + 1);
    void this.call(() => this.enumerator.handleSplitRequest(readerId));
  }

  private signalNoMoreSplits(readerId: number): void {
    this.noMoreSignalled.add(readerId);
    this.waiting.delete(readerId);
    this.send(readerId, { kind: 'noMoreSplits', expected: [...(this.assignedTo.get(readerId) ?? [])] });
  }

  /**
   * The enumerator's state and the ledger, taken together between two enumerator calls; assignments after
   * it carry the new epoch.
   */
  snapshot(checkpointId: number): Promise<Omit<SourceCheckpoint, 'readers'>> {
    return this.call(async () => {
      const enumerator = await this.enumerator.snapshotState(checkpointId);
      this.epoch = checkpointId;
      return { name: this.name, enumerator, assigned: [...this.ledger.values()].map((e) => e.split) };
    });
  }

  /** Checkpoint `saved` is durable: the splits its readers report consumed leave the ledger for good. */
  checkpointSaved(saved: SourceCheckpoint): void {
    for (const reader of saved.readers) {
      for (const id of reader.consumed) {
        const entry = this.ledger.get(id);
        this.done.add(id);
        if (!entry) continue;
        this.ledger.delete(id);
        this.assignedTo.get(entry.readerId)?.delete(id);
        this.splitsFinished++;
      }
    }
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

  /** Waits for the enumerator call in progress, then closes it. */
  async close(): Promise<void> {
    await this.serial.catch(() => undefined);
    await this.enumerator?.close();
  }
}
