import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { parseOptions } from '../../../src/api/options.js';
import type { Sink } from '../../../src/api/sink.js';
import { fakeSchema, generateBatch } from '../../../connectors/fake/generator.js';
import { fileConnector } from '../../../connectors/file/index.js';
import type { FileCommitInfo } from '../../../connectors/file/sink.js';
import { tempDir } from '../../helpers/jobs.js';

const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

async function fileSink(options: Record<string, unknown>): Promise<{ sink: Sink; root: string }> {
  const d = tempDir();
  dirs.push(d);
  const parsed = parseOptions(fileConnector.sink!.options, { path: 'out', ...options }, 'sink[0]');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const sink = (await fileConnector.sink!.create(parsed.value, { jobName: 'j', mode: 'batch', parallelism: 1, logger: silentLogger, baseDir: d.path })) as Sink;
  return { sink, root: join(d.path, 'out') };
}

const base = { jobName: 'job', attemptId: 'att1', sinkName: 'file', parallelism: 1, logger: silentLogger, signal: new AbortController().signal, prepared: undefined, restoredCheckpointId: null };
const writerContext = { ...base, writerIndex: 0, schema: fakeSchema };
const commitContext = (checkpointId: number) => ({ checkpointId, endOfInput: false, writerStates: [] });

describe('file sink', () => {
  it('keeps output invisible until commit, then commits idempotently', async () => {
    const { sink, root } = await fileSink({ format: 'jsonl' });
    await sink.prepare?.(base);
    const writer = await sink.createWriter(writerContext, undefined);
    const committer = await sink.createCommitter(base);
    await writer.write(generateBatch(1, 0, 100));
    const infos = (await writer.prepareCommit(1)) as FileCommitInfo[];
    expect(infos).toHaveLength(1);
    expect(readdirSync(root).filter((n) => n.endsWith('.jsonl'))).toEqual([]);
    await committer.commit(infos, commitContext(1));
    await committer.commit(infos, commitContext(1));
    const lines = readFileSync(join(root, infos[0]!.final), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(100);
    expect(JSON.parse(lines[99]!).id).toBe(99);
  });

  it('says plainly when a file a checkpoint owns has vanished', async () => {
    const { sink, root } = await fileSink({});
    await sink.prepare?.(base);
    const writer = await sink.createWriter(writerContext, undefined);
    await writer.write(generateBatch(1, 0, 10));
    const infos = (await writer.prepareCommit(1)) as FileCommitInfo[];
    rmSync(join(root, infos[0]!.staged));
    const committer = await sink.createCommitter(base);
    await expect(committer.commit(infos, commitContext(4))).rejects.toMatchObject({ code: 'FILE_COMMIT_LOST', message: expect.stringContaining('checkpoint 4 owns') });
  });

  it('removes staged files no checkpoint owns, keeps the owned ones, and never touches other jobs', async () => {
    const { sink, root } = await fileSink({});
    await sink.prepare?.(base);
    const owned = join(root, '.tideway-staging', 'job', 'a1', 'owned.jsonl');
    const orphan = join(root, '.tideway-staging', 'job', 'a2', 'orphan.jsonl');
    const otherJob = join(root, '.tideway-staging', 'other-job', 'a9', 'theirs.jsonl');
    for (const file of [owned, orphan, otherJob]) {
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, 'x\n');
    }
    const committer = await sink.createCommitter(base);
    const keep: FileCommitInfo[] = [{ staged: '.tideway-staging/job/a1/owned.jsonl', final: 'owned.jsonl', rows: 1, bytes: 2 }];
    const dry = await committer.removeOrphans({ keep, dryRun: true });
    expect(dry.removed).toEqual([orphan]);
    expect(existsSync(orphan)).toBe(true);
    const real = await committer.removeOrphans({ keep, dryRun: false });
    expect(real.removed).toEqual([orphan]);
    expect(existsSync(orphan)).toBe(false);
    expect(existsSync(owned)).toBe(true);
    expect(existsSync(otherJob)).toBe(true);
  });

  it('rolls to a new file at max_file_size', async () => {
    const { sink } = await fileSink({ max_file_size: '20KiB' });
    const writer = await sink.createWriter(writerContext, undefined);
    for (let i = 0; i < 10; i++) await writer.write(generateBatch(1, i * 200, 200));
    const infos = (await writer.prepareCommit(1)) as FileCommitInfo[];
    expect(infos.length).toBeGreaterThan(3);
    expect(infos.reduce((n, i) => n + i.rows, 0)).toBe(2000);
    for (const info of infos.slice(0, -1)) expect(info.bytes).toBeGreaterThanOrEqual(20 * 1024);
  });

  it('writes Arrow IPC files that read back', async () => {
    const { sink, root } = await fileSink({ format: 'arrow' });
    await sink.prepare?.(base);
    const writer = await sink.createWriter(writerContext, undefined);
    await writer.write(generateBatch(9, 0, 50));
    const infos = (await writer.prepareCommit(1)) as FileCommitInfo[];
    await (await sink.createCommitter(base)).commit(infos, commitContext(1));
    const table = tableFromIPC(readFileSync(join(root, infos[0]!.final)));
    expect(table.numRows).toBe(50);
    expect(table.getChild('name')?.get(49)).toBe('customer-49');
  });

  it('refuses a path that is a file', async () => {
    const { sink, root } = await fileSink({});
    mkdirSync(join(root, '..'), { recursive: true });
    writeFileSync(root, 'not a directory');
    await expect(sink.prepare?.(base)).rejects.toMatchObject({ code: 'PATH_NOT_DIRECTORY', message: expect.stringContaining(`sink "file" path ${root}: is a file`) });
    await expect(sink.check?.(base)).rejects.toMatchObject({ code: 'PATH_NOT_DIRECTORY' });
  });

  it('refuses a path under /proc at once instead of spinning in mkdir forever', async () => {
    const { sink } = await fileSink({ path: '/proc/tideway-test/out' });
    await expect(sink.prepare?.(base)).rejects.toMatchObject({ code: 'PATH_SYSTEM_DIRECTORY', message: expect.stringContaining('sink "file" path /proc/tideway-test/out') });
  });

  it('check probes the target for real: a path where no file can be created fails, even for root', async () => {
    const { sink } = await fileSink({ path: '/sys/kernel/tideway-out' });
    await expect(sink.check?.(base)).rejects.toMatchObject({ code: 'PATH_SYSTEM_DIRECTORY' });
  });

  it('rejects an option combination the format does not support', () => {
    const parsed = parseOptions(fileConnector.sink!.options, { path: 'x', format: 'arrow', compression: 'gzip' }, 'sink[0]');
    expect(parsed.ok).toBe(false);
  });
});

