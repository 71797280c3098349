import { once } from 'node:events';
import { ConfigError, TidewayError } from '../../api/errors.js';
import { resolve } from 'node:path';
import { ensureDirectory } from '../../api/durable-fs.js';
import { errorText, issuesText } from '../errors.js';
import { argValue, userSystemError } from '../system-errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandContext } from './context.js';

/** Path errors from ensureDirectory are the user's to fix (exit 2), like a port in use. */
function isUsageError(error: unknown): boolean {
  return error instanceof TidewayError && error.code.startsWith('PATH_');
}

/** Stops on the first SIGINT/SIGTERM: an emulator has no work to save, so stopping is always clean (exit 0). */
function untilSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/** `tideway emulator oss [options]`: the OSS emulator's own command line, run until Ctrl-C. */
export async function ossEmulatorCommand(args: readonly string[], context: CommandContext): Promise<ExitCode> {
  const { io } = context;
  const stop = untilSignal();
  const port = { option: '--port', value: argValue(args, '--port'), host: argValue(args, '--host') };
  try {
    const dataDir = argValue(args, '--data-dir');
    // Checked here so a file or a kernel path gets a coded error naming --data-dir (and /proc cannot hang mkdir).
    if (dataDir !== undefined) await ensureDirectory(resolve(context.cwd, dataDir), { option: '--data-dir' });
    // Loaded on demand: the other commands never pay for (or depend on) the emulators' code.
    const { runOssEmulatorCli } = await import('../../../connectors/oss/emulator/index.js');
    const code = await runOssEmulatorCli(args, { stdout: io.stdout as NodeJS.WritableStream, stderr: io.stderr as NodeJS.WritableStream, signal: stop.signal });
    return code === 0 ? ExitCode.ok : ExitCode.failed;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(issuesText('tideway emulator oss', error.issues).replace(/; nothing ran\n$/, '\n'));
      return ExitCode.invalid;
    }
    const mapped = userSystemError(error, { port });
    io.stderr.write(errorText(mapped ?? error, false));
    return mapped || isUsageError(error) ? ExitCode.invalid : ExitCode.failed;
  } finally {
    stop.dispose();
  }
}

export interface MaxComputeEmulatorFlags {
  port?: number;
  host?: string;
  json?: boolean;
}

/**
 * `tideway emulator maxcompute`: the embedded MaxCompute (ODPS + Tunnel) emulator with the demo project, as
 * `endpoint: embedded` uses it, run until Ctrl-C. The demo credentials are public and fixed, so printing them is safe.
 */
export async function maxComputeEmulatorCommand(flags: MaxComputeEmulatorFlags, context: CommandContext): Promise<ExitCode> {
  const { io } = context;
  const stop = untilSignal();
  try {
    const { DEMO_ACCESS_ID, DEMO_ACCESS_KEY, DEMO_PROJECT, startEmbeddedMaxCompute } = await import('../../../connectors/maxcompute/emulator/index.js');
    const emulator = await startEmbeddedMaxCompute({ ...(flags.port === undefined ? {} : { port: flags.port }), ...(flags.host === undefined ? {} : { host: flags.host }) });
    try {
      const details = {
        endpoint: emulator.endpoint,
        tunnelEndpoint: emulator.tunnelEndpoint,
        project: DEMO_PROJECT,
        accessId: DEMO_ACCESS_ID,
        accessKey: DEMO_ACCESS_KEY,
      };
      if (flags.json) io.stdout.write(`${JSON.stringify(details)}\n`);
      io.stderr.write(
        `MaxCompute emulator listening: endpoint ${details.endpoint}, tunnel ${details.tunnelEndpoint}, project ${details.project}, access id ${details.accessId}, access key ${details.accessKey} (demo credentials). Press Ctrl+C to stop.\n`,
      );
      if (!stop.signal.aborted) await once(stop.signal, 'abort');
    } finally {
      await emulator.close();
    }
    return ExitCode.ok;
  } catch (error) {
    const mapped = userSystemError(error, { port: { option: '--port', value: flags.port, host: flags.host } });
    io.stderr.write(errorText(mapped ?? error, false));
    return mapped ? ExitCode.invalid : ExitCode.failed;
  } finally {
    stop.dispose();
  }
}
