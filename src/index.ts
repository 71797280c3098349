/**
 * Tideway's programmatic API: build a job from a typed config object and run it.
 *
 * ```ts
 * import { runJob } from 'tideway';
 * const result = await runJob({ env: { name: 'demo' }, source: [{ type: 'fake', rows: 1000 }], sink: [{ type: 'blackhole' }] });
 * ```
 */
import { connectors as builtinConnectors } from '../connectors/index.js';
import type { JobConfig } from './engine/job-config.js';
import { planJob } from './engine/plan.js';
import { ConnectorRegistry } from './engine/registry.js';
import type { JobResult, RunOptions } from './engine/result.js';
import type { ClusterJobResult, ClusterRunOptions } from './cluster/run-cluster-job.js';
import { runJob as runWithRegistry } from './engine/run-job.js';
import { checkConnections as checkWithRegistry } from './engine/check-connections.js';
import { cleanJob as cleanWithRegistry, type CleanOptions, type CleanReport } from './engine/clean-job.js';

export * from './api/index.js';
export { checkDirectory, ensureDirectory, type EnsureDirectoryOptions, probeWritable, syncDirectory } from './api/durable-fs.js';
export type { JobConfig, StageConfig, EnvConfig } from './engine/job-config.js';
export { envSchema, MAX_CLUSTER_PARALLELISM, MAX_PARALLELISM } from './engine/job-config.js';
export { defineJob } from './config/typed-job.js';
export type { SinkOptionsByType, SourceOptionsByType, TransformOptionsByType, TypedJobConfig, TypedSink, TypedSource, TypedStage, TypedTransform } from './config/typed-job.js';
export type { ConsoleSinkConfig } from '../connectors/console/index.js';
export type { FileSinkConfig } from '../connectors/file/index.js';
export type { FilterConfig } from '../connectors/filter/index.js';
export type { SelectConfig } from '../connectors/select/index.js';
export type { CopyConfig } from '../connectors/copy/index.js';
export type { FieldMapperConfig } from '../connectors/field_mapper/index.js';
export type { FilterRowKindConfig } from '../connectors/filter_row_kind/index.js';
export type { JsonPathConfig } from '../connectors/json_path/index.js';
export type { RenameConfig } from '../connectors/rename/index.js';
export type { ReplaceConfig } from '../connectors/replace/index.js';
export type { SplitConfig } from '../connectors/split/index.js';
export type { JobPlan, PlannedStage } from './engine/plan.js';
export type { JobProgress, JobResult, JobStatus, RunOptions, SinkProgress, SourceProgress, TransformProgress } from './engine/result.js';
export { jobRowsWritten } from './engine/result.js';
export type { CheckpointStore, CheckpointData } from './engine/checkpoint-store.js';
export type { TransportFactory } from './engine/transport.js';
export { ConnectorRegistry, builtinConnectors };

const BUILTIN_REGISTRY_MODULE = new URL(`../connectors/index${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

/** The registry of every built-in connector. */
export function builtinRegistry(): ConnectorRegistry {
  return new ConnectorRegistry(builtinConnectors);
}

/** Runs a job; see RunOptions. Uses the built-in connectors unless `options.registry` is given. */
export function runJob(config: JobConfig, options: RunOptions = {}): Promise<JobResult> {
  const registry = options.registry ?? builtinRegistry();
  const registryModule = options.registryModule ?? (options.registry ? undefined : BUILTIN_REGISTRY_MODULE);
  return runWithRegistry(config, { ...options, registry, ...(registryModule ? { registryModule } : {}) });
}

export type { ClusterJobResult, ClusterRunOptions } from './cluster/run-cluster-job.js';

/**
 * Runs a job on a Tideway cluster (NATS JetStream; see README, "Cluster"): this process coordinates, `tideway
 * worker` processes run the pipelines. Uses the built-in connectors unless `options.registry` is given. The
 * NATS client is loaded only when this is called.
 */
export async function runClusterJob(config: JobConfig, options: Omit<ClusterRunOptions, 'registry'> & { registry?: ConnectorRegistry }): Promise<ClusterJobResult> {
  const { runClusterJob: run } = await import('./cluster/run-cluster-job.js');
  return run(config, { ...options, registry: options.registry ?? builtinRegistry() });
}

/** Validates a job without running it: the wired plan, or every problem with its key path. */
export function validateJob(config: unknown, registry: ConnectorRegistry = builtinRegistry()) {
  return planJob(config, registry);
}

export { planJob };
export type { ConnectionCheck } from './engine/check-connections.js';

/** For `tideway check --connect`: contacts each source and sink without moving data. */
export function checkConnections(config: JobConfig, options: { registry?: ConnectorRegistry; baseDir?: string; signal?: AbortSignal } = {}) {
  return checkWithRegistry(config, { ...options, registry: options.registry ?? builtinRegistry() });
}
export type { CleanOptions, CleanReport };

/** Removes what the job's sinks staged that no checkpoint owns; see CleanOptions. */
export function cleanJob(config: JobConfig, options: Partial<CleanOptions> = {}): Promise<CleanReport> {
  return cleanWithRegistry(config, { ...options, registry: options.registry ?? builtinRegistry() });
}
