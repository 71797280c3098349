import { CancelledError, ConfigError, describeError, errorCode } from '../../api/errors.js';
import { prepareCheckpointDir } from '../../config/verify-job.js';
import type { JobProgress, JobResult, RunOptions } from '../../engine/result.js';
import { runJob } from '../api.js';
import { errorLine, errorText, issuesText } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { createProgress, progressMode } from '../progress.js';
import { humanReport, jsonReport, jsonReportForError } from '../report.js';
import { cliLogger } from '../terminal.js';
import { userSystemError } from '../system-errors.js';
import type { RunMetricsFeed, startMetricsServer } from '../../server/metrics-run.js';
import type { CommandContext } from './context.js';
import { isLoadFailure, loadForCommand } from './load.js';

export interface RunFlags {
  var?: string[];
  parallelism?: number;
  fresh?: boolean;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  /** Serve this run's Prometheus metrics at :<port>/metrics (every interface) while it runs. */
  metricsPort?: number;
  /** Keep the metrics endpoint up this many seconds after the run ends (its final status visible to a scrape). */
  metricsLinger?: number;
  /** NATS URL: run on a cluster (see runClusterJob). */
  cluster?: string;
  clusterPrefix?: string;
  heartbeatTimeout?: number;
}

const EXIT_BY_STATUS = { finished: ExitCode.ok, failed: ExitCode.failed, cancelled: ExitCode.cancelled } as const;

/**
 * `tideway run`: validate, run with progress on stderr, print the report. The first SIGINT/SIGTERM stops the
 * job gracefully (a last checkpoint, so the next run resumes); a second one exits at once with 130.
 */
export async function runCommand(file: string, flags: RunFlags, context: CommandContext): Promise<ExitCode> {
  const { io } = context;
  const printJson = (value: unknown) => io.stdout.write(`${JSON.stringify(value)}\n`);
  const loaded = await loadForCommand(file, flags.var ?? [], context, { verify: true, cluster: flags.cluster !== undefined });
  if (isLoadFailure(loaded)) {
    if (flags.json) printJson(jsonReportForError(null, loaded.error));
    return loaded.exitCode;
  }
  const jobName = loaded.plan.env.name;
  const checkpointProblem = await prepareCheckpointDir(loaded.plan, context.cwd);
  if (checkpointProblem) {
    const { code, ...issue } = checkpointProblem;
    const text = issuesText(file, [loaded.locations.attach(issue)]);
    io.stderr.write(text);
    if (flags.json) printJson(jsonReportForError(jobName, { code, message: text.trimEnd() }));
    return ExitCode.invalid;
  }

  // The Prometheus client is loaded only for --metrics-port.
  let feed: RunMetricsFeed | undefined;
  let metrics: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  try {
    if (flags.metricsPort !== undefined) {
      const { RunMetricsFeed: Feed, startMetricsServer: start } = await import('../../server/metrics-run.js');
      feed = new Feed(jobName, (text) => io.redactor.redact(text));
      metrics = await start(flags.metricsPort, feed);
    }
  } catch (listenError) {
    const error = userSystemError(listenError, { port: { option: '--metrics-port', value: flags.metricsPort, host: '0.0.0.0' } }) ?? listenError;
    io.stderr.write(errorText(error, flags.verbose === true));
    if (flags.json) printJson(jsonReportForError(jobName, { code: errorCode(error), message: describeError(error) }));
    return ExitCode.invalid;
  }

  const progress = createProgress(progressMode({ quiet: flags.quiet === true, stderr: io.stderr, env: io.env }), io.stderr as NodeJS.WriteStream);
  const logger = cliLogger(flags.verbose ? 'debug' : flags.quiet ? 'warn' : 'info', (line) => progress.log(line));
  if (metrics) logger.info(`metrics of this run at http://localhost:${metrics.port}/metrics`);
  const controller = new AbortController();
  /** A signal ends --metrics-linger's wait once the run is over (nothing left to stop). */
  const lingerEnd = new AbortController();
  let phase: 'running' | 'lingering' = 'running';
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (phase === 'lingering') {
      lingerEnd.abort();
      return;
    }
    interrupts++;
    if (interrupts === 1) {
      logger.warn(`${signal}: stopping gracefully (taking a last checkpoint so the next run resumes); press Ctrl-C again to exit at once`);
      controller.abort(new CancelledError(`cancelled by ${signal}`));
      return;
    }
    progress.stop();
    io.stderr.write(`${signal} again: exiting at once; the next run resumes from the last completed checkpoint\n`);
    process.exit(ExitCode.cancelled);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let result: JobResult;
  try {
    // No registry passed: runJob's default (the built-in list) is one it can also load in worker threads.
    const runOptions = {
      signal: controller.signal,
      fresh: flags.fresh,
      ...(flags.parallelism === undefined ? {} : { parallelism: flags.parallelism }),
      logger,
      baseDir: context.cwd,
      onProgress: (p: JobProgress) => {
        feed?.onProgress(p);
        progress.update(p);
      },
      ...(feed ? { onCheckpoint: feed.onCheckpoint } : {}),
    } satisfies RunOptions;
    const cluster = flags.cluster ?? loaded.config.env.cluster;
    try {
      if (cluster) {
        // Loaded on demand: runs without --cluster never load the NATS client.
        const { runClusterJob } = await import('../../cluster/run-cluster-job.js');
        result = await runClusterJob(loaded.config, {
          ...runOptions,
          cluster,
          registry: context.registry,
          ...(flags.clusterPrefix ? { prefix: flags.clusterPrefix } : {}),
          ...(flags.heartbeatTimeout ? { heartbeatTimeoutMs: flags.heartbeatTimeout } : {}),
        });
      } else {
        result = await runJob(loaded.config, runOptions);
      }
    } catch (error) {
      await metrics?.close();
      throw error;
    }
  } catch (error) {
    progress.stop();
    if (error instanceof ConfigError) {
      // Raised when the run itself finds the job invalid (for example after --parallelism): still a config problem.
      const issues = error.issues.map((issue) => loaded.locations.attach(issue));
      const text = issuesText(file, issues);
      io.stderr.write(text);
      if (flags.json) printJson(jsonReportForError(jobName, { code: error.code, message: text.trimEnd() }));
      return ExitCode.invalid;
    }
    io.stderr.write(errorText(error, flags.verbose === true));
    if (flags.json) printJson(jsonReportForError(jobName, { code: errorCode(error), message: describeError(error) }));
    if (errorCode(error) === 'CONFIG_INVALID') return ExitCode.invalid;
    return controller.signal.aborted && error instanceof CancelledError ? ExitCode.cancelled : ExitCode.failed;
  }
  // The handlers stay until the process exits: a second signal during the report or shutdown still exits at once.
  progress.finish(result);

  if (flags.json) printJson(jsonReport(result));
  else if (!flags.quiet) io.stderr.write(humanReport(result));
  if (result.error) io.stderr.write(errorLine(result.error));
  if (metrics) {
    feed?.ended(result.status);
    const linger = flags.metricsLinger ?? 0;
    if (linger > 0 && !controller.signal.aborted) {
      phase = 'lingering';
      logger.info(`the run's final metrics stay at http://localhost:${metrics.port}/metrics for ${linger} s (--metrics-linger; Ctrl-C ends this)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, linger * 1000);
        lingerEnd.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
    await metrics.close();
  }
  // A job the engine finds invalid only when it starts (an unbounded source in batch mode) is still a config error.
  if (result.error?.code === 'CONFIG_INVALID') return ExitCode.invalid;
  return EXIT_BY_STATUS[result.status];
}
