import type { Schema } from 'apache-arrow';
import type { Connection } from 'mysql2/promise';
import type { SplitChunk, SplitReader } from '../../src/api/source.js';
import { mysqlError, serverMessage } from './errors.js';
import type { ReadPlan } from './plan.js';
import type { MysqlSplit } from './source.js';
import { afterCondition, keyText, kindOf, orderClause, selectList, splitConditions, whereClause } from './sql.js';
import { buildRawBatch, queryRaw, type RawRows, RawStream } from './raw-rows.js';
import { arrowSchema } from './types.js';

/** Rows a streamed split holds before the connection stops reading its socket (a page's worth or more). */
const STREAM_HIGH_WATER = 4096;

/** Which page a read asks for: the split, its position and the page size. */
function pageKey(split: MysqlSplit, maxRows: number): string {
  return JSON.stringify([split.splitId, split.nulls ?? false, split.after ?? null, maxRows]);
}

interface OpenStream {
  connection: Connection;
  rows: RawStream;
  /** The split's `skip` the stream's next row belongs to. */
  position: number;
}

/**
 * Reads a split in bounded chunks.
 * - keyset mode: each chunk is one `SELECT ... WHERE key > last ORDER BY key LIMIT fetch_size`; the split
 *   carries the last key, so a restored split continues after it and re-reads nothing;
 * - stream mode (no unique key, or a query): one streamed query per split, paused between chunks (the
 *   driver stops reading the socket when the stream's buffer is full); a restored split re-runs the
 *   ordered query and discards the rows it had emitted before emitting more.
 */
export class MysqlSplitReader implements SplitReader<MysqlSplit> {
  private readonly schema: Schema;
  private page: Promise<Connection> | undefined;
  /** The next page of the split read last, requested before that read returned (keyset mode). */
  private prefetched: { key: string; rows: Promise<RawRows> } | undefined;
  private readonly streams = new Map<string, OpenStream>();

  constructor(
    private readonly plan: ReadPlan,
    private readonly settings: { consistentSnapshot: boolean; connect: () => Promise<Connection> },
  ) {
    this.schema = arrowSchema(plan.columns.slice(0, plan.outputCount));
  }

  async read(split: MysqlSplit, { maxRows }: { maxRows: number; signal: AbortSignal }): Promise<SplitChunk<MysqlSplit>> {
    try {
      return this.plan.mode === 'keyset' ? await this.readPage(split, maxRows) : await this.readStream(split, maxRows);
    } catch (error) {
      if (error instanceof RangeError) {
        throw mysqlError('MYSQL_UNREADABLE_VALUE', `split ${split.splitId} of ${this.plan.label}: ${error.message}`, { context: { splitId: split.splitId } });
      }
      if ((error as { connector?: string }).connector !== undefined || (error as { code?: string }).code?.startsWith('MYSQL_')) throw error;
      throw mysqlError('MYSQL_READ_FAILED', `reading split ${split.splitId} of ${this.plan.label} failed: ${serverMessage(error)}`, {
        cause: error,
        context: { splitId: split.splitId },
        retryable: true,
      });
    }
  }

  private async connection(): Promise<Connection> {
    this.page ??= this.open();
    this.page.catch(() => (this.page = undefined));
    return this.page;
  }

  private async open(): Promise<Connection> {
    const connection = await this.settings.connect();
    if (this.settings.consistentSnapshot) await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    return connection;
  }

