import type { ConnectorDefinition, SinkFactory, SourceFactory } from '../api/connector.js';
import { TidewayError } from '../api/errors.js';
import type { Json } from '../api/json.js';
import type { CommitContext, Sink, SinkCommitter, SinkWriter } from '../api/sink.js';
import type { PollStatus, ReaderOutput, Source, SourceReader } from '../api/source.js';
import type { CheckpointData, CheckpointStore } from '../engine/checkpoint-store.js';
import type { PipelineHost, TransportFactory } from '../engine/transport.js';

/**
 * One injected failure. Counters start at 1 and count across every reader, writer or committer of a run;
 * `atRow` counts the rows the run's readers emitted.
 * - `reader-throws`: once `atRow` rows were emitted, a reader's pollNext throws: before reading its next
 *   chunk, or right after emitting the chunk that crossed the mark.
 * - `prepare-throws`: a writer's prepareCommit call number `call` throws.
 * - `commit-throws`: commit call number `call` throws, before committing or after (the commit happened but
 *   its caller never learns it, as when a connection drops on the reply).
 * - `save-fails`: checkpoint save number `call` is slow (`slowMs`) and then throws, before writing or after
 *   the checkpoint landed; with `readerFailsDuring`, a reader also fails while the save is slow.
 * - `pipeline-dies`: the pipeline whose reader crosses `atRow` dies as its worker thread would.
 * - `stop`: a graceful stop (the caller's signal) once `atRow` rows were emitted.
 */
export type Fault =
  | { kind: 'reader-throws'; atRow: number; afterEmit: boolean }
  | { kind: 'prepare-throws'; call: number }
  | { kind: 'commit-throws'; call: number; afterCommit: boolean }
  | { kind: 'save-fails'; call: number; afterLanding: boolean; slowMs: number; readerFailsDuring: boolean }
  | { kind: 'pipeline-dies'; atRow: number }
  | { kind: 'stop'; atRow: number };

export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'reader-throws':
      return `reader throws at row ${fault.atRow} (${fault.afterEmit ? 'after emitting the chunk that crossed it' : 'before its next chunk'})`;
    case 'prepare-throws':
      return `prepareCommit call ${fault.call} throws`;
    case 'commit-throws':
      return `commit call ${fault.call} throws ${fault.afterCommit ? 'after committing' : 'before committing'}`;
    case 'save-fails':
      return `checkpoint save ${fault.call} takes ${fault.slowMs} ms and fails ${fault.afterLanding ? 'after it landed' : 'before writing'}${fault.readerFailsDuring ? ', a reader failing meanwhile' : ''}`;
    case 'pipeline-dies':
      return `a pipeline dies at row ${fault.atRow}`;
    case 'stop':
      return `graceful stop at row ${fault.atRow}`;
  }
}

/** The error every injected failure throws, so a test can tell it from a real one. */
export class InjectedFault extends TidewayError {
  constructor(what: string) {
    super('INJECTED_FAULT', `injected fault: ${what}`);
  }
}

/**
 * The faults of one run and their counters. Connectors, the checkpoint store and the transport of the run
 * are wrapped to consult it.
 */
export class FaultSession {
  private rows = 0;
  private readonly spent = new Set<Fault>();
  private prepares = 0;
  private commits = 0;
  private saves = 0;
  private readerMustFail = false;
  private host: PipelineHost | undefined;
  readonly stopController = new AbortController();
  readonly fired: string[] = [];

  constructor(readonly faults: readonly Fault[]) {}

  /** Wraps every source and sink of `connectors` so that they consult this session. */
  connectors(connectors: readonly ConnectorDefinition[]): ConnectorDefinition[] {
    return connectors.map((c) => ({
      ...c,
      ...(c.source ? { source: this.sourceFactory(c.source) } : {}),
      ...(c.sink ? { sink: this.sinkFactory(c.sink) } : {}),
    }));
  }

  store(inner: CheckpointStore): CheckpointStore {
    return withSave(inner, async (data: CheckpointData) => {
      const call = ++this.saves;
      const fault = this.faults.find((f): f is Extract<Fault, { kind: 'save-fails' }> => f.kind === 'save-fails' && f.call === call);
      if (!fault) return inner.save(data);
      this.fired.push(describeFault(fault));
      if (fault.readerFailsDuring) this.readerMustFail = true;
      await new Promise((resolve) => setTimeout(resolve, fault.slowMs));
      if (fault.afterLanding) await inner.save(data);
      throw new InjectedFault(`checkpoint ${data.checkpointId} save ${fault.afterLanding ? 'landed, then the directory fsync' : ''} failed`);
    });
  }

