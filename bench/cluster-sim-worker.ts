/**
 * The workers' side of the cluster scale simulation (bench/cluster-scale.ts): one process that stands in for
 * SIM_WORKERS cluster workers of SIM_SLOTS slots each. Every simulated worker rewrites its heartbeat key like
 * `tideway worker` (once per SIM_HEARTBEAT_MS), answers placements on its own subject, and runs the placed
 * pipelines as simulated readers that speak the engine's pipeline protocol over the same NATS subjects without
 * reading data: register, ask for a split, finish it at once and ask again, hold an assignment stamped after
 * their last barrier until that barrier (the consistent cut), acknowledge each barrier with the ids finished
 * since the last completed checkpoint, and report finished once no-more-splits named nothing still missing.
 * So the figures measure the coordinator, NATS and JetStream, not connectors.
 *
 * On SIGTERM it prints one JSON line of its own figures (heartbeat write latency, messages, CPU) and leaves.
 */
import { hostname } from 'node:os';
import { decodeJson, encodeJson, openCluster } from '../src/cluster/cluster-connection.js';
import { specFromWire, type FromPipelineEnvelope, type ToPipelineEnvelope, type WorkerInfo, type WorkerReply, type WorkerRequest } from '../src/cluster/protocol.js';
import { emptyMetrics, type FromPipeline, type PipelineMetrics, SeenSequences, type ToPipeline } from '../src/engine/messages.js';
import type { PipelineSpec } from '../src/engine/transport.js';

const cluster = await openCluster(process.env.SIM_NATS!, { prefix: process.env.SIM_PREFIX!, name: 'tideway scale simulation' });
const workerCount = Number(process.env.SIM_WORKERS ?? 128);
const slots = Number(process.env.SIM_SLOTS ?? 2);
const heartbeatMs = Number(process.env.SIM_HEARTBEAT_MS ?? 1000);
const { nc, names } = cluster;

const stats = { heartbeats: 0, heartbeatFailures: 0, putMs: [] as number[], messagesIn: 0, messagesOut: 0, ackBytes: 0, acks: 0, placements: 0 };

/** One simulated reader: the pipeline protocol of src/engine/pipeline.ts, with splits that finish at once. */
class SimPipeline {
  private barrier: number;
  private readonly seen = new SeenSequences();
  private readonly held: Extract<ToPipeline, { kind: 'assign' }>[] = [];
  private readonly delivered = new Set<string>();
  /** Finished ids with the checkpoint that first reported them. */
  private consumed: { id: string; reportedIn: number }[] = [];
  private expected: string[] | undefined;
  private finished = false;
  private readonly metrics: PipelineMetrics = emptyMetrics();

  constructor(
    private readonly spec: PipelineSpec,
    private readonly publish: (message: FromPipeline) => void,
  ) {
    this.barrier = spec.restoredCheckpoint;
  }

  start(): void {
    this.send({ kind: 'register' });
    this.send({ kind: 'splitRequest' });
  }

  private send(message: FromPipeline): void {
    stats.messagesOut++;
    this.publish(message);
  }

  private stamp(): PipelineMetrics {
    this.metrics.seq++;
    return { ...this.metrics };
  }

  onMessage(message: ToPipeline): void {
    stats.messagesIn++;
    if (!this.seen.firstTime(message.seq)) return;
    switch (message.kind) {
      case 'assign':
        if (message.epoch > this.barrier) this.held.push(message);
        else this.deliver(message.splits.map((s) => s.splitId));
        return;
      case 'noMoreSplits':
        this.expected ??= message.expected;
        this.maybeFinish();
        return;
      case 'trigger': {
        for (const c of this.consumed) if (c.reportedIn === 0) c.reportedIn = message.checkpointId;
        const ack: FromPipeline = { kind: 'ack', checkpointId: message.checkpointId, reader: { splits: [], consumed: this.consumed.map((c) => c.id) }, sinks: [], metrics: this.stamp() };
        stats.acks++;
        stats.ackBytes += 40 * this.consumed.length;
        this.send(ack);
        this.barrier = message.checkpointId;
        const due = this.held.filter((m) => m.epoch <= this.barrier);
        this.held.splice(0, this.held.length, ...this.held.filter((m) => m.epoch > this.barrier));
        for (const m of due) this.deliver(m.splits.map((s) => s.splitId));
        return;
      }
      case 'complete':
        this.consumed = this.consumed.filter((c) => c.reportedIn === 0 || c.reportedIn > message.checkpointId);
        return;
      case 'close':
        this.send({ kind: 'closed', metrics: this.stamp() });
        return;
      case 'event':
        return;
    }
  }

