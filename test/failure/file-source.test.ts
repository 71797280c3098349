import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../src/index.js';
import { fileSinkOutput, kitSeeds, type KitContext, type KitSubject, runFailureAndResume } from '../../src/testing/connector-kit.js';
import type { StageConfig } from '../../src/engine/job-config.js';
import { useTempDirs } from '../helpers/jobs.js';
import { writeRows } from '../unit/file-source/helpers.js';

/** The fake rows' columns, declared as the file source's `columns` option spells them. */
const FAKE_COLUMNS = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'name', type: 'string', nullable: false },
  { name: 'category', type: 'string', nullable: false },
  { name: 'amount', type: 'float64', nullable: false },
  { name: 'quantity', type: 'int32', nullable: true },
  { name: 'active', type: 'boolean', nullable: false },
  { name: 'created_at', type: 'timestamp(ms)', nullable: false },
];

type Layout = 'csv-glob' | 'jsonl-tree' | 'parquet-groups';
const LAYOUTS: Layout[] = ['csv-glob', 'jsonl-tree', 'parquet-groups'];

/**
 * Writes the input of one seed under `input`: ids 0..rows-1 cut into files of uneven sizes, and returns
 * the source stage that reads them.
 * - csv-glob: headerless `;`-separated CSV with declared columns, in nested folders, read through a glob,
 *   byte ranges of 1 to 12 KiB (records straddle every range boundary);
 * - jsonl-tree: JSON Lines (types inferred) in nested folders, byte ranges of 1 to 12 KiB, next to files the
 *   source must skip (`_SUCCESS`, a dot file, an unknown extension) holding ids the job must not read;
 * - parquet-groups: Parquet files of 40 to 200-row row groups, grouped into splits of a few row groups.
 */
function writeInput(context: KitContext, layout: Layout, input: string): StageConfig {
  const files = 2 + Math.floor(context.random() * 5);
  // Uneven cuts: each file gets a random share of the rows; the last takes the rest.
  const cuts = Array.from({ length: files - 1 }, () => Math.floor(context.random() * context.rows)).sort((a, b) => a - b);
  const bounds = [0, ...cuts, context.rows];
  const splitSize = 1024 * (1 + Math.floor(context.random() * 12));
  const rowGroup = 40 + Math.floor(context.random() * 160);
  for (let f = 0; f < files; f++) {
    const first = bounds[f]!;
    const rows = bounds[f + 1]! - first;
    if (rows === 0) continue;
    const batchRows = 30 + Math.floor(context.random() * 200);
    if (layout === 'csv-glob') writeRows(join(input, `d${f % 3}`, `sub${f % 2}`, `part-${f}.csv`), 'csv', rows, { first, batchRows, csv_header: false, csv_delimiter: ';' });
    else if (layout === 'jsonl-tree') writeRows(join(input, `d${f % 2}`, `part-${f}.jsonl`), 'jsonl', rows, { first, batchRows });
    else writeRows(join(input, `part-${f}.parquet`), 'parquet', rows, { first, batchRows, parquet_row_group_rows: rowGroup });
  }
  const chunk_rows = context.chunkRows;
  switch (layout) {
    case 'csv-glob':
      // A CSV file the glob does not match: read, its ids would be reported as not in the source.
      writeRows(join(input, 'd0', 'other.txt.csv.bak'), 'csv', 5, { first: context.rows, csv_header: false, csv_delimiter: ';' });
      return { type: 'file', path: join(input, '**', 'part-*.csv'), csv_header: false, csv_delimiter: ';', columns: FAKE_COLUMNS, split_size: splitSize, chunk_rows };
    case 'jsonl-tree':
      writeRows(join(input, 'd0', '.hidden.jsonl'), 'jsonl', 5, { first: context.rows });
      writeRows(join(input, '_tmp', 'part-x.jsonl'), 'jsonl', 5, { first: context.rows + 5 });
      writeFileSync(join(input, 'd1', '_SUCCESS'), '');
      writeFileSync(join(input, 'd1', 'notes.txt'), '{"id": -1}\n');
      return { type: 'file', path: input, split_size: splitSize, chunk_rows };
    case 'parquet-groups':
      return { type: 'file', path: input, split_size: 1 + Math.floor(context.random() * 3 * rowGroup * 40), chunk_rows };
  }
}

/**
 * The connector kit's failure-and-resume suite over the file source, through the file sink into another
 * directory: several input files per seed cut into byte-range or row-group splits (see `writeInput`), under
 * the kit's chain of faulty runs, each resumed mid-file. test/unit/file-source/connector-kit.test.ts runs the
 * same suite over the formats (gzip and Arrow files included); this one varies layouts and split sizes.
 * Replay a seed: TIDEWAY_SEED=<seed> npx vitest run test/failure/file-source.test.ts
 */
describe('connector kit: file source', () => {
  const dir = useTempDirs('tideway-file-source-kit-');

  const subject: KitSubject = {
    name: 'file source -> file sink',
    connectors: builtinConnectors,
    maxParallelism: 4,
    async setup(context) {
      const layout = LAYOUTS[context.seed % LAYOUTS.length]!;
      return {
        source: [writeInput(context, layout, join(context.workDir, 'in'))],
        expectedIds: Array.from({ length: context.rows }, (_, i) => i),
        ...fileSinkOutput(join(context.workDir, 'out')),
      };
    },
  };

  it.each(kitSeeds(15))('seed %i', async (seed) => {
    const report = await runFailureAndResume(subject, seed, dir());
    if (report.problem) console.error(`failing seed ${seed}:\n${report.describe()}`);
    expect(report.problem, report.describe()).toBeUndefined();
    expect(report.runs.length).toBeGreaterThanOrEqual(4);
  });
});
