import type { FromPipeline, ToPipeline } from '../engine/messages.js';
import type { PipelineHost, TransportFactory } from '../engine/transport.js';
import { seededRandom } from './random.js';

export type Direction = 'toPipeline' | 'fromPipeline';

/** How one message is delivered: each entry of `delaysMs` is one copy, delivered after that many ms. */
export interface Delivery {
  delaysMs: number[];
}

export interface FaultOptions {
  seed: number;
  /** Largest random delay of a copy (default 5 ms). Different delays reorder messages. */
  maxDelayMs?: number;
  /** Probability that a message is delivered twice (default 0.25). */
  duplicateRate?: number;
  /** Overrides the random schedule for chosen messages (for scripted field cases). */
  script?: (direction: Direction, pipelineId: number, message: ToPipeline | FromPipeline) => Delivery | undefined;
  /** Called with every decision, for a test to print on failure. */
  trace?: (line: string) => void;
}

/**
 * Wraps a transport so that every control message and barrier, in both directions, is delayed by a seeded
 * random amount, sometimes delivered twice, and therefore also reordered. Lifecycle messages (`close`,
 * `closed`, `failed`) are delayed too but never duplicated, since nothing legitimately sends them twice.
 */
export function faultyTransport(inner: TransportFactory, options: FaultOptions): TransportFactory {
  const random = seededRandom(options.seed);
  const maxDelay = options.maxDelayMs ?? 5;
  const duplicateRate = options.duplicateRate ?? 0.25;
  const lifecycle = new Set(['close', 'closed', 'failed']);
  const timers = new Set<NodeJS.Timeout>();

  const schedule = (direction: Direction, pipelineId: number, message: ToPipeline | FromPipeline, deliver: () => void) => {
    const scripted = options.script?.(direction, pipelineId, message);
    const copies = scripted?.delaysMs ?? [Math.floor(random() * maxDelay)];
    if (!scripted && !lifecycle.has(message.kind) && random() < duplicateRate) copies.push(Math.floor(random() * maxDelay));
    options.trace?.(`${direction} p${pipelineId} ${message.kind} delays=${copies.join(',')}`);
    for (const delay of copies) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        deliver();
      }, delay);
      timers.add(timer);
    }
  };

  return {
    name: `faulty(${inner.name}, seed ${options.seed})`,
    async start(specs, plan, handlers) {
      // A killed pipeline's messages still in the air are lost with it, as a dead worker's would be.
      const dead = new Set<number>();
      const host = await inner.start(specs, plan, {
        onMessage: (pipelineId, message) =>
          schedule('fromPipeline', pipelineId, message, () => {
            if (!dead.has(pipelineId)) handlers.onMessage(pipelineId, message);
          }),
        onCrash: handlers.onCrash,
      });
      const wrapped: PipelineHost = {
        send: (pipelineId, message) =>
          schedule('toPipeline', pipelineId, message, () => {
            if (!dead.has(pipelineId)) host.send(pipelineId, message);
          }),
        kill: (pipelineId) => {
          dead.add(pipelineId);
          options.trace?.(`kill p${pipelineId}`);
          host.kill?.(pipelineId);
        },
        close: async () => {
          await host.close();
          for (const timer of timers) clearTimeout(timer);
          timers.clear();
        },
      };
      return wrapped;
    },
  };
}
