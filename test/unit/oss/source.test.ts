import { join } from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { parseOptions } from '../../../src/api/options.js';
import type { Source, SourceReader } from '../../../src/api/source.js';
import { fakeRow } from '../../../connectors/fake/generator.js';
import { type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { ossConnector } from '../../../connectors/oss/index.js';
import type { OssSplit } from '../../../connectors/oss/source.js';
import { LocalCheckpointStore } from '../../../src/engine/checkpoint-store.js';
import { runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedIds as fileIds, expectExactlyOnce } from '../../helpers/output.js';
import { ossBlock, useOssTestBed } from './helpers.js';

let emulator: OssEmulator;
let bucket: string;
const dir = useTempDirs('tideway-oss-src-');
useOssTestBed((e, b) => {
  emulator = e;
  bucket = b;
});

/** JSON Lines with ids `from..to-1`, one object per line. */
function jsonl(from: number, to: number): string {
  let text = '';
  for (let id = from; id < to; id++) text += `${JSON.stringify({ id, name: `customer-${id}`, note: 'x'.repeat(id % 40) })}\n`;
  return text;
}

/** Reads the oss source into a file sink (JSON Lines) and returns the ids, in the order of the files. */
async function readBack(path: string, extra: Record<string, unknown> = {}, parallelism = 2): Promise<number[]> {
  const out = join(dir(), 'out');
  const result = await runJob(
    {
      env: { name: `read-${Math.random().toString(36).slice(2, 8)}`, parallelism, transport: 'in-process', checkpoint: { interval: '100ms', dir: dir() } },
      source: [ossBlock(emulator, bucket, path, extra)],
      sink: [{ type: 'file', path: out, format: 'jsonl' }],
    },
    { logger: silentLogger },
  );
  expect(result.error).toBeNull();
  return fileIds(out);
}

describe('oss source', () => {
  it.each(['parquet', 'arrow', 'csv'])('reads back what a job wrote (%s, time-partitioned), skipping _tideway/, _late/ and _SUCCESS', async (format) => {
    const written = await runJob(
      {
        env: { name: `write-${format}`, parallelism: 2, transport: 'in-process', checkpoint: { interval: '100ms', dir: dir() } },
        source: [{ type: 'fake', rows: 3000, splits: 3, chunk_rows: 500 }],
        sink: [ossBlock(emulator, bucket, 'lake', { format, partition_by: { time_column: 'created_at', granularity: 'month' } })],
      },
      { logger: silentLogger },
    );
    expect(written.error).toBeNull();
    await emulator.storage.write(bucket, 'lake/_late/dt=2026-01/part-x.jsonl', '{"id":99999}\n');
    expect(emulator.storage.keys(bucket, 'lake/').filter((k) => k.includes('/_')).length).toBeGreaterThan(12);
    const ids = await readBack('lake');
    expect(expectExactlyOnce(ids, 3000)).toBeUndefined();
  });

  it('reads a large JSON Lines object as byte-range splits shared by readers, every record once', async () => {
    await emulator.storage.write(bucket, 'big/a.jsonl', jsonl(0, 6000));
    await emulator.storage.write(bucket, 'big/b.jsonl', jsonl(6000, 6500));
    const ids = await readBack('big', { split_size: '32KiB', chunk_rows: 300 }, 3);
    expect(expectExactlyOnce(ids, 6500)).toBeUndefined();
    const ranged = emulator.journal.entries({ op: 'GetObject', bucket }).filter((e) => e.key === 'big/a.jsonl');
    expect(ranged.length).toBeGreaterThan(5);
  });

  it('retries a read cut short (reset mid-body, truncated body, 503) from the split\'s offset without duplicates', async () => {
    await emulator.storage.write(bucket, 'flaky/a.jsonl', jsonl(0, 3000));
    await emulator.storage.write(bucket, 'flaky/b.jsonl', jsonl(3000, 4000));
    const faults = [
      emulator.addFault({ bucket, op: 'GetObject', key: 'flaky/a.jsonl', nth: 2, action: { kind: 'resetAfterBytes', bytes: 40_000 } }),
      emulator.addFault({ bucket, op: 'GetObject', key: 'flaky/a.jsonl', nth: 3, action: { kind: 'truncate', bytes: 70_000 } }),
      emulator.addFault({ bucket, op: 'GetObject', key: 'flaky/b.jsonl', nth: 1, action: { kind: 'error', code: 'ServiceUnavailable' } }),
    ];
    const ids = await readBack('flaky', { retry_backoff: '5ms', chunk_rows: 200 }, 1);
    expect(faults.map((f) => f.fired)).toEqual([1, 1, 1]);
    expect(expectExactlyOnce(ids, 4000)).toBeUndefined();
  });

  it('a restored reader resumes in the middle of an object: no row twice, none lost', async () => {
    await emulator.storage.write(bucket, 'resume/a.jsonl', jsonl(0, 1000));
    const { type: _type, ...raw } = ossBlock(emulator, bucket, 'resume', { chunk_rows: 128 });
    const parsed = parseOptions(ossConnector.source!.options, raw, 'source[0]');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const context = { jobName: 'resume', mode: 'batch' as const, parallelism: 1, logger: silentLogger, baseDir: dir() };
    const source = (await ossConnector.source!.create(parsed.value, context)) as Source<OssSplit>;
    const signal = new AbortController().signal;
    const prepared = await source.prepare!({ signal });
    const readerContext = {
      readerId: 0,
      parallelism: 1,
      jobName: 'resume',
      logger: silentLogger,
      signal,
      consumedSplitIds: new Set<string>(),
      prepared,
      sendSplitRequest() {},
      sendEventToEnumerator() {},
      wakeup() {},
    };
    const collect = (into: number[]) => ({
      emit: async (batch: RecordBatch) => {
        const column = batch.getChild('id')!;
        for (let i = 0; i < batch.numRows; i++) into.push(Number(column.get(i)));
      },
    });
    const split: OssSplit = { splitId: 'resume/a.jsonl', key: 'resume/a.jsonl', size: 0, etag: '', format: 'jsonl', gzip: false, start: null, end: null, offset: 0 };
    const first: number[] = [];
    const reader: SourceReader<OssSplit> = await source.createReader(readerContext);
    reader.addSplits([split]);
    for (let i = 0; i < 3; i++) await reader.pollNext(collect(first));
    const snapshot = reader.snapshotState(1);
    await reader.close();
    expect(first).toEqual(Array.from({ length: 384 }, (_, i) => i));
    expect(snapshot.splits).toEqual([expect.objectContaining({ splitId: 'resume/a.jsonl', offset: 384 })]);
    // A new reader (the restore) from the snapshot's split.
    const rest: number[] = [];
    const restored = await source.createReader(readerContext);
    restored.addSplits(snapshot.splits);
    restored.handleNoMoreSplits();
    while ((await restored.pollNext(collect(rest))) !== 'end');
    await restored.close();
    expect(expectExactlyOnce([...first, ...rest], 1000)).toBeUndefined();
    await source.close?.();
  });

  it('a job stopped in the middle of its objects resumes where it stopped: every row once', async () => {
    for (let i = 0; i < 12; i++) await emulator.storage.write(bucket, `stop/${String(i).padStart(2, '0')}.jsonl`, jsonl(i * 400, (i + 1) * 400));
    // Slow reads, so that the stop lands while objects are half read.
    emulator.addFault({ bucket, op: 'GetObject', action: { kind: 'slowBody', bytesPerSecond: 200_000 } });
    const out = join(dir(), 'out');
    const checkpoints = dir();
    const job = {
      env: { name: 'stop-resume', parallelism: 2, transport: 'in-process' as const, checkpoint: { interval: '50ms', dir: checkpoints } },
      source: [ossBlock(emulator, bucket, 'stop', { chunk_rows: 40 })],
      sink: [{ type: 'file', path: out, format: 'jsonl' }],
    };
    const controller = new AbortController();
    const first = await runJob(job, {
      logger: silentLogger,
      signal: controller.signal,
      progressIntervalMs: 10,
      onProgress: (p) => {
        if (p.checkpoints >= 3) controller.abort();
      },
    });
    expect(first.status).toBe('cancelled');
    const partial = fileIds(out).length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(4800);
    // The stop's checkpoint holds objects half read: the resume starts inside them.
    const stopped = await new LocalCheckpointStore(checkpoints, 'stop-resume').latest();
    const offsets = stopped!.sources[0]!.readers.flatMap((r) => r.splits.map((s) => Number(s.offset)));
    expect(offsets.some((o) => o > 0 && o < 400)).toBe(true);
    emulator.clearFaults();
    const second = await runJob(job, { logger: silentLogger });
    expect(second.error).toBeNull();
    expect(second.resumedFromCheckpoint).not.toBeNull();
    expect(expectExactlyOnce(fileIds(out), 4800)).toBeUndefined();
  });

  it('says what it looked for when the prefix holds nothing to read', async () => {
    await emulator.storage.write(bucket, 'empty/_tideway/jobs/x.json', '{}');
    const result = await runJob(
      { env: { name: 'nothing', checkpoint: { dir: dir() } }, source: [ossBlock(emulator, bucket, 'empty')], sink: [{ type: 'blackhole' }] },
      { logger: silentLogger },
    );
    expect(result.error?.code).toBe('OSS_SOURCE_EMPTY');
    expect(result.error?.message).toContain(`found no objects to read under oss://${bucket}/empty/ at ${emulator.endpoint}`);
  });

  it('keeps the values of every column through a Parquet round trip', async () => {
    await runJob(
      { env: { name: 'values', checkpoint: { dir: dir() } }, source: [{ type: 'fake', rows: 50, seed: 7 }], sink: [ossBlock(emulator, bucket, 'values', { format: 'parquet' })] },
      { logger: silentLogger },
    );
    const out = join(dir(), 'out');
    await runJob(
      { env: { name: 'values-read', checkpoint: { dir: dir() } }, source: [ossBlock(emulator, bucket, 'values')], sink: [{ type: 'file', path: out, format: 'jsonl' }] },
      { logger: silentLogger },
    );
    const ids = fileIds(out);
    expect(expectExactlyOnce(ids, 50)).toBeUndefined();
    const row = fakeRow(7, 17);
    const { readdirSync, readFileSync } = await import('node:fs');
    const lines = readdirSync(out)
      .filter((n) => n.endsWith('.jsonl'))
      .flatMap((n) => readFileSync(join(out, n), 'utf8').trim().split('\n'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const got = lines.find((l) => Number(l.id) === 17)!;
    expect(got).toMatchObject({ name: row.name, category: row.category, amount: row.amount, quantity: row.quantity, active: row.active });
  });
});
