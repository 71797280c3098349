/**
 * Cluster benchmarks (figures, not pass/fail), against the local NATS at NATS_URL (default nats://127.0.0.1:4222):
 * 1. the same CPU-bound job (fake -> blackhole) at parallelism 2: worker threads in one process vs two
 *    `tideway worker` processes over NATS (goal >= 0.9), and 1 worker (p1) vs 2 workers (p2) (goal >= 1.7);
 *    rates "from the first row" (start-up excluded), best of two;
 * 2. a scale simulation: one coordinator (this process, the real NATS transport), 256 simulated readers in a
 *    child process, 100,000 one-row splits pulled over NATS: splits assigned per second, the round trip of a
 *    checkpoint barrier to 256 pipelines and back, and the coordinator's heap.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/api/logger.js';
import { destroyCluster, openCluster } from '../src/cluster/cluster-connection.js';
import { natsTransport } from '../src/cluster/nats-transport.js';
import { runClusterJob } from '../src/cluster/run-cluster-job.js';
import type { JobProgress } from '../src/engine/result.js';
import type { FromPipeline } from '../src/engine/messages.js';
import type { PipelineHost, PipelineSpec } from '../src/engine/transport.js';
import { builtinRegistry, runJob } from '../src/index.js';
import { fmt } from './engine.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const ROWS = Number(process.env.CLUSTER_BENCH_ROWS ?? 6_000_000);
const CLI = new URL('../src/cli/main.ts', import.meta.url).pathname;
const prefix = `twbench_${randomBytes(3).toString('hex')}`;

function line(name: string, value: string, ratio?: number, goal?: string): void {
  process.stdout.write(`${name.padEnd(62)} ${value.padStart(18)}${ratio === undefined ? '' : `  ratio ${ratio.toFixed(2)}`}${goal ? ` (goal ${goal})` : ''}\n`);
}

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

const job = (name: string, parallelism: number, dir: string) => ({
  env: { name, parallelism, checkpoint: { interval: '1s', dir } },
  source: [{ type: 'fake', rows: ROWS, splits: 16 }],
  sink: [{ type: 'blackhole' }],
});

async function local(dir: string): Promise<number> {
  const rate = flowingRate();
  const result = await runJob({ ...job(`bench-local-${prefix}`, 2, dir), env: { ...job('', 2, dir).env, name: `bench-local-${prefix}`, transport: 'worker-threads' } }, { logger: silentLogger, progressIntervalMs: 100, onProgress: rate.onProgress });
  if (result.status !== 'finished') throw new Error(`local bench job ${result.status}: ${result.error?.message}`);
  return rate.rate();
}

async function onCluster(parallelism: number, dir: string): Promise<number> {
  const rate = flowingRate();
  const result = await runClusterJob(job(`bench-cluster-${prefix}-${parallelism}`, parallelism, dir), {
    registry: builtinRegistry(),
    cluster: NATS_URL,
    prefix,
    logger: silentLogger,
    progressIntervalMs: 100,
    onProgress: rate.onProgress,
  });
  if (result.status !== 'finished') throw new Error(`cluster bench job ${result.status}: ${result.error?.message}`);
  return rate.rate();
}

function startWorker(): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--nats', NATS_URL, '--prefix', prefix, '--slots', '1'], { stdio: 'ignore' });
}

async function waitForWorkers(count: number, clusterPrefix = prefix): Promise<void> {
  const cluster = await openCluster(NATS_URL, { prefix: clusterPrefix });
  try {
    for (;;) {
      let n = 0;
      for await (const _ of await cluster.workers.keys()) n++;
      if (n >= count) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await cluster.close();
  }
}

async function throughput(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-cluster-'));
  const workers: ChildProcess[] = [];
  try {
    workers.push(startWorker());
    await waitForWorkers(1);
    const best = { local: 0, p1: 0, p2: 0 };
    best.p1 = Math.max(best.p1, await onCluster(1, dir));
    workers.push(startWorker());
    await waitForWorkers(2);
    for (let i = 0; i < 2; i++) {
      best.local = Math.max(best.local, await local(dir));
      best.p2 = Math.max(best.p2, await onCluster(2, dir));
    }
    best.p1 = Math.max(best.p1, await onCluster(1, dir));
    line(`fake -> blackhole p2, worker threads, ${fmt(ROWS)} rows`, `${fmt(best.local)} rows/s`);
    line('fake -> blackhole p2, two worker processes over NATS', `${fmt(best.p2)} rows/s`, best.p2 / best.local, '>= 0.9');
    line('fake -> blackhole p1, one worker process over NATS', `${fmt(best.p1)} rows/s`);
    line('  p2 on two workers vs p1 on one', '', best.p2 / best.p1, '>= 1.7; needs a free core per worker');
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function simulation(): Promise<void> {
  const readers = 256;
  const splits = 100_000;
  const simPrefix = `${prefix}s`;
  const cluster = await openCluster(NATS_URL, { prefix: simPrefix });
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./cluster-sim-worker.ts', import.meta.url).pathname], {
    env: { ...process.env, SIM_NATS: NATS_URL, SIM_PREFIX: simPrefix, SIM_SLOTS: String(readers) },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitForWorkers(1, simPrefix);
    const heapBefore = process.memoryUsage().heapUsed;
    const queue = Array.from({ length: splits }, (_, i) => `split-${i}`);
    let assigned = 0;
    let seq = 0;
    const acks = new Map<number, Set<number>>();
    let ackWaiter: (() => void) | undefined;
    const specs = Array.from({ length: readers }, (_, i) => ({ pipelineId: i, sourceIndex: 0, subtask: i, parallelism: readers, schemaIpc: new Uint8Array() }) as PipelineSpec);
    let allDone!: () => void;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    let finished = 0;
    // Pipelines speak before start() returns; their first messages wait until the host exists, as in runJob.
    let host: PipelineHost | undefined;
    const early: [number, FromPipeline][] = [];
    const onMessage = (pipelineId: number, message: FromPipeline): void => {
      if (!host) {
        early.push([pipelineId, message]);
        return;
      }
      {
        if (message.kind === 'splitRequest') {
          const split = queue.pop();
          if (split) {
            assigned++;
            host!.send(pipelineId, { kind: 'assign', splits: [{ splitId: split }], epoch: 0, seq: ++seq });
          } else host!.send(pipelineId, { kind: 'noMoreSplits', expected: [], seq: ++seq });
        } else if (message.kind === 'ack') {
          acks.get(message.checkpointId)?.add(pipelineId);
          if (acks.get(message.checkpointId)?.size === readers) ackWaiter?.();
        } else if (message.kind === 'finished' && ++finished === readers) allDone();
      }
    };
    host = await natsTransport(cluster, { logger: silentLogger, heartbeatTimeoutMs: 10_000 }).start(specs, { env: { name: `sim-${prefix}` } } as never, { onMessage, onCrash: () => undefined });
    for (const [pipelineId, message] of early.splice(0)) onMessage(pipelineId, message);
    const started = performance.now();
    const roundTrips: number[] = [];
    for (let checkpointId = 1; queue.length > 0; checkpointId++) {
      await new Promise((r) => setTimeout(r, 500));
      acks.set(checkpointId, new Set());
      const acked = new Promise<void>((resolve) => (ackWaiter = resolve));
      const sent = performance.now();
      for (let p = 0; p < readers; p++) host.send(p, { kind: 'trigger', checkpointId, endOfInput: false, stop: false, seq: ++seq });
      await acked;
      roundTrips.push(performance.now() - sent);
    }
    await done;
    const seconds = (performance.now() - started) / 1000;
    const heapAfter = process.memoryUsage().heapUsed;
    await host.close();
    roundTrips.sort((a, b) => a - b);
    line(`scale simulation: ${readers} readers, ${fmt(splits)} splits over NATS`, `${fmt(assigned / seconds)} splits/s`);
    line(`  checkpoint round trip at ${readers} pipelines (median of ${roundTrips.length})`, `${roundTrips[Math.floor(roundTrips.length / 2)]?.toFixed(1)} ms`);
    line('  coordinator heap used: before placing -> after the last split', `${(heapBefore / 1048576).toFixed(0)} -> ${(heapAfter / 1048576).toFixed(0)} MB`);
    line('  coordinator RSS', `${(process.memoryUsage().rss / 1048576).toFixed(0)} MB`);
  } finally {
    child.kill('SIGTERM');
    await destroyCluster(cluster);
    await cluster.close();
  }
}

process.stdout.write(`cluster benchmarks against ${NATS_URL}\n`);
const only = process.argv[2];
if (!only || only === 'throughput') await throughput();
if (!only || only === 'sim') await simulation();
