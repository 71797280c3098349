import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CheckpointEvent, JobProgress, JobStatus } from '../engine/result.js';
import { type MetricsJob, type MetricsSource, TidewayMetrics } from './metrics-registry.js';

/** Statuses of a single `tideway run`: running, then how it ended. */
export const RUN_STATUSES = ['running', 'finished', 'failed', 'cancelled'] as const;

/**
 * The metrics source of one `runJob`: pass `onProgress` and `onCheckpoint` to RunOptions and call `ended`
 * with the result's status.
 */
export class RunMetricsFeed implements MetricsSource {
  readonly statuses: readonly string[] = RUN_STATUSES;
  private status: (typeof RUN_STATUSES)[number] = 'running';
  private progress: JobProgress | null = null;
  private readonly listeners = new Set<(job: string, event: CheckpointEvent) => void>();

  /** `redact` masks the run's secret values in label values (the CLI's redactor), as the job server does. */
  constructor(
    private readonly jobName: string,
    private readonly redactSecrets?: (text: string) => string,
  ) {}

  redact(text: string): string {
    return this.redactSecrets ? this.redactSecrets(text) : text;
  }

  readonly onProgress = (progress: JobProgress): void => {
    this.progress = progress;
  };

  readonly onCheckpoint = (event: CheckpointEvent): void => {
    for (const listener of this.listeners) listener(this.jobName, event);
  };

  ended(status: JobStatus): void {
    this.status = status;
  }

  jobs(): readonly MetricsJob[] {
    return [{ name: this.jobName, status: this.status, active: this.status === 'running', progress: this.progress }];
  }

  subscribe(listener: (job: string, event: CheckpointEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export interface MetricsServer {
  /** The port it listens on (the one chosen when 0 was asked). */
  port: number;
  /** Stops listening and the metrics' subscription; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format) for `source` on every interface, as exporters do, so a
 * Prometheus elsewhere can scrape it. Metrics carry names and counts only, never option values or secrets.
 * Rejects with the listen error (EADDRINUSE, EACCES) when the port cannot be had.
 */
export async function startMetricsServer(port: number, source: MetricsSource, options: { host?: string } = {}): Promise<MetricsServer> {
  const metrics = new TidewayMetrics(source);
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    metrics.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`),
    );
  });
  try {
    await listen(server, port, options.host);
  } catch (error) {
    metrics.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        metrics.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, ...(host === undefined ? {} : { host }) }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
