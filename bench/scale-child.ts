/**
 * Worker-thread scaling, run against the compiled build (dist/) so that workers start as they do for users
 * rather than compiling TypeScript. Prints one JSON line: rows/s over the whole run and from the first row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const rows = Number(process.env.SCALE_ROWS ?? 30_000_000);
const dist = new URL('../dist/src/index.js', import.meta.url).href;
const { runJob, silentLogger } = (await import(dist)) as typeof import('../src/index.js');

async function once(parallelism: number): Promise<{ whole: number; flowing: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tideway-scale-'));
  let first: { at: number; rows: number } | undefined;
  let last: { at: number; rows: number } | undefined;
  try {
    const result = await runJob(
      {
        env: { name: `scale-${parallelism}`, parallelism, transport: 'worker-threads', checkpoint: { interval: '1s', dir } },
        source: [{ type: 'fake', rows, splits: 16 }],
        sink: [{ type: 'blackhole' }],
      },
      {
        logger: silentLogger,
        progressIntervalMs: 100,
        onProgress: (p) => {
          if (p.rowsRead === 0) return;
          first ??= { at: Date.now(), rows: p.rowsRead };
          if (!last || p.rowsRead > last.rows) last = { at: Date.now(), rows: p.rowsRead };
        },
      },
    );
    if (result.status !== 'finished') throw new Error(`scaling job ${result.status}: ${result.error?.message}`);
    const flowing = first && last && last.at > first.at ? ((last.rows - first.rows) / (last.at - first.at)) * 1000 : 0;
    return { whole: (rows / result.durationMs) * 1000, flowing };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const runs: Record<number, { whole: number; flowing: number }[]> = { 1: [], 2: [] };
for (let i = 0; i < 2; i++) for (const p of [1, 2]) runs[p]!.push(await once(p));
const best = (p: number, key: 'whole' | 'flowing') => Math.max(...runs[p]!.map((r) => r[key]));
process.stdout.write(`${JSON.stringify({ rows, p1: { whole: best(1, 'whole'), flowing: best(1, 'flowing') }, p2: { whole: best(2, 'whole'), flowing: best(2, 'flowing') } })}\n`);
