import { ExitCode } from '../exit-codes.js';
import { planText } from '../plan-text.js';
import type { CommandContext } from './context.js';
import { isLoadFailure, loadForCommand } from './load.js';

export interface CheckFlags {
  var?: string[];
  parallelism?: number;
  connect?: boolean;
}

/** `tideway check`: validate and print the resolved plan (secrets masked) on stdout. Exit 0 or 2. */
export async function checkCommand(file: string, flags: CheckFlags, context: CommandContext): Promise<ExitCode> {
  const { io } = context;
  const loaded = await loadForCommand(file, flags.var ?? [], context);
  if (isLoadFailure(loaded)) return loaded.exitCode;
  io.stdout.write(planText(loaded.plan, flags.parallelism));
  if (flags.connect) {
    // Connectors have no connectivity-check contract yet; say plainly that nothing was contacted.
    io.stderr.write('note: --connect: no connector in this job offers a connectivity check yet; the configuration was validated, no service was contacted\n');
  }
  io.stderr.write(`${file}: valid\n`);
  return ExitCode.ok;
}
