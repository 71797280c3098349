/**
 * Cluster benchmarks (figures, not pass/fail), against the local NATS at NATS_URL (default nats://127.0.0.1:4222).
 *
 * 1. Throughput: the same CPU-bound job (fake source -> file sink writing Parquet, so every row is generated
 *    and encoded) at parallelism 2 on worker threads in one process, and on two `tideway worker` processes
 *    over NATS (goal >= 0.9 of local); and on one worker process (p1) against two (p2) (goal >= 1.7). Rates
 *    count the rows the sink committed over the whole run, and the rows read from the first row to the last
 *    (start-up excluded); best of CLUSTER_BENCH_RUNS (default 3) runs, interleaved. CPU seconds of this process,
 *    the workers and nats-server show where the two cores went.
 * 2. The scale simulation, bench/cluster-scale.ts (256 simulated readers, 100,000 splits and a sweep).
 *
 * CLUSTER_BENCH=throughput or =scale runs one part; CLUSTER_BENCH_ROWS sets the rows of part 1 (2,000,000).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, silentLogger } from '../src/api/logger.js';
import { destroyCluster, openCluster } from '../src/cluster/cluster-connection.js';
import { runClusterJob } from '../src/cluster/run-cluster-job.js';
import type { JobConfig } from '../src/engine/job-config.js';
import type { JobProgress, JobResult } from '../src/engine/result.js';
import { builtinRegistry, runJob } from '../src/index.js';
import { cpuMeter, cpuText, line, load, machine, NATS_URL, natsServerPid, note, waitForWorkers } from './cluster-common.js';
import { fmt } from './engine.js';

const ROWS = Number(process.env.CLUSTER_BENCH_ROWS ?? 2_000_000);
const RUNS = Number(process.env.CLUSTER_BENCH_RUNS ?? 3);
const CLI = new URL('../src/cli/main.ts', import.meta.url).pathname;
const prefix = `twbench_${randomBytes(3).toString('hex')}`;

/** Rows per second between the first and the last progress report that moved. */
function flowingRate(): { onProgress: (p: JobProgress) => void; rate: () => number } {
  let first: { at: number; rows: number } | undefined;
  let last: { at: number; rows: number } | undefined;
  return {
    onProgress: (p) => {
      if (p.rowsRead === 0) return;
      first ??= { at: performance.now(), rows: p.rowsRead };
      if (!last || p.rowsRead > last.rows) last = { at: performance.now(), rows: p.rowsRead };
    },
    rate: () => (first && last && last.at > first.at ? ((last.rows - first.rows) / (last.at - first.at)) * 1000 : 0),
  };
}

interface Figures {
  /** Rows the sink committed per second of the whole run. */
  whole: number;
  /** Rows read per second from the first row read to the last. */
  flowing: number;
  seconds: number;
  cpu: Record<string, number>;
  /** Runs after the first that resumed the job because a worker was lost or a checkpoint stalled. */
  recoveries: number;
}

function job(name: string, parallelism: number, root: string, extraEnv: Partial<JobConfig['env']> = {}, rows = ROWS): JobConfig {
  return {
    env: { name, parallelism, checkpoint: { interval: '2s', dir: join(root, 'checkpoints') }, ...extraEnv },
    source: [{ type: 'fake', rows, splits: 16 }],
    sink: [{ type: 'file', path: join(root, 'out', name), format: 'parquet' }],
  };
}

/** Rows in the Parquet files a run left in `dir`, read back with the file source. */
async function rowsIn(dir: string): Promise<number> {
  const result = await runJob(
    { env: { name: `bench-count-${prefix}`, parallelism: 1, transport: 'in-process', checkpoint: { interval: '60s', dir: join(dir, '..', '..', 'checkpoints') } }, source: [{ type: 'file', path: dir, format: 'parquet' }], sink: [{ type: 'blackhole' }] },
    { logger: silentLogger },
  );
  if (result.status !== 'finished') throw new Error(`could not read back ${dir}: ${result.error?.message}`);
  return result.rowsRead;
}

