/**
 * A job writing into PostgreSQL or MySQL/MariaDB (the sink named by the job's `sink.type`), run in a child
 * process so that the crash tests can SIGKILL it at any moment. The sink's committer is wrapped to commit
 * one staging table at a time with a pause, and to print COMMIT-START / COMMIT-END, so that kills also land
 * between and inside commit transactions. Writers print PREPARE-START before each prepareCommit; with
 * `killInPrepare`, the child SIGKILLs itself `delayMs` into a prepareCommit once that many commits have
 * ended (printing SELF-KILL and whether the prepareCommit was still running), so that kills land while
 * writers stage and prepare as well. Writers print SAVED when they hear a checkpoint was saved and
 * WRITER-COMMITTED once they committed its rows themselves (the postgres sink's direct commit), after
 * `savedDelayMs`, so that kills also land between the decision and the writers' own commits.
 */
import type { ConnectorDefinition, SinkFactory } from '../../src/api/connector.js';
import { silentLogger } from '../../src/api/logger.js';
import type { Sink, SinkCommitter, SinkWriter } from '../../src/api/sink.js';
import { mysqlConnector } from '../../connectors/mysql/index.js';
import { postgresConnector } from '../../connectors/postgres/index.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../src/index.js';

const args = JSON.parse(process.env.CRASH_JOB ?? '{}') as {
  name: string;
  checkpoints: string;
  parallelism: number;
  commitPauseMs: number;
  writeDelayMs?: number;
  source: Record<string, unknown>;
  sink: Record<string, unknown>;
  killInPrepare?: { afterCommits: number; delayMs: number };
  /** How long writers wait between hearing that a checkpoint is saved and committing it (the direct commit). */
  savedDelayMs?: number;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wrapped = args.sink.type === 'mysql' ? mysqlConnector : postgresConnector;
const inner = wrapped.sink as SinkFactory;
let commitsEnded = 0;
let selfKill = false;

const slowSink: ConnectorDefinition = {
  ...wrapped,
  sink: {
    options: inner.options,
    async create(options, context) {
      const sink = (await inner.create(options, context)) as Sink;
      return {
        prepare: sink.prepare?.bind(sink),
        check: sink.check?.bind(sink),
        async createWriter(ctx, restored) {
          const writer = await sink.createWriter(ctx, restored);
          const slow: SinkWriter = {
            write: async (batch) => {
              await writer.write(batch);
              if (args.writeDelayMs) await sleep(args.writeDelayMs);
            },
            prepareCommit: async (checkpointId) => {
              process.stdout.write(`PREPARE-START ${checkpointId}\n`);
              const plan = args.killInPrepare;
              let running = true;
              if (plan && !selfKill && commitsEnded >= plan.afterCommits) {
                selfKill = true;
                setTimeout(() => {
                  // Pipes are written synchronously on Linux: the line is out before the process dies.
                  process.stdout.write(`SELF-KILL prepare ${running ? 'running' : 'returned'}\n`);
                  process.kill(process.pid, 'SIGKILL');
                }, plan.delayMs);
              }
              const infos = await writer.prepareCommit(checkpointId);
              running = false;
              if (selfKill) await sleep(1000);
              return infos;
            },
            ...(writer.checkpointSaved
              ? {
                  checkpointSaved: async (checkpointId: number) => {
                    process.stdout.write(`SAVED ${checkpointId}\n`);
                    if (args.savedDelayMs) await sleep(args.savedDelayMs);
                    await writer.checkpointSaved!(checkpointId);
                    process.stdout.write(`WRITER-COMMITTED ${checkpointId}\n`);
                  },
                }
              : {}),
            snapshotState: writer.snapshotState.bind(writer),
            abortPrepare: writer.abortPrepare.bind(writer),
            close: writer.close.bind(writer),
            get stats() {
              return writer.stats;
            },
            ...(writer.endOfInput ? { endOfInput: writer.endOfInput.bind(writer) } : {}),
          };
          return slow;
        },
        async createCommitter(ctx) {
          const committer = await sink.createCommitter(ctx);
          const slow: SinkCommitter = {
            commit: async (infos, commitContext) => {
              process.stdout.write(`COMMIT-START ${commitContext.checkpointId} ${infos.length}\n`);
              for (const info of infos) {
                await committer.commit([info], { ...commitContext, endOfInput: false });
                await sleep(args.commitPauseMs);
              }
              await committer.commit([], commitContext);
              commitsEnded++;
              process.stdout.write(`COMMIT-END ${commitContext.checkpointId}\n`);
              // The job's last commit is done: from here it is finished (a kill now only cuts its report short).
              if (commitContext.endOfInput) process.stdout.write('FINAL-COMMIT-END\n');
            },
            abort: committer.abort.bind(committer),
            removeOrphans: committer.removeOrphans.bind(committer),
            close: committer.close.bind(committer),
          };
          return slow;
        },
      };
    },
  },
};

const registry = new ConnectorRegistry([...builtinConnectors.filter((c) => c.name !== wrapped.name), slowSink]);
const result = await runJob(
  {
    env: { name: args.name, parallelism: args.parallelism, transport: 'in-process', checkpoint: { interval: '80ms', dir: args.checkpoints } },
    source: [args.source],
    sink: [args.sink],
  } as never,
  { registry, logger: silentLogger },
);
process.stdout.write(`RESULT ${JSON.stringify({ status: result.status, error: result.error, resumed: result.resumedFromCheckpoint })}\n`);
process.exit(result.status === 'finished' ? 0 : 1);
