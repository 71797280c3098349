import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../api/logger.js';
import { TidewayError } from '../api/errors.js';
import type { FromPipeline, ToPipeline } from './messages.js';
import type { JobPlan } from './plan.js';
import type { PipelineHost, PipelineSpec, TransportFactory, TransportHandlers } from './transport.js';

/** What the coordinator and a pipeline worker say to each other over the worker's port. */
export type WorkerInbound = { kind: 'control'; pipelineId: number; message: ToPipeline } | { kind: 'shutdown' };
export type WorkerOutbound =
  | { kind: 'control'; pipelineId: number; message: FromPipeline }
  | { kind: 'started' }
  | { kind: 'startFailed'; message: string }
  | { kind: 'exited' };

const runningFromSource = import.meta.url.endsWith('.ts');

/**
 * Pipelines on worker threads, so that parallelism uses every core: as many threads as there are cores
 * (never more than pipelines), each hosting its share of the pipelines. A thread costs start-up time and tens
 * of megabytes, so `parallelism: 64` on two cores runs two threads, not 64. Workers build their connectors
 * from `registryModule` (a module exporting `connectors`), since connector objects cannot cross threads.
 * Batches stay inside their pipeline's thread; only control messages and small states cross.
 */
export function workerThreadsTransport(logger: Logger, registryModule: string): TransportFactory {
  return {
    name: 'worker-threads',
    async start(specs: PipelineSpec[], _plan: JobPlan, handlers: TransportHandlers): Promise<PipelineHost> {
      const entry = new URL(runningFromSource ? './pipeline-worker.ts' : './pipeline-worker.js', import.meta.url);
      const script = runningFromSource ? new URL('./ts-worker-bootstrap.mjs', import.meta.url) : entry;
      /** The thread hosting each pipeline. */
      const workers = new Map<number, Worker>();
      const threads: Worker[] = [];
      const exits: Promise<void>[] = [];
      let closing = false;
      const count = Math.min(specs.length, Math.max(1, availableParallelism()));
      const groups = Array.from({ length: count }, (_, t) => specs.filter((_, i) => i % count === t));
      const started = groups.map((group) => {
        const worker = new Worker(script, {
          workerData: { specs: group, registryModule, entry: entry.href },
          stderr: false,
        });
        threads.push(worker);
        for (const spec of group) workers.set(spec.pipelineId, worker);
        const first = group[0]!.pipelineId;
        exits.push(new Promise((resolve) => worker.once('exit', () => resolve())));
        return new Promise<void>((resolve, reject) => {
          worker.on('message', (raw: WorkerOutbound) => {
            if (raw.kind === 'started') resolve();
            else if (raw.kind === 'startFailed') reject(new TidewayError('PIPELINE_START_FAILED', raw.message));
            else if (raw.kind === 'control') handlers.onMessage(raw.pipelineId, raw.message);
          });
          worker.on('error', (error) => {
            reject(error);
            if (!closing) handlers.onCrash(first, error);
          });
          worker.on('exit', (code) => {
            if (!closing && code !== 0) handlers.onCrash(first, new Error(`worker thread of pipelines ${group.map((s) => s.pipelineId).join(', ')} exited with code ${code}`));
          });
        });
      });
      try {
        await Promise.all(started);
      } catch (error) {
        closing = true;
        await Promise.all(threads.map((w) => w.terminate()));
        throw error;
      }
      logger.debug('pipeline workers started', { threads: threads.length, pipelines: specs.length });
      let closed: Promise<void> | undefined;
      return {
        send(pipelineId, message) {
          workers.get(pipelineId)?.postMessage({ kind: 'control', pipelineId, message } satisfies WorkerInbound);
        },
        kill(pipelineId) {
          // terminate() ends the thread where it stands, with every pipeline it hosts; its exit reports the crash.
          void workers.get(pipelineId)?.terminate();
        },
        close() {
          closed ??= (async () => {
            closing = true;
            for (const worker of threads) worker.postMessage({ kind: 'shutdown' } satisfies WorkerInbound);
            const timeout = setTimeout(() => {
              for (const worker of threads) void worker.terminate();
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
