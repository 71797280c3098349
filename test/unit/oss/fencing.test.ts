import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { SinkWriter } from '../../../src/api/sink.js';
import { cleanJob } from '../../../src/index.js';
import type { OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { runKey } from '../../../connectors/oss/layout.js';
import type { OssClient } from '../../../connectors/oss/client.js';
import { type RunRecord, warnIfVersioned } from '../../../connectors/oss/run-lease.js';
import type { OssCommitInfo } from '../../../connectors/oss/upload.js';
import type { OssWriterState } from '../../../connectors/oss/writer.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { aliClient, commitContext, committedIds, dataKeys, directSink, events, listUploads, ossBlock, useOssTestBed } from './helpers.js';

let emulator: OssEmulator;
let bucket: string;
const dir = useTempDirs('tideway-oss-fence-');
useOssTestBed((e, b) => {
  emulator = e;
  bucket = b;
});

const row = (id: number) => events([{ id, at: '2026-11-22T03:00:00Z' }]);

/** A run record as another run would have left it. */
function runRecord(job: string, generation: number, fields: Partial<RunRecord>): RunRecord {
  const now = Date.now();
  return {
    format: 'tideway-oss-run',
    job,
    runId: 'other-run',
    attempt: 'otherrun',
    generation,
    host: 'another-machine',
    boot: null,
    pid: 1,
    startedAt: new Date(now - 60_000).toISOString(),
    renewedAt: new Date(now - 10_000).toISOString(),
    expiresAt: now + 60_000,
    leaseMs: 120_000,
    releasedAt: null,
    ...fields,
  };
}

async function putRecord(prefix: string, record: RunRecord): Promise<void> {
  await emulator.storage.write(bucket, runKey(prefix, record.job, record.generation), JSON.stringify(record));
}

describe('commit identity', () => {
  it('a repeated commit recognises its object by the token it set at initiate, whatever ETag OSS computed', async () => {
    const { sink, context, writerContext } = directSink(emulator, bucket, 'c', { format: 'jsonl' });
    const prepared = await sink.prepare(context());
    const writer = await sink.createWriter({ ...writerContext(), prepared }, undefined);
    const committer = await sink.createCommitter({ ...context(), prepared });
    await writer.write(row(1));
    const infos = (await writer.prepareCommit(1)) as OssCommitInfo[];
    await committer.commit(infos, commitContext(1));
    expect((await aliClient(emulator, bucket).head(infos[0]!.key)).meta).toEqual({ 'tideway-commit': infos[0]!.token });
    // The service's multipart ETag is not documented: a recommit must not depend on computing it. Part
    // ETags that give another formula's result stand for a service that computes it differently.
    const otherFormula = infos.map((info) => ({ ...info, parts: info.parts.map((p) => ({ ...p, etag: `"${'0'.repeat(32)}"` })) }));
    await committer.commit(otherFormula, commitContext(1));
    expect(await committedIds(emulator, bucket, 'c/')).toEqual([1]);
    await writer.close();
    await sink.close();
  });

  it('an object replaced after the commit is reported with what to check, and the advice never writes rows twice', async () => {
    const { sink, context, writerContext } = directSink(emulator, bucket, 'r', { format: 'jsonl' });
    const prepared = await sink.prepare(context());
    const writer = await sink.createWriter({ ...writerContext(), prepared }, undefined);
    const committer = await sink.createCommitter({ ...context(), prepared });
    await writer.write(row(1));
    const infos = (await writer.prepareCommit(3)) as OssCommitInfo[];
    await committer.commit(infos, commitContext(3));
    await emulator.storage.write(bucket, infos[0]!.key, '{"id":99}\n');
    const error = await committer.commit(infos, commitContext(3)).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(error?.code).toBe('OSS_COMMIT_LOST');
    expect(error?.message).toContain(`checkpoint 3 owns oss://${bucket}/${infos[0]!.key} (multipart upload ${infos[0]!.uploadId}, 1 row)`);
    expect(error?.message).toContain(`does not carry this upload's identity (x-oss-meta-tideway-commit: ${infos[0]!.token})`);
    expect(error?.message).toContain('--fresh and data_save_mode: overwrite');
    expect(error?.message).not.toMatch(/Run the job with --fresh to write the data again/);
    await writer.close();
    await sink.close();
  });
});

describe('concurrent runs of one job', () => {
  it('a second live run is refused before it writes anything; once the first releases its lease the next run starts', async () => {
    const first = directSink(emulator, bucket, 'live', { format: 'jsonl' });
    await first.sink.prepare(first.context('job', 'run1'));
    const keys = emulator.storage.keys(bucket, 'live/');
    const second = directSink(emulator, bucket, 'live', { format: 'jsonl' });
    const refused = await second.sink.prepare(second.context('job', 'run2')).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(refused?.code).toBe('OSS_JOB_RUNNING');
    expect(refused?.message).toContain(`job "job" is already running against oss://${bucket}/live/: run run1 on ${hostname()} (pid ${process.pid})`);
    expect(refused?.message).toContain('lease_timeout');
    expect(emulator.storage.keys(bucket, 'live/')).toEqual(keys);
    await expect(second.sink.check(second.context('job', 'run2'))).rejects.toMatchObject({ code: 'OSS_JOB_RUNNING' });

    await first.sink.close();
    const third = directSink(emulator, bucket, 'live', { format: 'jsonl' });
    await third.sink.prepare(third.context('job', 'run3'));
    // Older generations are removed by the run that supersedes them.
    expect(emulator.storage.keys(bucket, 'live/_tideway/runs/')).toEqual(['live/_tideway/runs/job/0000000002.json']);
    await third.sink.close();
  });

  it('takes over a lease that expired, and one held by a process of this machine that no longer exists', async () => {
    await putRecord('exp/', runRecord('job', 4, { expiresAt: Date.now() - 1000 }));
    const a = directSink(emulator, bucket, 'exp', {});
    await a.sink.prepare(a.context());
    await a.sink.close();
    expect(emulator.storage.keys(bucket, 'exp/_tideway/runs/')).toEqual(['exp/_tideway/runs/job/0000000005.json']);

    // A pid that existed on this machine and has exited: what a run killed with SIGKILL leaves in its record.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    await putRecord('crash/', runRecord('job', 1, { host: hostname(), boot, pid: Number(dead.stdout) }));
    const b = directSink(emulator, bucket, 'crash', {});
    await b.sink.prepare(b.context());
    await b.sink.close();

    await putRecord('away/', runRecord('job', 1, {}));
    const c = directSink(emulator, bucket, 'away', {});
    await expect(c.sink.prepare(c.context())).rejects.toMatchObject({ code: 'OSS_JOB_RUNNING', message: expect.stringContaining('run other-run on another-machine (pid 1)') });
  });

  it('in a cluster, a later coordinator of the job takes over at once from a live run of an earlier one on another host; nothing else does', async () => {
    // The run of coordinator epoch 5 on another host: its lease is live for another minute.
    await putRecord('epoch/', runRecord('job', 3, { epoch: 5 }));
    const stale = await aliClient(emulator, bucket).initMultipartUpload('epoch/part-job-otherrun-w0-c4-00000.jsonl');
    // Without an epoch (a run outside the cluster), or with the same one, the lease holds.
    for (const epoch of [undefined, 5]) {
      const refused = directSink(emulator, bucket, 'epoch', {});
      await expect(refused.sink.prepare({ ...refused.context(), ...(epoch === undefined ? {} : { epoch }) })).rejects.toMatchObject({
        code: 'OSS_JOB_RUNNING',
        message: expect.stringContaining('run other-run on another-machine (pid 1, cluster coordinator epoch 5)'),
      });
    }
    // The coordinator that took the job's lease after it (epoch 9) does not wait for the lease to expire.
    const { sink, context } = directSink(emulator, bucket, 'epoch', { format: 'jsonl' });
    const prepared = await sink.prepare({ ...context(), epoch: 9 });
    const record = JSON.parse((await emulator.storage.read(bucket, runKey('epoch/', 'job', 4)))!.toString()) as RunRecord;
    expect({ generation: record.generation, epoch: record.epoch }).toEqual({ generation: 4, epoch: 9 });
    // Its orphan sweep counts the superseded run as dead: that run's upload goes.
    const committer = await sink.createCommitter({ ...context(), prepared, epoch: 9 });
    const report = await committer.removeOrphans({ keep: [], dryRun: false });
    expect(report.removed).toEqual([`oss://${bucket}/epoch/part-job-otherrun-w0-c4-00000.jsonl (multipart upload ${stale.uploadId})`]);
    expect(await listUploads(emulator, bucket, 'epoch/')).toEqual([]);
    await committer.close();
    await sink.close();
    // A run of an earlier coordinator cannot take the lease back from the later one while that one holds it.
    await putRecord('epoch2/', runRecord('job', 1, { epoch: 9 }));
    const earlier = directSink(emulator, bucket, 'epoch2', {});
    await expect(earlier.sink.prepare({ ...earlier.context(), epoch: 5 })).rejects.toMatchObject({ code: 'OSS_JOB_RUNNING' });
  });

  it('of two runs racing for the lease exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      const sinks = [0, 1, 2].map(() => directSink(emulator, bucket, `race${round}`, {}));
      const outcomes = await Promise.allSettled(sinks.map((s, i) => s.sink.prepare(s.context('job', `r${round}x${i}`))));
      expect(outcomes.filter((o) => o.status === 'fulfilled'), `round ${round}`).toHaveLength(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'OSS_JOB_RUNNING' });
      await Promise.all(sinks.map((s) => s.sink.close()));
    }
  });

  it('clean (or a second run\'s orphan sweep) leaves the uploads of a live run alone, and that run still commits them', async () => {
    const checkpoints = dir();
    const job = { env: { name: 'busy', checkpoint: { dir: checkpoints } }, source: [{ type: 'fake', rows: 10 }], sink: [ossBlock(emulator, bucket, 'busy', { format: 'jsonl' })] };
    const { sink, context, writerContext } = directSink(emulator, bucket, 'busy', { format: 'jsonl' });
    const prepared = await sink.prepare(context('busy', 'live1'));
    const writer = await sink.createWriter({ ...writerContext(0, undefined, 'busy', 'live1'), prepared }, undefined);
    const committer = await sink.createCommitter({ ...context('busy', 'live1'), prepared });
    await writer.write(row(7));
    const infos = (await writer.prepareCommit(1)) as OssCommitInfo[];
    // A run that died earlier left an upload too: that one is an orphan.
    const dead = await aliClient(emulator, bucket).initMultipartUpload('busy/part-busy-deadrun-w0-c1-00000.jsonl');

    const report = await cleanJob(job, { logger: silentLogger });
    expect(report.sinks[0]?.removed).toEqual([`oss://${bucket}/busy/part-busy-deadrun-w0-c1-00000.jsonl (multipart upload ${dead.uploadId})`]);
    expect(await listUploads(emulator, bucket, 'busy/')).toEqual([infos[0]!.key]);
    await committer.commit(infos, commitContext(1));
    expect(await committedIds(emulator, bucket, 'busy/')).toEqual([7]);
    await writer.close();
    await sink.close();
  });

  it('a run whose lease another run took over commits nothing more', async () => {
    const { sink, context, writerContext } = directSink(emulator, bucket, 'lost', { format: 'jsonl', lease_timeout: '1s' });
    const prepared = await sink.prepare(context());
    const writer = (await sink.createWriter({ ...writerContext(), prepared }, undefined)) as SinkWriter<OssCommitInfo, OssWriterState>;
    const committer = await sink.createCommitter({ ...context(), prepared });
    await writer.write(row(1));
    const infos = await writer.prepareCommit(1);
    // What a run on another machine writes when it takes over (as if this one had been paused past its lease).
    await putRecord('lost/', runRecord('job', 2, {}));
    await new Promise((resolve) => setTimeout(resolve, 800));
    await expect(committer.commit(infos, commitContext(1))).rejects.toMatchObject({
      code: 'OSS_LEASE_LOST',
      message: expect.stringContaining('a newer run took it over: run other-run on another-machine'),
    });
    expect(dataKeys(emulator, bucket, 'lost/')).toEqual([]);
    await writer.close();
    await sink.close();
    // The lost run does not touch the record of the run that holds the lease now.
    expect(JSON.parse((await emulator.storage.read(bucket, runKey('lost/', 'job', 2)))!.toString()).releasedAt).toBeNull();
  });
});

