import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSink, type ConnectorDefinition } from '../../../src/api/connector.js';
import type { Sink } from '../../../src/api/sink.js';
import { NoopCommitter } from '../../../src/api/simple-sink.js';
import { silentLogger } from '../../../src/api/logger.js';
import { z } from '../../../src/api/options.js';
import { LocalCheckpointStore } from '../../../src/engine/checkpoint-store.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { oneRowSource } from '../../helpers/one-row-source.js';
import { committedIds, expectExactlyOnce, stagedFiles } from '../../helpers/output.js';

const dir = useTempDirs();

describe('runJob', () => {
  it('stops gracefully on abort and the next run resumes: every id exactly once, nothing staged left', async () => {
    const out = join(dir(), 'out');
    const checkpoints = dir();
    const job = {
      env: { name: 'cancel-resume', parallelism: 2, transport: 'in-process' as const, checkpoint: { interval: '50ms', dir: checkpoints } },
      source: [{ type: 'fake', rows: 3000, splits: 4, chunk_rows: 100, rows_per_second: 3000 }],
      sink: [{ type: 'file', path: out, format: 'jsonl' }],
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 400);
    const first = await runJob(job, { signal: controller.signal, logger: silentLogger });
    expect(first.status).toBe('cancelled');
    expect(first.rowsRead).toBeGreaterThan(0);
    expect(first.rowsRead).toBeLessThan(3000);
    // Everything read before the stop was committed by the stop's checkpoint.
    expect(committedIds(out).length).toBe(first.sinks[0]?.rowsWritten);
    const second = await runJob(job, { logger: silentLogger });
    expect(second.status).toBe('finished');
    expect(second.resumedFromCheckpoint).not.toBeNull();
    expect(first.rowsRead + second.rowsRead).toBe(3000);
    expect(expectExactlyOnce(committedIds(out), 3000)).toBeUndefined();
    expect(stagedFiles(out)).toEqual([]);
    expect(await new LocalCheckpointStore(checkpoints, 'cancel-resume').latest()).toBeUndefined();
  });

  it('resumes with another parallelism: splits move to the new readers, still exactly once', async () => {
    const out = join(dir(), 'out');
    const checkpoints = dir();
    const job = (parallelism: number) => ({
      env: { name: 'rescale', parallelism, transport: 'in-process' as const, checkpoint: { interval: '40ms', dir: checkpoints } },
      source: [{ type: 'fake', rows: 3000, splits: 5, chunk_rows: 50, rows_per_second: 4000 }],
      sink: [{ type: 'file', path: out }],
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 350);
    expect((await runJob(job(3), { signal: controller.signal, logger: silentLogger })).status).toBe('cancelled');
    const second = await runJob(job(2), { logger: silentLogger });
    expect(second.status).toBe('finished');
    expect(expectExactlyOnce(committedIds(out), 3000)).toBeUndefined();
  });

  it('refuses to resume with fewer writers than hold sink state, and says how to proceed', async () => {
    const checkpoints = dir();
    const job = (parallelism: number) => ({
      env: { name: 'shrink', parallelism, transport: 'in-process' as const, checkpoint: { interval: '40ms', dir: checkpoints } },
      source: [{ type: 'fake', rows: 3000, splits: 5, chunk_rows: 50, rows_per_second: 4000 }],
      sink: [{ type: 'assert', rows: { equals: 3000 } }],
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    expect((await runJob(job(3), { signal: controller.signal, logger: silentLogger })).status).toBe('cancelled');
    const second = await runJob(job(2), { logger: silentLogger });
    expect(second.status).toBe('failed');
    expect(second.error?.code).toBe('CHECKPOINT_MISMATCH');
    expect(second.error?.message).toContain('resume with parallelism 3 or more (-p 3)');
    expect(second.error?.message).not.toContain('--fresh');
    expect((await runJob(job(3), { logger: silentLogger })).status).toBe('finished');
  });

  it('--fresh aborts what the unfinished run had staged instead of committing it, and removes stray staging files', async () => {
    const out = join(dir(), 'out');
    const checkpoints = dir();
    const staging = join(out, '.tideway-staging', 'fresh-job', 'old-attempt');
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'pending.jsonl'), '{"id":999999}\n');
    writeFileSync(join(staging, 'stray.jsonl'), '{"id":888888}\n');
    await new LocalCheckpointStore(checkpoints, 'fresh-job').save({
      format: 'tideway-checkpoint',
      version: 1,
      job: 'fresh-job',
      checkpointId: 7,
      attemptId: 'old-attempt',
      createdAt: new Date().toISOString(),
      endOfInput: false,
      sources: [{ name: 'fake', enumerator: { pending: [] }, assigned: [], consumed: [], readers: [] }],
      sinks: [{ name: 'file', writerStates: [], pending: [{ staged: '.tideway-staging/fresh-job/old-attempt/pending.jsonl', final: 'pending.jsonl', rows: 1, bytes: 14 }] }],
    });
    const job = {
      env: { name: 'fresh-job', checkpoint: { interval: '50ms', dir: checkpoints } },
      source: [{ type: 'fake', rows: 500 }],
      sink: [{ type: 'file', path: out }],
    };
    const result = await runJob(job, { fresh: true, logger: silentLogger });
    expect(result.status).toBe('finished');
    expect(result.resumedFromCheckpoint).toBeNull();
    expect(expectExactlyOnce(committedIds(out), 500)).toBeUndefined();
    expect(stagedFiles(out)).toEqual([]);
  });

  it('resuming recommits what the checkpoint owned (the crash hit between checkpoint and commit)', async () => {
    const out = join(dir(), 'out');
    const checkpoints = dir();
    const staging = join(out, '.tideway-staging', 'recommit', 'old-attempt');
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'owned.jsonl'), '{"id":5}\n');
    await new LocalCheckpointStore(checkpoints, 'recommit').save({
      format: 'tideway-checkpoint',
      version: 1,
      job: 'recommit',
      checkpointId: 3,
      attemptId: 'old-attempt',
      createdAt: new Date().toISOString(),
      endOfInput: true,
      sources: [{ name: 'fake', enumerator: { pending: [] }, assigned: [], consumed: [], readers: [] }],
      sinks: [{ name: 'file', writerStates: [], pending: [{ staged: '.tideway-staging/recommit/old-attempt/owned.jsonl', final: 'owned.jsonl', rows: 1, bytes: 9 }] }],
    });
    const result = await runJob(
      { env: { name: 'recommit', checkpoint: { dir: checkpoints } }, source: [{ type: 'fake', rows: 10 }], sink: [{ type: 'file', path: out }] },
      { logger: silentLogger },
    );
    expect(result.status).toBe('finished');
    expect(result.resumedFromCheckpoint).toBe(3);
    // The finished run is not read again: only the recommitted file is there.
    expect(committedIds(out)).toEqual([5]);
  });

  it('commits the last row of an idle stream within a checkpoint interval, without waiting for more rows', async () => {
    const out = join(dir(), 'out');
    const controller = new AbortController();
    const started = Date.now();
    let visibleAfter: number | undefined;
    const watch = setInterval(() => {
      if (visibleAfter === undefined && committedIds(out).length === 1) {
        visibleAfter = Date.now() - started;
        controller.abort();
      }
    }, 20);
    const stopAnyway = setTimeout(() => controller.abort(), 5000);
    const result = await runJob(
      { env: { name: 'idle', mode: 'streaming', checkpoint: { interval: '200ms', dir: dir() } }, source: [{ type: 'one-row' }], sink: [{ type: 'file', path: out }] },
      { registry: new ConnectorRegistry([...builtinConnectors, oneRowSource]), signal: controller.signal, logger: silentLogger },
    );
    clearInterval(watch);
    clearTimeout(stopAnyway);
    expect(result.status).toBe('cancelled');
    // Seen while the job was still running, not only at the stop.
    expect(visibleAfter).toBeDefined();
    expect(committedIds(out)).toEqual([0]);
  });

  it('keeps the sinks\' signal live through a graceful stop\'s last commit, and aborts it once the run is over', async () => {
    const seen: boolean[] = [];
    let signal: AbortSignal | undefined;
    const watching: ConnectorDefinition = {
      name: 'watching',
      description: 'records whether its signal was aborted at each commit',
      sink: defineSink({
        options: z.object({}),
        create: (): Sink => ({
          createWriter: async () => ({
            write: async () => {},
            prepareCommit: async () => [],
            snapshotState: () => undefined,
            abortPrepare: async () => {},
            close: async () => {},
          }),
          createCommitter: async (context) => {
            signal = context.signal;
            const committer = new NoopCommitter();
            committer.commit = async () => void seen.push(context.signal.aborted);
            return committer;
          },
        }),
      }),
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 250);
    const result = await runJob(
      {
        env: { name: 'live-signal', checkpoint: { interval: '50ms', dir: dir() } },
        source: [{ type: 'fake', rows: 100_000, rows_per_second: 1000 }],
        sink: [{ type: 'watching' }],
      },
      { registry: new ConnectorRegistry([...builtinConnectors, watching]), signal: controller.signal, logger: silentLogger },
    );
    expect(result.status).toBe('cancelled');
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((aborted) => !aborted)).toBe(true);
    expect(signal?.aborted).toBe(true);
  });

  it('tells every writer checkpointSaved(k) once checkpoint k is saved, before its commit ends; local sinks get a local directory', async () => {
    const heard = new Map<number, Set<number>>();
    const wakeups: (() => void)[] = [];
    const problems: string[] = [];
    const localDirs = new Set<string | undefined>();
    const checkpoints = dir();
    const hearing: ConnectorDefinition = {
      name: 'hearing',
      description: 'a committer that waits for every writer to hear of the save before it ends',
      sink: defineSink({
        options: z.object({}),
        create: (): Sink => ({
          createWriter: async (context) => {
            localDirs.add(context.localDir);
            return {
              write: async () => {},
              prepareCommit: async () => [],
              snapshotState: () => undefined,
              abortPrepare: async () => {},
              close: async () => {},
              checkpointSaved: async (checkpointId: number) => {
                const file = join(checkpoints, 'saved-hint', `chk-${String(checkpointId).padStart(10, '0')}.json`);
                if (!existsSync(file)) problems.push(`writer ${context.writerIndex} heard of checkpoint ${checkpointId} before it was saved`);
                const writers = heard.get(checkpointId) ?? new Set<number>();
                writers.add(context.writerIndex);
                heard.set(checkpointId, writers);
                for (const wake of wakeups.splice(0)) wake();
              },
            };
          },
          createCommitter: async (context) => {
            localDirs.add(context.localDir);
            const committer = new NoopCommitter();
            committer.commit = async (_infos, { checkpointId }) => {
              while ((heard.get(checkpointId)?.size ?? 0) < 2) await new Promise<void>((wake) => wakeups.push(wake));
            };
            return committer;
          },
        }),
      }),
    };
    const result = await runJob(
      {
        env: { name: 'saved-hint', parallelism: 2, transport: 'in-process', checkpoint: { interval: '50ms', dir: checkpoints } },
        source: [{ type: 'fake', rows: 3000, splits: 4, rows_per_second: 6000 }],
        sink: [{ type: 'hearing' }],
      },
      { registry: new ConnectorRegistry([...builtinConnectors, hearing]), logger: silentLogger },
    );
    expect(result.error).toBeNull();
    expect(result.checkpoints).toBeGreaterThan(1);
    expect(problems).toEqual([]);
    expect([...localDirs]).toEqual([join(checkpoints, 'saved-hint', 'sinks', 'hearing')]);
  });

  it('runs pipelines on worker threads when parallelism > 1', async () => {
    const result = await runJob(
      {
        env: { name: 'workers', parallelism: 2, transport: 'worker-threads', checkpoint: { interval: '100ms', dir: dir() } },
        source: [{ type: 'fake', rows: 20000, splits: 6 }],
        sink: [{ type: 'assert', rows: { equals: 20000 }, fields: [{ name: 'id', unique: true }] }],
      },
      { logger: silentLogger },
    );
    expect(result.error).toBeNull();
    expect(result.status).toBe('finished');
    expect(result.rowsRead).toBe(20000);
  });

  it('fails with the broken rule when an assert sink rejects the data', async () => {
    const result = await runJob(
      {
        env: { name: 'assert-fails', checkpoint: { dir: dir() } },
        source: [{ type: 'fake', rows: 100 }],
        sink: [{ type: 'assert', fields: [{ name: 'id', max: 49 }] }],
      },
      { logger: silentLogger },
    );
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('ASSERT_FAILED');
    expect(result.error?.message).toContain('fields[0] (id)');
    expect(result.error?.message).toContain('above max 49');
  });

  it('refuses an unbounded source in batch mode with the fix in the message', async () => {
    const result = await runJob(
      { env: { name: 'unbounded-batch', checkpoint: { dir: dir() } }, source: [{ type: 'fake', unbounded: true }], sink: [{ type: 'blackhole' }] },
      { logger: silentLogger },
    );
    expect(result.status).toBe('failed');
    expect(result.error?.message).toContain('env.mode: streaming');
  });

  it('throws a ConfigError listing every problem before running anything', async () => {
    await expect(
      runJob({ env: { name: 'bad' }, source: [{ type: 'fak' }], sink: [{ type: 'file', pth: 'x' }] } as never, { logger: silentLogger }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID', issues: expect.arrayContaining([expect.objectContaining({ path: 'source[0].type' }), expect.objectContaining({ path: 'sink[0].pth' })]) });
  });
});