  transport(inner: TransportFactory): TransportFactory {
    return {
      name: inner.name,
      start: async (specs, plan, handlers) => {
        const host = await inner.start(specs, plan, handlers);
        this.host = host;
        return host;
      },
    };
  }

  /** Faults due now; `phase` is before a pollNext, or after it emitted its rows. */
  private due(pipelineId: number, phase: 'before' | 'after'): boolean {
    let throwNow = false;
    if (phase === 'before' && this.readerMustFail) {
      this.readerMustFail = false;
      this.fired.push('reader fails during a slow checkpoint save');
      throwNow = true;
    }
    for (const fault of this.faults) {
      if (fault.kind !== 'reader-throws' && fault.kind !== 'pipeline-dies' && fault.kind !== 'stop') continue;
      if (this.rows < fault.atRow || this.spent.has(fault)) continue;
      if (fault.kind === 'reader-throws' && fault.afterEmit !== (phase === 'after')) continue;
      this.spent.add(fault);
      this.fired.push(describeFault(fault));
      if (fault.kind === 'reader-throws') throwNow = true;
      else if (fault.kind === 'pipeline-dies') this.host?.kill?.(pipelineId);
      else this.stopController.abort();
    }
    return throwNow;
  }

  private sourceFactory(factory: SourceFactory): SourceFactory {
    return {
      options: factory.options,
      create: async (options, context) => {
        const source: Source = await factory.create(options, context);
        return delegate(source, {
          // One source per job in the kit: the pipeline id is the reader's index.
          createReader: async (readerContext) => this.reader(await source.createReader(readerContext), readerContext.readerId),
        });
      },
    };
  }

  private reader(inner: SourceReader, pipelineId: number): SourceReader {
    return delegate(inner, {
      pollNext: async (output: ReaderOutput): Promise<PollStatus> => {
        if (this.due(pipelineId, 'before')) throw new InjectedFault('reader failed before reading a chunk');
        const status = await inner.pollNext({
          emit: (batch) => {
            this.rows += batch.numRows;
            return output.emit(batch);
          },
        });
        if (this.due(pipelineId, 'after')) throw new InjectedFault('reader failed after emitting a chunk');
        return status;
      },
    });
  }

  private sinkFactory(factory: SinkFactory): SinkFactory {
    return {
      options: factory.options,
      create: async (options, context) => {
        const sink: Sink = await factory.create(options, context);
        return delegate(sink, {
          createWriter: async (writerContext, restored) => this.writer(await sink.createWriter(writerContext, restored)),
          createCommitter: async (sinkContext) => this.committer(await sink.createCommitter(sinkContext)),
        });
      },
    };
  }

  private writer(inner: SinkWriter): SinkWriter {
    return delegate(inner, {
      prepareCommit: async (checkpointId: number) => {
        const call = ++this.prepares;
        const fault = this.faults.find((f) => f.kind === 'prepare-throws' && f.call === call);
        if (fault) {
          this.fired.push(describeFault(fault));
          throw new InjectedFault(`prepareCommit for checkpoint ${checkpointId} failed`);
        }
        return inner.prepareCommit(checkpointId);
      },
    });
  }

  private committer(inner: SinkCommitter): SinkCommitter {
    return delegate(inner, {
      commit: async (infos: readonly Json[], context: CommitContext) => {
        const call = ++this.commits;
        const fault = this.faults.find((f): f is Extract<Fault, { kind: 'commit-throws' }> => f.kind === 'commit-throws' && f.call === call);
        if (!fault) return inner.commit(infos, context);
        this.fired.push(describeFault(fault));
        if (fault.afterCommit) await inner.commit(infos, context);
        throw new InjectedFault(`commit of checkpoint ${context.checkpointId} failed ${fault.afterCommit ? 'after it took effect' : 'before it took effect'}`);
      },
    });
  }
}

/**
 * `inner` with some methods replaced. Every other property is read from `inner` and its methods run with
 * `inner` as `this`, so the wrapped object's own state stays in one place.
 */
function delegate<T extends object>(inner: T, overrides: Partial<T>): T {
  return new Proxy(inner, {
    get(target, property) {
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return overrides[property as keyof T];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** `inner` with its `save` replaced (to slow it, fail it, measure it or act after it). */
export function withSave(inner: CheckpointStore, save: (data: CheckpointData) => Promise<void>): CheckpointStore {
  return {
    location: inner.location,
    latest: () => inner.latest(),
    retain: (keep) => inner.retain(keep),
    clear: () => inner.clear(),
    lock: () => inner.lock(),
    save,
  };
}
