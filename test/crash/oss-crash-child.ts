/**
 * The OSS crash test's job, run in a child process so that the test can SIGKILL it at any moment. The
 * emulator runs in the test process; this job reaches it over TCP. The committer is wrapped to complete one
 * upload at a time with a pause and to print COMMIT-START / COMMIT-END, so that kills also land in the
 * middle of a commit.
 */
import type { ConnectorDefinition, SinkFactory } from '../../src/api/connector.js';
import { silentLogger } from '../../src/api/logger.js';
import type { Sink, SinkCommitter } from '../../src/api/sink.js';
import { fakeConnector } from '../../connectors/fake/index.js';
import { ossConnector } from '../../connectors/oss/index.js';
import { ConnectorRegistry } from '../../src/engine/registry.js';
import { runJob } from '../../src/engine/run-job.js';

const args = JSON.parse(process.env.OSS_CRASH_JOB ?? '{}') as {
  name: string;
  rows: number;
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  accessKeySecret: string;
  path: string;
  checkpoints: string;
  parallelism: number;
  commitPauseMs: number;
};

const inner = ossConnector.sink as SinkFactory;
const slowOss: ConnectorDefinition = {
  ...ossConnector,
  sink: {
    options: inner.options,
    async create(options, context) {
      const sink = (await inner.create(options, context)) as Sink;
      return {
        prepare: sink.prepare?.bind(sink),
        close: sink.close?.bind(sink),
        createWriter: sink.createWriter.bind(sink),
        async createCommitter(ctx) {
          const committer = await sink.createCommitter(ctx);
          const slow: SinkCommitter = {
            commit: async (infos, commitContext) => {
              process.stdout.write(`COMMIT-START ${commitContext.checkpointId} ${infos.length}\n`);
              for (const info of infos) {
                await committer.commit([info], { ...commitContext, endOfInput: false });
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

// Only the two connectors the job uses: a child that starts faster gives the test more kills per second.
const registry = new ConnectorRegistry([fakeConnector, slowOss]);
const result = await runJob(
  {
    env: { name: args.name, parallelism: args.parallelism, transport: 'in-process', checkpoint: { interval: '80ms', dir: args.checkpoints } },
    source: [{ type: 'fake', rows: args.rows, splits: 4, chunk_rows: 200, rows_per_second: args.rows / 2 }],
    sink: [
      {
        type: 'oss',
        endpoint: args.endpoint,
        bucket: args.bucket,
        access_key_id: args.accessKeyId,
        access_key_secret: args.accessKeySecret,
        path: args.path,
        format: 'jsonl',
        part_size: '100KiB',
        max_file_size: '160KiB',
        partition_by: { time_column: 'created_at', granularity: 'month' },
        retry_backoff: '20ms',
      },
    ],
  },
  { registry, logger: silentLogger },
);
process.stdout.write(`RESULT ${JSON.stringify({ status: result.status, error: result.error, resumed: result.resumedFromCheckpoint })}\n`);
process.exit(result.status === 'finished' ? 0 : 1);
