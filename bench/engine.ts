/**
 * Engine benchmarks (issue figures, not pass/fail):
 * 1. fake -> blackhole through the framework vs the raw generator producing the same batches in-process;
 * 2. a CPU-bound source at parallelism 2 vs 1 on worker threads;
 * 3. peak RSS of a 10-million-row job (measured in a child process).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/api/logger.js';
import { generateBatch } from '../connectors/fake/generator.js';
import { runJob } from '../src/index.js';

export interface BenchLine {
  name: string;
  value: string;
  ratio?: string;
  goal?: string;
}

const BATCH = 8192;

function rawGenerator(rows: number): number {
  const started = performance.now();
  let produced = 0;
  for (let first = 0; first < rows; first += BATCH) produced += generateBatch(42, first, Math.min(BATCH, rows - first)).numRows;
  const seconds = (performance.now() - started) / 1000;
  if (produced !== rows) throw new Error('raw generator miscounted');
  return rows / seconds;
}

async function framework(rows: number, parallelism: number, transport: 'in-process' | 'worker-threads', splits: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-'));
  try {
    const result = await runJob(
      {
        env: { name: 'bench', parallelism, transport, checkpoint: { interval: '1s', dir } },
        source: [{ type: 'fake', rows, splits, chunk_rows: BATCH }],
        sink: [{ type: 'blackhole' }],
      },
      { logger: silentLogger },
    );
    if (result.status !== 'finished' || result.rowsRead !== rows) throw new Error(`bench job ${result.status}: ${result.error?.message}`);
    return rows / (result.durationMs / 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function best(values: number[]): number {
  return Math.max(...values);
}

export async function benchEngine(): Promise<BenchLine[]> {
  const lines: BenchLine[] = [];
  const rows = 3_000_000;
  // Warm up both paths, then take the best of three runs of each, interleaved.
  rawGenerator(500_000);
  await framework(500_000, 1, 'in-process', 4);
  const raw: number[] = [];
  const fw: number[] = [];
  for (let i = 0; i < 3; i++) {
    raw.push(rawGenerator(rows));
    fw.push(await framework(rows, 1, 'in-process', 8));
  }
  lines.push({ name: 'raw fake generator (same batches, in-process)', value: `${fmt(best(raw))} rows/s` });
  lines.push({ name: 'fake -> blackhole, parallelism 1', value: `${fmt(best(fw))} rows/s`, ratio: (best(fw) / best(raw)).toFixed(2), goal: '>= 0.9' });

  const scale = spawnSync(process.execPath, ['--import', 'tsx', new URL('./scale-child.ts', import.meta.url).pathname], { encoding: 'utf8' });
  const figures = /^\{.*\}$/m.exec(scale.stdout);
  if (figures) {
    const r = JSON.parse(figures[0]) as { rows: number; p1: { whole: number; flowing: number }; p2: { whole: number; flowing: number } };
    lines.push({ name: `fake -> blackhole, worker threads, p1, ${fmt(r.rows)} rows, from first row`, value: `${fmt(r.p1.flowing)} rows/s` });
    lines.push({ name: `fake -> blackhole, worker threads, p2, from first row`, value: `${fmt(r.p2.flowing)} rows/s`, ratio: (r.p2.flowing / r.p1.flowing).toFixed(2), goal: '>= 1.7 (2 cores)' });
    lines.push({ name: `  the same, whole run (worker start-up included): p1 -> p2`, value: `${fmt(r.p1.whole)} -> ${fmt(r.p2.whole)}`, ratio: (r.p2.whole / r.p1.whole).toFixed(2) });
  } else {
    lines.push({ name: 'worker-thread scaling', value: `failed (needs npm run build): ${scale.stderr.slice(0, 200)}` });
  }

  const child = spawnSync(process.execPath, ['--import', 'tsx', new URL('./rss-child.ts', import.meta.url).pathname], { encoding: 'utf8' });
  const rss = /PEAK_RSS_MB (\d+(?:\.\d+)?) ROWS (\d+)/.exec(child.stdout);
  lines.push({ name: 'peak RSS, fake -> blackhole, 10,000,000 rows', value: rss ? `${rss[1]} MB` : `failed: ${child.stderr.slice(0, 300)}`, goal: '< 300 MB' });
  return lines;
}

export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
