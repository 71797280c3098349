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
import { SplitQueueReader } from '../../src/api/split-queue-reader.js';
import { clientConfig, connect, type Endpoint, literal, type PgClient, queryError } from './connection.js';
import type { PostgresSourceOptions } from './options.js';
import { buildPlan, columnRef, type Domain, domainExpression, fromDomain, outputSchema, type ReadPlan } from './plan.js';
import { PostgresSplitReader } from './reader.js';

/**
 * A range of the partition column (or the whole table or query), read in keyset order. `after` is the
 * keyset position of the last row emitted, so a resumed split continues right after it (never OFFSET).
 */
export interface PostgresSplit extends SourceSplit {
  splitId: string;
  /** The exported snapshot every reader transaction imports; set when the split is assigned. */
  snapshot: string | null;
  /** Lower bound (inclusive) and upper bound (exclusive) in the partition column's domain; null: open. */
  lo: string | null;
  hi: string | null;
  /** This split reads the rows whose partition column is NULL (and only those). */
  nulls: boolean;
  /** Key values (as text) of the last row emitted; null before the first row. */
  after: string[] | null;
  /** Rows emitted so far (a query split, which has no key, skips this many on resume). */
  rows: number;
}

export interface PostgresEnumeratorState {
  pending: PostgresSplit[];
  planned: boolean;
  [key: string]: Json;
}

export class PostgresSource implements Source<PostgresSplit, PostgresEnumeratorState> {
  readonly boundedness = 'bounded' as const;
  private plan: ReadPlan | undefined;
  private readonly config;
  readonly endpoint: Endpoint;
  private readonly logger: Logger;

  constructor(
    readonly options: PostgresSourceOptions,
    context: FactoryContext,
  ) {
    const { config, endpoint } = clientConfig(options, context.baseDir);
    this.config = config;
    this.endpoint = endpoint;
    this.logger = context.logger;
  }

  connect(): Promise<PgClient> {
    return connect(this.config, this.endpoint);
  }

  /**
   * Resolves columns, types, the partition column and the keyset once, and opens the job's snapshot: a
   * REPEATABLE READ transaction held until `close` (the end of the job) whose `pg_export_snapshot()` every
   * reader transaction imports. Readers get both as `prepared`.
   */
  async prepare(): Promise<Json | undefined> {
    const plan = await this.readPlan();
    const snapshot = await this.openSnapshot();
    const prepared: PreparedRead = { plan, snapshot };
    return prepared as unknown as Json;
  }

  private snapshotHolder: { client: PgClient; id: string } | undefined;

