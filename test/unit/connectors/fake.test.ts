import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { ReaderOutput, SourceReaderContext } from '../../../src/api/source.js';
import { fakeRow, generateBatch } from '../../../connectors/fake/generator.js';
import { FakeSource, type FakeSplit } from '../../../connectors/fake/source.js';

function readerContext(parallelism = 1): SourceReaderContext {
  return {
    readerId: 0,
    parallelism,
    jobName: 't',
    logger: silentLogger,
    signal: new AbortController().signal,
    consumedSplitIds: new Set(),
    prepared: undefined,
    sendSplitRequest() {},
    sendEventToEnumerator() {},
    wakeup() {},
  };
}

async function planSplits(source: FakeSource): Promise<FakeSplit[]> {
  const assigned: FakeSplit[] = [];
  const enumerator = await source.createEnumerator({
    parallelism: 1,
    jobName: 't',
    logger: silentLogger,
    signal: new AbortController().signal,
    registeredReaders: () => new Set([0]),
    assignSplit: (_r, splits) => assigned.push(...splits),
    signalNoMoreSplits() {},
    sendEventToReader() {},
  });
  for (let i = 0; i < 100; i++) await enumerator.handleSplitRequest(0);
  return assigned;
}

async function drain(source: FakeSource, splits: FakeSplit[]): Promise<number[]> {
  const reader = await source.createReader(readerContext());
  reader.addSplits(splits);
  reader.handleNoMoreSplits();
  const ids: number[] = [];
  const output: ReaderOutput = {
    emit: async (batch) => {
      for (const id of batch.getChild('id')!.toArray() as BigInt64Array) ids.push(Number(id));
    },
  };
  while ((await reader.pollNext(output)) !== 'end');
  return ids;
}

describe('fake source', () => {
  const options = { rows: 1000, splits: 7, seed: 3, chunk_rows: 64, unbounded: false };

  it('produces the same rows for the same seed, and each row is recomputable', () => {
    const a = generateBatch(3, 100, 10);
    const b = generateBatch(3, 100, 10);
    expect(a.toArray().map((r) => r.toJSON())).toEqual(b.toArray().map((r) => r.toJSON()));
    for (let i = 0; i < 10; i++) {
      const row = a.get(i)!.toJSON();
      const expected = fakeRow(3, 100 + i);
      expect(row.id).toBe(expected.id);
      expect(row.name).toBe(expected.name);
      expect(row.amount).toBe(expected.amount);
      expect(row.quantity).toBe(expected.quantity);
      expect(row.active).toBe(expected.active);
      expect(row.created_at).toBe(expected.created_at);
    }
    expect(generateBatch(4, 100, 1).get(0)!.toJSON().amount).not.toBe(a.get(0)!.toJSON().amount);
  });

  it('splits cover every id exactly once', async () => {
    const source = new FakeSource(options);
    const splits = await planSplits(source);
    expect(splits).toHaveLength(7);
    const ids = await drain(source, splits);
    expect(ids.sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('resumes a split from its offset without repeating rows', async () => {
    const source = new FakeSource(options);
    const [split] = await planSplits(source);
    const halfway: FakeSplit = { ...split!, offset: 50 };
    const ids = await drain(source, [halfway]);
    expect(ids[0]).toBe(split!.start + 50);
    expect(ids).toHaveLength(split!.end - split!.start - 50);
  });

  it('in unbounded mode keeps ids unique across splits', async () => {
    const source = new FakeSource({ ...options, unbounded: true, splits: 3 });
    const splits = await planSplits(source);
    const reader = await source.createReader(readerContext());
    reader.addSplits(splits);
    const ids = new Set<number>();
    const output: ReaderOutput = {
      emit: async (batch) => {
        for (const id of batch.getChild('id')!.toArray() as BigInt64Array) {
          expect(ids.has(Number(id))).toBe(false);
          ids.add(Number(id));
        }
      },
    };
    for (let i = 0; i < 12; i++) expect(await reader.pollNext(output)).toBe('more');
    expect(ids.size).toBe(12 * 64);
  });

  it('reports idle time instead of spinning when rate-limited', async () => {
    const source = new FakeSource({ ...options, rows_per_second: 10 });
    const splits = await planSplits(source);
    const reader = await source.createReader(readerContext());
    reader.addSplits(splits);
    const status = await reader.pollNext({ emit: async () => {} });
    expect(status).toBe('waiting');
  });
});
