/**
 * Scale this machine cannot host, simulated (figures, not pass/fail): this process is one real coordinator
 * (the engine's runJob with the NATS transport, the JetStream checkpoint store and the coordinator lease, as
 * runClusterJob runs it), driving simulated readers in a child process (bench/cluster-sim-worker.ts) that
 * speak the pipeline protocol over NATS without moving data. A fake source of N one-row splits feeds them.
 *
 * Per step (workers x slots = readers) it reports: splits assigned per second, the checkpoint round trip
 * (first barrier sent to last acknowledgement in), checkpoint bodies (size, JetStream save time), placement
 * time, the coordinator's RSS and heap and event-loop use, CPU of the coordinator, the simulation and
 * nats-server, and the heartbeat write latency the simulated workers saw.
 *
 * CLUSTER_SCALE="32x2,64x2,128x2,128x2:300000,256x2,1000x1" (the default) chooses the steps (workers x slots, optionally ":splits");
 * CLUSTER_SCALE_SPLITS sets the splits of the 256-reader step (default 100,000) and CLUSTER_SCALE_SWEEP_SPLITS
 * those of the others (default 50,000).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { silentLogger } from '../src/api/logger.js';
import { destroyCluster, openCluster } from '../src/cluster/cluster-connection.js';
import { JetStreamCheckpointStore } from '../src/cluster/jetstream-checkpoint-store.js';
import { natsTransport } from '../src/cluster/nats-transport.js';
import type { CheckpointData, CheckpointStore } from '../src/engine/checkpoint-store.js';
import type { FromPipeline, ToPipeline } from '../src/engine/messages.js';
import type { JobResult } from '../src/engine/result.js';
import type { TransportFactory } from '../src/engine/transport.js';
import { builtinRegistry, MAX_CLUSTER_PARALLELISM, runJob } from '../src/index.js';
import { withSave } from '../src/testing/fault-injection.js';
import { cpuMeter, cpuText, line, load, machine, mb, NATS_URL, natsServerPid, note, waitForWorkers } from './cluster-common.js';
import { fmt } from './engine.js';

/** What the instrumented transport and store saw of one run. */
class Probe {
  splitsAssigned = 0;
  firstAssign = 0;
  lastAssign = 0;
  placementMs = 0;
  readonly triggers = new Map<number, { sent: number; acks: number; lastAck: number }>();
  readonly saves: { bytes: number; ms: number; assigned: number; consumed: number }[] = [];

  constructor(private readonly readers: number) {}

  out(message: ToPipeline): void {
    if (message.kind === 'assign') {
      const now = performance.now();
      this.firstAssign ||= now;
      this.lastAssign = now;
      this.splitsAssigned += message.splits.length;
    } else if (message.kind === 'trigger' && !this.triggers.has(message.checkpointId)) {
      this.triggers.set(message.checkpointId, { sent: performance.now(), acks: 0, lastAck: 0 });
    }
  }

  in(message: FromPipeline): void {
    if (message.kind !== 'ack') return;
    const t = this.triggers.get(message.checkpointId);
    if (!t) return;
    t.acks++;
    t.lastAck = performance.now();
  }

  /** Round trips of the checkpoints every reader acknowledged, in ms, sorted. */
  roundTrips(): number[] {
    return [...this.triggers.values()]
      .filter((t) => t.acks >= this.readers)
      .map((t) => t.lastAck - t.sent)
      .sort((a, b) => a - b);
  }
}

/** The NATS transport, unchanged, with the probe listening on both directions and timing placement. */
function probed(inner: TransportFactory, probe: Probe): TransportFactory {
  return {
    name: inner.name,
    async start(specs, plan, handlers) {
      const started = performance.now();
      const host = await inner.start(specs, plan, {
        onMessage: (pipelineId, message) => {
          probe.in(message);
          handlers.onMessage(pipelineId, message);
        },
        onCrash: handlers.onCrash,
      });
      probe.placementMs = performance.now() - started;
      return {
        send: (pipelineId, message) => {
          probe.out(message);
          host.send(pipelineId, message);
        },
        close: () => host.close(),
      };
    },
  };
}

