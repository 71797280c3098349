import { Worker } from 'node:worker_threads';
import type { Logger } from '../api/logger.js';
import { TidewayError } from '../api/errors.js';
import type { FromPipeline, ToPipeline } from './messages.js';
import type { JobPlan } from './plan.js';
import type { PipelineHost, PipelineSpec, TransportFactory, TransportHandlers } from './transport.js';

/** What the coordinator and a pipeline worker say to each other over the worker's port. */
export type WorkerInbound = { kind: 'control'; message: ToPipeline } | { kind: 'shutdown' };
export type WorkerOutbound = { kind: 'control'; message: FromPipeline } | { kind: 'started' } | { kind: 'startFailed'; message: string } | { kind: 'exited' };

const runningFromSource = import.meta.url.endsWith('.ts');

/**
 * One worker thread per pipeline, so that parallelism uses every core. Workers build their connectors from
 * `registryModule` (a module exporting `connectors`), since connector objects cannot cross threads. Batches
 * stay inside their pipeline's worker; only control messages and small states cross.
 */
export function workerThreadsTransport(logger: Logger, registryModule: string): TransportFactory {
  return {
    name: 'worker-threads',
    async start(specs: PipelineSpec[], _plan: JobPlan, handlers: TransportHandlers): Promise<PipelineHost> {
      const entry = new URL(runningFromSource ? './pipeline-worker.ts' : './pipeline-worker.js', import.meta.url);
      const script = runningFromSource ? new URL('./ts-worker-bootstrap.mjs', import.meta.url) : entry;
      const workers = new Map<number, Worker>();
      const exits: Promise<void>[] = [];
      let closing = false;
      const started = specs.map((spec) => {
        const worker = new Worker(script, {
          workerData: { spec, registryModule, entry: entry.href },
          stderr: false,
        });
        workers.set(spec.pipelineId, worker);
        exits.push(new Promise((resolve) => worker.once('exit', () => resolve())));
        return new Promise<void>((resolve, reject) => {
          worker.on('message', (raw: WorkerOutbound) => {
            if (raw.kind === 'started') resolve();
            else if (raw.kind === 'startFailed') reject(new TidewayError('PIPELINE_START_FAILED', raw.message));
            else if (raw.kind === 'control') handlers.onMessage(spec.pipelineId, raw.message);
          });
          worker.on('error', (error) => {
            reject(error);
            if (!closing) handlers.onCrash(spec.pipelineId, error);
          });
          worker.on('exit', (code) => {
            if (!closing && code !== 0) handlers.onCrash(spec.pipelineId, new Error(`worker exited with code ${code}`));
          });
        });
      });
      try {
        await Promise.all(started);
      } catch (error) {
        closing = true;
        await Promise.all([...workers.values()].map((w) => w.terminate()));
        throw error;
      }
      logger.debug('pipeline workers started', { workers: workers.size });
      let closed: Promise<void> | undefined;
      return {
        send(pipelineId, message) {
          workers.get(pipelineId)?.postMessage({ kind: 'control', message } satisfies WorkerInbound);
        },
        kill(pipelineId) {
          // terminate() ends the thread where it stands; its exit reports the crash.
          void workers.get(pipelineId)?.terminate();
        },
        close() {
          closed ??= (async () => {
            closing = true;
            for (const worker of workers.values()) worker.postMessage({ kind: 'shutdown' } satisfies WorkerInbound);
            const timeout = setTimeout(() => {
              for (const worker of workers.values()) void worker.terminate();
            }, 30_000);
            await Promise.all(exits);
            clearTimeout(timeout);
          })();
          return closed;
        },
      };
    },
  };
}
