import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { fakeSchema, generateBatch } from '../../../connectors/fake/generator.js';
import { type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import type { OssCommitInfo } from '../../../connectors/oss/upload.js';
import { builtinConnectors, cleanJob, ConnectorRegistry, runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { oneRowSource } from '../../helpers/one-row-source.js';
import { expectExactlyOnce } from '../../helpers/output.js';
import { aliClient, commitContext, committedIds, dataKeys, directSink, events, listUploads, ossBlock, useOssTestBed } from './helpers.js';

let emulator: OssEmulator;
let bucket: string;
const dir = useTempDirs('tideway-oss-');
useOssTestBed((e, b) => {
  emulator = e;
  bucket = b;
});

describe('a finished job', () => {
  it('leaves every row exactly once and no multipart upload (worker threads, parallelism 2, partitioned)', async () => {
    const result = await runJob(
      {
        env: { name: 'finish', parallelism: 2, transport: 'worker-threads', checkpoint: { interval: '200ms', dir: dir() } },
        source: [{ type: 'fake', rows: 20_000, splits: 5, chunk_rows: 1000, rows_per_second: 40_000 }],
        sink: [ossBlock(emulator, bucket, 'out/finish', { format: 'jsonl', partition_by: { time_column: 'created_at', granularity: 'month' }, part_size: '100KiB' })],
      },
      { logger: silentLogger },
    );
    expect(result.error).toBeNull();
    expect(result.checkpoints).toBeGreaterThan(1);
    expect(result.sinks[0]?.rowsWritten).toBe(20_000);
    expect(result.sinks[0]?.bytesWritten).toBeGreaterThan(0);
    expect(expectExactlyOnce(await committedIds(emulator, bucket, 'out/finish/'), 20_000)).toBeUndefined();
    expect(await listUploads(emulator, bucket, 'out/')).toEqual([]);
    expect(emulator.storage.uploads(bucket)).toEqual([]);
    // Every month of 2026 is complete once input has ended.
    expect(emulator.storage.keys(bucket, 'out/finish/').filter((k) => k.endsWith('_SUCCESS'))).toHaveLength(12);
  });

  it('recovers from 503s, 500s, timeouts and connection resets with its own retries', async () => {
    const on = { bucket };
    const faults = [
      emulator.addFault({ ...on, op: 'ListObjectsV2', nth: 1, action: { kind: 'error', code: 'ServiceUnavailable' } }),
      emulator.addFault({ ...on, op: 'PutObject', nth: 1, action: { kind: 'error', code: 'InternalError' } }),
      // The upload is created, the answer is lost: the retry creates a second one, the first must not linger.
      emulator.addFault({ ...on, op: 'InitiateMultipartUpload', nth: 1, action: { kind: 'reset', afterApply: true } }),
      emulator.addFault({ ...on, op: 'InitiateMultipartUpload', nth: 3, action: { kind: 'reset' } }),
      emulator.addFault({ ...on, op: 'UploadPart', nth: [1, 4], action: { kind: 'error', code: 'ServiceUnavailable' } }),
      emulator.addFault({ ...on, op: 'UploadPart', nth: 6, action: { kind: 'reset' } }),
      emulator.addFault({ ...on, op: 'UploadPart', nth: 8, action: { kind: 'delay', ms: 1500 } }),
      // Completed, but the answer is lost: the retry meets NoSuchUpload and must accept the finished object.
      emulator.addFault({ ...on, op: 'CompleteMultipartUpload', nth: 2, action: { kind: 'reset', afterApply: true } }),
      emulator.addFault({ ...on, op: 'CompleteMultipartUpload', nth: 3, action: { kind: 'error', code: 'ServiceUnavailable' } }),
    ];
    const result = await runJob(
      {
        env: { name: 'faults', parallelism: 2, transport: 'in-process', checkpoint: { interval: '150ms', dir: dir() } },
        source: [{ type: 'fake', rows: 12_000, splits: 4, chunk_rows: 500, rows_per_second: 30_000 }],
        sink: [ossBlock(emulator, bucket, 'out/faults', { format: 'jsonl', part_size: '100KiB', retry_backoff: '10ms', timeout: '700ms' })],
      },
      { logger: silentLogger },
    );
    expect(result.error).toBeNull();
    expect(faults.map((f) => f.fired)).toEqual([1, 1, 1, 1, 2, 1, 1, 1, 1]);
    expect(expectExactlyOnce(await committedIds(emulator, bucket, 'out/faults/'), 12_000)).toBeUndefined();
    expect(await listUploads(emulator, bucket, 'out/')).toEqual([]);
  });

  it('fails with the operation, the object and the attempts when retries run out', async () => {
    emulator.addFault({ bucket, op: 'UploadPart', action: { kind: 'error', code: 'ServiceUnavailable' } });
    const result = await runJob(
      {
        env: { name: 'give-up', checkpoint: { dir: dir() } },
        source: [{ type: 'fake', rows: 100 }],
        sink: [ossBlock(emulator, bucket, 'out/give-up', { max_retries: 2, retry_backoff: '5ms' })],
      },
      { logger: silentLogger },
    );
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('OSS_REQUEST_FAILED');
    expect(result.error?.message).toMatch(new RegExp(`OSS UploadPart on oss://${bucket}/out/give-up/part-give-up-\\S+ failed after 3 attempts: ServiceUnavailableError`));
    // The failed run aborted its upload on the way out.
    expect(await listUploads(emulator, bucket, 'out/')).toEqual([]);
  });
});

describe('streaming', () => {

  it('one row followed by silence is committed and visible within one checkpoint interval', async () => {
    const interval = 300;
    const controller = new AbortController();
    const started = Date.now();
    let visibleAfter: number | undefined;
    const watch = setInterval(() => {
      if (visibleAfter === undefined && dataKeys(emulator, bucket, 'out/idle/').length > 0) {
        visibleAfter = Date.now() - started;
        controller.abort();
      }
    }, 10);
    const stopAnyway = setTimeout(() => controller.abort(), 6000);
    const result = await runJob(
      {
        env: { name: 'idle', mode: 'streaming', checkpoint: { interval: `${interval}ms`, dir: dir() } },
        source: [{ type: 'one-row' }],
        sink: [ossBlock(emulator, bucket, 'out/idle', { format: 'parquet', flush_interval: '1h' })],
      },
      { registry: new ConnectorRegistry([...builtinConnectors, oneRowSource]), signal: controller.signal, logger: silentLogger },
    );
    clearInterval(watch);
    clearTimeout(stopAnyway);
    expect(result.status).toBe('cancelled');
    // Seen while the job ran (not made visible by the stop), within about one interval of the job's start.
    expect(visibleAfter).toBeDefined();
    expect(visibleAfter!).toBeLessThan(interval * 2 + 1000);
    expect(await committedIds(emulator, bucket, 'out/idle/')).toEqual([0]);
    expect(await listUploads(emulator, bucket, 'out/')).toEqual([]);
  });
});

describe('commit', () => {
  it('is idempotent, and says plainly when an upload a checkpoint owns has vanished', async () => {
    const { sink, context, writerContext } = directSink(emulator, bucket, 'c', { format: 'jsonl' });
    const prepared = await sink.prepare(context());
    const writer = await sink.createWriter({ ...writerContext(), prepared }, undefined);
    const committer = await sink.createCommitter({ ...context(), prepared });
    await writer.write(events([{ id: 1, at: '2026-11-22T03:00:00Z' }]));
    const infos = (await writer.prepareCommit(1)) as OssCommitInfo[];
    expect(dataKeys(emulator, bucket, 'c/')).toEqual([]);
    await committer.commit(infos, commitContext(1));
    await committer.commit(infos, commitContext(1));
    expect(await committedIds(emulator, bucket, 'c/')).toEqual([1]);

    await writer.write(events([{ id: 2, at: '2026-11-22T03:00:00Z' }]));
    const lost = (await writer.prepareCommit(7)) as OssCommitInfo[];
    await aliClient(emulator, bucket).abortMultipartUpload(lost[0]!.key, lost[0]!.uploadId);
    await expect(committer.commit(lost, commitContext(7))).rejects.toMatchObject({
      code: 'OSS_COMMIT_LOST',
      message: expect.stringContaining(`checkpoint 7 owns oss://${bucket}/${lost[0]!.key} (multipart upload ${lost[0]!.uploadId}, 1 row), but OSS no longer has that upload and no object exists there`),
    });
    await writer.close();
  });
});

describe('orphans', () => {
  it('removeOrphans aborts only this job\'s uploads that no checkpoint owns; dryRun only lists them', async () => {
    const oss = aliClient(emulator, bucket);
    const start = async (key: string) => ({ key, uploadId: (await oss.initMultipartUpload(key)).uploadId });
    const kept = await start('o/dt=2026-11-22/part-job-a1-w0-c3-00000.jsonl');
    const orphan = await start('o/dt=2026-11-22/part-job-a2-w1-c4-00002.jsonl');
    const otherJob = await start('o/part-job-two-a1-w0-c1-00000.jsonl');
    const outside = await start('elsewhere/part-job-a2-w0-c1-00000.jsonl');
    const { sink, context } = directSink(emulator, bucket, 'o', {});
    const committer = await sink.createCommitter({ ...context(), prepared: await sink.prepare(context()) });
    const keep = [{ ...kept, token: null, parts: [], rows: 0, bytes: 0, slice: null, sliceEnd: null, late: false }];
    const dry = await committer.removeOrphans({ keep, dryRun: true });
    expect(dry.removed).toEqual([`oss://${bucket}/${orphan.key} (multipart upload ${orphan.uploadId})`]);
    expect(emulator.storage.uploads(bucket)).toHaveLength(4);
    const real = await committer.removeOrphans({ keep, dryRun: false });
    expect(real.removed).toEqual(dry.removed);
    expect(emulator.storage.uploads(bucket).map((u) => u.key).sort()).toEqual([outside.key, kept.key, otherJob.key].sort());
  });

  it('tideway clean (cleanJob) removes what a crashed run left and reports it', async () => {
    const checkpoints = dir();
    const job = { env: { name: 'crashed', checkpoint: { dir: checkpoints } }, source: [{ type: 'fake', rows: 10 }], sink: [ossBlock(emulator, bucket, 'crashed')] };
    // A run that prepared uploads and died before any checkpoint: its writer never aborted them.
    const { sink, context, writerContext } = directSink(emulator, bucket, 'crashed', {});
    const prepared = await sink.prepare(context('crashed', 'dead'));
    const writer = await sink.createWriter({ ...writerContext(0, fakeSchema, 'crashed', 'dead'), prepared }, undefined);
    await writer.write(generateBatch(1, 0, 10));
    const staged = (await writer.prepareCommit(1)) as OssCommitInfo[];
    // The run is over (its lease released, as after expiry): its uploads are nobody's now.
    await sink.close();
    expect(await listUploads(emulator, bucket, 'crashed/')).toEqual([staged[0]!.key]);
    const dry = await cleanJob(job, { dryRun: true, logger: silentLogger, baseDir: join(checkpoints, '..') });
    expect(dry.sinks[0]?.removed).toEqual([`oss://${bucket}/${staged[0]!.key} (multipart upload ${staged[0]!.uploadId})`]);
    expect(await listUploads(emulator, bucket, 'crashed/')).toHaveLength(1);
    const report = await cleanJob(job, { logger: silentLogger });
    expect(report.sinks[0]?.removed).toEqual(dry.sinks[0]?.removed);
    expect(await listUploads(emulator, bucket, 'crashed/')).toEqual([]);
  });
});
