import { resolve } from 'node:path';
import type { Logger } from '../api/logger.js';
import { LocalCheckpointStore, sinkLocalDir, sinksLocalRoot } from './checkpoint-store.js';
import type { JobConfig } from './job-config.js';
import { stderrLogger } from './logger.js';
import { planJobOrThrow } from './plan.js';
import type { ConnectorRegistry } from './registry.js';

export interface CleanOptions {
  registry: ConnectorRegistry;
  dryRun?: boolean;
  logger?: Logger;
  baseDir?: string;
  signal?: AbortSignal;
}

export interface CleanReport {
  job: string;
  dryRun: boolean;
  /** The checkpoint whose staged output was kept, if the job has an unfinished run. */
  keptCheckpoint: number | null;
  sinks: { name: string; type: string; removed: string[] }[];
}

/**
 * Lists (and unless dryRun, removes) what the job's sinks staged that no checkpoint owns: staging files,
 * multipart uploads, prepared transactions. What the latest checkpoint owns is kept, so a later run can
 * still resume and commit it.
 *
 * Clean does not run `Sink.prepare`: prepare claims the target (it may create directories, ownership and
 * lease records) and refuses a target shared with other data, while clean only removes the job's own staged
 * items, and a dry run writes nothing at all. The committer is created directly (a sink's committer must
 * work without prepare having run: `prepared` is undefined).
 */
export async function cleanJob(config: JobConfig, options: CleanOptions): Promise<CleanReport> {
  const plan = planJobOrThrow(config, options.registry);
  const logger = options.logger ?? stderrLogger('info');
  const store = new LocalCheckpointStore(resolve(plan.env.checkpoint.dir), plan.env.name);
  const release = await store.lock();
  const signal = options.signal ?? new AbortController().signal;
  try {
    const latest = await store.latest();
    const report: CleanReport = { job: plan.env.name, dryRun: options.dryRun ?? false, keptCheckpoint: latest?.checkpointId ?? null, sinks: [] };
    const context = { jobName: plan.env.name, mode: plan.env.mode, parallelism: plan.env.parallelism, logger, baseDir: options.baseDir ?? process.cwd() };
    for (const [sinkIndex, stage] of plan.sinks.entries()) {
      const sink = await stage.factory.create(stage.options as never, context);
      const sinkContext = {
        jobName: plan.env.name,
        attemptId: 'clean',
        sinkName: stage.name,
        parallelism: plan.env.parallelism,
        logger,
        signal,
        prepared: undefined,
        restoredCheckpointId: null,
        localDir: sinkLocalDir(sinksLocalRoot(plan.env.checkpoint.dir, plan.env.name), stage.name),
      };
      try {
        const committer = await sink.createCommitter(sinkContext);
        try {
          const keep = latest?.sinks[sinkIndex]?.pending ?? [];
          const { removed } = await committer.removeOrphans({ keep, dryRun: report.dryRun });
          report.sinks.push({ name: stage.name, type: stage.type, removed });
        } finally {
          await committer.close();
        }
      } finally {
        await sink.close?.();
      }
    }
    return report;
  } finally {
    await release();
  }
}
