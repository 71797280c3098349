import type { Logger } from '../api/logger.js';
import type { FromPipeline, ToPipeline } from './messages.js';
import { Pipeline } from './pipeline.js';
import type { JobPlan } from './plan.js';
import type { PipelineHost, PipelineSpec, TransportFactory, TransportHandlers } from './transport.js';

/**
 * Runs every pipeline on the calling thread. Messages are delivered on a later turn of the event loop,
 * never synchronously, so no handler re-enters another.
 */
export function inProcessTransport(logger: Logger): TransportFactory {
  return {
    name: 'in-process',
    async start(specs: PipelineSpec[], plan: JobPlan, handlers: TransportHandlers): Promise<PipelineHost> {
      const inboxes = new Map<number, (message: ToPipeline) => void>();
      const pipelines: Pipeline[] = [];
      for (const spec of specs) {
        const pipeline = new Pipeline(
          spec,
          plan,
          {
            send: (message: FromPipeline) => setImmediate(() => handlers.onMessage(spec.pipelineId, message)),
            onMessage: (handler) => inboxes.set(spec.pipelineId, handler),
          },
          logger,
        );
        pipelines.push(pipeline);
      }
      await Promise.all(pipelines.map((p) => p.start()));
      let closing: Promise<void> | undefined;
      return {
        send(pipelineId, message) {
          const inbox = inboxes.get(pipelineId);
          if (inbox) setImmediate(() => inbox(message));
        },
        kill(pipelineId) {
          const pipeline = pipelines[specs.findIndex((s) => s.pipelineId === pipelineId)];
          if (!pipeline) return;
          inboxes.delete(pipelineId);
          void pipeline.halt();
          setImmediate(() => handlers.onCrash(pipelineId, new Error('pipeline killed')));
        },
        close() {
          closing ??= Promise.all(pipelines.map((p) => p.close())).then(() => undefined);
          return closing;
        },
      };
    },
  };
}
