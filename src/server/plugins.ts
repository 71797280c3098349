import type { FastifyPluginAsync } from 'fastify';
import type { JobManager } from './jobs.js';

export type ServerPlugin = FastifyPluginAsync<{ jobs: JobManager }>;

/**
 * The optional parts of the server that ship in their own modules: the dashboard's static assets (`./static`,
 * exporting `staticPlugin`) and Prometheus metrics (`./metrics`, exporting `metricsPlugin`). A build without
 * one of them serves the API alone.
 */
export async function optionalPlugins(): Promise<ServerPlugin[]> {
  const plugins: ServerPlugin[] = [];
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  for (const [module, name] of [
    ['static', 'staticPlugin'],
    ['metrics', 'metricsPlugin'],
  ] as const) {
    let loaded: Record<string, unknown>;
    try {
      loaded = (await import(new URL(`./${module}.${extension}`, import.meta.url).href)) as Record<string, unknown>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') continue;
      throw error;
    }
    const plugin = loaded[name] ?? loaded.default;
    if (typeof plugin === 'function') plugins.push(plugin as ServerPlugin);
  }
  return plugins;
}
