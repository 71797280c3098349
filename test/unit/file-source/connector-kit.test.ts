import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../../src/index.js';
import { fileSinkOutput, kitSeeds, type KitSubject, runFailureAndResume } from '../../../src/testing/connector-kit.js';
import type { FileFormat } from '../../../src/formats/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { writeRows } from './helpers.js';

/**
 * The connector kit's failure-and-resume suite over the file source: each seed writes the input as
 * several files of one format (CSV and JSON Lines cut into byte ranges, Parquet into row groups, gzip and
 * Arrow whole), then runs a chain of faulty runs, each resumed, and checks every id is committed once.
 * Replay a seed: TIDEWAY_SEED=<seed> npx vitest run test/unit/file-source/connector-kit.test.ts
 */
const KINDS: { format: FileFormat; extension: string; encoder: Record<string, unknown> }[] = [
  { format: 'csv', extension: 'csv', encoder: {} },
  { format: 'jsonl', extension: 'jsonl', encoder: {} },
  { format: 'parquet', extension: 'parquet', encoder: { parquet_row_group_rows: 300 } },
  { format: 'csv', extension: 'csv.gz', encoder: { compression: 'gzip' } },
  { format: 'arrow', extension: 'arrow', encoder: {} },
];

describe('connector kit: file source', () => {
  const dir = useTempDirs('tideway-file-kit-');

  const subject: KitSubject = {
    name: 'file source -> file sink',
    connectors: builtinConnectors,
    maxParallelism: 4,
    async setup(context) {
      const kind = KINDS[context.seed % KINDS.length]!;
      const input = join(context.workDir, 'in');
      const files = Math.max(1, Math.min(context.splits, 6));
      const per = Math.ceil(context.rows / files);
      for (let f = 0, first = 0; first < context.rows; f++, first += per) {
        writeRows(join(input, `part-${f}.${kind.extension}`), kind.format, Math.min(per, context.rows - first), { ...kind.encoder, first, batchRows: 250 });
      }
      return {
        source: [{ type: 'file', path: input, split_size: kind.format === 'parquet' ? 1 : '8KiB', chunk_rows: context.chunkRows }],
        expectedIds: Array.from({ length: context.rows }, (_, i) => i),
        ...fileSinkOutput(join(context.workDir, 'out')),
      };
    },
  };

  it.each(kitSeeds(15, 1))('seed %i', async (seed) => {
    const report = await runFailureAndResume(subject, seed, dir());
    if (report.problem) console.error(`failing seed ${seed}:\n${report.describe()}`);
    expect(report.problem, report.describe()).toBeUndefined();
    expect(report.runs.length).toBeGreaterThanOrEqual(2);
  });
});
