import { type ConnectorDefinition, defineSource } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import type { Source, SourceSplit } from '../../src/api/source.js';
import { SplitQueueReader } from '../../src/api/split-queue-reader.js';
import { fakeSchema, generateBatch } from '../../connectors/fake/generator.js';

/**
 * `type: one-row`: an unbounded source that emits one row (id 0) and then nothing, forever: the field case
 * of a last row that must become visible without waiting for another.
 */
export const oneRowSource: ConnectorDefinition = {
  name: 'one-row',
  description: 'one row, then silence',
  source: defineSource({
    options: z.object({}),
    create: (): Source<SourceSplit & { splitId: string; emitted: boolean }> => ({
      boundedness: 'unbounded',
      schema: async () => fakeSchema,
      createEnumerator: async (context) => ({
        async run() {},
        registerReader: (r) => context.assignSplit(r, [{ splitId: `s${r}`, emitted: false }]),
        handleSplitRequest() {},
        addSplitsBack() {},
        snapshotState: () => null,
        async close() {},
      }),
      restoreEnumerator: async () => {
        throw new Error('one-row is never restored in tests');
      },
      createReader: async (context) =>
        new SplitQueueReader(context, {
          async read(split) {
            if (split.emitted) return { batches: [], next: split, finished: false, idleMs: 1000 };
            return { batches: [generateBatch(1, 0, 1)], next: { ...split, emitted: true }, finished: false };
          },
        }),
    }),
  }),
};
