import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineSink, type ConnectorDefinition } from '../../../src/api/connector.js';
import type { RecordBatch } from 'apache-arrow';
import { silentLogger } from '../../../src/api/logger.js';
import { z } from '../../../src/api/options.js';
import type { Sink, SinkWriter } from '../../../src/api/sink.js';
import { type CheckpointData, LocalCheckpointStore } from '../../../src/engine/checkpoint-store.js';
import { workerThreadsTransport } from '../../../src/engine/worker-transport.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../../src/index.js';
import { FaultSession, withSave } from '../../../src/testing/fault-injection.js';

import { useTempDirs } from '../../helpers/jobs.js';
import { committedIds, expectExactlyOnce, stagedFiles } from '../../helpers/output.js';

const dir = useTempDirs();

function fakeToFile(name: string, checkpoints: string, out: string, rows = 3000, extra: Record<string, unknown> = {}) {
  return {
    env: { name, parallelism: 2, transport: 'in-process' as const, checkpoint: { interval: '30ms', dir: checkpoints } },
    source: [{ type: 'fake', rows, splits: 6, chunk_rows: 100, rows_per_second: 6000, ...extra }],
    sink: [{ type: 'file', path: out, format: 'jsonl' }],
  };
}

function checkpointFiles(checkpoints: string, job: string): string[] {
  return readdirSync(join(checkpoints, job)).filter((n) => /^chk-\d+\.json$/.test(n)).sort();
}