  private deliver(ids: string[]): void {
    for (const id of ids) {
      if (this.delivered.has(id)) continue;
      this.delivered.add(id);
      this.consumed.push({ id, reportedIn: 0 });
      this.metrics.rowsRead++;
      this.metrics.splitsDone++;
    }
    if (!this.expected) this.send({ kind: 'splitRequest' });
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || !this.expected || this.held.length > 0) return;
    if (!this.expected.every((id) => this.delivered.has(id))) return;
    this.finished = true;
    this.send({ kind: 'finished', metrics: this.stamp() });
  }
}

interface SimWorker {
  id: string;
  used: number;
  runs: Map<string, { pipelines: number; unsubscribe: () => void }>;
}

function info(worker: SimWorker): WorkerInfo {
  return {
    id: worker.id,
    host: hostname(),
    pid: process.pid,
    slots,
    used: worker.used,
    startedAt: '',
    heartbeatAt: new Date().toISOString(),
    runs: [...worker.runs].map(([runId, r]) => ({ runId, job: 'scale', pipelines: Array.from({ length: r.pipelines }, (_, i) => i) })),
  };
}

async function beat(worker: SimWorker): Promise<void> {
  const started = performance.now();
  try {
    await cluster.workers.put(worker.id, encodeJson(info(worker)));
    stats.heartbeats++;
    if (stats.putMs.length < 200_000) stats.putMs.push(performance.now() - started);
  } catch {
    stats.heartbeatFailures++;
  }
}

function handle(worker: SimWorker, request: WorkerRequest): WorkerReply {
  if (request.kind === 'place') {
    if (worker.runs.has(request.runId)) return { ok: true };
    if (request.specs.length > slots - worker.used) return { ok: false, code: 'WORKER_FULL', message: `${worker.id} is full` };
    stats.placements++;
    const from = names.fromPipelines(request.runId);
    const subscriptions = request.specs.map((wire) => {
      const spec = specFromWire(wire);
      const pipeline = new SimPipeline(spec, (message) => nc.publish(from, encodeJson({ pipelineId: spec.pipelineId, message } satisfies FromPipelineEnvelope)));
      const sub = nc.subscribe(names.toPipeline(request.runId, spec.pipelineId), {
        callback: (error, msg) => {
          if (!error) pipeline.onMessage(decodeJson<ToPipelineEnvelope>(msg.data).message);
        },
      });
      return { sub, pipeline };
    });
    worker.used += request.specs.length;
    worker.runs.set(request.runId, { pipelines: request.specs.length, unsubscribe: () => subscriptions.forEach((s) => s.sub.unsubscribe()) });
    // Subscriptions reach the server before the coordinator hears that placement succeeded, as in src/cluster/worker.ts.
    void nc.flush().then(() => subscriptions.forEach((s) => s.pipeline.start()));
    return { ok: true };
  }
  const run = worker.runs.get(request.runId);
  if (run && request.kind === 'stop') {
    run.unsubscribe();
    worker.runs.delete(request.runId);
    worker.used -= run.pipelines;
  }
  return { ok: true };
}

const workers: SimWorker[] = Array.from({ length: workerCount }, (_, i) => ({ id: `sim-${process.pid}-${i}`, used: 0, runs: new Map() }));
const timers: NodeJS.Timeout[] = [];
for (const [i, worker] of workers.entries()) {
  nc.subscribe(names.worker(worker.id), {
    callback: (error, msg) => {
      if (error) return;
      const request = decodeJson<WorkerRequest>(msg.data);
      // A placement answers after the pipelines' subscriptions are on the server.
      void nc.flush().then(() => msg.respond(encodeJson(handle(worker, request))));
    },
  });
  await beat(worker);
  // Spread the heartbeats over the interval, as independent worker processes would be.
  timers.push(setTimeout(() => timers.push(setInterval(() => void beat(worker), heartbeatMs)), Math.floor((heartbeatMs * i) / workerCount)));
}
await nc.flush();
process.stdout.write(`SIM_READY ${workerCount}\n`);

process.once('SIGTERM', () => {
  for (const t of timers) clearInterval(t);
  const cpu = process.cpuUsage();
  const put = [...stats.putMs].sort((a, b) => a - b);
  const at = (q: number) => put[Math.min(put.length - 1, Math.floor(q * put.length))] ?? 0;
  const { putMs: _, ...rest } = stats;
  process.stdout.write(`SIM_STATS ${JSON.stringify({ ...rest, putP50: at(0.5), putP99: at(0.99), putMax: put.at(-1) ?? 0, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
  void Promise.all(workers.map((w) => cluster.workers.delete(w.id).catch(() => undefined)))
    .finally(() => cluster.close())
    .finally(() => process.exit(0));
});
