import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { CheckpointEvent, JobProgress } from '../../../src/engine/result.js';
import { runJob } from '../../../src/index.js';
import { LocalCheckpointStore } from '../../../src/engine/checkpoint-store.js';
import { withSave } from '../../../src/testing/fault-injection.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedIds } from '../../helpers/output.js';

const dir = useTempDirs();

describe('engine observability hooks', () => {
  it('onCheckpoint reports each committed checkpoint with its size and the rows committed so far; progress shows pipelines', async () => {
    const out = join(dir(), 'out');
    const job = {
      env: { name: 'hooks', parallelism: 2, transport: 'in-process' as const, queue_capacity: 7, checkpoint: { interval: '40ms', dir: dir() } },
      source: [{ type: 'fake', rows: 2000, splits: 4, chunk_rows: 100, rows_per_second: 8000 }],
      sink: [{ type: 'file', path: out, format: 'jsonl' }],
    };
    const events: CheckpointEvent[] = [];
    const progress: JobProgress[] = [];
    const result = await runJob(job, { logger: silentLogger, onCheckpoint: (e) => events.push(e), onProgress: (p) => progress.push(p), progressIntervalMs: 30 });
    expect(result.status).toBe('finished');
    expect(events.length).toBe(result.checkpoints);
    expect(events.map((e) => e.status).every((s) => s === 'committed')).toBe(true);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    const last = events.at(-1)!;
    expect(last.endOfInput).toBe(true);
    expect(last.rowsCommitted).toBe(2000);
    expect(committedIds(out).length).toBe(2000);
    for (const e of events) {
      expect(e.bytes).toBeGreaterThan(100);
      expect(Number.isNaN(Date.parse(e.triggeredAt))).toBe(false);
      expect(e.durationMs).toBeGreaterThanOrEqual(0);
    }
    // rowsCommitted never goes down.
    for (let i = 1; i < events.length; i++) expect(events[i]!.rowsCommitted).toBeGreaterThanOrEqual(events[i - 1]!.rowsCommitted);
    expect(result.lastCheckpointAt).not.toBeNull();
    expect(result.pipelines.map((p) => [p.id, p.source, p.queueCapacity])).toEqual([
      [0, 'fake', 7],
      [1, 'fake', 7],
    ]);
    for (const p of progress.flatMap((x) => x.pipelines)) {
      expect(p.queueDepth).toBeGreaterThanOrEqual(0);
      expect(p.queueDepth).toBeLessThanOrEqual(p.queueCapacity);
    }
  });

  it('onCheckpoint reports a checkpoint whose save failed as in-doubt, with the rows committed before it', async () => {
    const checkpoints = dir();
    const inner = new LocalCheckpointStore(checkpoints, 'hooks-doubt');
    // The final checkpoint's save fails, however many periodic ones came before it.
    const checkpointStore = withSave(inner, async (data) => {
      if (data.endOfInput) throw new Error('disk full');
      await inner.save(data);
    });
    const job = {
      env: { name: 'hooks-doubt', parallelism: 1, transport: 'in-process' as const, checkpoint: { interval: '40ms', dir: checkpoints } },
      source: [{ type: 'fake', rows: 3000, splits: 2, chunk_rows: 50, rows_per_second: 4000 }],
      sink: [{ type: 'file', path: join(dir(), 'out'), format: 'jsonl' }],
    };
    const events: CheckpointEvent[] = [];
    const result = await runJob(job, { logger: silentLogger, checkpointStore, onCheckpoint: (e) => events.push(e) });
    expect(result.status).toBe('failed');
    const last = events.at(-1)!;
    const before = events.slice(0, -1);
    expect(before.every((e) => e.status === 'committed')).toBe(true);
    expect(last).toMatchObject({ status: 'in-doubt', endOfInput: true, id: events.length });
    expect(last.rowsCommitted).toBe(before.at(-1)?.rowsCommitted ?? 0);
    expect(last.bytes).toBeGreaterThan(0);
  });
});