describe('file sink data_save_mode: what a new run does with an earlier run\'s committed output', () => {
  /** One run of job "job": a writer per attempt, `rows` rows, committed at one end-of-input checkpoint. */
  async function runOnce(sink: Sink, attemptId: string, first: number, rows: number, restored?: unknown) {
    const context = { ...base, attemptId };
    await sink.prepare?.(context);
    const committer = await sink.createCommitter(context);
    const writer = await sink.createWriter({ ...writerContext, attemptId }, restored as never);
    await writer.write(generateBatch(1, first, rows));
    const infos = await writer.prepareCommit(1);
    await committer.commit(infos, { checkpointId: 1, endOfInput: true, writerStates: [await writer.snapshotState(1)] });
    await writer.close();
    return { committer, writer };
  }
  const ids = (root: string) =>
    readdirSync(root)
      .filter((n) => n.endsWith('.jsonl'))
      .flatMap((n) => readFileSync(join(root, n), 'utf8').trim().split('\n'))
      .map((line) => (JSON.parse(line) as { id: number }).id)
      .sort((a, b) => a - b);

  it('defaults to error: a new run refuses a target holding the job\'s earlier output, and names it', async () => {
    const { sink, root } = await fileSink({});
    await runOnce(sink, 'first', 0, 10);
    writeFileSync(join(root, 'someone-else.txt'), 'not ours');
    await expect(runOnce(sink, 'second', 0, 10)).rejects.toMatchObject({
      code: 'FILE_TARGET_HAS_OUTPUT',
      message: expect.stringMatching(/already holds 1 file\(s\) with 10 rows that an earlier run of job "job" committed \(it finished.*data_save_mode: overwrite/),
    });
    expect(ids(root)).toEqual([...Array(10).keys()]);
  });

  it('a resumed run is the same run: its writers (restored or added) and its committer go on', async () => {
    const { sink, root } = await fileSink({});
    const first = await runOnce(sink, 'first', 0, 10);
    const state = await first.writer.snapshotState(1);
    // The resume: the committer re-commits the last checkpoint with its writer states, then writers start.
    const committer = await sink.createCommitter({ ...base, attemptId: 'resume' });
    await committer.commit([], { checkpointId: 1, endOfInput: false, writerStates: [state] });
    const restored = await sink.createWriter({ ...writerContext, attemptId: 'resume' }, state as never);
    const added = await sink.createWriter({ ...writerContext, attemptId: 'resume', writerIndex: 1 }, undefined);
    await restored.write(generateBatch(1, 10, 5));
    await added.write(generateBatch(1, 15, 5));
    const infos = [...(await restored.prepareCommit(2)), ...(await added.prepareCommit(2))];
    await committer.commit(infos, { checkpointId: 2, endOfInput: true, writerStates: [await restored.snapshotState(2), await added.snapshotState(2)] });
    expect(ids(root)).toEqual([...Array(20).keys()]);
  });

  it('overwrite removes only what earlier runs of the job committed, at the new run\'s first commit', async () => {
    const { sink, root } = await fileSink({ data_save_mode: 'overwrite' });
    await runOnce(sink, 'first', 0, 10);
    writeFileSync(join(root, 'someone-else.jsonl'), '{"id":1000}\n');
    await runOnce(sink, 'second', 100, 10);
    expect(ids(root)).toEqual([...Array(10).keys()].map((i) => i + 100).concat([1000]).sort((a, b) => a - b));
    await runOnce(sink, 'third', 200, 3);
    expect(ids(root)).toEqual([200, 201, 202, 1000]);
  });

  it('append keeps the earlier output and adds the new run\'s, and a later overwrite removes both', async () => {
    const { sink, root } = await fileSink({ data_save_mode: 'append' });
    await runOnce(sink, 'first', 0, 3);
    await runOnce(sink, 'second', 0, 3);
    expect(ids(root)).toEqual([0, 0, 1, 1, 2, 2]);
    const { sink: overwriting } = await fileSink({ data_save_mode: 'overwrite', path: root });
    await runOnce(overwriting, 'third', 50, 2);
    expect(ids(root)).toEqual([50, 51]);
  });
});
