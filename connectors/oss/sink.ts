import type { FactoryContext } from '../../src/api/connector.js';
import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import type { Logger } from '../../src/api/logger.js';
import type { Sink, SinkCommitter, SinkContext, SinkWriter, SinkWriterContext } from '../../src/api/sink.js';
import { OssClient, type OssConnection } from './client.js';
import { OssCommitter } from './committer.js';
import { acquireEmbeddedOss, type EmbeddedLease } from './embedded.js';
import { normalizePrefix, type OssSinkOptions, RETRY_MAX_DELAY_MS } from './options.js';
import { claimTarget, inspectTarget } from './ownership.js';
import { assertNoLiveRun, RunLease, warnIfVersioned } from './run-lease.js';
import { applySaveMode } from './save-mode.js';
import { loadPartitionState } from './partition-state.js';
import type { OssCommitInfo } from './upload.js';
import { OssWriter, type OssWriterState } from './writer.js';

/** What Sink.prepare hands to writers and the committer. Holds credentials only for `endpoint: embedded` (the public demo pair). */
export interface PreparedOss {
  endpoint: string;
  region: string;
  accessKeyId: string | null;
  accessKeySecret: string | null;
  [key: string]: Json;
}

/** The connection options common to the OSS sink and source. */
export interface OssConnectionOptions {
  endpoint: string;
  bucket: string;
  region: string;
  access_key_id?: string | undefined;
  access_key_secret?: string | undefined;
  max_retries: number;
  retry_backoff: number;
  timeout: number;
}

/** Starts the embedded emulator when asked to; the lease is released by the caller's close. */
export async function prepareConnection(options: OssConnectionOptions, baseDir: string): Promise<{ prepared: PreparedOss; lease: EmbeddedLease | undefined }> {
  if (options.endpoint !== 'embedded') {
    return { prepared: { endpoint: options.endpoint, region: options.region, accessKeyId: null, accessKeySecret: null }, lease: undefined };
  }
  const lease = await acquireEmbeddedOss(baseDir);
  const c = lease.connection;
  return { prepared: { endpoint: c.endpoint, region: c.region, accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret }, lease };
}

/** The connection a client uses: options for a real endpoint, what prepare started for `embedded`. */
export function resolveConnection(options: OssConnectionOptions, prepared: Json | undefined): OssConnection {
  const p = prepared as Partial<PreparedOss> | undefined;
  if (options.endpoint === 'embedded') {
    if (!p?.endpoint || !p.accessKeyId || !p.accessKeySecret) {
      throw new TidewayError('OSS_EMBEDDED_NOT_STARTED', 'endpoint: embedded needs the emulator that the job starts in its prepare step; build writers and readers through the engine (runJob)', {
        context: { connector: 'oss' },
      });
    }
    return { endpoint: p.endpoint, region: p.region ?? options.region, bucket: options.bucket, accessKeyId: p.accessKeyId, accessKeySecret: p.accessKeySecret };
  }
  return { endpoint: options.endpoint, region: options.region, bucket: options.bucket, accessKeyId: options.access_key_id!, accessKeySecret: options.access_key_secret! };
}

export function makeClient(options: OssConnectionOptions, prepared: Json | undefined, logger: Logger): OssClient {
  return new OssClient(resolveConnection(options, prepared), {
    retry: { maxRetries: options.max_retries, baseDelayMs: options.retry_backoff, maxDelayMs: RETRY_MAX_DELAY_MS },
    timeoutMs: options.timeout,
    logger,
  });
}

/**
 * The OSS sink: exactly-once through multipart uploads (see README.md). `create` does no I/O: prepare
 * (once, on the coordinator) checks and claims the target and takes the job's run lease, createWriter and
 * createCommitter connect.
 */
export class OssSink implements Sink<OssCommitInfo, OssWriterState> {
  private readonly prefix: string;
  private readonly shared: boolean;
  private lease: EmbeddedLease | undefined;
  private run: RunLease | undefined;

  constructor(
    private readonly options: OssSinkOptions,
    private readonly factory: FactoryContext,
  ) {
    this.prefix = normalizePrefix(options.path);
    this.shared = options.allow_non_empty_target;
  }

