import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/api/logger.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../src/index.js';
import type { JobResult } from '../../src/engine/result.js';
import { LocalCheckpointStore } from '../../src/engine/checkpoint-store.js';
import { FaultSession } from '../../src/testing/fault-injection.js';
import { faulty, useTempDirs } from '../helpers/jobs.js';
import { committedIds, expectExactlyOnce, stagedFiles } from '../helpers/output.js';

/**
 * The window between the enumerator's snapshot and a reader's barrier. Barriers are held back by the
 * transport (every trigger arrives `triggerDelayMs` late) while assignments travel at once, so the reader
 * takes and reads splits the enumerator handed out after its snapshot. Each run fails after some rows and
 * the next resumes it, several times in a row. Before the consistent cut, a split read whole in the window
 * was both pending in the enumerator and consumed in the reader (the resume hung), and a split read part-way
 * had its offset only in the reader's state (a second resume read it again from the start).
 */
describe('consistent cut between the enumerator and the readers', () => {
  const dir = useTempDirs('tideway-cut-');

  /**
   * Runs the job until it finishes; run `i` fails right after its checkpoint number `failAfterSave[i]` landed
   * (the save reports an error after the file is in place), so the next run resumes from that checkpoint.
   */
  async function chain(options: { rows: number; splits: number; chunkRows: number; failAfterSave: number[]; triggerDelayMs: number; parallelism: number }) {
    const checkpoints = dir();
    const out = dir();
    const results: JobResult[] = [];
    const job = {
      env: { name: 'cut', parallelism: options.parallelism, transport: 'in-process' as const, checkpoint: { interval: '15ms', dir: checkpoints } },
      source: [{ type: 'fake', rows: options.rows, splits: options.splits, chunk_rows: options.chunkRows, rows_per_second: 4000 }],
      sink: [{ type: 'file', path: out, format: 'jsonl' }],
    };
    for (let run = 0; run <= options.failAfterSave.length; run++) {
      const call = options.failAfterSave[run];
      const session = new FaultSession(call === undefined ? [] : [{ kind: 'save-fails', call, afterLanding: true, slowMs: 0, readerFailsDuring: true }]);
      // A resume that hangs would run forever: give every run a deadline.
      const deadline = AbortSignal.timeout(8000);
      const result = await runJob(job, {
        registry: new ConnectorRegistry(session.connectors(builtinConnectors)),
        logger: silentLogger,
        signal: deadline,
        checkpointStore: session.store(new LocalCheckpointStore(checkpoints, 'cut')),
        transport: session.transport(
          faulty({
            seed: 11 + run,
            duplicateRate: 0,
            script: (direction, _pipelineId, message) => (direction === 'toPipeline' && message.kind === 'trigger' ? { delaysMs: [options.triggerDelayMs] } : { delaysMs: [0] }),
          }),
        ),
      });
      results.push(result);
      if (call === undefined || result.status === 'finished') break;
      expect(result.error?.code, `run ${run + 1}: ${result.error?.message}`).toBe('INJECTED_FAULT');
    }
    return { results, ids: committedIds(out), staged: stagedFiles(out) };
  }

  it('splits read whole in the window: every resume ends, every id once', async () => {
    const { results, ids, staged } = await chain({ rows: 1200, splits: 120, chunkRows: 100, failAfterSave: [1, 1, 1], triggerDelayMs: 60, parallelism: 1 });
    expect(results.map((r) => r.status).at(-1)).toBe('finished');
    expect(results.filter((r) => r.resumedFromCheckpoint !== null).length).toBeGreaterThanOrEqual(2);
    expect(expectExactlyOnce(ids, 1200)).toBeUndefined();
    expect(staged).toEqual([]);
  });

  it('splits read part-way in the window, resumed three times in a row: every id once', async () => {
    const { results, ids, staged } = await chain({ rows: 1200, splits: 40, chunkRows: 7, failAfterSave: [1, 1, 1, 1], triggerDelayMs: 45, parallelism: 2 });
    expect(results.map((r) => r.status).at(-1)).toBe('finished');
    expect(results.filter((r) => r.resumedFromCheckpoint !== null).length).toBeGreaterThanOrEqual(3);
    expect(expectExactlyOnce(ids, 1200)).toBeUndefined();
    expect(staged).toEqual([]);
  });
});
