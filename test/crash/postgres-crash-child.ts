/**
 * A job writing into PostgreSQL, run in a child process so that the crash test can SIGKILL it at any moment.
 * The postgres committer is wrapped to commit one staging table at a time with a pause, and to print
 * COMMIT-START / COMMIT-END, so that kills also land between and inside commit transactions.
 */
import type { ConnectorDefinition, SinkFactory } from '../../src/api/connector.js';
import { silentLogger } from '../../src/api/logger.js';
import type { Sink, SinkCommitter } from '../../src/api/sink.js';
import { postgresConnector } from '../../connectors/postgres/index.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../src/index.js';

const args = JSON.parse(process.env.CRASH_JOB ?? '{}') as {
  name: string;
  checkpoints: string;
  parallelism: number;
  commitPauseMs: number;
  source: Record<string, unknown>;
  sink: Record<string, unknown>;
};

const inner = postgresConnector.sink as SinkFactory;
const slowPostgres: ConnectorDefinition = {
  ...postgresConnector,
  sink: {
    options: inner.options,
    async create(options, context) {
      const sink = (await inner.create(options, context)) as Sink;
      return {
        prepare: sink.prepare?.bind(sink),
        check: sink.check?.bind(sink),
        createWriter: sink.createWriter.bind(sink),
        async createCommitter(ctx) {
          const committer = await sink.createCommitter(ctx);
          const slow: SinkCommitter = {
            commit: async (infos, commitContext) => {
              process.stdout.write(`COMMIT-START ${commitContext.checkpointId} ${infos.length}\n`);
              for (const info of infos) {
                await committer.commit([info], commitContext);
                await new Promise((r) => setTimeout(r, args.commitPauseMs));
              }
              await committer.commit([], commitContext);
              process.stdout.write(`COMMIT-END ${commitContext.checkpointId}\n`);
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

const registry = new ConnectorRegistry([...builtinConnectors.filter((c) => c.name !== 'postgres'), slowPostgres]);
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
