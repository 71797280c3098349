/**
 * The workers side of the cluster scale simulation (bench/cluster.ts): one process answering placements for up
 * to SIM_SLOTS simulated readers. Each reader speaks the engine's pipeline protocol over NATS without reading
 * data: register, ask for a split, ask again once it arrives, acknowledge each barrier with a small snapshot,
 * and report finished after no-more-splits. It measures the coordinator and NATS, not connectors.
 */
import { hostname } from 'node:os';
import { decodeJson, encodeJson, openCluster } from '../src/cluster/cluster-connection.js';
import type { FromPipelineEnvelope, ToPipelineEnvelope, WorkerInfo, WorkerRequest } from '../src/cluster/protocol.js';
import type { FromPipeline } from '../src/engine/messages.js';
import { emptyMetrics } from '../src/engine/messages.js';

const cluster = await openCluster(process.env.SIM_NATS!, { prefix: process.env.SIM_PREFIX! });
const slots = Number(process.env.SIM_SLOTS ?? 256);
const id = `sim-${process.pid}`;
const { nc, names } = cluster;
let used = 0;
const beat = () => {
  const info: WorkerInfo = { id, host: hostname(), pid: process.pid, slots, used, startedAt: '', heartbeatAt: new Date().toISOString(), runs: [] };
  return cluster.workers.put(id, encodeJson(info));
};
await beat();
const timer = setInterval(() => void beat(), 1000);

nc.subscribe(names.worker(id), {
  callback: (_error, msg) => {
    const request = decodeJson<WorkerRequest>(msg.data);
    if (request.kind === 'place') {
      used += request.specs.length;
      const from = names.fromPipelines(request.runId);
      for (const spec of request.specs) {
        const pipelineId = spec.pipelineId;
        const send = (message: FromPipeline) => nc.publish(from, encodeJson({ pipelineId, message } satisfies FromPipelineEnvelope));
        const done: string[] = [];
        nc.subscribe(names.toPipeline(request.runId, pipelineId), {
          callback: (_e, m) => {
            const { message } = decodeJson<ToPipelineEnvelope>(m.data);
            if (message.kind === 'assign') {
              for (const split of message.splits) done.push(split.splitId);
              send({ kind: 'splitRequest' });
            } else if (message.kind === 'noMoreSplits') send({ kind: 'finished', metrics: emptyMetrics() });
            else if (message.kind === 'trigger') {
              send({ kind: 'ack', checkpointId: message.checkpointId, reader: { splits: [], consumed: done.splice(0) }, sinks: [], metrics: emptyMetrics() });
            }
          },
        });
        send({ kind: 'register' });
        send({ kind: 'splitRequest' });
      }
    } else if (request.kind === 'stop') used = 0;
    msg.respond(encodeJson({ ok: true }));
  },
});

process.once('SIGTERM', () => {
  clearInterval(timer);
  void cluster.workers.delete(id).catch(() => undefined).finally(() => void cluster.close().then(() => process.exit(0)));
});
