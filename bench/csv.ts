/**
 * CSV throughput against DuckDB on one thread: `npx tsx bench/csv.ts [rows]` (`npm run bench -- csv`).
 *
 * One file of `rows` fake rows (7 columns: int64, two utf8, float64, int32 with nulls, bool, timestamp),
 * written once by Tideway's CSV encoder, then on the same file in the same run:
 * - decode: Tideway's CSV decoder (types inferred, as DuckDB sniffs them) to Arrow batches, against DuckDB
 *   with `threads=1` scanning the file with an aggregate over every column (so every value is parsed and
 *   nothing is stored: the goal's baseline), and, for reference, `CREATE TABLE AS SELECT *` (which also
 *   compresses the columns into DuckDB's storage);
 * - CSV -> Parquet: Tideway's decoder into its Parquet encoder (snappy, 131,072-row groups) written to a
 *   file, against DuckDB `COPY (SELECT * FROM read_csv(...)) TO '...parquet'` (snappy, same row groups).
 * Each figure is the best of three runs. Not a test: figures depend on the machine and its load.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { generateBatch } from '../connectors/fake/generator.js';
import { createDecoder, createEncoder } from '../src/formats/index.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const RUNS = 3;
const GOAL = 0.5;

/** Wall and CPU seconds (this process: DuckDB runs in it) of the best of RUNS runs each. */
interface Timing {
  wall: number;
  cpu: number;
}

async function best(run: () => Promise<void>): Promise<Timing> {
  const timing = { wall: Number.POSITIVE_INFINITY, cpu: Number.POSITIVE_INFINITY };
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const cpu = process.cpuUsage();
    await run();
    const used = process.cpuUsage(cpu);
    timing.wall = Math.min(timing.wall, (performance.now() - start) / 1000);
    timing.cpu = Math.min(timing.cpu, (used.user + used.system) / 1e6);
  }
  return timing;
}

const dir = await mkdtemp(join(tmpdir(), 'tideway-bench-csv-'));
try {
  const csvPath = join(dir, 'rows.csv');
  {
    const file = await open(csvPath, 'w');
    const encoder = createEncoder('csv', generateBatch(7, 0, 1).schema);
    for (let first = 0; first < ROWS; first += 65_536) {
      for (const chunk of encoder.encode(generateBatch(7, first, Math.min(65_536, ROWS - first)))) await file.write(chunk);
    }
    for (const chunk of encoder.finish()) await file.write(chunk);
    await file.close();
  }
  const size = (await stat(csvPath)).size;
  process.stdout.write(`csv: ${ROWS.toLocaleString('en-US')} rows x 7 columns, ${(size / 1e6).toFixed(1)} MB, node ${process.version}, DuckDB threads=1\n\n`);

  const decoder = createDecoder('csv', { batchRows: 65_536 });
  let schemaText = '';
  const tidewayDecode = await best(async () => {
    let rows = 0;
    for await (const batch of decoder.decode(createReadStream(csvPath, { highWaterMark: 1 << 20 }), { name: csvPath })) {
      rows += batch.numRows;
      schemaText ||= batch.schema.fields.map((f) => `${f.name}: ${String(f.type)}`).join(', ');
    }
    if (rows !== ROWS) throw new Error(`Tideway decoded ${rows} rows, expected ${ROWS}`);
  });

  const parquetPath = join(dir, 'tideway.parquet');
  let parquetBytes = 0;
  const tidewayParquet = await best(async () => {
    const file = await open(parquetPath, 'w');
    try {
      let encoder: ReturnType<typeof createEncoder> | undefined;
      for await (const batch of decoder.decode(createReadStream(csvPath, { highWaterMark: 1 << 20 }), { name: csvPath })) {
        encoder ??= createEncoder('parquet', batch.schema, { compression: 'snappy' });
        for (const chunk of encoder.encode(batch)) await file.write(chunk);
      }
      for (const chunk of encoder!.finish()) await file.write(chunk);
      parquetBytes = encoder!.bytesOut;
    } finally {
      await file.close();
    }
  });

  const duck = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await duck.connect();
  const csvSql = `read_csv('${csvPath}', header = true)`;
  let scanned = 0;
  const duckScan = await best(async () => {
    const reader = await connection.runAndReadAll(
      `SELECT count(*), max(id), max(name), max(category), sum(amount), sum(quantity), bool_or(active), max(created_at) FROM ${csvSql}`,
    );
    scanned = Number(reader.getRows()[0]![0]);
  });
  if (scanned !== ROWS) throw new Error(`DuckDB scanned ${scanned} rows, expected ${ROWS}`);
  const duckTable = await best(async () => {
    await connection.run('DROP TABLE IF EXISTS t');
    await connection.run(`CREATE TABLE t AS SELECT * FROM ${csvSql}`);
  });
  const counted = await connection.runAndReadAll('SELECT count(*) FROM t');
  if (Number(counted.getRows()[0]![0]) !== ROWS) throw new Error(`DuckDB read ${String(counted.getRows()[0]![0])} rows, expected ${ROWS}`);
  await connection.run('DROP TABLE t');
  const duckParquetPath = join(dir, 'duckdb.parquet');
  const duckParquet = await best(async () => {
    await connection.run(`COPY (SELECT * FROM ${csvSql}) TO '${duckParquetPath}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 131072)`);
  });
  const duckParquetBytes = (await stat(duckParquetPath)).size;
  connection.closeSync();
  duck.closeSync();

  const rate = (seconds: number) => `${(ROWS / seconds / 1e6).toFixed(2)} M rows/s`.padStart(15);
  const mbps = (seconds: number) => `${(size / seconds / 1e6).toFixed(0)} MB/s`.padStart(9);
  const print = (name: string, t: Timing, extra = '') =>
    process.stdout.write(`${name.padEnd(42)} ${rate(t.wall)} ${mbps(t.wall)} | per CPU-second ${rate(t.cpu)}${extra}\n`);
  const ratio = (ours: Timing, theirs: Timing) =>
    `  ratio ${(theirs.wall / ours.wall).toFixed(2)} of DuckDB by wall time, ${(theirs.cpu / ours.cpu).toFixed(2)} by CPU time (goal ${GOAL})`;
  process.stdout.write(`Tideway inferred: ${schemaText}\n`);
  process.stdout.write('Rates by wall time, and per CPU-second used by this process (steadier on a shared machine).\n\n');
  print('DuckDB read_csv scan, every column parsed', duckScan);
  print('DuckDB CREATE TABLE AS read_csv (stored)', duckTable);
  print('Tideway CSV decode to Arrow batches', tidewayDecode, ratio(tidewayDecode, duckScan));
  print('DuckDB COPY csv TO parquet (snappy)', duckParquet, `  ${(duckParquetBytes / 1e6).toFixed(1)} MB`);
  print('Tideway CSV -> Parquet (snappy)', tidewayParquet, `  ${(parquetBytes / 1e6).toFixed(1)} MB${ratio(tidewayParquet, duckParquet)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