/** The JetStream store, unchanged, with each save's body size and duration recorded. */
function timedStore(inner: JetStreamCheckpointStore, probe: Probe): CheckpointStore {
  return withSave(inner, async (data: CheckpointData) => {
    const bytes = Buffer.byteLength(JSON.stringify(data));
    const started = performance.now();
    await inner.save(data);
    let assigned = 0;
    let consumed = 0;
    for (const source of data.sources) {
      assigned += source.assigned.length;
      for (const reader of source.readers) consumed += reader.consumed.length;
    }
    probe.saves.push({ bytes, ms: performance.now() - started, assigned, consumed });
  });
}

interface Step {
  workers: number;
  slots: number;
  splits: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

async function step({ workers, slots, splits }: Step): Promise<void> {
  const readers = workers * slots;
  // A cluster run allows MAX_CLUSTER_PARALLELISM pipelines per source: more readers take more sources.
  let sources = Math.ceil(readers / MAX_CLUSTER_PARALLELISM);
  while (readers % sources !== 0) sources++;
  const share = (k: number) => Math.floor(splits / sources) + (k < splits % sources ? 1 : 0);
  const prefix = `twscale_${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-scale-'));
  const cluster = await openCluster(NATS_URL, { prefix, name: 'tideway scale coordinator' });
  let child: ChildProcess | undefined;
  let childOut = '';
  try {
    child = spawn(process.execPath, ['--import', 'tsx', new URL('./cluster-sim-worker.ts', import.meta.url).pathname], {
      env: { ...process.env, SIM_NATS: NATS_URL, SIM_PREFIX: prefix, SIM_WORKERS: String(workers), SIM_SLOTS: String(slots) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout!.on('data', (d: Buffer) => (childOut += d.toString()));
    await waitForWorkers(workers, prefix);
    const probe = new Probe(readers);
    const store = new JetStreamCheckpointStore(cluster, `scale-${prefix}`, silentLogger);
    const transport = natsTransport(cluster, {
      logger: silentLogger,
      lease: () => (store.heldLease ? { key: store.heldLease.job, token: store.heldLease.value.token } : null),
    });
    const nats = natsServerPid();
    const childPid = child.pid;
    const cpu = cpuMeter({ simulation: () => childPid, 'nats-server': () => nats });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const elu = performance.eventLoopUtilization();
    const memory = { rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed, peakRss: 0, peakHeap: 0 };
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      memory.peakRss = Math.max(memory.peakRss, m.rss);
      memory.peakHeap = Math.max(memory.peakHeap, m.heapUsed);
    }, 100);
    const started = performance.now();
    let result: JobResult;
    try {
      result = await runJob(
        {
          env: { name: `scale-${prefix}`, parallelism: readers / sources, checkpoint: { interval: '1s', timeout: '120s', dir } },
          source: Array.from({ length: sources }, (_, k) => ({ type: 'fake', rows: share(k), splits: share(k) })),
          sink: Array.from({ length: sources }, (_, k) => ({ type: 'blackhole', input: sources === 1 ? undefined : `source${k}` })),
        },
        { registry: builtinRegistry(), transport: probed(transport, probe), checkpointStore: timedStore(store, probe), logger: silentLogger, clusterLimits: true },
      );
    } finally {
      clearInterval(sampler);
      delay.disable();
    }
    const seconds = (performance.now() - started) / 1000;
    const used = performance.eventLoopUtilization(elu);
    const spent = cpu();
    const trips = probe.roundTrips();
    const sizes = probe.saves.map((s) => s.bytes).sort((a, b) => a - b);
    const saveMs = probe.saves.map((s) => s.ms).sort((a, b) => a - b);
    const assignRate = probe.splitsAssigned / Math.max(0.001, (probe.lastAssign - probe.firstAssign) / 1000);
    process.stdout.write(`\n### ${readers} readers (${workers} simulated workers x ${slots} slots; ${sources} source(s) x parallelism ${readers / sources}), ${fmt(splits)} one-row splits; load ${load()}\n`);
    if (result.status !== 'finished') line('  job', `${result.status}: ${result.error?.code} ${result.error?.message.slice(0, 200)}`);
    line('  rows read (every split once)', `${fmt(result.rowsRead)} of ${fmt(splits)}`);
    line('  splits assigned per second (first to last assignment)', `${fmt(assignRate)} splits/s`);
    line('  whole run, placement to final commit', `${seconds.toFixed(1)} s`);
    line('  placement (live-worker scan, place requests)', `${probe.placementMs.toFixed(0)} ms`);
    line(`  checkpoint round trip, barrier out to last of ${readers} acks in`, `p50 ${quantile(trips, 0.5).toFixed(1)} / max ${quantile(trips, 1).toFixed(1)} ms (${trips.length})`);
    line('  checkpoint body: median / largest', `${(quantile(sizes, 0.5) / 1024).toFixed(1)} / ${(quantile(sizes, 1) / 1024).toFixed(1)} KiB`);
    const largest = probe.saves.reduce((a, b) => (b.bytes > a.bytes ? b : a), { bytes: 0, ms: 0, assigned: 0, consumed: 0 });
    note(`the largest holds ${fmt(largest.assigned)} splits in the ledger (in flight) and ${fmt(largest.consumed)} ids finished since the last completed checkpoint`);
    line('  checkpoint save (object put + pointer compare-and-set)', `p50 ${quantile(saveMs, 0.5).toFixed(1)} / max ${quantile(saveMs, 1).toFixed(1)} ms`);
    line('  coordinator RSS: before -> peak', `${mb(memory.rss)} -> ${mb(memory.peakRss)}`);
    line('  coordinator heap used: before -> peak', `${mb(memory.heap)} -> ${mb(memory.peakHeap)}`);
    line('  coordinator event loop busy / delay p99 / max', `${(used.utilization * 100).toFixed(0)}% / ${(delay.percentile(99) / 1e6).toFixed(0)} / ${(delay.max / 1e6).toFixed(0)} ms`);
    note(`CPU over the run (${seconds.toFixed(1)} s wall): ${cpuText(spent, seconds)}`);
    child.kill('SIGTERM');
    await new Promise((resolve) => child!.once('exit', resolve));
    const stats = /SIM_STATS (\{.*\})/.exec(childOut);
    if (stats) {
      const s = JSON.parse(stats[1]!) as { heartbeats: number; heartbeatFailures: number; putP50: number; putP99: number; putMax: number; messagesIn: number; messagesOut: number };
      line(`  heartbeat KV writes (${workers} workers, 1/s each): p50 / p99 / max`, `${s.putP50.toFixed(1)} / ${s.putP99.toFixed(1)} / ${s.putMax.toFixed(0)} ms`);
      note(`${fmt(s.heartbeats)} heartbeats written (${s.heartbeatFailures} failed); control messages: ${fmt(s.messagesIn)} to readers, ${fmt(s.messagesOut)} from readers`);
    }
  } finally {
    if (child && child.exitCode === null) child.kill('SIGTERM');
    await destroyCluster(cluster);
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const DEFAULT_STEPS = '32x2,64x2,128x2,128x2:300000,256x2,1000x1';

function steps(spec: string): Step[] {
  const main = Number(process.env.CLUSTER_SCALE_SPLITS ?? 100_000);
  const sweep = Number(process.env.CLUSTER_SCALE_SWEEP_SPLITS ?? 50_000);
  return spec.split(',').map((s) => {
    const [shape, splits] = s.split(':');
    const [workers, slots] = shape!.split('x').map(Number) as [number, number];
    return { workers, slots, splits: splits ? Number(splits) : workers * slots === 256 ? main : sweep };
  });
}

const only = process.env.CLUSTER_SCALE_STEP;
if (only) {
  // One step in a fresh process, so that its coordinator's memory is its own.
  const [step0] = steps(only);
  try {
    await step(step0!);
  } catch (error) {
    line(`  ${step0!.workers * step0!.slots} readers`, `failed: ${(error as Error).message.slice(0, 200)}`);
  }
} else {
  process.stdout.write(`cluster scale simulation against ${NATS_URL}: ${machine()}\n`);
  note('one real coordinator (runJob + NATS transport + JetStream checkpoints + lease) per step, each in a fresh');
  note('process; simulated workers and readers in one child process; nats-server, the child and the coordinator');
  note('share the same two cores with whatever else runs.');
  for (const s of (process.env.CLUSTER_SCALE ?? DEFAULT_STEPS).split(',')) {
    spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { stdio: 'inherit', env: { ...process.env, CLUSTER_SCALE_STEP: s } });
  }
  process.stdout.write(`\nload average at the end: ${load()}\n`);
}