describe('versioned buckets', () => {
  const recorder = () => {
    const warnings: string[] = [];
    return { warnings, logger: { ...silentLogger, warn: (message: string) => void warnings.push(message) } };
  };

  it('a bucket that never had versioning (the emulator\'s) gives no warning', async () => {
    const { sink, context } = directSink(emulator, bucket, 'v', {});
    const { warnings, logger } = recorder();
    await sink.prepare({ ...context(), logger });
    await sink.close();
    expect(warnings).toEqual([]);
    expect(emulator.journal.count({ op: 'GetBucketVersioning', bucket })).toBe(1);
  });

  it('versioning enabled or suspended: the run is warned that create-only writes do not fence there', async () => {
    for (const status of ['Enabled', 'Suspended']) {
      const { warnings, logger } = recorder();
      const client = { bucket: 'vb', versioning: async () => status } as unknown as OssClient;
      await warnIfVersioned(client, logger);
      expect(warnings).toEqual([
        `bucket "vb" has versioning ${status}: OSS ignores x-oss-forbid-overwrite there, so two runs of this job (or two jobs claiming one prefix) started at the same moment are not refused. Start one run at a time, or write to a bucket without versioning`,
      ]);
    }
  });
});

describe('claiming a prefix', () => {
  it('two different jobs claiming one empty prefix at once: exactly one wins, the other writes nothing', async () => {
    for (let round = 0; round < 6; round++) {
      const prefix = `claim${round}`;
      const a = directSink(emulator, bucket, prefix, {});
      const b = directSink(emulator, bucket, prefix, {});
      const outcomes = await Promise.allSettled([a.sink.prepare(a.context('job-a', 'ra')), b.sink.prepare(b.context('job-b', 'rb'))]);
      const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i === 0 ? 'job-a' : 'job-b'] : []));
      expect(won, `round ${round}`).toHaveLength(1);
      const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect(lost.reason).toMatchObject({ code: 'OSS_TARGET_NOT_EMPTY' });
      const loser = won[0] === 'job-a' ? 'job-b' : 'job-a';
      expect(emulator.storage.keys(bucket, `${prefix}/`).filter((k) => k.includes(loser)), `round ${round}`).toEqual([]);
      await a.sink.close();
      await b.sink.close();
    }
  });

  it('a job that shares prefixes may join a prefix another job claimed; a job claiming it alone may not', async () => {
    const owner = directSink(emulator, bucket, 'p', {});
    await owner.sink.prepare(owner.context('owner', 'r1'));
    const sharer = directSink(emulator, bucket, 'p', { allow_non_empty_target: true });
    await sharer.sink.prepare(sharer.context('sharer', 'r2'));
    const alone = directSink(emulator, bucket, 'p', {});
    await expect(alone.sink.prepare(alone.context('alone', 'r3'))).rejects.toMatchObject({ code: 'OSS_TARGET_NOT_EMPTY' });
    expect(JSON.parse((await emulator.storage.read(bucket, 'p/_tideway/owner.json'))!.toString())).toMatchObject({ job: 'owner' });
    await owner.sink.close();
    await sharer.sink.close();
  });
});

