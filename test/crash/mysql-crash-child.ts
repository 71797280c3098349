/**
 * The MySQL crash test's job (mysql -> mysql), run in a child process so that the test can SIGKILL it at
 * any moment. Writers are slowed a little and print PREPARE-START before each prepareCommit; the committer
 * commits one staged table at a time with a pause and prints COMMIT-START / COMMIT-END, so that kills land
 * during reads, during prepareCommit and in the middle of a commit.
 */
import type { ConnectorDefinition, SinkFactory } from '../../src/api/connector.js';
import { silentLogger } from '../../src/api/logger.js';
import type { Sink, SinkCommitter, SinkWriter } from '../../src/api/sink.js';
import { mysqlConnector } from '../../connectors/mysql/index.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../src/index.js';

const args = JSON.parse(process.env.MYSQL_CRASH_JOB ?? '{}') as {
  name: string;
  connection: Record<string, unknown>;
  checkpoints: string;
  parallelism: number;
  writeDelayMs: number;
  commitPauseMs: number;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const inner = mysqlConnector.sink as SinkFactory;
const slowMysql: ConnectorDefinition = {
  ...mysqlConnector,
  sink: {
    options: inner.options,
    async create(options, context) {
      const sink = (await inner.create(options, context)) as Sink;
      return {
        prepare: sink.prepare?.bind(sink),
        async createWriter(ctx, restored) {
          const writer = await sink.createWriter(ctx, restored);
          const slow: SinkWriter = {
            write: async (batch) => {
              await writer.write(batch);
              await sleep(args.writeDelayMs);
            },
            prepareCommit: async (checkpointId) => {
              process.stdout.write(`PREPARE-START ${checkpointId}\n`);
              const infos = await writer.prepareCommit(checkpointId);
              await sleep(20);
              return infos;
            },
            snapshotState: writer.snapshotState.bind(writer),
            abortPrepare: writer.abortPrepare.bind(writer),
            close: writer.close.bind(writer),
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

const registry = new ConnectorRegistry([...builtinConnectors.filter((c) => c.name !== 'mysql'), slowMysql]);
const result = await runJob(
  {
    env: { name: args.name, parallelism: args.parallelism, transport: 'in-process', checkpoint: { interval: '80ms', dir: args.checkpoints } },
    source: [{ type: 'mysql', ...args.connection, table: 'crash_src', split_size: 700, fetch_size: 100 }],
    sink: [{ type: 'mysql', ...args.connection, table: 'crash_dst', batch_size: 150 }],
  },
  { registry, logger: silentLogger },
);
process.stdout.write(`RESULT ${JSON.stringify({ status: result.status, error: result.error, resumed: result.resumedFromCheckpoint })}\n`);
process.exit(result.status === 'finished' ? 0 : 1);