  /** The exported snapshot and the connection of the transaction holding it (opened once per Source). */
  async openSnapshot(): Promise<string> {
    if (this.snapshotHolder) return this.snapshotHolder.id;
    const client = await this.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const exported = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
      this.snapshotHolder = { client, id: exported.rows[0]!.id };
      return this.snapshotHolder.id;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw queryError(error, 'exporting the job snapshot', this.endpoint);
    }
  }

  async check(): Promise<void> {
    const client = await this.connect();
    try {
      const plan = await this.readPlanWith(client);
      if (!plan.isQuery) {
        const table = plan.from.replace(/ AS tideway_t$/, '');
        const allowed = await client.query<{ ok: boolean }>(`SELECT has_table_privilege(${literal(table)}, 'SELECT') AS ok`);
        if (!allowed.rows[0]?.ok) {
          throw new TidewayError('POSTGRES_NO_PRIVILEGE', `user ${this.endpoint.user} may not SELECT from ${table} on ${this.endpoint.host}; GRANT SELECT ON ${table} TO ${this.endpoint.user}`);
        }
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async schema(): Promise<Schema> {
    return outputSchema(await this.readPlan());
  }

  async readPlan(): Promise<ReadPlan> {
    if (this.plan) return this.plan;
    const client = await this.connect();
    try {
      this.plan = await this.readPlanWith(client);
      return this.plan;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async readPlanWith(client: PgClient): Promise<ReadPlan> {
    try {
      return await buildPlan(client, this.options, this.endpoint);
    } catch (error) {
      throw queryError(error, this.options.query ? 'describing the query' : `describing table ${this.options.table}`, this.endpoint);
    }
  }

  async createEnumerator(context: SplitEnumeratorContext<PostgresSplit>): Promise<SplitEnumerator<PostgresSplit, PostgresEnumeratorState>> {
    return PostgresEnumerator.open(this, await this.readPlan(), context, undefined);
  }

  async restoreEnumerator(context: SplitEnumeratorContext<PostgresSplit>, state: PostgresEnumeratorState): Promise<SplitEnumerator<PostgresSplit, PostgresEnumeratorState>> {
    return PostgresEnumerator.open(this, await this.readPlan(), context, state);
  }

  async createReader(context: SourceReaderContext): Promise<SourceReader<PostgresSplit>> {
    const prepared = context.prepared as unknown as PreparedRead | undefined;
    const plan = prepared?.plan ?? (await this.readPlan());
    const splitReader = new PostgresSplitReader(() => this.connect(), plan, this.endpoint, context.logger, prepared?.snapshot);
    return new SplitQueueReader(context, splitReader, { chunkRows: this.options.chunk_rows });
  }

  async close(): Promise<void> {
    const holder = this.snapshotHolder;
    this.snapshotHolder = undefined;
    if (!holder) return;
    await holder.client.query('COMMIT').catch(() => undefined);
    await holder.client.end().catch(() => undefined);
  }
}

/** What `prepare` hands to readers: the read plan and the job's exported snapshot. */
export interface PreparedRead {
  plan: ReadPlan;
  snapshot: string;
}

/**
 * Plans splits inside the job's snapshot (the Source's exported one), so bounds and rows agree. A restored
 * job has a new snapshot: its splits are read as of the resume, not as of the first run (see README).
 */
export class PostgresEnumerator implements SplitEnumerator<PostgresSplit, PostgresEnumeratorState> {
  private pending: PostgresSplit[] = [];
  private total = 0;

  private constructor(
    private readonly context: SplitEnumeratorContext<PostgresSplit>,
    private readonly client: PgClient,
    readonly snapshot: string,
  ) {}

  static async open(
    source: PostgresSource,
    plan: ReadPlan,
    context: SplitEnumeratorContext<PostgresSplit>,
    state: PostgresEnumeratorState | undefined,
  ): Promise<PostgresEnumerator> {
    const client = await source.connect();
    try {
      const snapshot = await source.openSnapshot();
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(`SET TRANSACTION SNAPSHOT ${literal(snapshot)}`);
      const enumerator = new PostgresEnumerator(context, client, snapshot);
      if (state?.planned) {
        enumerator.pending = state.pending.map((s) => ({ ...s }));
        context.logger.info('postgres: resuming with a new snapshot; rows changed since the first run are read as they are now', { snapshot: enumerator.snapshot });
      } else {
        enumerator.pending = await planSplits(client, plan, source.options, context.parallelism);
      }
      enumerator.total = enumerator.pending.length;
      return enumerator;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw queryError(error, 'planning splits', source.endpoint);
    }
  }

  async run(): Promise<void> {}

  registerReader(): void {}

  handleSplitRequest(readerId: number): void {
    const split = this.pending.shift();
    if (split) this.context.assignSplit(readerId, [{ ...split, snapshot: this.snapshot }]);
    else this.context.signalNoMoreSplits(readerId);
  }

  addSplitsBack(splits: PostgresSplit[]): void {
    this.pending.unshift(...splits);
  }

  snapshotState(): PostgresEnumeratorState {
    return { pending: this.pending.map((s) => ({ ...s })), planned: true };
  }

  progress() {
    return { totalSplits: this.total };
  }

  async close(): Promise<void> {
    await this.client.query('COMMIT').catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

/** Cuts the partition column's range into splits; NULLs get a split of their own. */
export async function planSplits(client: PgClient, plan: ReadPlan, options: PostgresSourceOptions, parallelism: number): Promise<PostgresSplit[]> {
  const split = (id: string, lo: string | null, hi: string | null, nulls: boolean): PostgresSplit => ({ splitId: id, snapshot: null, lo, hi, nulls, after: null, rows: 0 });
  if (!plan.partition) return [split('all', null, null, false)];
  const { domain } = plan.partition;
  const column = columnRef(plan, plan.partition.index);
  const where = plan.where ? `WHERE (${plan.where})` : '';
  const stats = await client.query<{ n: string; nulls: string; lo: string | null; hi: string | null }>(
    `SELECT count(*)::text AS n, count(*) FILTER (WHERE ${column} IS NULL)::text AS nulls,
            min(${domainExpression(domain, column)})::text AS lo, max(${domainExpression(domain, column)})::text AS hi
       FROM ${plan.from} ${where}`,
  );
  const row = stats.rows[0]!;
  const bound = async (given: string | number | undefined, found: string | null): Promise<string | null> => {
    if (given === undefined) return found;
    const type = domain === 'date' ? 'date' : domain === 'timestamp' ? 'timestamp' : domain === 'timestamptz' ? 'timestamptz' : 'numeric';
    const value = await client.query<{ v: string }>(`SELECT ${domainExpression(domain, `CAST(${literal(String(given))} AS ${type})`)}::text AS v`);
    return value.rows[0]!.v;
  };
  const lo = await bound(options.partition_lower_bound, row.lo);
  const hi = await bound(options.partition_upper_bound, row.hi);
  const count = Number(row.n) - Number(row.nulls);
  const splits: PostgresSplit[] = [];
  if (Number(row.nulls) > 0) splits.push(split('nulls', null, null, true));
  if (lo === null || hi === null || count === 0) {
    splits.push(split('range-0', null, null, false));
    return splits;
  }
  let n = options.partition_num ?? Math.max(Math.ceil(count / options.split_size), Math.min(parallelism, count));
  const cuts = cutPoints(domain, lo, hi, n);
  n = cuts.length + 1;
  for (let i = 0; i < n; i++) splits.push(split(`range-${i}`, i === 0 ? null : cuts[i - 1]!, i === n - 1 ? null : cuts[i]!, false));
  return splits;
}

/** n-1 increasing cut points strictly inside (lo, hi]; fewer when the range has fewer distinct integers. */
export function cutPoints(domain: Domain, lo: string, hi: string, n: number): string[] {
  if (n <= 1) return [];
  if (domain === 'decimal') {
    const a = Number(lo);
    const b = Number(hi);
    const cuts: string[] = [];
    for (let i = 1; i < n; i++) {
      const v = a + ((b - a) * i) / n;
      if (v > a && v <= b && (cuts.length === 0 || String(v) !== cuts[cuts.length - 1])) cuts.push(String(v));
    }
    return cuts;
  }
  const a = BigInt(lo.replace(/\.0+$/, ''));
  const b = BigInt(hi.replace(/\.0+$/, ''));
  const width = b - a + 1n;
  const parts = BigInt(n) > width ? width : BigInt(n);
  const cuts: string[] = [];
  for (let i = 1n; i < parts; i++) cuts.push((a + (width * i) / parts).toString());
  return cuts;
}


export function describeSplit(split: PostgresSplit): string {
  return `${split.splitId}${split.after ? ` after (${split.after.join(', ')})` : ''}`;
}

export type { Domain };
void fromDomain;
