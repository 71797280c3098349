import { type LoadedJob, loadJobFile } from '../../config/load-job.js';
import { parseVarAssignments } from '../../config/variables.js';
import { verifyPlan } from '../../config/verify-job.js';
import { issuesText } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { CommandContext } from './context.js';

export interface LoadFailure {
  exitCode: ExitCode;
  /** For `--json`: the error as the report carries it. */
  error: { code: string; message: string };
}

/**
 * Reads and validates the job for a command: `--var` pairs, then the file. Secrets are handed to the redactor
 * before anything about the job is printed. Problems are printed here, on stderr.
 */
export async function loadForCommand(file: string, vars: readonly string[], context: CommandContext, options: { verify?: boolean; cluster?: boolean } = {}): Promise<LoadedJob | LoadFailure> {
  const { io } = context;
  const parsedVars = parseVarAssignments(vars);
  if (!parsedVars.ok) {
    io.stderr.write(`error [USAGE]: ${parsedVars.message}\n`);
    return { exitCode: ExitCode.invalid, error: { code: 'USAGE', message: parsedVars.message } };
  }
  const loaded = await loadJobFile(file, { registry: context.registry, vars: parsedVars.vars, env: io.env, ...(options.cluster ? { cluster: true } : {}) });
  io.redactor.add(loaded.secrets);
  if (!loaded.ok) {
    const text = issuesText(file, loaded.issues);
    io.stderr.write(text);
    return { exitCode: ExitCode.invalid, error: { code: 'CONFIG_INVALID', message: text.trimEnd() } };
  }
  if (options.verify) {
    // What the options alone cannot show (an endless source in batch mode, a column the stream lacks), found
    // before anything runs so that check and run agree, located like every other config problem.
    const issues = await verifyPlan(loaded.plan, { baseDir: context.cwd });
    if (issues.length > 0) {
      const text = issuesText(file, issues.map((issue) => loaded.locations.attach(issue)));
      io.stderr.write(text);
      return { exitCode: ExitCode.invalid, error: { code: 'CONFIG_INVALID', message: text.trimEnd() } };
    }
  }
  return loaded;
}

export function isLoadFailure(value: LoadedJob | LoadFailure): value is LoadFailure {
  return 'exitCode' in value;
}