  private async readPage(split: MysqlSplit, maxRows: number): Promise<SplitChunk<MysqlSplit>> {
    const order = split.nulls ? this.plan.nullOrder : this.plan.order;
    const prefetched = this.prefetched;
    this.prefetched = undefined;
    const rows = prefetched && prefetched.key === pageKey(split, maxRows) ? await prefetched.rows : await this.fetchPage(split, maxRows);
    const finished = rows.count < maxRows;
    if (rows.count === 0) return { batches: [], next: split, finished };
    const last = rows.count - 1;
    const after = order.map((name) => {
      const kind = kindOf(this.plan, name);
      return keyText(kind, rows.value(last, this.plan.columns.findIndex((c) => c.name === name), kind === 'binary' || kind === 'bits' || kind === 'bool'));
    });
    const next = { ...split, after };
    if (!finished) {
      // The server runs the next page's query while this page becomes Arrow columns. Only a hint: a read of
      // any other split or position discards it (its connection runs its commands in order).
      const ahead = this.fetchPage(next, maxRows);
      ahead.catch(() => undefined);
      this.prefetched = { key: pageKey(next, maxRows), rows: ahead };
    }
    return { batches: [buildRawBatch(this.schema, this.plan.columns.slice(0, this.plan.outputCount), rows)], next, finished };
  }

  private async fetchPage(split: MysqlSplit, maxRows: number): Promise<RawRows> {
    const order = split.nulls ? this.plan.nullOrder : this.plan.order;
    const conditions = splitConditions(this.plan, split);
    if (split.after) conditions.push(afterCondition(this.plan, order, split.after));
    const sql = `SELECT ${selectList(this.plan)} FROM ${this.plan.from}${whereClause(conditions)}${orderClause(order)} LIMIT ${maxRows}`;
    const connection = await this.connection();
    try {
      return await queryRaw(connection, sql, this.plan.columns.length);
    } catch (error) {
      // A broken connection is replaced on the next read (the split has not moved).
      if (this.page !== undefined && (await this.page.catch(() => undefined)) === connection) this.page = undefined;
      connection.destroy();
      throw error;
    }
  }

  private async readStream(split: MysqlSplit, maxRows: number): Promise<SplitChunk<MysqlSplit>> {
    let stream = this.streams.get(split.splitId);
    if (stream && stream.position !== split.skip) {
      this.streams.delete(split.splitId);
      stream.connection.destroy();
      stream = undefined;
    }
    if (!stream) {
      stream = await this.openStream(split);
      this.streams.set(split.splitId, stream);
    }
    // A restored split re-reads the rows it emitted before the crash and drops them here.
    while (stream.position < split.skip) {
      const { rows, done } = await stream.rows.take(Math.min(split.skip - stream.position, maxRows));
      stream.position += rows.count;
      if (done && stream.position < split.skip) {
        throw mysqlError(
          'MYSQL_SPLIT_CHANGED',
          `split ${split.splitId} of ${this.plan.label} had emitted ${split.skip} rows before the restore, but the same ordered query now returns only ${stream.position}; the table changed while the job was down, so the rest cannot be read exactly once: start over with --fresh, with data_save_mode set on the sink to replace this job's earlier output (overwrite, or truncate for a table) so that no row is written twice`,
          { context: { splitId: split.splitId } },
        );
      }
    }
    const { rows, done: finished } = await stream.rows.take(maxRows);
    stream.position += rows.count;
    if (finished) {
      this.streams.delete(split.splitId);
      await stream.connection.end().catch(() => stream.connection.destroy());
    }
    return {
      batches: rows.count > 0 ? [buildRawBatch(this.schema, this.plan.columns.slice(0, this.plan.outputCount), rows)] : [],
      next: { ...split, skip: split.skip + rows.count },
      finished,
    };
  }

  private async openStream(split: MysqlSplit): Promise<OpenStream> {
    const order = split.nulls ? this.plan.nullOrder : this.plan.order;
    const sql = `SELECT ${selectList(this.plan)} FROM ${this.plan.from}${whereClause(splitConditions(this.plan, split))}${orderClause(order)}`;
    const connection = await this.open();
    return { connection, rows: new RawStream(connection, sql, this.plan.columns.length, STREAM_HIGH_WATER), position: 0 };
  }

  async close(): Promise<void> {
    this.prefetched = undefined;
    for (const stream of this.streams.values()) stream.connection.destroy();
    this.streams.clear();
    const page = this.page;
    this.page = undefined;
    if (page) {
      const c = await page.catch(() => undefined);
      await c?.end().catch(() => c.destroy());
    }
  }
}

