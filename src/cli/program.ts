import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { type CheckFlags, checkCommand } from './commands/check.js';
import { type CleanFlags, cleanCommand } from './commands/clean.js';
import { connectorsCommand } from './commands/connectors.js';
import type { CommandContext } from './commands/context.js';
import { maxComputeEmulatorCommand, type MaxComputeEmulatorFlags, ossEmulatorCommand } from './commands/emulator.js';
import { type RunFlags, runCommand } from './commands/run.js';
import type { ServeFlags } from './commands/serve.js';
import { type ClusterStatusFlags, clusterStatusCommand, type WorkerFlags, workerCommand } from './commands/worker.js';
import { MAX_CLUSTER_PARALLELISM, MAX_PARALLELISM } from '../engine/job-config.js';
import { ExitCode } from './exit-codes.js';
import { packageInfo } from './package-root.js';

/**
 * The `tideway` command line: parse arguments, call the programmatic API, map outcomes to exit codes.
 * Returns the exit code instead of exiting, so that main decides when the process ends.
 */
export async function runCli(argv: readonly string[], context: CommandContext): Promise<number> {
  const { io } = context;
  let exitCode: number = ExitCode.ok;
  const program = new Command('tideway')
    .description('Exactly-once data integration: run YAML jobs that move rows from sources to sinks.')
    .version(packageInfo().version, '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run "tideway --help" for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 finished, 1 job failed, 2 invalid usage or configuration, 130 cancelled (SIGINT/SIGTERM).\nVariables: ${NAME} and ${NAME:-default} in values, from --var NAME=value first, then the environment.',
    );

  program
    .command('run')
    .description('run a job; resumes an unfinished earlier run of the same job unless --fresh')
    .argument('<job.yaml>', 'the job file')
    .addOption(varOption())
    .option('-p, --parallelism <n>', `override env.parallelism (1 to ${MAX_PARALLELISM}; up to ${MAX_CLUSTER_PARALLELISM} on a cluster)`, parallelism)
    .option('--fresh', 'discard an unfinished earlier run (aborting its staged output) and start over')
    .option('--json', 'print the job report as one JSON object on stdout (nothing else goes to stdout)')
    .option('-q, --quiet', 'no progress and no report; only warnings and errors on stderr')
    .option('--metrics-port <n>', 'serve Prometheus metrics of the run at http://<host>:<n>/metrics (every interface) while it runs', port)
    .option('--metrics-linger <seconds>', 'with --metrics-port: keep serving the final metrics (status finished, failed or cancelled) this long after the run ends, so that the next scrape sees them (default 0; Ctrl-C ends it early)', seconds)
    .option('--cluster <nats-url>', 'coordinate the job here and run its pipelines on cluster workers (tideway worker) through NATS JetStream; default env.cluster')
    .option('--cluster-prefix <name>', 'bucket and subject prefix of the cluster (default tideway), as its workers were started with')
    .option('--heartbeat-timeout <ms>', 'cluster mode: a worker silent this long is lost, and its pipelines resume on the others (default 3000)', milliseconds)
    .addOption(verboseOption())
    .action(async (file: string, flags: RunFlags) => {
      exitCode = await runCommand(file, flags, context);
    });

  program
    .command('check')
    .description('validate a job and print its resolved plan (secrets masked); exit 0 when valid, 2 when not')
    .argument('<job.yaml>', 'the job file')
    .addOption(varOption())
    .option('-p, --parallelism <n>', `check and show the plan with this parallelism (1 to ${MAX_PARALLELISM}; up to ${MAX_CLUSTER_PARALLELISM} on a cluster)`, parallelism)
    .option('--connect', 'also check connectivity where a connector can do so cheaply')
    .action(async (file: string, flags: CheckFlags) => {
      exitCode = await checkCommand(file, flags, context);
    });

  program
    .command('connectors')
    .description('list connectors, or show every option of one')
    .argument('[name]', 'a connector name')
    .action((name: string | undefined) => {
      exitCode = connectorsCommand(name, context);
    });

  program
    .command('clean')
    .description('list and remove what the job\'s sinks staged that no checkpoint owns (staging files, multipart uploads, prepared transactions)')
    .argument('<job.yaml>', 'the job file')
    .addOption(varOption())
    .option('--dry-run', 'only list what would be removed')
    .option('--json', 'print the clean report as one JSON object on stdout')
    .addOption(verboseOption())
    .action(async (file: string, flags: CleanFlags) => {
      exitCode = await cleanCommand(file, flags, context);
    });

  program
    .command('serve')
    .description('run jobs submitted over HTTP (REST API, server-sent events); job history survives restarts')
    .option('--host <addr>', 'interface to listen on; any but loopback needs --token', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0: any free port)', port, 8080)
    .option('--token <token>', 'bearer token every API request must carry (or TIDEWAY_SERVER_TOKEN)')
    .option('--state-dir <dir>', 'job records and default checkpoints', '.tideway/server')
    .option('--resume-interrupted', 'on start, resume the jobs that were running when the server last stopped')
    .option('--keep-jobs <n>', 'job records kept (default 1000): beyond it the oldest finished jobs are forgotten; running, interrupted, failed and cancelled jobs are always kept', jobCount)
    .option('--cluster <url>', 'run every job on this cluster\'s NATS (nats://host:4222) and show it at /api/cluster and in the dashboard')
    .option('--cluster-prefix <name>', 'bucket and subject prefix of the cluster (default tideway)')
    .addOption(verboseOption())
    .action(async (flags: ServeFlags) => {
      // Loaded on demand: the HTTP server and Prometheus client are for `serve` alone.
      const { serveCommand } = await import('./commands/serve.js');
      exitCode = await serveCommand(flags, context);
    });
  program
    .command('worker')
    .description('join a cluster and run the pipelines that `tideway run --cluster` coordinators place here, until SIGINT/SIGTERM')
    .requiredOption('--nats <url>', 'the cluster\'s NATS server with JetStream, e.g. nats://host:4222')
    .option('--slots <n>', 'pipelines this worker runs at once (default 2)', slots)
    .option('--heartbeat-interval <ms>', 'how often the worker announces itself; keep it well under the coordinators\' --heartbeat-timeout (default 1000)', milliseconds)
    .option('--prefix <name>', 'bucket and subject prefix of the cluster (default tideway)')
    .addOption(verboseOption())
    .action(async (flags: WorkerFlags) => {
      exitCode = await workerCommand(flags, context);
    });
  program
    .command('cluster')
    .description('inspect a cluster')
    .command('status')
    .description('workers, their slots, jobs and where their pipelines run')
    .requiredOption('--nats <url>', 'the cluster\'s NATS server, e.g. nats://host:4222')
    .option('--prefix <name>', 'bucket and subject prefix of the cluster (default tideway)')
    .option('--json', 'print the status as one JSON object on stdout')
    .action(async (flags: ClusterStatusFlags) => {
      exitCode = await clusterStatusCommand(flags, context);
    });

  const emulator = program.command('emulator').description('run a local, protocol-faithful service emulator until Ctrl-C');
  emulator
    .command('maxcompute')
    .description('the embedded MaxCompute (ODPS and Tunnel) emulator with the demo project, as `endpoint: embedded` uses it')
    .option('--port <n>', 'port to listen on (default: any free port; printed on start)', port)
    .option('--host <addr>', 'interface to listen on (default: 127.0.0.1)')
    .option('--json', 'print the connection details as JSON on stdout')
    .action(async (flags: MaxComputeEmulatorFlags) => {
      exitCode = await maxComputeEmulatorCommand(flags, context);
    });
  emulator
    .command('oss')
    .description('an OSS-compatible server that ali-oss can use unchanged (tideway emulator oss --help for its options)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]', 'the emulator\'s options')
    .action(async (args: string[]) => {
      exitCode = await ossEmulatorCommand(args, context);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; everything else commander rejects is a usage error.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? ExitCode.ok : ExitCode.invalid;
    }
    throw error;
  }
  return exitCode;
}

/** `--var NAME=value`, repeatable, shared by every command that reads a job. */
function varOption(): Option {
  return new Option('--var <NAME=value>', 'set a variable used as ${NAME} in the job (repeatable; wins over the environment)')
    .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
}

function verboseOption(): Option {
  return new Option('-v, --verbose', 'debug logs, and stack traces with errors');
}

function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return Number(value);
}

function milliseconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 50) throw new InvalidArgumentError('expected a whole number of milliseconds, at least 50');
  return Number(value);
}

function seconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 3600) throw new InvalidArgumentError('expected a whole number of seconds from 0 to 3600');
  return Number(value);
}

function jobCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1_000_000) throw new InvalidArgumentError('expected a whole number of jobs from 1 to 1000000');
  return Number(value);
}

function slots(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 1024) throw new InvalidArgumentError('expected a whole number of slots from 1 to 1024');
  return Number(value);
}

function parallelism(value: string): number {
  // The one-machine limit (MAX_PARALLELISM) is the plan's to check: it knows whether the job runs on a cluster.
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_CLUSTER_PARALLELISM) {
    throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_PARALLELISM} (up to ${MAX_CLUSTER_PARALLELISM} on a cluster)`);
  }
  return Number(value);
}
