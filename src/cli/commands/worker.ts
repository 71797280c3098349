import { describeError } from '../../api/errors.js';
import { errorText } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { cliLogger } from '../terminal.js';
import type { CommandContext } from './context.js';

export interface WorkerFlags {
  nats: string;
  slots?: number;
  prefix?: string;
  heartbeatInterval?: number;
  verbose?: boolean;
}

/**
 * `tideway worker --nats URL`: joins the cluster and runs the pipelines coordinators place on it until
 * SIGINT/SIGTERM, then closes them (their coordinators resume the work elsewhere) and leaves.
 */
export async function workerCommand(flags: WorkerFlags, context: CommandContext): Promise<ExitCode> {
  const { io } = context;
  const logger = cliLogger(flags.verbose ? 'debug' : 'info', (line) => io.stderr.write(line));
  // Loaded on demand, like every cluster module: other commands never load the NATS client.
  const { openCluster } = await import('../../cluster/cluster-connection.js');
  const { ClusterWorker } = await import('../../cluster/worker.js');
  let cluster;
  try {
    cluster = await openCluster(flags.nats, { ...(flags.prefix ? { prefix: flags.prefix } : {}), name: 'tideway worker' });
  } catch (error) {
    io.stderr.write(errorText(error, flags.verbose === true));
    return ExitCode.failed;
  }
  const worker = new ClusterWorker({ cluster, slots: flags.slots ?? 2, registry: context.registry, logger, ...(flags.heartbeatInterval ? { heartbeatIntervalMs: flags.heartbeatInterval } : {}) });
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  try {
    await worker.start();
    const signal = await stopped;
    logger.info(`${signal}: closing this worker's pipelines; their jobs resume on the other workers`);
    return ExitCode.ok;
  } catch (error) {
    io.stderr.write(errorText(error, flags.verbose === true));
    return ExitCode.failed;
  } finally {
    await worker.close().catch((error: unknown) => logger.warn('worker close failed', { error: describeError(error) }));
    await cluster.close();
  }
}

export interface ClusterStatusFlags {
  nats: string;
  prefix?: string;
  json?: boolean;
}

/** `tideway cluster status`: workers, slots, jobs and where their pipelines run. */
export async function clusterStatusCommand(flags: ClusterStatusFlags, context: CommandContext): Promise<ExitCode> {
  const { io } = context;
  const { DEFAULT_TIMINGS, openCluster } = await import('../../cluster/cluster-connection.js');
  const { clusterStatus, statusText } = await import('../../cluster/cluster-status.js');
  try {
    const cluster = await openCluster(flags.nats, { ...(flags.prefix ? { prefix: flags.prefix } : {}), name: 'tideway cluster status' });
    try {
      const status = await clusterStatus(cluster, DEFAULT_TIMINGS.heartbeatTimeoutMs);
      io.stdout.write(flags.json ? `${JSON.stringify(status)}\n` : statusText(status));
      return ExitCode.ok;
    } finally {
      await cluster.close();
    }
  } catch (error) {
    io.stderr.write(errorText(error, false));
    return ExitCode.failed;
  }
}
