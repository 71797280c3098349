import type { FastifyPluginAsync } from 'fastify';
import { type JobManager, SERVER_JOB_STATUSES, type ServerJobStatus } from './jobs.js';
import { type MetricsJob, type MetricsSource, TidewayMetrics } from './metrics-registry.js';

export { type MetricsJob, type MetricsSource, TidewayMetrics } from './metrics-registry.js';
export { type MetricsServer, RunMetricsFeed, startMetricsServer } from './metrics-run.js';

const ACTIVE: ReadonlySet<ServerJobStatus> = new Set(['queued', 'running', 'stopping']);

/**
 * The server's jobs as a metrics source: the newest job of each name (names, not ids, are the `job` label, so
 * resubmitting a job does not add series), and checkpoints as the manager reports them.
 */
export function jobManagerMetricsSource(jobs: JobManager): MetricsSource {
  return {
    statuses: SERVER_JOB_STATUSES,
    jobs() {
      const newest = new Map<string, MetricsJob>();
      // list() is newest first.
      for (const view of jobs.list()) {
        if (newest.has(view.name)) continue;
        newest.set(view.name, { name: view.name, status: view.status, active: ACTIVE.has(view.status), progress: view.progress });
      }
      return [...newest.values()];
    },
    redact: (text) => jobs.redactor.redact(text),
    subscribe(listener) {
      const forward = (event: { name: string; checkpoint: Parameters<typeof listener>[1] }) => listener(event.name, event.checkpoint);
      jobs.on('checkpoint', forward);
      return () => jobs.off('checkpoint', forward);
    },
  };
}

/** `GET /metrics` on the job server: every job's metrics in the Prometheus text format. */
export const metricsPlugin: FastifyPluginAsync<{ jobs: JobManager }> = async (app, { jobs }) => {
  const metrics = new TidewayMetrics(jobManagerMetricsSource(jobs));
  app.addHook('onClose', async () => metrics.close());
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.metrics();
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text);
  });
};
