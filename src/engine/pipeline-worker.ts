import { parentPort, workerData } from 'node:worker_threads';
import type { ConnectorDefinition } from '../api/connector.js';
import { stderrLogger } from './logger.js';
import type { ToPipeline } from './messages.js';
import { Pipeline } from './pipeline.js';
import { planJobOrThrow } from './plan.js';
import { ConnectorRegistry } from './registry.js';
import type { PipelineSpec } from './transport.js';
import type { WorkerInbound, WorkerOutbound } from './worker-transport.js';

/**
 * Entry point of a pipeline worker thread: plans the job again from plain data and runs the pipelines it
 * was given (one or more; they share the thread's event loop, each with its own reader, queue and writers).
 */
async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('pipeline-worker must run in a worker thread');
  const { specs, registryModule } = workerData as { specs: PipelineSpec[]; registryModule: string };
  const post = (message: WorkerOutbound) => port.postMessage(message);
  const inboxes = new Map<number, (message: ToPipeline) => void>();
  const pipelines: Pipeline[] = [];
  port.on('message', (raw: WorkerInbound) => {
    if (raw.kind === 'control') inboxes.get(raw.pipelineId)?.(raw.message);
    else void shutdown();
  });
  const shutdown = async () => {
    await Promise.all(pipelines.map((p) => p.close()));
    post({ kind: 'exited' });
    port.close();
  };
  try {
    const module = (await import(registryModule)) as { connectors: ConnectorDefinition[] };
    const registry = new ConnectorRegistry(module.connectors);
    for (const spec of specs) {
      const plan = planJobOrThrow(spec.job, registry);
      const logger = stderrLogger(spec.logLevel, `[pipeline ${spec.pipelineId}] `);
      pipelines.push(
        new Pipeline(
          spec,
          plan,
          { send: (message) => post({ kind: 'control', pipelineId: spec.pipelineId, message }), onMessage: (handler) => inboxes.set(spec.pipelineId, handler) },
          logger,
        ),
      );
    }
    await Promise.all(pipelines.map((p) => p.start()));
    post({ kind: 'started' });
  } catch (error) {
    post({ kind: 'startFailed', message: error instanceof Error ? error.message : String(error) });
    port.close();
  }
}

void main();