async function measured(name: string, run: (config: JobConfig, onProgress: (p: JobProgress) => void) => Promise<JobResult & { recoveries?: number }>, config: JobConfig, pids: Record<string, () => number | undefined>): Promise<Figures> {
  const rate = flowingRate();
  const cpu = cpuMeter(pids);
  const started = performance.now();
  const result = await run(config, rate.onProgress);
  const seconds = (performance.now() - started) / 1000;
  const spent = cpu();
  if (result.status !== 'finished') throw new Error(`${name}: job ${result.status}: ${result.error?.message}`);
  // Rows actually produced: read back from the files the sink committed, not counted by the run (a run that
  // recovered after a lost worker counts only what its last attempt wrote).
  const out = String(config.sink[0]?.['path']);
  const rows = await rowsIn(out);
  rmSync(out, { recursive: true, force: true });
  if (rows !== ROWS) throw new Error(`${name}: the output holds ${rows} rows, not ${ROWS} (recoveries: ${result.recoveries ?? 0})`);
  return { whole: rows / seconds, flowing: rate.rate(), seconds, cpu: spent, recoveries: result.recoveries ?? 0 };
}

function startWorker(): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--nats', NATS_URL, '--prefix', prefix, '--slots', '1'], { stdio: 'ignore' });
}

function best(runs: Figures[]): Figures {
  if (runs.length === 0) return { whole: NaN, flowing: NaN, seconds: NaN, cpu: {}, recoveries: 0 };
  return runs.reduce((a, b) => (b.flowing > a.flowing ? b : a));
}

/** Prints why the cluster runner resumed a job (a lost worker, a crashed pipeline), and nothing else. */
const recoveryLogger: Logger = {
  ...silentLogger,
  warn(message) {
    if (message.startsWith('recovering')) note(message.slice(0, 300));
  },
};

/** Keeps a run's figures; a run that failed or lost rows is printed and left out. */
async function record(into: Figures[], run: () => Promise<Figures>): Promise<void> {
  try {
    into.push(await run());
  } catch (error) {
    line('  a run failed', (error as Error).message.slice(0, 300));
  }
}

