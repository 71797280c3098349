import type { Schema } from 'apache-arrow';
import type { Connection } from 'mysql2/promise';
import type { FactoryContext } from '../../src/api/connector.js';
import type { Json } from '../../src/api/json.js';
import type { Source, SourceReader, SourceReaderContext, SourceSplit, SplitEnumerator, SplitEnumeratorContext } from '../../src/api/source.js';
import { connect, queryRows, quoteId } from './connection.js';
import { mysqlError, serverMessage } from './errors.js';
import type { MysqlSourceOptions } from './options.js';
import { planRead, type ReadPlan } from './plan.js';
import { SplitQueueReader } from '../../src/api/split-queue-reader.js';
import { MysqlSplitReader } from './reader.js';
import { literal, splitConditions, whereClause } from './sql.js';
import { arrowSchema, formatDate, formatDateTime, parseDate, parseDateTime } from './types.js';

/**
 * A range of the partition column (or the whole table or query), with where its reader stopped:
 * `after` holds the last key read (keyset mode), `skip` the rows emitted (stream mode).
 */
export interface MysqlSplit extends SourceSplit {
  splitId: string;
  lo: string | null;
  hi: string | null;
  nulls: boolean;
  after: string[] | null;
  skip: number;
}

export interface MysqlEnumeratorState {
  /** Upper bound of the last range cut (split_size mode); null before the first. */
  cursor: string | null;
  /** Ranges still to hand out (partition_num mode: all of them are cut at the start). */
  bounds: (string | null)[] | null;
  cut: number;
  done: boolean;
  nullsCut: boolean;
  pending: MysqlSplit[];
  [key: string]: Json;
}

const DEFAULT_SPLIT_SIZE = 100_000;

/** The `mysql` source: keyset-paged range splits of a table, or one streamed split of a query. */
export class MysqlSource implements Source<MysqlSplit, MysqlEnumeratorState> {
  readonly boundedness = 'bounded' as const;
  private plan: Promise<ReadPlan> | undefined;

  constructor(
    readonly options: MysqlSourceOptions,
    private readonly factory: FactoryContext,
  ) {}

  private connect(signal?: AbortSignal): Promise<Connection> {
    return connect(this.options, { baseDir: this.factory.baseDir, ...(signal ? { signal } : {}) });
  }

  private readPlan(): Promise<ReadPlan> {
    this.plan ??= (async () => {
      const connection = await this.connect();
      try {
        return await planRead(connection, this.options);
      } finally {
        await connection.end().catch(() => connection.destroy());
      }
    })();
    this.plan.catch(() => (this.plan = undefined));
    return this.plan;
  }

  async prepare(): Promise<Json> {
    return await this.readPlan();
  }

  /** Connects, finds the table and columns and maps every type; reads no row. */
  async check(): Promise<void> {
    await this.readPlan();
  }

  async schema(): Promise<Schema> {
    const plan = await this.readPlan();
    return arrowSchema(plan.columns.slice(0, plan.outputCount));
  }

  async createEnumerator(context: SplitEnumeratorContext<MysqlSplit>): Promise<SplitEnumerator<MysqlSplit, MysqlEnumeratorState>> {
    return new MysqlEnumerator(context, await this.readPlan(), this.options, () => this.connect(context.signal), undefined);
  }

  async restoreEnumerator(context: SplitEnumeratorContext<MysqlSplit>, state: MysqlEnumeratorState): Promise<SplitEnumerator<MysqlSplit, MysqlEnumeratorState>> {
    return new MysqlEnumerator(context, await this.readPlan(), this.options, () => this.connect(context.signal), state);
  }

  async createReader(context: SourceReaderContext): Promise<SourceReader<MysqlSplit>> {
    const plan = (context.prepared as ReadPlan | undefined) ?? (await this.readPlan());
    const splitReader = new MysqlSplitReader(plan, { consistentSnapshot: this.options.consistent_snapshot, connect: () => this.connect(context.signal) });
    return new SplitQueueReader(context, splitReader, { chunkRows: this.options.fetch_size });
  }

  async close(): Promise<void> {
    this.plan = undefined;
  }
}

/**
 * Hands out splits on request (pull). With split_size, the next range's upper bound is found from the
 * data when a reader asks (the split_size-th next value of the partition column), so skewed and sparse
 * keys give splits of even row counts; the first range is open below and the last open above, so no row
 * outside the bounds seen at planning time is missed. Rows with a NULL partition column form one split.
 */
export class MysqlEnumerator implements SplitEnumerator<MysqlSplit, MysqlEnumeratorState> {
  private state: MysqlEnumeratorState;
  private connection: Promise<Connection> | undefined;
  private planned: Promise<void> | undefined;

  constructor(
    private readonly context: SplitEnumeratorContext<MysqlSplit>,
    private readonly plan: ReadPlan,
    private readonly options: MysqlSourceOptions,
    private readonly open: () => Promise<Connection>,
    restored: MysqlEnumeratorState | undefined,
  ) {
    this.state = restored
      ? { ...restored, pending: restored.pending.map((s) => ({ ...s })), bounds: restored.bounds ? [...restored.bounds] : null }
      : { cursor: null, bounds: null, cut: 0, done: false, nullsCut: false, pending: [] };
  }

