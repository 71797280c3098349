/**
 * A job run in a child process so that the crash test can SIGKILL it at any moment. The file sink's
 * committer is wrapped to commit one file at a time with a pause, and to print COMMIT-START, so that kills
 * also land in the middle of a commit.
 */
import type { ConnectorDefinition, SinkFactory } from '../../src/api/connector.js';
import { silentLogger } from '../../src/api/logger.js';
import type { Sink, SinkCommitter } from '../../src/api/sink.js';
import { fileConnector } from '../../connectors/file/index.js';
import { builtinConnectors, ConnectorRegistry, runJob } from '../../src/index.js';

const args = JSON.parse(process.env.CRASH_JOB ?? '{}') as {
  name: string;
  rows: number;
  out: string;
  checkpoints: string;
  parallelism: number;
  transport: 'in-process' | 'worker-threads';
  format: string;
  commitPauseMs: number;
  /** Replaces the default rate-limited fake source. */
  source?: Record<string, unknown>;
};

const inner = fileConnector.sink as SinkFactory;
const slowFile: ConnectorDefinition = {
  ...fileConnector,
  sink: {
    options: inner.options,
    async create(options, context) {
      const sink = (await inner.create(options, context)) as Sink;
      return {
        ...sink,
        prepare: sink.prepare?.bind(sink),
        createWriter: sink.createWriter.bind(sink),
        async createCommitter(ctx) {
          const committer = await sink.createCommitter(ctx);
          const slow: SinkCommitter = {
            ...committer,
            commit: async (infos, commitContext) => {
              process.stdout.write(`COMMIT-START ${commitContext.checkpointId} ${infos.length}\n`);
              for (const info of infos) {
                await committer.commit([info], commitContext);
                await new Promise((r) => setTimeout(r, args.commitPauseMs));
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

const registry = new ConnectorRegistry([...builtinConnectors.filter((c) => c.name !== 'file'), slowFile]);
const result = await runJob(
  {
    env: { name: args.name, parallelism: args.parallelism, transport: args.transport, checkpoint: { interval: '60ms', dir: args.checkpoints } },
    source: [(args.source as { type: string } | undefined) ?? { type: 'fake', rows: args.rows, splits: 6, chunk_rows: 500, rows_per_second: args.rows / 3 }],
    // A kill may land after a run finished and cleared its checkpoint: the next run then starts from the
    // beginning, and overwrite replaces what the finished run committed instead of adding a second copy.
    sink: [{ type: 'file', path: args.out, format: args.format, max_file_size: '64KiB', data_save_mode: 'overwrite' }],
  },
  { registry, logger: silentLogger, ...(args.transport === 'worker-threads' ? { registryModule: new URL('./crash-registry.ts', import.meta.url).href } : {}) },
);
process.stdout.write(`RESULT ${JSON.stringify({ status: result.status, error: result.error, resumed: result.resumedFromCheckpoint })}\n`);
process.exit(result.status === 'finished' ? 0 : 1);
