import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { ReaderOutput, SourceReaderContext } from '../../../src/api/source.js';
import type { FileSplit } from '../../../connectors/file/source.js';
import type { FileFormat } from '../../../src/formats/index.js';
import { prng, seedFromEnv } from '../formats/helpers.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { fileSource, ids, planSplits, range, readToEnd, splitReader, writeRows, writeText } from './helpers.js';

const tempDir = useTempDirs('tideway-file-resume-');

const cases: { name: string; file: string; format: FileFormat; options?: Record<string, unknown>; encoder?: Record<string, unknown>; bytePosition: boolean }[] = [
  { name: 'csv byte ranges', file: 'rows.csv', format: 'csv', options: { split_size: '40KiB' }, bytePosition: true },
  { name: 'jsonl byte ranges', file: 'rows.jsonl', format: 'jsonl', options: { split_size: '40KiB' }, bytePosition: true },
  { name: 'csv whole file', file: 'rows.csv', format: 'csv', bytePosition: true },
  { name: 'csv gzip', file: 'rows.csv.gz', format: 'csv', encoder: { compression: 'gzip' }, bytePosition: false },
  { name: 'arrow', file: 'rows.arrow', format: 'arrow', encoder: { batchRows: 300 }, bytePosition: false },
  { name: 'parquet row groups', file: 'rows.parquet', format: 'parquet', options: { split_size: 1 }, encoder: { parquet_row_group_rows: 1000 }, bytePosition: false },
];

describe('file source: a restored reader continues at the split position', () => {
  for (const c of cases) {
    it(`${c.name}: every row once after a restore in the middle of each split`, async () => {
      const seed = seedFromEnv();
      const rand = prng(seed);
      const dir = tempDir();
      const rows = 4000;
      writeRows(join(dir, c.file), c.format, rows, { ...(c.encoder ?? {}), batchRows: (c.encoder?.batchRows as number | undefined) ?? 1000 });
      const options = { path: join(dir, c.file), chunk_rows: 256, ...(c.options ?? {}) };
      const source = fileSource(options, dir);
      const splits = await planSplits(source);
      const read: number[] = [];
      for (const split of splits) {
        // A reader reads a few chunks, then "crashes"; a new reader gets the split as checkpointed.
        const first = await splitReader(source, options);
        const chunks = 1 + Math.floor(rand() * 4);
        const before = await readToEnd(first, split, 256, chunks);
        read.push(...ids(before.batches));
        await first.close();
        if (before.finished) continue;
        const checkpointed: FileSplit = JSON.parse(JSON.stringify(before.positions.at(-1)!));
        expect(checkpointed.rows, `seed ${seed}`).toBe(ids(before.batches).length);
        if (c.bytePosition) {
          // Text files resume from the byte where the next record starts, not by re-reading rows.
          expect(checkpointed.resume).toBeGreaterThan(split.unit === 'bytes' ? split.start : 0);
          expect(checkpointed.skip).toBe(0);
        } else {
          expect(checkpointed.skip).toBe(checkpointed.rows);
        }
        const restored = await splitReader(source, options);
        const after = await readToEnd(restored, checkpointed, 256);
        read.push(...ids(after.batches));
        await restored.close();
      }
      expect(read.sort((a, b) => a - b), `seed ${seed}`).toEqual(range(0, rows));
    });
  }

  it('a chunk smaller than a decoded batch keeps the byte position and counts the rows after it', async () => {
    const dir = tempDir();
    writeRows(join(dir, 'rows.csv'), 'csv', 1000);
    const options = { path: join(dir, 'rows.csv'), chunk_rows: 400 };
    const source = fileSource(options, dir);
    const [split] = await planSplits(source);
    const reader = await splitReader(source, options);
    // maxRows below chunk_rows: the reader slices the decoded batch and keeps the rest.
    // Chunks: 150 and 150 of the first 400-row batch, its last 100, then 150 of the second batch.
    const first = await readToEnd(reader, split!, 150, 4);
    expect(first.batches.map((b) => b.numRows)).toEqual([150, 150, 100, 150]);
    expect(ids(first.batches)).toEqual(range(0, 550));
    expect(first.positions.map((p) => p.skip)).toEqual([150, 300, 0, 150]);
    const position = first.positions.at(-1)!;
    expect(position.resume).toBe(first.positions[2]!.resume);
    expect(position.resume).toBeGreaterThan(0);
    const restored = await splitReader(source, options);
    expect(ids((await readToEnd(restored, position, 1000)).batches)).toEqual(range(550, 1000));
  });

  it('a CSV resumed or read from a later byte range maps columns by the header, whatever the schema order', async () => {
    const dir = tempDir();
    const lines = ['name,id'];
    for (let i = 0; i < 3000; i++) lines.push(`n${i},${i}`);
    writeText(join(dir, 'rows.csv'), `${lines.join('\n')}\n`);
    const options = { path: join(dir, 'rows.csv'), split_size: '8KiB', chunk_rows: 100, columns: [{ name: 'id', type: 'int64' }, { name: 'name', type: 'string' }] };
    const source = fileSource(options, dir);
    const splits = await planSplits(source);
    expect(splits.length).toBeGreaterThan(2);
    const reader = await splitReader(source, options);
    const all = [];
    for (const split of splits) all.push(...(await readToEnd(reader, split, 100)).batches);
    expect(ids(all)).toEqual(range(0, 3000));
    expect(all.flatMap((b) => [...b.getChild('name')!]).slice(2995)).toEqual(['n2995', 'n2996', 'n2997', 'n2998', 'n2999']);
  });

  it('the reader snapshot carries positions, and a restored SplitQueueReader emits every row once', async () => {
    const dir = tempDir();
    writeRows(join(dir, 'rows.jsonl'), 'jsonl', 5000);
    const options = { path: join(dir, 'rows.jsonl'), split_size: '100KiB', chunk_rows: 500 };
    const source = fileSource(options, dir);
    const prepared = await source.prepare({ signal: new AbortController().signal });
    const splits = await planSplits(source);
    const context = (consumed: Set<string>): SourceReaderContext => ({
      readerId: 0,
      parallelism: 1,
      jobName: 't',
      logger: silentLogger,
      signal: new AbortController().signal,
      consumedSplitIds: consumed,
      prepared,
      sendSplitRequest() {},
      sendEventToEnumerator() {},
      wakeup() {},
    });
    const emitted: number[] = [];
    const output: ReaderOutput = { emit: async (batch) => void emitted.push(...ids([batch])) };
    const first = await source.createReader(context(new Set()));
    first.addSplits(splits);
    first.handleNoMoreSplits();
    for (let i = 0; i < 7; i++) await first.pollNext(output);
    const snapshot = first.snapshotState(1);
    await first.close();
    expect(snapshot.splits.some((s) => s.resume !== null && s.rows > 0)).toBe(true);
    const second = await source.createReader(context(new Set(snapshot.consumed)));
    second.addSplits(JSON.parse(JSON.stringify(snapshot.splits)) as FileSplit[]);
    second.handleNoMoreSplits();
    while ((await second.pollNext(output)) !== 'end');
    await second.close();
    expect(emitted.sort((a, b) => a - b)).toEqual(range(0, 5000));
  });
});
