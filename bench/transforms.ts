/**
 * Transform benchmarks (figures, not pass/fail): fake -> sql -> blackhole against fake -> select -> blackhole,
 * measured in the same run, interleaved, best of five. The sql query computes three columns (arithmetic on a
 * double, on an int with NULLs, a string function) and filters with a WHERE, so every batch is decoded,
 * computed, filtered and re-encoded; select passes columns through without copying.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Data } from 'apache-arrow';
import { generateBatch } from '../connectors/fake/generator.js';
import { selectConnector } from '../connectors/select/index.js';
import { sqlConnector } from '../connectors/sql/index.js';
import { silentLogger } from '../src/api/logger.js';
import type { JobConfig } from '../src/engine/job-config.js';
import { runJob } from '../src/index.js';
import type { BenchLine } from './engine.js';

const BATCH = 8192;

export const SQL_QUERY = 'SELECT id, name, amount * 1.1 AS gross, quantity + 1 AS next_quantity, upper(category) AS category FROM default WHERE amount > 100 AND created_at IS NOT NULL';

interface Run {
  rowsPerSecond: number;
  rowsWritten: number;
}

async function run(rows: number, transform: JobConfig['transform']): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-'));
  try {
    const result = await runJob(
      {
        env: { name: 'bench-transforms', parallelism: 1, transport: 'in-process', checkpoint: { interval: '1s', dir } },
        source: [{ type: 'fake', rows, splits: 4, chunk_rows: BATCH }],
        ...(transform ? { transform } : {}),
        sink: [{ type: 'blackhole' }],
      },
      { logger: silentLogger },
    );
    if (result.status !== 'finished' || result.rowsRead !== rows) throw new Error(`bench job ${result.status}: ${result.error?.message}`);
    return { rowsPerSecond: rows / (result.durationMs / 1000), rowsWritten: result.rowsWritten };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes of an Arrow column's buffers (values, offsets, validity), children included. */
function bytesOf(data: Data): number {
  const own = [data.values, data.valueOffsets, data.nullBitmap].reduce((sum, b) => sum + (b ? (b as ArrayBufferView).byteLength : 0), 0);
  return own + data.children.reduce((sum, child) => sum + bytesOf(child), 0);
}

/**
 * What a transform produces from the benchmark's rows, counted in-process from the same generator (the
 * blackhole sink counts no bytes): output rows and the bytes of their Arrow buffers.
 */
async function produced(rows: number, connector: typeof sqlConnector, options: Record<string, unknown>): Promise<{ rows: number; bytes: number }> {
  const factory = connector.transform!;
  const transform = await factory.create(factory.options.parse(options) as never, { jobName: 'bench', mode: 'batch', parallelism: 1, logger: silentLogger, baseDir: '.', input: 'default' });
  transform.outputSchema(generateBatch(42, 0, 1).schema);
  let outRows = 0;
  let bytes = 0;
  for (let first = 0; first < rows; first += BATCH) {
    const out = await transform.apply(generateBatch(42, first, Math.min(BATCH, rows - first)), { reject: () => undefined });
    if (!out) continue;
    outRows += out.numRows;
    for (const child of out.data.children) bytes += bytesOf(child);
  }
  return { rows: outRows, bytes };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function best(runs: Run[]): Run {
  return runs.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
}

export async function benchTransforms(rows = Number(process.env.TIDEWAY_BENCH_TRANSFORM_ROWS ?? 2_000_000)): Promise<BenchLine[]> {
  const select: JobConfig['transform'] = [{ type: 'select', columns: ['id', 'name', 'amount', 'quantity', 'category'] }];
  const sql: JobConfig['transform'] = [{ type: 'sql', query: SQL_QUERY }];
  await run(200_000, select);
  await run(200_000, sql);
  const selects: Run[] = [];
  const sqls: Run[] = [];
  // Best of five, interleaved: on a shared machine single runs swing by a factor of two.
  for (let i = 0; i < 5; i++) {
    selects.push(await run(rows, select));
    sqls.push(await run(rows, sql));
  }
  const s = best(selects);
  const q = best(sqls);
  const selectOut = await produced(rows, selectConnector, { columns: ['id', 'name', 'amount', 'quantity', 'category'] });
  const sqlOut = await produced(rows, sqlConnector, { query: SQL_QUERY });
  return [
    { name: `fake -> select -> blackhole, ${fmt(rows)} rows`, value: `${fmt(s.rowsPerSecond)} rows/s` },
    { name: `  written / produced`, value: `${fmt(s.rowsWritten)} rows, ${fmt(selectOut.bytes)} B` },
    { name: `fake -> sql (3 computed columns, WHERE) -> blackhole`, value: `${fmt(q.rowsPerSecond)} rows/s`, ratio: (q.rowsPerSecond / s.rowsPerSecond).toFixed(2), goal: '>= 0.7' },
    { name: `  written / produced`, value: `${fmt(q.rowsWritten)} rows, ${fmt(sqlOut.bytes)} B` },
  ].concat(sqlOut.rows === q.rowsWritten && selectOut.rows === s.rowsWritten ? [] : [{ name: '  (rows produced in-process differ from the job: check the benchmark)', value: `${sqlOut.rows} / ${selectOut.rows}` }]);
}
