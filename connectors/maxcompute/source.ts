import type { Schema } from 'apache-arrow';
import type { FactoryContext } from '../../src/api/connector.js';
import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import type { Logger } from '../../src/api/logger.js';
import type {
  Source,
  SourceReader,
  SourceReaderContext,
  SourceSplit,
  SplitEnumerator,
  SplitEnumeratorContext,
} from '../../src/api/source.js';
import type { DownloadSession } from './client/session.js';
import { normalizePartitionSpec } from './client/session.js';
import { TunnelClient } from './client/tunnel-client.js';
import { toArrowSchema } from './codec/types.js';
import { DEMO_ACCESS_ID, DEMO_ACCESS_KEY, DEMO_PROJECT, startEmbeddedMaxCompute } from './emulator/demo.js';
import type { MaxComputeEmulator } from './emulator/server.js';
import { maxComputeError } from './errors.js';
import type { MaxComputeSourceOptions } from './options.js';
import { SplitQueueReader } from '../../src/api/split-queue-reader.js';
import { MaxComputeSplitReader } from './reader.js';

/**
 * A row range of one download session. Readers attach to the session by id (they never open their own),
 * so every split of a table or partition reads the same snapshot. `offset` counts rows already emitted.
 */
export interface MaxComputeSplit extends SourceSplit {
  splitId: string;
  sessionId: string;
  /** Normalised partition spec, '' for a non-partitioned table. */
  partition: string;
  start: number;
  count: number;
  offset: number;
}

/** Planning state of one partition (or of the whole table). */
export interface PartitionPlan {
  partition: string;
  sessionId: string;
  recordCount: number;
  /** First row not yet cut into a split. */
  nextStart: number;
  /** Bumped when an expired session is replaced, so split ids never repeat. */
  generation: number;
  [key: string]: Json;
}

/** The enumerator's checkpointed state: sessions and cursors, plus splits given back and not reassigned. */
export interface MaxComputeEnumeratorState {
  partitions: PartitionPlan[];
  pending: MaxComputeSplit[];
  [key: string]: Json;
}

/** What `prepare` hands to every reader: where the service is (never credentials). */
interface PreparedConnection {
  endpoint: string;
  tunnelEndpoint: string;
  project: string;
  [key: string]: Json;
}

interface Connection {
  endpoint: string;
  tunnelEndpoint?: string;
  project: string;
  accessId: string;
  accessKey: string;
}

/**
 * The `maxcompute` source: one download session per table or partition, planned into row-range splits
 * that readers pull, attach to and read in bounded chunks.
 */
export class MaxComputeSource implements Source<MaxComputeSplit, MaxComputeEnumeratorState> {
  readonly boundedness = 'bounded' as const;
  private readonly partitions: string[];
  private embedded: Promise<MaxComputeEmulator> | undefined;
  private client: Promise<TunnelClient> | undefined;
  private schemaSession: DownloadSession | undefined;
  private readonly logger: Logger;

  constructor(
    readonly options: MaxComputeSourceOptions,
    context: FactoryContext,
  ) {
    this.logger = context.logger;
    const specs = options.partition_spec === undefined ? [''] : Array.isArray(options.partition_spec) ? options.partition_spec : [options.partition_spec];
    this.partitions = [...new Set(specs.map((s) => normalizePartitionSpec(s)))];
  }

  /** Starts the embedded emulator (for `endpoint: embedded`) and resolves the Tunnel endpoint once for every reader. */
  async prepare({ signal }: { signal: AbortSignal }): Promise<Json | undefined> {
    const client = await this.clientFor(undefined);
    const tunnel = await client.resolveTunnelEndpoint(signal);
    const connection = await this.connection(undefined);
    const prepared: PreparedConnection = { endpoint: connection.endpoint, tunnelEndpoint: tunnel.href, project: connection.project };
    return prepared;
  }

  async schema({ signal }: { signal: AbortSignal }): Promise<Schema> {
    const client = await this.clientFor(undefined);
    this.schemaSession ??= await client.createDownloadSession(this.options.table_name, {
      partition: this.partitions[0],
      async: this.options.async_session,
      signal,
    });
    return toArrowSchema(projectColumns(this.schemaSession, this.options.read_columns));
  }

  async createEnumerator(context: SplitEnumeratorContext<MaxComputeSplit>): Promise<SplitEnumerator<MaxComputeSplit, MaxComputeEnumeratorState>> {
    const client = await this.clientFor(undefined);
    return new MaxComputeEnumerator(context, client, this.options, this.partitions, undefined, this.schemaSession);
  }

  async restoreEnumerator(
    context: SplitEnumeratorContext<MaxComputeSplit>,
    state: MaxComputeEnumeratorState,
  ): Promise<SplitEnumerator<MaxComputeSplit, MaxComputeEnumeratorState>> {
    const client = await this.clientFor(undefined);
    return new MaxComputeEnumerator(context, client, this.options, this.partitions, state, undefined);
  }

