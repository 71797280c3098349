import { MAX_PARALLELISM, ONE_MACHINE_LIMIT } from '../../engine/job-config.js';
import { checkConnections } from '../api.js';
import { ExitCode } from '../exit-codes.js';
import { planText } from '../plan-text.js';
import type { CommandContext } from './context.js';
import { isLoadFailure, loadForCommand } from './load.js';

export interface CheckFlags {
  var?: string[];
  parallelism?: number;
  connect?: boolean;
}

/**
 * `tideway check`: validate and print the resolved plan (secrets masked) on stdout. Exit 0, or 2 for an
 * invalid job; with `--connect`, also contacts each source and sink, and exits 1 if one cannot be reached.
 */
export async function checkCommand(file: string, flags: CheckFlags, context: CommandContext): Promise<ExitCode> {
  const { io } = context;
  const loaded = await loadForCommand(file, flags.var ?? [], context, { verify: true });
  if (isLoadFailure(loaded)) return loaded.exitCode;
  if (flags.parallelism !== undefined && flags.parallelism > MAX_PARALLELISM && loaded.plan.env.cluster === undefined) {
    io.stderr.write(`error [CONFIG_INVALID]: --parallelism ${flags.parallelism}: ${ONE_MACHINE_LIMIT}\n`);
    return ExitCode.invalid;
  }
  io.stdout.write(planText(loaded.plan, flags.parallelism));
  if (flags.connect) {
    const checks = await checkConnections(loaded.config, { registry: context.registry, baseDir: context.cwd });
    io.stdout.write('\nconnections\n');
    for (const check of checks) {
      const mark = check.status === 'ok' ? 'ok     ' : check.status === 'failed' ? 'FAILED ' : 'skipped';
      io.stdout.write(`  ${mark} ${check.path} ${check.name} (${check.type}): ${check.code ? `[${check.code}] ` : ''}${check.detail}\n`);
    }
    const failed = checks.filter((c) => c.status === 'failed').length;
    if (failed > 0) {
      io.stderr.write(`${file}: valid, but ${failed} connection check(s) failed\n`);
      return ExitCode.failed;
    }
  }
  io.stderr.write(`${file}: valid\n`);
  return ExitCode.ok;
}
