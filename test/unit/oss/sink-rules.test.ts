import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { SinkCommitter, SinkWriter } from '../../../src/api/sink.js';
import { type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import type { OssCommitInfo } from '../../../connectors/oss/upload.js';
import type { OssWriterState } from '../../../connectors/oss/writer.js';
import { runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { commitContext, committedIds, dataKeys, directSink, events, idsIn, listUploads, ossBlock, useOssTestBed } from './helpers.js';

let emulator: OssEmulator;
let bucket: string;
const dir = useTempDirs('tideway-oss-');
useOssTestBed((e, b) => {
  emulator = e;
  bucket = b;
});

describe('target ownership', () => {
  it('refuses a prefix that holds objects the job did not write, with a message naming bucket, prefix, count, an example and both ways forward', async () => {
    await emulator.storage.write(bucket, 'test/.stream.json', '{}');
    await emulator.storage.write(bucket, 'test/logs/2026/a.json', '{}');
    const result = await runJob(
      { env: { name: 'owner-check', checkpoint: { dir: dir() } }, source: [{ type: 'fake', rows: 10 }], sink: [ossBlock(emulator, bucket, 'test')] },
      { logger: silentLogger },
    );
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('OSS_TARGET_NOT_EMPTY');
    expect(result.error?.message).toBe(
      `the oss sink's target oss://${bucket}/test/ (bucket "${bucket}", prefix "test/") already holds 2 objects that job "owner-check" did not write, for example "test/.stream.json". ` +
        'Tideway writes only into a prefix its job owns, so that it never mixes its files with other data or removes any of it. ' +
        'Either point path at an empty prefix, or set allow_non_empty_target: true to write next to the existing objects.',
    );
    // Nothing was written: not even the ownership record.
    expect(emulator.storage.keys(bucket)).toEqual(['test/.stream.json', 'test/logs/2026/a.json']);
  });

  it('writes next to foreign objects with allow_non_empty_target, and a later run of the same job needs no flag', async () => {
    await emulator.storage.write(bucket, 'shared/readme.txt', 'theirs');
    const checkpoints = dir();
    const job = (extra: Record<string, unknown>) => ({
      env: { name: 'sharer', checkpoint: { dir: checkpoints } },
      source: [{ type: 'fake', rows: 50 }],
      sink: [ossBlock(emulator, bucket, 'shared', extra)],
    });
    const first = await runJob(job({ allow_non_empty_target: true, data_save_mode: 'append' }), { logger: silentLogger });
    expect(first.error).toBeNull();
    expect(emulator.storage.keys(bucket, 'shared/_tideway/jobs/')).toEqual(['shared/_tideway/jobs/sharer.json']);
    const second = await runJob(job({ data_save_mode: 'append' }), { logger: silentLogger });
    expect(second.error).toBeNull();
    expect((await emulator.storage.read(bucket, 'shared/readme.txt'))?.toString()).toBe('theirs');
    expect((await committedIds(emulator, bucket, 'shared/')).length).toBe(100);
  });

  it('refuses a prefix another job owns', async () => {
    const checkpoints = dir();
    const run = (name: string) =>
      runJob({ env: { name, checkpoint: { dir: checkpoints } }, source: [{ type: 'fake', rows: 5 }], sink: [ossBlock(emulator, bucket, 'owned')] }, { logger: silentLogger });
    expect((await run('first-owner')).status).toBe('finished');
    const other = await run('second-owner');
    expect(other.error?.code).toBe('OSS_TARGET_NOT_EMPTY');
    expect(other.error?.message).toContain('that job "second-owner" did not write, for example "owned/_tideway/jobs/first-owner.json"');
  });

  it('check (tideway check --connect) finds the same problems and writes nothing', async () => {
    await emulator.storage.write(bucket, 'theirs/a.json', '{}');
    const foreign = directSink(emulator, bucket, 'theirs', {});
    await expect(foreign.sink.check(foreign.context())).rejects.toMatchObject({ code: 'OSS_TARGET_NOT_EMPTY' });
    const fresh = directSink(emulator, bucket, 'mine', {});
    await fresh.sink.check(fresh.context());
    const missing = directSink(emulator, bucket, 'x', { bucket: 'missing-bucket-2' });
    await expect(missing.sink.check(missing.context())).rejects.toMatchObject({ code: 'OSS_NO_SUCH_BUCKET' });
    expect(emulator.storage.keys(bucket)).toEqual(['theirs/a.json']);
  });

  it('names the bucket and the endpoint when the bucket does not exist', async () => {
    const result = await runJob(
      { env: { name: 'no-bucket', checkpoint: { dir: dir() } }, source: [{ type: 'fake', rows: 5 }], sink: [ossBlock(emulator, bucket, 'x', { bucket: 'missing-bucket-1' })] },
      { logger: silentLogger },
    );
    expect(result.error?.code).toBe('OSS_NO_SUCH_BUCKET');
    expect(result.error?.message).toContain(`bucket "missing-bucket-1" does not exist at ${emulator.endpoint}`);
  });
});

/** One streaming writer and the committer, checkpointed by hand. */
async function streamingSink(extra: Record<string, unknown> = {}, writers = 1) {
  const { sink, context, writerContext } = directSink(
    emulator,
    bucket,
    'events',
    { format: 'jsonl', partition_by: { time_column: 'ts', granularity: 'hour' }, allowed_lateness: '1m', ...extra },
    'streaming',
  );
  const prepared = await sink.prepare(context());
  const ws: SinkWriter<OssCommitInfo, OssWriterState>[] = [];
  for (let i = 0; i < writers; i++) ws.push((await sink.createWriter({ ...writerContext(i), prepared }, undefined)) as SinkWriter<OssCommitInfo, OssWriterState>);
  const committer = (await sink.createCommitter({ ...context(), prepared })) as SinkCommitter<OssCommitInfo, OssWriterState>;
  let id = 0;
  const checkpoint = async (endOfInput = false) => {
    id++;
    const infos: OssCommitInfo[] = [];
    const states: OssWriterState[] = [];
    for (const w of ws) {
      infos.push(...(await w.prepareCommit(id)));
      states.push((await w.snapshotState(id))!);
    }
    await committer.commit(infos, commitContext(id, states, endOfInput));
    return infos;
  };
  return { sink, writers: ws, committer, checkpoint };
}

const markers = () => emulator.storage.keys(bucket, 'events/').filter((k) => k.endsWith('/_SUCCESS'));

describe('time slices', () => {
  it('a checkpoint in the middle of an active slice commits its rows but never writes its marker', async () => {
    const { writers, checkpoint } = await streamingSink();
    const [w] = writers;
    await w!.write(events([{ id: 0, at: '2026-11-22T03:10:00Z' }, { id: 1, at: '2026-11-22T03:40:00Z' }]));
    await checkpoint();
    expect(await committedIds(emulator, bucket, 'events/dt=2026-11-22/hour=03/')).toEqual([0, 1]);
    expect(markers()).toEqual([]);
    // Still inside hour 03, then just past it but within allowed_lateness: the slice stays open.
    await w!.write(events([{ id: 2, at: '2026-11-22T03:59:30Z' }]));
    await checkpoint();
    await w!.write(events([{ id: 3, at: '2026-11-22T04:00:30Z' }]));
    await checkpoint();
    expect(markers()).toEqual([]);
    // A row that belongs to hour 03 but arrives late (within lateness) still lands in its slice.
    await w!.write(events([{ id: 4, at: '2026-11-22T03:59:50Z' }]));
    await checkpoint();
    expect((await committedIds(emulator, bucket, 'events/dt=2026-11-22/hour=03/')).sort()).toEqual([0, 1, 2, 4]);
    expect(markers()).toEqual([]);
    // The watermark passes 04:00 only now (04:02 - 1m): hour 03 is complete, hour 04 is not.
    await w!.write(events([{ id: 5, at: '2026-11-22T04:02:00Z' }]));
    await checkpoint();
    expect(markers()).toEqual(['events/dt=2026-11-22/hour=03/_SUCCESS']);
    await w!.close();
  });

  it('waits for the slowest writer: a slice completes only when every writer has passed it', async () => {
    const { writers, checkpoint } = await streamingSink({}, 2);
    await writers[0]!.write(events([{ id: 0, at: '2026-11-22T03:10:00Z' }, { id: 1, at: '2026-11-22T06:00:00Z' }]));
    await writers[1]!.write(events([{ id: 2, at: '2026-11-22T03:20:00Z' }]));
    await checkpoint();
    expect(markers()).toEqual([]);
    await writers[1]!.write(events([{ id: 3, at: '2026-11-22T04:30:00Z' }]));
    await checkpoint();
    expect(markers()).toEqual(['events/dt=2026-11-22/hour=03/_SUCCESS']);
    // Input ends for both: every slice with data is complete.
    for (const w of writers) await w.endOfInput?.();
    await checkpoint(true);
    expect(markers().sort()).toEqual(['events/dt=2026-11-22/hour=03/_SUCCESS', 'events/dt=2026-11-22/hour=04/_SUCCESS', 'events/dt=2026-11-22/hour=06/_SUCCESS']);
  });

  it('batch: no marker at an intermediate checkpoint, every slice marked when input has ended', async () => {
    const { sink, context, writerContext } = directSink(emulator, bucket, 'events', { format: 'jsonl', partition_by: { time_column: 'ts', granularity: 'day', columns: ['region'] } });
    const prepared = await sink.prepare(context());
    const writer = await sink.createWriter({ ...writerContext(), prepared }, undefined);
    const committer = await sink.createCommitter({ ...context(), prepared });
    await writer.write(events([{ id: 0, at: '2026-11-21T23:00:00Z', region: 'eu' }, { id: 1, at: '2026-11-22T01:00:00Z', region: 'us/west' }]));
    await committer.commit(await writer.prepareCommit(1), commitContext(1, [writer.snapshotState(1) as never]));
    expect(markers()).toEqual([]);
    expect(dataKeys(emulator, bucket, 'events/').map((k) => k.split('/').slice(1, 3).join('/'))).toEqual(['dt=2026-11-21/region=eu', 'dt=2026-11-22/region=us%2Fwest']);
    await writer.write(events([{ id: 2, at: '2026-11-22T02:00:00Z', region: 'eu' }]));
    await writer.endOfInput?.();
    await committer.commit(await writer.prepareCommit(2), commitContext(2, [writer.snapshotState(2) as never], true));
    expect(markers()).toEqual(['events/dt=2026-11-21/_SUCCESS', 'events/dt=2026-11-22/_SUCCESS']);
    await writer.close();
  });
});

describe('files and parts', () => {
  let jobs = 0;
  /** Each call is another job (one job has one live run at a time), all writing under files/. */
  async function writerWith(extra: Record<string, unknown>) {
    const { sink, context, writerContext } = directSink(emulator, bucket, 'files', { format: 'jsonl', allow_non_empty_target: true, ...extra });
    const job = `job${jobs++}`;
    const prepared = await sink.prepare(context(job));
    const writer = (await sink.createWriter({ ...writerContext(0, undefined, job), prepared }, undefined)) as SinkWriter<OssCommitInfo, OssWriterState>;
    const committer = await sink.createCommitter({ ...context(job), prepared });
    return { writer, committer };
  }
  const rows = (from: number, count: number, at = '2026-11-22T03:00:00Z') => events(Array.from({ length: count }, (_, i) => ({ id: from + i, at, region: 'x'.repeat(60) })));

  it('streams a file as parts of part_size while it is written; only the last part is smaller', async () => {
    const { writer, committer } = await writerWith({ part_size: '100KiB' });
    for (let i = 0; i < 6; i++) await writer.write(rows(i * 1000, 1000));
    // Parts went up while rows were being written, before any checkpoint.
    await emulator.journal.waitFor({ op: 'UploadPart', bucket }, { timeoutMs: 2000 });
    expect(emulator.storage.uploads(bucket)).toHaveLength(1);
    const infos = await writer.prepareCommit(1);
    expect(infos[0]!.parts.length).toBeGreaterThanOrEqual(4);
    expect(infos).toHaveLength(1);
    const sizes = emulator.journal.entries({ op: 'UploadPart', bucket }).map((e) => e.bytesIn);
    expect(sizes.length).toBe(infos[0]!.parts.length);
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(100 * 1024);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(infos[0]!.bytes);
    await committer.commit(infos, commitContext(1));
    expect(emulator.storage.head(bucket, infos[0]!.key)?.size).toBe(infos[0]!.bytes);
    expect(await committedIds(emulator, bucket, 'files/')).toEqual(Array.from({ length: 6000 }, (_, i) => i));
  });

  it('rolls at max_file_size, finishes files older than flush_interval, and the least recent beyond max_open_files', async () => {
    const rolled = await writerWith({ max_file_size: '120KiB', part_size: '100KiB' });
    for (let i = 0; i < 6; i++) await rolled.writer.write(rows(i * 1000, 1000));
    const sizes = (await rolled.writer.prepareCommit(1)).map((info) => info.bytes);
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(120 * 1024);
    await rolled.writer.close();

    // Wide margins: on a loaded machine one write can take tens of milliseconds.
    const aged = await writerWith({ flush_interval: '300ms' });
    await aged.writer.write(rows(0, 10));
    await new Promise((r) => setTimeout(r, 450));
    await aged.writer.write(rows(10, 10));
    expect((await aged.writer.prepareCommit(1)).map((info) => info.rows)).toEqual([20]);
    await aged.writer.write(rows(20, 10));
    await new Promise((r) => setTimeout(r, 450));
    await aged.writer.write(events([{ id: 30, at: '2026-11-22T03:00:00Z' }]));
    await aged.writer.write(rows(31, 5));
    expect((await aged.writer.prepareCommit(2)).map((info) => info.rows)).toEqual([11, 5]);
    await aged.writer.close();

    const lru = await writerWith({ max_open_files: 2, partition_by: { columns: ['region'] } });
    await lru.writer.write(events([{ id: 0, at: null, region: 'a' }, { id: 1, at: null, region: 'b' }]));
    await lru.writer.write(events([{ id: 2, at: null, region: 'c' }, { id: 3, at: null, region: 'a' }]));
    const infos = await lru.writer.prepareCommit(1);
    expect(infos.map((i) => `${i.key.split('/')[1]}:${i.rows}`)).toEqual(['region=a:1', 'region=b:1', 'region=c:1', 'region=a:1']);
    await lru.writer.close();
    // close() aborted nothing a prepareCommit had handed over: those uploads belong to their checkpoints.
    expect(await listUploads(emulator, bucket, 'files/')).toHaveLength(sizes.length + 3 + infos.length);
  });

  it('says which options to check when OSS refuses the keys, and never shows the secret', async () => {
    const result = await runJob(
      { env: { name: 'bad-key', checkpoint: { dir: dir() } }, source: [{ type: 'fake', rows: 5 }], sink: [ossBlock(emulator, bucket, 'x', { access_key_secret: 'not-the-secret-42' })] },
      { logger: silentLogger },
    );
    expect(result.error?.code).toBe('OSS_ACCESS_DENIED');
    expect(result.error?.message).toContain('check access_key_id and access_key_secret');
    expect(result.error?.message).not.toContain('not-the-secret-42');
  });
});

describe('late rows', () => {
  it('go to _late/ once their slice is complete, are counted, and never enter the completed slice', async () => {
    const { writers, checkpoint } = await streamingSink();
    const [w] = writers;
    await w!.write(events([{ id: 0, at: '2026-11-22T03:10:00Z' }, { id: 1, at: '2026-11-22T05:00:00Z' }]));
    await checkpoint();
    expect(markers()).toEqual(['events/dt=2026-11-22/hour=03/_SUCCESS']);
    await w!.write(events([{ id: 2, at: '2026-11-22T03:30:00Z' }, { id: 3, at: '2026-11-22T05:10:00Z' }, { id: 4, at: '2026-11-22T02:00:00Z' }]));
    expect(w!.stats).toMatchObject({ rowsWritten: 5, rowsLate: 2 });
    await checkpoint();
    expect(await committedIds(emulator, bucket, 'events/dt=2026-11-22/hour=03/')).toEqual([0]);
    const late = emulator.storage.keys(bucket, 'events/_late/');
    expect(late.map((k) => k.split('/').slice(0, 4).join('/')).sort()).toEqual(['events/_late/dt=2026-11-22/hour=02', 'events/_late/dt=2026-11-22/hour=03']);
    expect((await idsIn(emulator, bucket, late)).sort()).toEqual([2, 4]);
    expect(markers().some((k) => k.includes('_late'))).toBe(false);
  });

  it('fail mode stops the job naming the slice', async () => {
    const { writers, checkpoint } = await streamingSink({ late_data: 'fail' });
    const [w] = writers;
    await w!.write(events([{ id: 0, at: '2026-11-22T03:10:00Z' }, { id: 1, at: '2026-11-22T05:00:00Z' }]));
    await checkpoint();
    await expect(w!.write(events([{ id: 2, at: '2026-11-22T03:30:00Z' }]))).rejects.toMatchObject({
      code: 'OSS_LATE_DATA',
      message: expect.stringContaining(`1 row(s) arrived for time slice oss://${bucket}/events/dt=2026-11-22/hour=03/, which is already complete (it ended before this writer's watermark, 2026-11-22T04:59:00.000Z)`),
    });
    await w!.close();
  });

  it('a batch job run again into slices it completed sends every row to _late/ and the report counts them', async () => {
    const checkpoints = dir();
    const job = {
      env: { name: 'rerun', parallelism: 2, transport: 'in-process' as const, checkpoint: { dir: checkpoints } },
      source: [{ type: 'fake', rows: 300 }],
      sink: [ossBlock(emulator, bucket, 'daily', { format: 'jsonl', partition_by: { time_column: 'created_at', granularity: 'month' }, data_save_mode: 'append' })],
    };
    const first = await runJob(job, { logger: silentLogger });
    expect(first.error).toBeNull();
    expect(first.sinks[0]?.rowsLate).toBe(0);
    const before = await committedIds(emulator, bucket, 'daily/');
    const second = await runJob(job, { logger: silentLogger });
    expect(second.error).toBeNull();
    expect(second.sinks[0]?.rowsLate).toBe(300);
    expect(second.sinks[0]?.rowsRejected).toBe(0);
    expect(await committedIds(emulator, bucket, 'daily/')).toEqual(before);
    expect((await idsIn(emulator, bucket, emulator.storage.keys(bucket, 'daily/_late/'))).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});