describe('tideway clean', () => {
  it('--dry-run writes nothing, and on a prefix shared with other data it lists what it would remove instead of failing', async () => {
    await emulator.storage.write(bucket, 'mixed/theirs.csv', 'a\n1\n');
    const orphan = await aliClient(emulator, bucket).initMultipartUpload('mixed/part-sweep-deadrun-w0-c1-00000.jsonl');
    const job = { env: { name: 'sweep', checkpoint: { dir: dir() } }, source: [{ type: 'fake', rows: 10 }], sink: [ossBlock(emulator, bucket, 'mixed', {})] };
    const before = emulator.storage.keys(bucket);
    const writes = () => emulator.journal.entries({ bucket }).filter((e) => e.method !== 'GET' && e.method !== 'HEAD').length;
    const writesBefore = writes();
    const dry = await cleanJob(job, { dryRun: true, logger: silentLogger });
    expect(dry.sinks[0]?.removed).toEqual([`oss://${bucket}/mixed/part-sweep-deadrun-w0-c1-00000.jsonl (multipart upload ${orphan.uploadId})`]);
    expect(writes()).toBe(writesBefore);
    expect(emulator.storage.keys(bucket)).toEqual(before);
    const real = await cleanJob(job, { logger: silentLogger });
    expect(real.sinks[0]?.removed).toEqual(dry.sinks[0]?.removed);
    expect(await listUploads(emulator, bucket, 'mixed/')).toEqual([]);
    expect(emulator.storage.keys(bucket)).toEqual(before);
  });
});
