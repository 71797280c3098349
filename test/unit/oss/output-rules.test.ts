import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Field, Int64, Schema, Utf8 } from 'apache-arrow';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { rowsToBatch } from '../../../src/api/rows.js';
import type { SinkWriter } from '../../../src/api/sink.js';
import { runJob } from '../../../src/index.js';
import type { OssEmulator } from '../../../connectors/oss/emulator/index.js';
import type { OssCommitInfo } from '../../../connectors/oss/upload.js';
import type { OssWriterState } from '../../../connectors/oss/writer.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { commitContext, committedIds, dataKeys, directSink, events, idsIn, listUploads, ossBlock, useOssTestBed } from './helpers.js';

let emulator: OssEmulator;
let bucket: string;
const dir = useTempDirs('tideway-oss-out-');
useOssTestBed((e, b) => {
  emulator = e;
  bucket = b;
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);

describe('data_save_mode', () => {
  const job = (checkpoints: string, extra: Record<string, unknown>) => ({
    env: { name: 'saver', checkpoint: { dir: checkpoints } },
    source: [{ type: 'fake', rows: 40 }],
    sink: [ossBlock(emulator, bucket, 'out', { format: 'jsonl', partition_by: { time_column: 'created_at', granularity: 'month' }, ...extra })],
  });

  it('error (the default): a run from scratch into the job\'s earlier output stops before writing anything and says what to do', async () => {
    const checkpoints = dir();
    expect((await runJob(job(checkpoints, {}), { logger: silentLogger })).error).toBeNull();
    const keys = emulator.storage.keys(bucket, 'out/');
    const again = await runJob(job(checkpoints, {}), { logger: silentLogger });
    expect(again.status).toBe('failed');
    expect(again.error?.code).toBe('OSS_TARGET_HAS_OUTPUT');
    expect(again.error?.message).toMatch(new RegExp(`^oss://${bucket}/out/ already holds \\d+ data objects that job "saver" committed in an earlier run, for example "out/dt=`));
    expect(again.error?.message).toContain('run without --fresh to resume it');
    expect(again.error?.message).toContain('data_save_mode: overwrite');
    // Nothing written: no object besides the run record's renewal, no upload.
    expect(emulator.storage.keys(bucket, 'out/').filter((k) => !k.startsWith('out/_tideway/runs/'))).toEqual(keys.filter((k) => !k.startsWith('out/_tideway/runs/')));
    expect(await listUploads(emulator, bucket, 'out/')).toEqual([]);
  });

  it('overwrite: removes only what this job committed earlier, then writes every row once (markers too, so no row is late)', async () => {
    const checkpoints = dir();
    await emulator.storage.write(bucket, 'out/part-neighbour-abc-w0-c1-00000.jsonl', '{"id":1000}\n');
    expect((await runJob(job(checkpoints, { allow_non_empty_target: true }), { logger: silentLogger })).error).toBeNull();
    const first = dataKeys(emulator, bucket, 'out/').filter((k) => k.includes('part-saver-'));
    const again = await runJob(job(checkpoints, { allow_non_empty_target: true, data_save_mode: 'overwrite' }), { logger: silentLogger });
    expect(again.error).toBeNull();
    expect(again.sinks[0]?.rowsLate).toBe(0);
    const now = dataKeys(emulator, bucket, 'out/').filter((k) => k.includes('part-saver-'));
    expect(now.some((k) => first.includes(k))).toBe(false);
    expect(sorted(await idsIn(emulator, bucket, now))).toEqual(range(40));
    expect(emulator.storage.keys(bucket, 'out/').filter((k) => k.endsWith('/_SUCCESS.saver')).length).toBeGreaterThan(0);
    expect((await emulator.storage.read(bucket, 'out/part-neighbour-abc-w0-c1-00000.jsonl'))?.toString()).toBe('{"id":1000}\n');
  });

  it('append: keeps the earlier output (rows read again are there twice, sent to _late/ where slices are complete)', async () => {
    const checkpoints = dir();
    expect((await runJob(job(checkpoints, { data_save_mode: 'append' }), { logger: silentLogger })).error).toBeNull();
    const said: string[] = [];
    const again = await runJob(job(checkpoints, { data_save_mode: 'append' }), { logger: { ...silentLogger, info: (message: string) => void said.push(message) } });
    expect(again.error).toBeNull();
    expect(said.filter((m) => m.startsWith('data_save_mode append'))).toEqual([
      expect.stringMatching(new RegExp(`^data_save_mode append: \\d+ data object\\(s\\) job "saver" committed in earlier runs stay under oss://${bucket}/out/, next to this run's output$`)),
    ]);
    expect(again.sinks[0]?.rowsLate).toBe(40);
    expect(sorted(await committedIds(emulator, bucket, 'out/'))).toEqual(range(40));
    expect(sorted(await idsIn(emulator, bucket, emulator.storage.keys(bucket, 'out/_late/')))).toEqual(range(40));
  });

  it('a resumed run (writer 0 restores its state) never applies it: what its earlier attempt committed is its own output', async () => {
    const { sink, context, writerContext } = directSink(emulator, bucket, 'res', { format: 'jsonl', data_save_mode: 'overwrite' });
    const prepared = await sink.prepare(context('job', 'first'));
    const writer = await sink.createWriter({ ...writerContext(0, undefined, 'job', 'first'), prepared }, undefined);
    const committer = await sink.createCommitter({ ...context('job', 'first'), prepared });
    await writer.write(events([{ id: 1, at: '2026-11-22T03:00:00Z' }]));
    await committer.commit((await writer.prepareCommit(1)) as OssCommitInfo[], commitContext(1));
    const state = (await writer.snapshotState(1)) as OssWriterState;
    await writer.close();
    await sink.close();

    const resumed = directSink(emulator, bucket, 'res', { format: 'jsonl', data_save_mode: 'error' });
    const again = await resumed.sink.prepare(resumed.context('job', 'second'));
    const w = await resumed.sink.createWriter({ ...resumed.writerContext(0, undefined, 'job', 'second'), prepared: again }, state);
    expect(await committedIds(emulator, bucket, 'res/')).toEqual([1]);
    await w.close();
    await resumed.sink.close();
  });
});

describe('completion markers on a shared prefix', () => {
  it('a job sharing the prefix marks a slice with _SUCCESS.<job>, never the _SUCCESS that would declare another job\'s rows complete', async () => {
    const sinkFor = (job: string, allow: boolean) => {
      const s = directSink(emulator, bucket, 'shared', { format: 'jsonl', partition_by: { time_column: 'ts', granularity: 'day' }, allow_non_empty_target: allow, data_save_mode: 'append' }, 'streaming');
      return { ...s, job };
    };
    const open = async ({ sink, context, writerContext, job }: ReturnType<typeof sinkFor>) => {
      const prepared = await sink.prepare(context(job, `${job}-run`));
      const writer = (await sink.createWriter({ ...writerContext(0, undefined, job, `${job}-run`), prepared }, undefined)) as SinkWriter<OssCommitInfo, OssWriterState>;
      const committer = await sink.createCommitter({ ...context(job, `${job}-run`), prepared });
      return { sink, writer, committer };
    };
    // Job A owns the prefix and is still writing 2026-11-22; job B shares it and finishes first.
    const a = await open(sinkFor('a', false));
    await a.writer.write(events([{ id: 1, at: '2026-11-22T03:00:00Z' }]));
    await a.committer.commit(await a.writer.prepareCommit(1), commitContext(1, [a.writer.snapshotState(1) as OssWriterState]));
    const b = await open(sinkFor('b', true));
    await b.writer.write(events([{ id: 2, at: '2026-11-22T04:00:00Z' }]));
    await b.writer.endOfInput!();
    await b.committer.commit(await b.writer.prepareCommit(1), commitContext(1, [b.writer.snapshotState(1) as OssWriterState], true));
    expect(emulator.storage.keys(bucket, 'shared/dt=2026-11-22/').filter((k) => k.includes('_SUCCESS'))).toEqual(['shared/dt=2026-11-22/_SUCCESS.b']);

    // A's later rows of that day are not late: B's marker speaks only for B.
    await a.writer.write(events([{ id: 3, at: '2026-11-22T05:00:00Z' }]));
    expect(a.writer.stats?.rowsLate).toBe(0);
    await a.writer.endOfInput!();
    await a.committer.commit(await a.writer.prepareCommit(2), commitContext(2, [a.writer.snapshotState(2) as OssWriterState], true));
    expect(emulator.storage.keys(bucket, 'shared/dt=2026-11-22/').filter((k) => k.includes('_SUCCESS')).sort()).toEqual(['shared/dt=2026-11-22/_SUCCESS', 'shared/dt=2026-11-22/_SUCCESS.b']);
    expect(sorted(await committedIds(emulator, bucket, 'shared/'))).toEqual([1, 2, 3]);
    for (const s of [a, b]) {
      await s.writer.close();
      await s.sink.close();
    }
  });
});

describe('partition values', () => {
  it('the empty string and NUL get folders of their own, and a very long value keeps the key within 1,023 bytes', async () => {
    const schema = new Schema([new Field('id', new Int64(), false), new Field('tag', new Utf8(), true)]);
    const long = 'v'.repeat(3000);
    const batch = rowsToBatch(schema, [
      { id: 0n, tag: '' },
      { id: 1n, tag: '\u0000' },
      { id: 2n, tag: null },
      { id: 3n, tag: long },
      { id: 4n, tag: `${long}!` },
    ]);
    const { sink, context, writerContext } = directSink(emulator, bucket, 'vals', { format: 'jsonl', partition_by: { columns: ['tag'] } });
    const prepared = await sink.prepare(context());
    const writer = await sink.createWriter({ ...writerContext(0, schema), prepared }, undefined);
    const committer = await sink.createCommitter({ ...context(), prepared });
    await writer.write(batch);
    await committer.commit((await writer.prepareCommit(1)) as OssCommitInfo[], commitContext(1));
    const keys = dataKeys(emulator, bucket, 'vals/');
    const folderOf = async (id: number) => {
      for (const key of keys) if ((await idsIn(emulator, bucket, [key])).includes(id)) return key.split('/')[1];
      return undefined;
    };
    expect(await folderOf(0)).toBe('tag=__empty__');
    expect(await folderOf(1)).toBe('tag=%00');
    expect(await folderOf(2)).toBe('tag=__null__');
    const [three, four] = [await folderOf(3), await folderOf(4)];
    expect(three).toMatch(/^tag=v+~[0-9a-f]{16}$/);
    expect(four).not.toBe(three);
    expect(keys).toHaveLength(5);
    for (const key of keys) expect(Buffer.byteLength(key)).toBeLessThanOrEqual(1023);
    await writer.close();
    await sink.close();
  });
});

describe('the shipped examples', () => {
  it('no two example jobs write to the same bucket and prefix, so they run one after another', () => {
    const configs = join(import.meta.dirname, '../../../configs');
    const targets = new Map<string, string>();
    for (const file of readdirSync(configs).filter((f) => f.endsWith('.yaml'))) {
      const job = parse(readFileSync(join(configs, file), 'utf8')) as { sink?: { type: string; bucket?: string; path?: string }[] };
      for (const sink of job.sink ?? []) {
        if (sink.type !== 'oss') continue;
        const target = `${sink.bucket}/${(sink.path ?? '').replace(/^\/+|\/+$/g, '')}/`;
        for (const [other, otherFile] of targets) {
          expect(target.startsWith(other) || other.startsWith(target), `${file} and ${otherFile} both write under ${other}`).toBe(false);
        }
        targets.set(target, file);
      }
    }
    expect(targets.size).toBeGreaterThanOrEqual(2);
  });
});
