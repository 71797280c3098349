import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import type { CheckpointEvent } from '../../../src/engine/result.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../../src/index.js';
import { rejectTransformConnector } from '../../../src/testing/reject-transform.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedIds, committedRows } from '../../helpers/output.js';

const dir = useTempDirs('tideway-cp-events-dl-');
const registry = new ConnectorRegistry([...builtinConnectors, rejectTransformConnector]);

describe('checkpoint events with a dead-letter sink', () => {
  it('count the rows the job committed, not the rejected rows the dead-letter sink committed', async () => {
    const work = dir();
    const events: CheckpointEvent[] = [];
    const result = await runJob(
      {
        env: {
          name: 'cp-events-dl',
          transport: 'in-process',
          checkpoint: { interval: '1h', dir: join(work, 'checkpoints') },
          errors: { tolerance: 'all', dead_letter: { type: 'file', path: join(work, 'bad'), format: 'jsonl' } },
        },
        source: [{ type: 'fake', rows: 1000, splits: 2, chunk_rows: 100 }],
        transform: [{ type: 'test-reject', every: 10, remainder: 3 }],
        sink: [{ type: 'file', path: join(work, 'out'), format: 'jsonl' }],
      },
      { registry, logger: silentLogger, onCheckpoint: (event) => events.push(event) },
    );
    expect(result.status).toBe('finished');
    expect(committedIds(join(work, 'out')).length).toBe(900);
    expect(committedRows(join(work, 'bad')).length).toBe(100);
    const last = events.filter((e) => e.status === 'committed').at(-1)!;
    expect(last.endOfInput).toBe(true);
    // The dead-letter sink committed 100 rows; the job's output 900. The smaller is not the job's count.
    expect(last.rowsCommitted).toBe(900);
  });
});
