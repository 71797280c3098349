/**
 * Start-up: what a user waits for before a job's first row. `npm run bench -- startup`. Runs the built CLI
 * (`dist/`, what `npx tideway` runs; `npm ci` builds it) as separate processes and reports wall time, best of
 * CLI_BENCH_RUNS (default 7), next to the raw baseline of the same run: `node -e ""`, a Node.js process that
 * loads nothing. Figures:
 * - `tideway --version`: loading the CLI and the connector list;
 * - `tideway run` of a 10-row fake -> blackhole job at parallelism 1 (in-process) and 2 (two worker threads,
 *   each loading the connector list itself), whole process: start-up is nearly all of it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const RUNS = Number(process.env.CLI_BENCH_RUNS ?? 7);
const CLI = new URL('../dist/src/cli/main.js', import.meta.url).pathname;

if (!existsSync(CLI)) {
  process.stdout.write(`startup: ${CLI} is missing; run npm run build (npm ci runs it) first\n`);
  process.exit(1);
}

/** The best wall time of `RUNS` runs of `args`, in ms; every run must exit 0. */
function best(args: string[]): number {
  let fastest = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const took = performance.now() - started;
    if (result.status !== 0) throw new Error(`${args.join(' ')} exited with ${result.status}: ${result.stderr.toString()}`);
    fastest = Math.min(fastest, took);
  }
  return fastest;
}

const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-startup-'));
try {
  const job = (p: number) => {
    const file = join(dir, `p${p}.yaml`);
    writeFileSync(file, JSON.stringify({ env: { name: `startup-p${p}`, parallelism: p, checkpoint: { dir: join(dir, 'checkpoints') } }, source: [{ type: 'fake', rows: 10 }], sink: [{ type: 'blackhole' }] }));
    return file;
  };
  process.stdout.write(`startup: best of ${RUNS} runs each, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
  const raw = best(['-e', '']);
  const lines: [string, number][] = [
    ['tideway --version', best([CLI, '--version'])],
    ['tideway run, 10 rows fake -> blackhole, parallelism 1', best([CLI, 'run', job(1), '--fresh', '--quiet'])],
    ['tideway run, 10 rows fake -> blackhole, parallelism 2 (2 threads)', best([CLI, 'run', job(2), '--fresh', '--quiet'])],
  ];
  process.stdout.write(`${'raw: node -e ""'.padEnd(66)} ${`${raw.toFixed(0)} ms`.padStart(8)}\n`);
  for (const [name, ms] of lines) process.stdout.write(`${name.padEnd(66)} ${`${ms.toFixed(0)} ms`.padStart(8)}  ${(ms / raw).toFixed(1)}x raw\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