  async run(): Promise<void> {
    this.planned ??= this.planBounds();
    await this.planned;
  }

  private db(): Promise<Connection> {
    this.connection ??= this.open();
    this.connection.catch(() => (this.connection = undefined));
    return this.connection;
  }

  /** partition_num: equal-width ranges between the bounds, cut once at the start. */
  private async planBounds(): Promise<void> {
    const p = this.plan.partition;
    if (!p || this.options.partition_num === undefined || this.state.bounds !== null || this.state.cut > 0) return;
    let lower = this.options.lower_bound === undefined ? undefined : String(this.options.lower_bound);
    let upper = this.options.upper_bound === undefined ? undefined : String(this.options.upper_bound);
    if (lower === undefined || upper === undefined) {
      const column = quoteId(p.column);
      const { rows } = await this.query(`SELECT MIN(${column}), MAX(${column}) FROM ${this.plan.from}${whereClause(splitConditions(this.plan, { lo: null, hi: null, nulls: false }))}`);
      lower ??= rows[0]?.[0] === null ? undefined : String(rows[0]?.[0]);
      upper ??= rows[0]?.[1] === null ? undefined : String(rows[0]?.[1]);
    }
    this.state.bounds = lower === undefined || upper === undefined ? [] : evenBoundaries(p.kind, lower, upper, this.options.partition_num);
  }

  registerReader(): void {}

  async handleSplitRequest(readerId: number): Promise<void> {
    await this.run();
    const split = this.state.pending.shift() ?? (await this.cut());
    if (split) this.context.assignSplit(readerId, [split]);
    else this.context.signalNoMoreSplits(readerId);
  }

  private async cut(): Promise<MysqlSplit | undefined> {
    const p = this.plan.partition;
    const s = this.state;
    if (p?.nullable && !s.nullsCut) {
      s.nullsCut = true;
      return newSplit('nulls', null, null, true);
    }
    if (s.done) return undefined;
    if (!p) {
      s.done = true;
      return newSplit('all', null, null, false);
    }
    const lo = s.cursor;
    let hi: string | null;
    if (s.bounds !== null) {
      hi = s.bounds.shift() ?? null;
    } else {
      const size = this.options.split_size ?? DEFAULT_SPLIT_SIZE;
      const column = quoteId(p.column);
      const conditions = splitConditions(this.plan, { lo, hi: null, nulls: false });
      const { rows } = await this.query(
        `SELECT COUNT(*), MAX(v) FROM (SELECT ${column} AS v FROM ${this.plan.from}${whereClause(conditions)} ORDER BY ${column} LIMIT ${size}) AS boundary`,
      );
      hi = Number(rows[0]?.[0] ?? 0) < size ? null : String(rows[0]?.[1]);
    }
    if (hi === null) s.done = true;
    s.cursor = hi;
    return newSplit(`range-${s.cut++}`, lo, hi, false);
  }

  private async query(sql: string) {
    try {
      return await queryRows(await this.db(), sql);
    } catch (error) {
      throw mysqlError('MYSQL_QUERY_FAILED', `cannot plan splits of ${this.plan.label}: ${serverMessage(error)}`, { cause: error, retryable: true });
    }
  }

  addSplitsBack(splits: MysqlSplit[]): void {
    const known = new Set(this.state.pending.map((s) => s.splitId));
    this.state.pending.unshift(...splits.filter((s) => !known.has(s.splitId)).map((s) => ({ ...s })));
  }

  snapshotState(): MysqlEnumeratorState {
    return { ...this.state, pending: this.state.pending.map((s) => ({ ...s })), bounds: this.state.bounds ? [...this.state.bounds] : null };
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) {
      const c = await connection.catch(() => undefined);
      await c?.end().catch(() => c.destroy());
    }
  }
}

function newSplit(splitId: string, lo: string | null, hi: string | null, nulls: boolean): MysqlSplit {
  return { splitId, lo, hi, nulls, after: null, skip: 0 };
}

/** `count - 1` boundaries that cut [lower, upper] into equal widths, as text of the column's kind. */
export function evenBoundaries(kind: string, lower: string, upper: string, count: number): string[] {
  let toNumber: (text: string) => bigint;
  let toText: (value: bigint) => string;
  if (kind === 'date') {
    toNumber = (t) => BigInt(parseDate(t));
    toText = (v) => formatDate(Number(v));
  } else if (kind === 'datetime' || kind === 'timestamp') {
    toNumber = parseDateTime;
    toText = formatDateTime;
  } else {
    toNumber = (t) => BigInt(literal('int64', t.trim()));
    toText = (v) => v.toString();
  }
  let lo = toNumber(lower);
  let hi = toNumber(upper);
  if (hi < lo) [lo, hi] = [hi, lo];
  const out: string[] = [];
  const width = hi - lo + 1n;
  let last: bigint | undefined;
  for (let i = 1; i < count; i++) {
    const b = lo + (width * BigInt(i)) / BigInt(count) - 1n;
    if (last !== undefined && b <= last) continue;
    out.push(toText(b));
    last = b;
  }
  return out;
}
