import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TableFixture } from '../../connectors/maxcompute/emulator/tables.js';
import type { MaxComputeEmulator } from '../../connectors/maxcompute/emulator/index.js';
import { builtinConnectors } from '../../src/index.js';
import { fileSinkOutput, kitSeeds, type KitSubject, runFailureAndResume } from '../../src/testing/connector-kit.js';
import { useTempDirs } from '../helpers/jobs.js';
import { emulator as startEmulator, ID_TABLE_COLUMNS } from '../unit/maxcompute/helpers.js';

/**
 * The connector kit's failure-and-resume suite over the MaxCompute source: a table of its own per seed on
 * one emulator (plain, or partitioned into two to four partitions read as one download session each), read
 * in record or Arrow format in row-range splits into the file sink, under the kit's chain of faulty runs,
 * each resumed. Every id of the table must reach the output once.
 * Replay a seed: TIDEWAY_SEED=<seed> npx vitest run test/failure/maxcompute-source.test.ts
 */
describe('connector kit: maxcompute source', () => {
  const dir = useTempDirs('tideway-maxcompute-kit-');
  let emulator: MaxComputeEmulator;
  beforeAll(async () => {
    emulator = await startEmulator();
  });
  afterAll(async () => {
    await emulator.close();
  });

  const subject: KitSubject = {
    name: 'maxcompute source (emulator) -> file',
    connectors: builtinConnectors,
    maxParallelism: 4,
    async setup(context) {
      const table = context.unique;
      // Ids are spread over the partitions in turn, so that each partition holds a disjoint slice of 0..rows-1.
      const partitionCount = context.seed % 3 === 0 ? 2 + Math.floor(context.random() * 3) : 0;
      const fixture: TableFixture =
        partitionCount === 0
          ? { name: table, columns: ID_TABLE_COLUMNS, data: { rowCount: context.rows, row: (i) => [BigInt(i), `row-${i}`, i * 0.5] } }
          : {
              name: table,
              columns: ID_TABLE_COLUMNS,
              partitionKeys: [{ name: 'ds', type: 'string' }],
              partitions: Object.fromEntries(
                Array.from({ length: partitionCount }, (_, p) => [
                  `ds=2024010${p + 1}`,
                  { rowCount: Math.ceil((context.rows - p) / partitionCount), row: (i: number) => [BigInt(i * partitionCount + p), `row-${i}`, i * 0.5] },
                ]),
              ),
            };
      emulator.setTable(fixture);
      return {
        source: [
          {
            type: 'maxcompute',
            endpoint: emulator.endpoint,
            project: emulator.project,
            access_id: emulator.accessId,
            access_key: emulator.accessKey,
            table_name: table,
            ...(partitionCount > 0 ? { partition_spec: Object.keys(fixture.partitions ?? {}) } : {}),
            split_row: Math.max(1, Math.ceil(context.rows / context.splits)),
            chunk_rows: context.chunkRows,
            format: context.seed % 2 === 0 ? 'arrow' : 'record',
            retry_backoff: 5,
            retry_max_backoff: 50,
          },
        ],
        expectedIds: Array.from({ length: context.rows }, (_, i) => i),
        ...fileSinkOutput(join(context.workDir, 'out')),
      };
    },
    async teardown(context) {
      emulator.dropTable(context.unique);
    },
  };

  it.each(kitSeeds(16))('seed %i', async (seed) => {
    const report = await runFailureAndResume(subject, seed, dir());
    if (report.problem) console.error(`failing seed ${seed}:\n${report.describe()}`);
    expect(report.problem, report.describe()).toBeUndefined();
    expect(report.runs.length).toBeGreaterThanOrEqual(4);
  });
});