  async createReader(context: SourceReaderContext): Promise<SourceReader<MaxComputeSplit>> {
    const client = await this.clientFor(context.prepared as PreparedConnection | undefined);
    const splitReader = new MaxComputeSplitReader(client, this.options);
    return new SplitQueueReader(context, splitReader, { chunkRows: this.options.chunk_rows });
  }

  async close(): Promise<void> {
    const client = this.client;
    const embedded = this.embedded;
    this.client = undefined;
    this.embedded = undefined;
    if (client) (await client.catch(() => undefined))?.close();
    if (embedded) await (await embedded.catch(() => undefined))?.close();
  }

  /** One client per Source object; readers use what `prepare` resolved when they have it. */
  private clientFor(prepared: PreparedConnection | undefined): Promise<TunnelClient> {
    this.client ??= this.connection(prepared).then(
      (c) =>
        new TunnelClient({
          endpoint: c.endpoint,
          tunnelEndpoint: c.tunnelEndpoint,
          project: c.project,
          schemaName: this.options.schema_name,
          accessId: c.accessId,
          accessKey: c.accessKey,
          retry: { maxRetries: this.options.max_retries, baseDelayMs: this.options.retry_backoff, maxDelayMs: this.options.retry_max_backoff },
          idleTimeoutMs: this.options.read_timeout,
          compress: this.options.compress,
          logger: this.logger,
        }),
    );
    return this.client;
  }

  private async connection(prepared: PreparedConnection | undefined): Promise<Connection> {
    const o = this.options;
    if (o.endpoint !== 'embedded') {
      return {
        endpoint: o.endpoint,
        tunnelEndpoint: prepared?.tunnelEndpoint ?? o.tunnel_endpoint,
        project: o.project!,
        accessId: o.access_id!,
        accessKey: o.access_key!,
      };
    }
    const project = o.project ?? DEMO_PROJECT;
    const accessId = o.access_id ?? DEMO_ACCESS_ID;
    const accessKey = o.access_key ?? DEMO_ACCESS_KEY;
    if (prepared) return { endpoint: prepared.endpoint, tunnelEndpoint: prepared.tunnelEndpoint, project, accessId, accessKey };
    // No prepared endpoint (a reader built outside the engine, or a restore in a new process): run our own.
    // The demo emulator's session ids are portable, so it serves sessions another instance created.
    this.embedded ??= startEmbeddedMaxCompute({ logger: this.logger });
    const emulator = await this.embedded;
    return { endpoint: emulator.endpoint, tunnelEndpoint: emulator.tunnelEndpoint, project, accessId, accessKey };
  }
}

/** The projected columns in read_columns order, or a clear error naming what exists. */
export function projectColumns(session: DownloadSession, readColumns: readonly string[] | undefined) {
  if (!readColumns) return session.columns;
  const byName = new Map(session.columns.map((c) => [c.name.toLowerCase(), c]));
  const unknown = readColumns.filter((name) => !byName.has(name.toLowerCase()));
  if (unknown.length > 0) {
    throw maxComputeError(
      'MAXCOMPUTE_INVALID_COLUMN',
      `read_columns names ${unknown.map((n) => `"${n}"`).join(', ')}, which ${unknown.length === 1 ? 'is' : 'are'} not in ${session.project}.${session.table}; ` +
        `its columns are ${session.columns.map((c) => c.name).join(', ')}`,
      { context: { project: session.project, table: session.table } },
    );
  }
  return readColumns.map((name) => byName.get(name.toLowerCase())!);
}

/**
 * Plans row-range splits over one download session per partition and hands them out on request (pull),
 * one per request, so fast readers take more. Splits are cut lazily from per-partition cursors, so the
 * checkpointed state stays small however large the table is.
 */
export class MaxComputeEnumerator implements SplitEnumerator<MaxComputeSplit, MaxComputeEnumeratorState> {
  private partitions: PartitionPlan[];
  private pending: MaxComputeSplit[];
  private readonly restored: boolean;
  private planned: Promise<void> | undefined;

  constructor(
    private readonly context: SplitEnumeratorContext<MaxComputeSplit>,
    private readonly client: TunnelClient,
    private readonly options: MaxComputeSourceOptions,
    private readonly specs: readonly string[],
    state: MaxComputeEnumeratorState | undefined,
    private readonly reusable: DownloadSession | undefined,
  ) {
    this.restored = state !== undefined;
    this.partitions = state ? state.partitions.map((p) => ({ ...p })) : [];
    this.pending = state ? state.pending.map((s) => ({ ...s })) : [];
  }

  async run(): Promise<void> {
    await this.plan();
  }

  /** Fresh run: one session per partition. Restored run: check the sessions are still there (re-plan if allowed). */
  private plan(): Promise<void> {
    this.planned ??= this.restored ? this.revalidate() : this.createSessions();
    return this.planned;
  }

