import { resolve } from 'node:path';
import { describeError, errorCode } from '../../api/errors.js';
import { createServer } from '../../server/app.js';
import { metricsPlugin } from '../../server/metrics.js';
import { staticPlugin } from '../../server/static.js';
import { ExitCode } from '../exit-codes.js';
import { cliLogger } from '../terminal.js';
import type { CommandContext } from './context.js';

export interface ServeFlags {
  host: string;
  port: number;
  token?: string;
  stateDir: string;
  resumeInterrupted?: boolean;
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
    });
  } catch (error) {
    io.stderr.write(`error [${errorCode(error)}]: ${describeError(error)}\n`);
    return ExitCode.invalid;
  }
  let url: string;
  try {
    url = await server.listen({ host: flags.host, port: flags.port, resumeInterrupted: flags.resumeInterrupted === true });
  } catch (error) {
    await server.close().catch(() => undefined);
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'EADDRINUSE' ? `; another process listens on port ${flags.port}: pick another with --port` : '';
    io.stderr.write(`error [${errorCode(error) === 'INTERNAL' && code ? code : errorCode(error)}]: ${describeError(error)}${hint}\n`);
    return ExitCode.invalid;
  }
  logger.info(`listening on ${url} (state in ${server.jobs.stateDir}${token ? ', token required' : ''})`);
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
