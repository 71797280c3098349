import type { RecordBatch } from 'apache-arrow';
import type { Json } from './json.js';
import type { CommitContext, OrphanReport, Sink, SinkCommitter, SinkContext, SinkWriter, SinkWriterContext } from './sink.js';

/** A committer for sinks with nothing to make visible later (their output is visible at write time). */
export class NoopCommitter implements SinkCommitter {
  async commit(_infos: readonly Json[], _context: CommitContext): Promise<void> {}
  async abort(_infos: readonly Json[]): Promise<void> {}
  async removeOrphans(): Promise<OrphanReport> {
    return { removed: [] };
  }
  async close(): Promise<void> {}
}

/**
 * A sink whose writer only needs `write`: no staging, no commit. Its output is at-least-once across a
 * restore (what it wrote after the last checkpoint is written again), which suits consoles and counters.
 */
export function directSink(
  createWriter: (context: SinkWriterContext) => { write(batch: RecordBatch): void | Promise<void>; close?(): Promise<void> | void; stats?: SinkWriter['stats'] },
): Sink {
  return {
    async createWriter(context) {
      const inner = createWriter(context);
      const writer: SinkWriter = {
        write: async (batch) => {
          await inner.write(batch);
        },
        prepareCommit: async () => [],
        snapshotState: () => undefined,
        abortPrepare: async () => {},
        close: async () => {
          await inner.close?.();
        },
        get stats() {
          return inner.stats;
        },
      };
      return writer;
    },
    async createCommitter(_context: SinkContext) {
      return new NoopCommitter();
    },
  };
}

export type { CommitContext, Json };
