import { ConfigError } from '../../api/errors.js';
import { cleanJob } from '../api.js';
import { errorText, issuesText } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { cliLogger } from '../terminal.js';
import type { CommandContext } from './context.js';
import { isLoadFailure, loadForCommand } from './load.js';

export interface CleanFlags {
  var?: string[];
  dryRun?: boolean;
  json?: boolean;
  verbose?: boolean;
}

/**
 * `tideway clean`: lists (and unless --dry-run, removes) what the job's sinks staged that no checkpoint owns.
 * What the latest checkpoint of an unfinished run owns is kept, so that run can still resume. The list goes to
 * stdout, one item per line (`sink<TAB>item`), so it can be piped; the summary goes to stderr.
 */
export async function cleanCommand(file: string, flags: CleanFlags, context: CommandContext): Promise<ExitCode> {
  const { io } = context;
  const loaded = await loadForCommand(file, flags.var ?? [], context);
  if (isLoadFailure(loaded)) return loaded.exitCode;
  const logger = cliLogger(flags.verbose ? 'debug' : 'warn', (line) => io.stderr.write(line));
  try {
    const report = await cleanJob(loaded.config, { dryRun: flags.dryRun, baseDir: context.cwd, logger });
    if (flags.json) {
      io.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      for (const sink of report.sinks) for (const item of sink.removed) io.stdout.write(`${sink.name}\t${item}\n`);
    }
    const count = report.sinks.reduce((n, s) => n + s.removed.length, 0);
    const verb = report.dryRun ? 'would remove' : 'removed';
    const kept = report.keptCheckpoint === null ? '' : `; kept what checkpoint ${report.keptCheckpoint} of the unfinished run owns, so it can still resume`;
    io.stderr.write(`${report.job}: ${verb} ${count} staged item${count === 1 ? '' : 's'} that no checkpoint owns${kept}\n`);
    return ExitCode.ok;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(issuesText(file, error.issues.map((issue) => loaded.locations.attach(issue))));
      return ExitCode.invalid;
    }
    io.stderr.write(errorText(error, flags.verbose === true));
    return ExitCode.failed;
  }
}