  private async createSessions(): Promise<void> {
    const partitions: PartitionPlan[] = [];
    for (const partition of this.specs) {
      const session = await this.newSession(partition);
      partitions.push({ partition, sessionId: session.id, recordCount: session.recordCount, nextStart: 0, generation: 0 });
    }
    this.partitions = partitions;
    const rows = partitions.reduce((sum, p) => sum + p.recordCount, 0);
    this.context.logger.info('planned MaxCompute download', {
      table: `${this.client.project}.${this.options.table_name}`,
      partitions: partitions.length,
      rows,
      splitRow: this.options.split_row,
    });
  }

  private async newSession(partition: string): Promise<DownloadSession> {
    const reusable = this.reusable;
    if (reusable && reusable.partition === partition && !this.partitions.some((p) => p.sessionId === reusable.id)) return reusable;
    return this.client.createDownloadSession(this.options.table_name, { partition, async: this.options.async_session, signal: this.context.signal });
  }

  /**
   * After a restore, a session may have expired. Its snapshot is gone, so a new session is only safe when
   * no row of the old one was read: then the whole partition is planned again on the new snapshot.
   */
  private async revalidate(): Promise<void> {
    for (const plan of this.partitions) {
      const remaining = this.pending.filter((s) => s.sessionId === plan.sessionId);
      const rowsLeft = plan.recordCount - plan.nextStart + remaining.reduce((sum, s) => sum + (s.count - s.offset), 0);
      if (rowsLeft === 0) continue;
      try {
        await this.client.attachDownloadSession(this.options.table_name, plan.sessionId, { partition: plan.partition, signal: this.context.signal });
        continue;
      } catch (error) {
        if (!(error instanceof TidewayError) || error.code !== 'MAXCOMPUTE_SESSION_EXPIRED') throw error;
      }
      const rowsRead = plan.recordCount - rowsLeft;
      const where = `${this.client.project}.${this.options.table_name}${plan.partition ? ` partition ${plan.partition}` : ''}`;
      if (rowsRead > 0) {
        throw maxComputeError(
          'MAXCOMPUTE_SESSION_EXPIRED',
          `download session ${plan.sessionId} of ${where} expired after ${rowsRead} of its ${plan.recordCount} rows were read. ` +
            "A new session would be a different snapshot, so the rest cannot be read exactly once; start over with --fresh, with data_save_mode set on the sink to replace this job's earlier output (overwrite, or truncate for a table) so that no row is written twice.",
          { context: { table: this.options.table_name, partition: plan.partition || undefined, sessionId: plan.sessionId } },
        );
      }
      const session = await this.client.createDownloadSession(this.options.table_name, {
        partition: plan.partition,
        async: this.options.async_session,
        signal: this.context.signal,
      });
      this.context.logger.warn('download session expired before any of its rows were read; planning again on a new session', {
        table: where,
        expired: plan.sessionId,
        session: session.id,
      });
      this.pending = this.pending.filter((s) => s.sessionId !== plan.sessionId);
      plan.sessionId = session.id;
      plan.recordCount = session.recordCount;
      plan.nextStart = 0;
      plan.generation += 1;
    }
  }

  registerReader(): void {}

  async handleSplitRequest(readerId: number): Promise<void> {
    await this.plan();
    const split = this.pending.shift() ?? this.cutSplit();
    if (split) this.context.assignSplit(readerId, [split]);
    else this.context.signalNoMoreSplits(readerId);
  }

  private cutSplit(): MaxComputeSplit | undefined {
    for (const plan of this.partitions) {
      if (plan.nextStart >= plan.recordCount) continue;
      const start = plan.nextStart;
      const count = Math.min(this.options.split_row, plan.recordCount - start);
      plan.nextStart = start + count;
      return {
        splitId: `${plan.partition || this.options.table_name}#${plan.generation}@${start}`,
        sessionId: plan.sessionId,
        partition: plan.partition,
        start,
        count,
        offset: 0,
      };
    }
    return undefined;
  }

  addSplitsBack(splits: MaxComputeSplit[]): void {
    const known = new Set(this.pending.map((s) => s.splitId));
    this.pending.unshift(...splits.filter((s) => !known.has(s.splitId)).map((s) => ({ ...s })));
  }

  snapshotState(): MaxComputeEnumeratorState {
    return { partitions: this.partitions.map((p) => ({ ...p })), pending: this.pending.map((s) => ({ ...s })) };
  }

  progress(): { totalSplits?: number; totalRows?: number } {
    if (this.partitions.length === 0) return {};
    return {
      totalRows: this.partitions.reduce((sum, p) => sum + p.recordCount, 0),
      totalSplits: this.partitions.reduce((sum, p) => sum + Math.ceil(p.recordCount / this.options.split_row), 0),
    };
  }

  async close(): Promise<void> {}
}
