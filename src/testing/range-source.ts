import { Int32, Schema, Field, Utf8, makeData, RecordBatch, Struct, vectorFromArray } from 'apache-arrow';
import { defineSource, type ConnectorDefinition } from '../api/connector.js';
import { z } from '../api/options.js';
import type { Source, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../api/source.js';
import { SplitQueueReader } from '../api/split-queue-reader.js';

interface RangeSplit extends SourceSplit {
  splitId: string;
  start: number;
  count: number;
  offset: number;
}

interface RangeState {
  pending: RangeSplit[];
  [key: string]: RangeSplit[];
}

const schema = new Schema([new Field('id', new Int32(), false), new Field('label', new Utf8(), false)]);

function rangeBatch(start: number, rows: number): RecordBatch {
  const ids = Int32Array.from({ length: rows }, (_, i) => start + i);
  const labels = vectorFromArray(Array.from({ length: rows }, (_, i) => `row-${start + i}`), new Utf8());
  const data = makeData({
    type: new Struct(schema.fields),
    length: rows,
    nullCount: 0,
    children: [makeData({ type: new Int32(), data: ids }), labels.data[0]!],
  });
  return new RecordBatch(schema, data);
}

const options = z
  .object({
    rows: z.number().int().min(0).meta({ description: 'Rows: ids 0 to rows - 1.' }),
    splits: z.number().int().min(1).default(4).meta({ description: 'Row ranges to cut the ids into.' }),
    chunk_rows: z.number().int().min(1).default(100).meta({ description: 'Rows per pollNext.' }),
    enumerator: z.enum(['push', 'pull']).default('pull').meta({ description: 'push: assign every split at registration; pull: one per request.' }),
  })
  .strict();

/**
 * A test source with both enumerator shapes: `pull` hands out one split per request, `push` assigns all of a
 * reader's splits as it registers and signals no-more-splits at once. For the engine's failure suites.
 */
export const rangeSourceConnector: ConnectorDefinition = {
  name: 'test-range',
  description: 'test source: ids 0..rows-1 in row ranges, with a push or a pull enumerator',
  source: defineSource({
    options,
    create: (o): Source<RangeSplit, RangeState> => {
      const plan = (): RangeSplit[] => {
        const count = Math.min(o.splits, Math.max(1, o.rows));
        return Array.from({ length: count }, (_, i) => {
          const start = Math.floor((o.rows * i) / count);
          return { splitId: `r${i}`, start, count: Math.floor((o.rows * (i + 1)) / count) - start, offset: 0 };
        });
      };
      const enumerator = (context: SplitEnumeratorContext<RangeSplit>, pending: RangeSplit[]): SplitEnumerator<RangeSplit, RangeState> => {
        const handOut = (readerId: number) => {
          if (o.enumerator === 'push') {
            const owner = (split: RangeSplit) => Number(split.splitId.slice(1)) % context.parallelism;
            const mine = pending.filter((split) => owner(split) === readerId);
            pending = pending.filter((split) => owner(split) !== readerId);
            for (const split of mine) context.assignSplit(readerId, [split]);
            context.signalNoMoreSplits(readerId);
            return;
          }
          const split = pending.shift();
          if (split) context.assignSplit(readerId, [split]);
          else context.signalNoMoreSplits(readerId);
        };
        return {
          async run() {},
          registerReader(readerId) {
            if (o.enumerator === 'push') handOut(readerId);
          },
          handleSplitRequest(readerId) {
            if (o.enumerator === 'pull') handOut(readerId);
          },
          addSplitsBack(splits) {
            pending.unshift(...splits);
          },
          snapshotState: () => ({ pending: pending.map((s) => ({ ...s })) }),
          async close() {},
        };
      };
      return {
        boundedness: 'bounded',
        schema: async () => schema,
        createEnumerator: async (context) => enumerator(context, plan()),
        restoreEnumerator: async (context, state) => enumerator(context, state.pending),
        createReader: async (context) =>
          new SplitQueueReader(
            context,
            {
              async read(split, { maxRows }) {
                const rows = Math.min(maxRows, split.count - split.offset);
                const next = { ...split, offset: split.offset + rows };
                return { batches: rows > 0 ? [rangeBatch(split.start + split.offset, rows)] : [], next, finished: next.offset >= split.count };
              },
            },
            { chunkRows: o.chunk_rows },
          ),
      };
    },
  }),
};