async function throughput(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tideway-bench-cluster-'));
  const workers: ChildProcess[] = [startWorker(), startWorker()];
  const nats = natsServerPid();
  const pids = { 'worker 1': () => workers[0]!.pid, 'worker 2': () => workers[1]!.pid, 'nats-server': () => nats };
  const results = { local: [] as Figures[], p2: [] as Figures[], p1: [] as Figures[] };
  let startup = 0;
  let n = 0;
  const cluster = (parallelism: number) =>
    measured(
      `cluster p${parallelism}`,
      (config, onProgress) => runClusterJob(config, { registry: builtinRegistry(), cluster: NATS_URL, prefix, sharedPaths: [root], logger: recoveryLogger, progressIntervalMs: 100, onProgress }),
      job(`bench-cluster-${prefix}-${++n}`, parallelism, root),
      pids,
    );
  try {
    await waitForWorkers(2, prefix);
    // What starting two worker threads costs a local run (they load the TypeScript sources), from a 16-row run.
    const self = process.cpuUsage();
    await runJob(job(`bench-startup-${prefix}`, 2, root, { transport: 'worker-threads' }, 16), { logger: silentLogger });
    const used = process.cpuUsage(self);
    startup = (used.user + used.system) / 1e6;
    // Warm the worker processes (JIT, the Parquet encoder) before measuring them.
    await runClusterJob(job(`bench-warm-${prefix}`, 2, root, {}, 200_000), { registry: builtinRegistry(), cluster: NATS_URL, prefix, sharedPaths: [root], logger: silentLogger });
    rmSync(join(root, 'out'), { recursive: true, force: true });
    for (let i = 0; i < RUNS; i++) {
      await record(results.local, () =>
        measured('local p2', (config, onProgress) => runJob(config, { logger: silentLogger, progressIntervalMs: 100, onProgress }), job(`bench-local-${prefix}-${++n}`, 2, root, { transport: 'worker-threads' }), {
          'nats-server': () => nats,
        }),
      );
      await record(results.p2, () => cluster(2));
      await record(results.p1, () => cluster(1));
    }
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.exitCode === null ? new Promise((resolve) => w.once('exit', resolve)) : undefined)));
    const leftovers = await openCluster(NATS_URL, { prefix }).catch(() => undefined);
    if (leftovers) {
      await destroyCluster(leftovers);
      await leftovers.close();
    }
    rmSync(root, { recursive: true, force: true });
  }
  const local = best(results.local);
  const p2 = best(results.p2);
  const p1 = best(results.p1);
  const both = (f: Figures) => `${fmt(f.flowing)} (${fmt(f.whole)})${f.recoveries ? ` [${f.recoveries} recoveries]` : ''}`;
  note(`rows/s read from the first row to the last (in brackets: rows the sink committed over the whole run, start-up included); best of ${RUNS}`);
  line(`fake -> file parquet p2, worker threads, ${fmt(ROWS)} rows`, `${both(local)} rows/s`);
  line('fake -> file parquet p2, two `tideway worker` processes over NATS', `${both(p2)} rows/s`, p2.flowing / local.flowing, '>= 0.9');
  line('  the same, whole run', '', p2.whole / local.whole);
  line('fake -> file parquet p1, one worker process over NATS', `${both(p1)} rows/s`);
  line('  p2 on two workers vs p1 on one', '', p2.flowing / p1.flowing, '>= 1.7');
  line('  the same, whole run', '', p2.whole / p1.whole);
  const perCpu = (f: Figures, less = 0) => ROWS / (Object.values(f.cpu).reduce((a, b) => a + b, 0) - less);
  line('rows per CPU-second (coordinator, workers, nats-server): local p2', `${fmt(perCpu(local))} rows/CPU-s`);
  line(`  local p2 less thread start-up (${startup.toFixed(1)} CPU-s, measured on a 16-row run)`, `${fmt(perCpu(local, startup))} rows/CPU-s`);
  line('  two worker processes over NATS, p2 (vs local less start-up)', `${fmt(perCpu(p2))} rows/CPU-s`, perCpu(p2) / perCpu(local, startup));
  line('  one worker process over NATS, p1', `${fmt(perCpu(p1))} rows/CPU-s`, perCpu(p1) / perCpu(local, startup));
  note('whole runs and CPU-seconds: each local run starts two worker threads that load the TypeScript sources (tsx); the worker processes');
  note('were started once before the runs, so their start-up is not in the cluster figures.');
  note(`every run, rows/s flowing (whole): local ${results.local.map(both).join(', ')}; p2 ${results.p2.map(both).join(', ')}; p1 ${results.p1.map(both).join(', ')}`);
  note(`CPU, local p2 best run (${local.seconds.toFixed(1)} s): this process = coordinator + 2 worker threads; ${cpuText(local.cpu, local.seconds)}`);
  note(`CPU, cluster p2 best run (${p2.seconds.toFixed(1)} s): ${cpuText(p2.cpu, p2.seconds)}`);
  note(`CPU, cluster p1 best run (${p1.seconds.toFixed(1)} s): ${cpuText(p1.cpu, p1.seconds)}`);
  const workerCores = ((p2.cpu['worker 1'] ?? 0) + (p2.cpu['worker 2'] ?? 0)) / p2.seconds;
  note(
    `What limits p1 -> p2 here: the two workers got ${workerCores.toFixed(2)} cores between them at p2, of the 2 this machine has; the coordinator ` +
      `(this process), nats-server and everything else running (load average ${load()}) share the same two cores, so p2 cannot reach 2x p1 ` +
      `unless the machine is otherwise idle. On separate hosts each worker has its own cores and only control messages cross NATS.`,
  );
}

process.stdout.write(`cluster benchmarks against ${NATS_URL}: ${machine()}\n`);
const part = process.env.CLUSTER_BENCH;
if (!part || part === 'throughput') await throughput();
if (!part || part === 'scale') {
  process.stdout.write('\n');
  spawnSync(process.execPath, ['--import', 'tsx', new URL('./cluster-scale.ts', import.meta.url).pathname], { stdio: 'inherit' });
} else {
  process.stdout.write(`\nload average at the end: ${load()}\n`);
}
