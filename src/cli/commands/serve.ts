import { resolve } from 'node:path';
import { describeError, errorCode, TidewayError } from '../../api/errors.js';
import { createServer } from '../../server/app.js';
import { metricsPlugin } from '../../server/metrics.js';
import { staticPlugin } from '../../server/static.js';
import { errorText } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { userSystemError } from '../system-errors.js';
import { cliLogger } from '../terminal.js';
import type { CommandContext } from './context.js';

export interface ServeFlags {
  host: string;
  port: number;
  token?: string;
  stateDir: string;
  resumeInterrupted?: boolean;
  /** NATS URL: run every job on this cluster (see runClusterJob) and show it at GET /api/cluster. */
  cluster?: string;
  clusterPrefix?: string;
  /** Job records kept; the oldest finished jobs beyond it are forgotten. */
  keepJobs?: number;
  verbose?: boolean;
}

/** Where `--token` may come from instead, so that it does not show in the process list. */
export const TOKEN_VARIABLE = 'TIDEWAY_SERVER_TOKEN';

/**
 * `tideway serve`: run jobs submitted over HTTP until SIGINT/SIGTERM. On the signal the server stops taking
 * requests and stops every running job gracefully (a last checkpoint; they show as interrupted and resume with
 * `--resume-interrupted` or POST resume). A second signal exits at once: the jobs resume from their last
 * completed checkpoint.
 */
export async function serveCommand(flags: ServeFlags, context: CommandContext): Promise<ExitCode> {
  const { io } = context;
  const token = flags.token ?? (io.env[TOKEN_VARIABLE] || undefined);
  if (token) io.redactor.add([token]);
  const logger = cliLogger(flags.verbose ? 'debug' : 'info', (line) => io.stderr.write(line));
  let server;
  try {
    server = createServer({
      stateDir: resolve(context.cwd, flags.stateDir),
      token,
      env: io.env,
      baseDir: context.cwd,
      logger,
      redactor: io.redactor,
      plugins: [staticPlugin, metricsPlugin],
      ...(flags.cluster ? { cluster: { url: flags.cluster, ...(flags.clusterPrefix ? { prefix: flags.clusterPrefix } : {}) } } : {}),
      ...(flags.keepJobs !== undefined ? { keepJobs: flags.keepJobs } : {}),
    });
  } catch (error) {
    io.stderr.write(errorText(error, flags.verbose === true));
    return ExitCode.invalid;
  }
  let url: string;
  try {
    url = await server.listen({ host: flags.host, port: flags.port, resumeInterrupted: flags.resumeInterrupted === true });
  } catch (error) {
    await server.close().catch(() => undefined);
    // serve's --port has a default (8080), so "0 picks any free port" rather than "leave it out".
    const inUse = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
    const reported = inUse
      ? new TidewayError('PORT_IN_USE', `--port ${flags.port}: ${flags.host}:${flags.port} is already in use by another process; choose another --port (0 picks any free port), or stop the process using it`)
      : (userSystemError(error, { port: { option: '--port', value: flags.port, host: flags.host } }) ?? error);
    io.stderr.write(errorText(reported, flags.verbose === true));
    return errorCode(reported) === 'INTERNAL' ? ExitCode.failed : ExitCode.invalid;
  }
  logger.info(`listening on ${url} (state in ${server.jobs.stateDir}${token ? ', token required' : ''}${flags.cluster ? ', jobs run on the cluster: GET /api/cluster' : ''})`);
  let signals = 0;
  const stopped = new Promise<void>((resolveStopped) => {
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        logger.warn(`${signal}: stopping; running jobs take a last checkpoint and show as interrupted (press Ctrl-C again to exit at once)`);
        void server.close().then(resolveStopped, (error: unknown) => {
          logger.error('closing the server failed', { error: describeError(error) });
          resolveStopped();
        });
        return;
      }
      io.stderr.write(`${signal} again: exiting at once; interrupted jobs resume from their last completed checkpoint\n`);
      process.exit(ExitCode.cancelled);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await stopped;
  return ExitCode.ok;
}