  /** Claims the prefix for the job (atomically) and takes the job's run lease; a second live run of the job stops here. */
  async prepare(context: SinkContext): Promise<Json> {
    const { prepared, lease } = await prepareConnection(this.options, this.factory.baseDir);
    this.lease = lease;
    try {
      const client = makeClient(this.options, prepared, context.logger);
      await warnIfVersioned(client, context.logger, context.signal);
      await claimTarget({ client, prefix: this.prefix, job: context.jobName, allowNonEmpty: this.shared, signal: context.signal });
      this.run = await RunLease.acquire(
        {
          client,
          prefix: this.prefix,
          job: context.jobName,
          runId: context.attemptId,
          leaseMs: this.options.lease_timeout,
          logger: context.logger,
          ...(context.epoch === undefined ? {} : { epoch: context.epoch }),
        },
        context.signal,
      );
    } catch (error) {
      await this.close();
      throw error;
    }
    return prepared;
  }

  /** Pre-flight for `tideway check --connect`: the bucket answers, the keys work, the prefix is the job's, no run of the job is live. Writes nothing. */
  async check(context: SinkContext): Promise<void> {
    const { prepared, lease } = await prepareConnection(this.options, this.factory.baseDir);
    try {
      const client = makeClient(this.options, prepared, context.logger);
      await inspectTarget({ client, prefix: this.prefix, job: context.jobName, allowNonEmpty: this.shared, signal: context.signal });
      await assertNoLiveRun(client, this.prefix, context.jobName, context.signal);
    } finally {
      await lease?.release();
    }
  }

  async createWriter(context: SinkWriterContext, restored: OssWriterState | undefined): Promise<SinkWriter<OssCommitInfo, OssWriterState>> {
    const client = makeClient(this.options, context.prepared, context.logger);
    // No state to restore for writer 0 means the engine starts the job from scratch (writer 0 exists in every
    // run, so a resume always restores it): data_save_mode applies, once, before anything is written.
    const fromScratch = restored === undefined;
    if (fromScratch && context.writerIndex === 0) {
      await applySaveMode({
        client,
        prefix: this.prefix,
        job: context.jobName,
        attemptId: context.attemptId,
        mode: this.options.data_save_mode,
        shared: this.shared,
        logger: context.logger,
        signal: context.signal,
      });
    }
    // Markers written by earlier runs (or by this run's recommit) are looked up before rows go to a slice;
    // with overwrite, a run from scratch ignores them (writer 0 removes them).
    const ignoreMarkers = this.options.partition_by?.time_column === undefined || (fromScratch && this.options.data_save_mode === 'overwrite');
    const markedThrough = ignoreMarkers ? null : (await loadPartitionState(client, this.prefix, context.jobName, context.signal)).markedThrough;
    return new OssWriter({ client, prefix: this.prefix, options: this.options, mode: this.factory.mode, markedThrough, shared: this.shared }, context, restored);
  }

  /**
   * The committer. Built after prepare it checks the run lease before each commit. Built without prepare
   * (`tideway clean`) it holds no lease, writes nothing but the aborts it is asked for, and for `endpoint:
   * embedded` starts the emulator itself.
   */
  async createCommitter(context: SinkContext): Promise<SinkCommitter<OssCommitInfo, OssWriterState>> {
    let own: EmbeddedLease | undefined;
    let prepared = context.prepared;
    if (prepared === undefined && this.options.endpoint === 'embedded') {
      const started = await prepareConnection(this.options, this.factory.baseDir);
      own = started.lease;
      prepared = started.prepared;
    }
    return new OssCommitter({
      client: makeClient(this.options, prepared, context.logger),
      prefix: this.prefix,
      job: context.jobName,
      mode: this.factory.mode,
      byTime: this.options.partition_by?.time_column !== undefined,
      shared: this.shared,
      run: this.run,
      logger: context.logger,
      onClose: async () => void (await own?.release()),
    });
  }

  /** Releases the run lease (so the next run need not wait for it to expire), then the emulator. Safe to call twice. */
  async close(): Promise<void> {
    const run = this.run;
    const lease = this.lease;
    this.run = undefined;
    this.lease = undefined;
    try {
      await run?.release();
    } finally {
      await lease?.release();
    }
  }
}
