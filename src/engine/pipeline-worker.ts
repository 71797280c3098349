import { parentPort, workerData } from 'node:worker_threads';
import type { ConnectorDefinition } from '../api/connector.js';
import { stderrLogger } from './logger.js';
import { Pipeline } from './pipeline.js';
import { planJobOrThrow } from './plan.js';
import { ConnectorRegistry } from './registry.js';
import type { PipelineSpec } from './transport.js';
import type { WorkerInbound, WorkerOutbound } from './worker-transport.js';

/** Entry point of a pipeline worker thread: plans the job again from plain data and runs one pipeline. */
async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('pipeline-worker must run in a worker thread');
  const { spec, registryModule } = workerData as { spec: PipelineSpec; registryModule: string };
  const post = (message: WorkerOutbound) => port.postMessage(message);
  let inbox: ((message: Extract<WorkerInbound, { kind: 'control' }>['message']) => void) | undefined;
  let pipeline: Pipeline | undefined;
  port.on('message', (raw: WorkerInbound) => {
    if (raw.kind === 'control') inbox?.(raw.message);
    else void shutdown();
  });
  const shutdown = async () => {
    await pipeline?.close();
    post({ kind: 'exited' });
    port.close();
  };
  try {
    const module = (await import(registryModule)) as { connectors: ConnectorDefinition[] };
    const plan = planJobOrThrow(spec.job, new ConnectorRegistry(module.connectors));
    const logger = stderrLogger(spec.logLevel, `[pipeline ${spec.pipelineId}] `);
    pipeline = new Pipeline(spec, plan, { send: (message) => post({ kind: 'control', message }), onMessage: (h) => (inbox = h) }, logger);
    await pipeline.start();
    post({ kind: 'started' });
  } catch (error) {
    post({ kind: 'startFailed', message: error instanceof Error ? error.message : String(error) });
    port.close();
  }
}

void main();