describe('a run owns its work from start to return', () => {
  it('an already aborted signal returns cancelled before anything is read or written', async () => {
    const out = join(dir(), 'out');
    const result = await runJob(fakeToFile('pre-aborted', dir(), out), { signal: AbortSignal.abort(), logger: silentLogger });
    expect(result.status).toBe('cancelled');
    expect(result.rowsRead).toBe(0);
    expect(committedIds(out)).toEqual([]);
  });

  it('two concurrent runs of one job in one process: the second is refused, every id once', async () => {
    const out = join(dir(), 'out');
    const checkpoints = dir();
    const [a, b] = await Promise.all([runJob(fakeToFile('twice', checkpoints, out), { logger: silentLogger }), runJob(fakeToFile('twice', checkpoints, out), { logger: silentLogger })]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual(['failed', 'finished']);
    expect([a.error?.code, b.error?.code]).toContain('JOB_ALREADY_RUNNING');
    expect(expectExactlyOnce(committedIds(out), 3000)).toBeUndefined();
  });

  it('returns only after a slow checkpoint save has settled; nothing of the run appears after it returns', async () => {
    const out = join(dir(), 'out');
    const checkpoints = dir();
    let saving = 0;
    let saveFinishedAt = 0;
    let failReader = false;
    const inner = new LocalCheckpointStore(checkpoints, 'slow-save');
    const store = withSave(inner, async (data: CheckpointData) => {
      saving++;
      if (saving === 2) {
        // A reader fails while this save is still writing.
        failReader = true;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      await inner.save(data);
      saveFinishedAt = Date.now();
    });
    const fake = builtinConnectors.find((c) => c.name === 'fake')!;
    const failingFake: ConnectorDefinition = {
      ...fake,
      source: {
        options: fake.source!.options,
        create: async (options, context) => {
          const source = await fake.source!.create(options, context);
          const createReader = source.createReader.bind(source);
          source.createReader = async (readerContext) => {
            const reader = await createReader(readerContext);
            const pollNext = reader.pollNext.bind(reader);
            reader.pollNext = async (output) => {
              if (failReader) throw new Error('reader failed during the save');
              return pollNext(output);
            };
            return reader;
          };
          return source;
        },
      },
    };
    const registry = new ConnectorRegistry([...builtinConnectors.filter((c) => c.name !== 'fake'), failingFake]);
    const result = await runJob(fakeToFile('slow-save', checkpoints, out, 6000, { rows_per_second: 1500 }), { registry, logger: silentLogger, checkpointStore: store });
    const returnedAt = Date.now();
    expect(result.status).toBe('failed');
    expect(saveFinishedAt).toBeGreaterThan(0);
    expect(saveFinishedAt).toBeLessThanOrEqual(returnedAt);
    const staged = stagedFiles(out).sort();
    const committed = committedIds(out).length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stagedFiles(out).sort()).toEqual(staged);
    expect(committedIds(out).length).toBe(committed);
    // The checkpoint whose save was slow landed: the next run resumes from it and finishes exactly once.
    const second = await runJob(fakeToFile('slow-save', checkpoints, out, 6000), { logger: silentLogger });
    expect(second.status).toBe('finished');
    expect(second.resumedFromCheckpoint).toBe(2);
    expect(expectExactlyOnce(committedIds(out), 6000)).toBeUndefined();
    expect(stagedFiles(out)).toEqual([]);
  });

  it('a writer never writes, prepares or flushes after it was closed, even when its pipeline fails mid-batch', async () => {
    const calls: string[] = [];
    const violations: string[] = [];
    const recordingSink: ConnectorDefinition = {
      name: 'recording',
      description: 'test sink that records calls after close',
      sink: defineSink({
        options: z.object({}).strict(),
        create: (): Sink => ({
          async createWriter(context) {
            let closed = false;
            const note = (call: string) => {
              calls.push(`${context.writerIndex}:${call}`);
              if (closed) violations.push(`${context.writerIndex}:${call} after close`);
            };
            const writer: SinkWriter = {
              async write(batch: RecordBatch) {
                note('write');
                await new Promise((resolve) => setTimeout(resolve, 2));
                if (batch.numRows > 0 && calls.length > 40 && context.writerIndex === 0) throw new Error('writer 0 failed');
              },
              async prepareCommit() {
                note('prepareCommit');
                return [];
              },
              snapshotState: () => undefined,
              async abortPrepare() {
                note('abortPrepare');
              },
              async close() {
                note('close');
                closed = true;
              },
            };
            return writer;
          },
          async createCommitter() {
            return { commit: async () => {}, abort: async () => {}, removeOrphans: async () => ({ removed: [] }), close: async () => {} };
          },
        }),
      }),
    };
    const result = await runJob(
      {
        env: { name: 'closed-writer', parallelism: 3, transport: 'in-process', queue_capacity: 8, checkpoint: { interval: '10ms', dir: dir() } },
        source: [{ type: 'fake', rows: 20000, splits: 6, chunk_rows: 50 }],
        sink: [{ type: 'recording' }],
      },
      { registry: new ConnectorRegistry([...builtinConnectors, recordingSink]), logger: silentLogger },
    );
    expect(result.status).toBe('failed');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(violations).toEqual([]);
    // The failed pipelines' writers discarded what they had staged since their last prepareCommit.
    expect(calls.filter((c) => c.endsWith('abortPrepare')).length).toBeGreaterThan(0);
  });

  it('a worker thread that dies mid-run: the run fails, the next resumes it, every id once, nothing staged left', async () => {
    const out = join(dir(), 'out');
    const checkpoints = dir();
    const job = { ...fakeToFile('dying-worker', checkpoints, out, 40_000), env: { name: 'dying-worker', parallelism: 3, transport: 'worker-threads' as const, checkpoint: { interval: '50ms', dir: checkpoints } } };
    job.source[0]!.rows_per_second = 40_000;
    const session = new FaultSession([]);
    const registryModule = new URL('../../../connectors/index.ts', import.meta.url).href;
    const transport = session.transport(workerThreadsTransport(silentLogger, registryModule));
    let killed = false;
    const first = await runJob(job, {
      logger: silentLogger,
      transport,
      onProgress: (p) => {
        if (!killed && p.checkpoints >= 1) {
          killed = true;
          (session as unknown as { host: { kill(id: number): void } }).host.kill(1);
        }
      },
      progressIntervalMs: 20,
    });
    expect(killed).toBe(true);
    expect(first.status).toBe('failed');
    expect(first.error?.code).toBe('PIPELINE_CRASHED');
    const second = await runJob(job, { logger: silentLogger });
    expect(second.status).toBe('finished');
    expect(second.resumedFromCheckpoint).not.toBeNull();
    expect(expectExactlyOnce(committedIds(out), 40_000)).toBeUndefined();
    expect(stagedFiles(out)).toEqual([]);
  }, 180_000);
});

describe('worker threads', () => {
  it('parallelism beyond the cores shares threads: 16 pipelines on at most one thread per core, every id once', async () => {
    const out = join(dir(), 'out');
    const started: Record<string, unknown>[] = [];
    const logger = { ...silentLogger, debug: (message: string, fields?: Record<string, unknown>) => message === 'pipeline workers started' && started.push(fields ?? {}) };
    const job = { ...fakeToFile('many-pipelines', dir(), out, 4000), env: { name: 'many-pipelines', parallelism: 16, transport: 'worker-threads' as const, checkpoint: { interval: '100ms', dir: dir() } } };
    const result = await runJob(job, { logger });
    expect(result.error).toBeNull();
    expect(started).toEqual([{ threads: Math.min(16, availableParallelism()), pipelines: 16 }]);
    expect(expectExactlyOnce(committedIds(out), 4000)).toBeUndefined();
  }, 120_000);
});

describe('a damaged checkpoint', () => {
  async function stoppedRun(name: string) {
    const out = join(dir(), 'out');
    const checkpoints = dir();
    const job = fakeToFile(name, checkpoints, out, 6000, { rows_per_second: 1500 });
    const controller = new AbortController();
    const inner = new LocalCheckpointStore(checkpoints, name);
    const checkpointStore = withSave(inner, async (data) => {
      await inner.save(data);
      if (data.checkpointId === 3) controller.abort();
    });
    const first = await runJob(job, { signal: controller.signal, logger: silentLogger, checkpointStore });
    expect(first.status).toBe('cancelled');
    return { job, out, checkpoints, committed: committedIds(out).length };
  }

  it.each([
    ['the newest checkpoint truncated', (files: string[]) => files.slice(-1), (path: string) => writeFileSync(path, readFileSync(path, 'utf8').slice(0, 50))],
    ['every checkpoint garbled', (files: string[]) => files, (path: string) => writeFileSync(path, 'garbage')],
    ['every checkpoint emptied', (files: string[]) => files, (path: string) => writeFileSync(path, '')],
  ])('%s: the run stops with CHECKPOINT_DAMAGED and writes nothing', async (_, pick, damage) => {
    const { job, out, checkpoints, committed } = await stoppedRun(`damaged-${Math.random().toString(36).slice(2, 8)}`);
    const files = checkpointFiles(checkpoints, job.env.name);
    for (const name of pick(files)) damage(join(checkpoints, job.env.name, name));
    const second = await runJob(job, { logger: silentLogger });
    expect(second.status).toBe('failed');
    expect(second.error?.code).toBe('CHECKPOINT_DAMAGED');
    expect(second.error?.message).toContain(files.at(-1)!);
    expect(second.rowsRead).toBe(0);
    expect(committedIds(out).length).toBe(committed);
  });

  it('--fresh still starts over past a damaged checkpoint, as asked', async () => {
    const { job, out, checkpoints } = await stoppedRun('damaged-fresh');
    for (const name of checkpointFiles(checkpoints, job.env.name)) writeFileSync(join(checkpoints, job.env.name, name), 'garbage');
    const fresh = await runJob({ ...job, sink: [{ ...job.sink[0]!, data_save_mode: 'overwrite' }] }, { logger: silentLogger, fresh: true });
    expect(fresh.status).toBe('finished');
    expect(fresh.rowsRead).toBe(6000);
    expect(expectExactlyOnce(committedIds(out), 6000)).toBeUndefined();
  });
});

describe('checkpoint size', () => {
  it('stays bounded by the work in flight: no split id repeated per reader, and ids done in the first run are gone two resumes later', async () => {
    const checkpoints = dir();
    const job = {
      env: { name: 'size', parallelism: 8, transport: 'in-process' as const, checkpoint: { interval: '20ms', dir: checkpoints, retain: 1 } },
      source: [{ type: 'fake', rows: 12000, splits: 6000, chunk_rows: 1000, rows_per_second: 12000 }],
      sink: [{ type: 'blackhole' }],
    };
    let doneInFirstRun: string[] = [];
    for (let run = 0; run < 3; run++) {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 250);
      const result = await runJob(job, { signal: controller.signal, logger: silentLogger });
      expect(result.status).toBe('cancelled');
      const [file] = checkpointFiles(checkpoints, 'size').slice(-1);
      const text = readFileSync(join(checkpoints, 'size', file!), 'utf8');
      const counts = new Map<string, number>();
      for (const id of text.match(/fake-\d+/g) ?? []) counts.set(id, (counts.get(id) ?? 0) + 1);
      // An id may appear as assigned and as a reader's split or consumed id, never once per reader.
      expect(Math.max(0, ...counts.values())).toBeLessThanOrEqual(3);
      const data = (JSON.parse(text) as { data: CheckpointData }).data;
      if (run === 0) doneInFirstRun = data.sources[0]!.readers.flatMap((r) => r.consumed);
      // Before, every consumed id was carried by every later checkpoint (and once per reader after a resume).
      if (run === 2) expect(doneInFirstRun.filter((id) => counts.has(id))).toEqual([]);
    }
    expect(doneInFirstRun.length).toBeGreaterThan(0);
  });
});
