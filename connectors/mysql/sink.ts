import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { RecordBatch, Schema } from 'apache-arrow';
import type { Connection, ResultSetHeader } from 'mysql2/promise';
import type { FactoryContext } from '../../src/api/connector.js';
import type { Json } from '../../src/api/json.js';
import { TidewayError } from '../../src/api/errors.js';
import type { CommitContext, OrphanReport, Sink, SinkCommitter, SinkContext, SinkWriteContext, SinkWriter, SinkWriterContext } from '../../src/api/sink.js';
import { connect, display, parseTableName, qualified, queryRows, quoteId, resolveEndpoint, type TableRef } from './connection.js';
import { EncodeError, encoders, sqlTuple, tsvLine } from './encode.js';
import { mysqlError, serverMessage } from './errors.js';
import type { MysqlSinkOptions } from './options.js';
import { quoteString } from './sql.js';
import { createTableSql, databaseExists, matchColumns, targetColumns, upsertKey } from './target.js';

/** One checkpoint's rows of one writer, staged in a table, waiting to be moved into the target. */
export interface MysqlCommitInfo {
  staging: string;
  /** Target columns, in staging order. */
  columns: string[];
  rows: number;
  runId: string;
  [key: string]: Json;
}

export interface MysqlWriterState {
  /** The attempt that started the run; kept across resumes so that `truncate` happens once per run. */
  runId: string;
  [key: string]: Json;
}

export const COMMIT_LOG = '_tideway_commit_log';
export const RUNS = '_tideway_sink_runs';
const STAGING_PREFIX = '_tws_';

/**
 * A short, stable tag of the job and the sink for staging table names (the job's full name is in the table
 * comment). The sink's name is part of it because two mysql sinks of one job (or a sink and its mysql dead
 * letter) may share a database: each then sweeps only its own orphans and never reuses the other's names.
 */
export function jobTag(job: string, sinkName: string): string {
  return createHash('sha256').update(`${job}\u0000${sinkName}`).digest('hex').slice(0, 10);
}

export function stagingComment(job: string): string {
  return `tideway staging; job=${job}`.slice(0, 1000);
}

/** `_tws_<job and sink tag>_<attempt>_w<writer>_<n>`: unique per job, sink, attempt (fresh on every start), writer and epoch. */
export function stagingName(job: string, sinkName: string, attemptId: string, writer: number, epoch: number): string {
  return `${STAGING_PREFIX}${jobTag(job, sinkName)}_${attemptId.replace(/[^A-Za-z0-9]/g, '')}_w${writer}_${epoch}`.slice(0, 64);
}

const LOG_DDL = (db: string) =>
  `CREATE TABLE IF NOT EXISTS ${quoteId(db)}.${quoteId(COMMIT_LOG)} (job VARCHAR(255) NOT NULL, staging VARCHAR(64) NOT NULL, target VARCHAR(200) NOT NULL, ` +
  'row_count BIGINT NOT NULL, committed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (job, staging)) ENGINE=InnoDB';
const RUNS_DDL = (db: string) =>
  `CREATE TABLE IF NOT EXISTS ${quoteId(db)}.${quoteId(RUNS)} (job VARCHAR(255) NOT NULL, target VARCHAR(200) NOT NULL, state VARCHAR(16) NOT NULL, ` +
  'started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (job, target)) ENGINE=InnoDB';

/**
 * The `mysql` sink. Exactly-once without XA (see README): writers stage each checkpoint's rows in their own
 * InnoDB table; the committer moves a staged table into the target in ONE transaction that also inserts
 * its row into the commit log, then drops the staging table. A commit-log row means "committed".
 */
export class MysqlSink implements Sink<MysqlCommitInfo, MysqlWriterState> {
  readonly ref: TableRef;

  constructor(
    readonly options: MysqlSinkOptions,
    private readonly factory: FactoryContext,
  ) {
    this.ref = parseTableName(options.table, resolveEndpoint(options).database);
  }

  connect(): Promise<Connection> {
    return connect(this.options, { baseDir: this.factory.baseDir });
  }

  /**
   * Once per run, on the coordinator. A run that starts (no unfinished run of this job on this table)
   * runs the start-of-job actions: recreate, the emptiness check, pre_sql. A resumed run skips them.
   */
  async prepare(context: SinkContext): Promise<undefined> {
    const connection = await this.connect();
    try {
      await this.checkDatabase(connection);
      await connection.query(LOG_DDL(this.ref.database));
      await connection.query(RUNS_DDL(this.ref.database));
      const { rows } = await queryRows(connection, `SELECT state FROM ${quoteId(this.ref.database)}.${quoteId(RUNS)} WHERE job = ? AND target = ?`, [context.jobName, display(this.ref)]);
      if (rows.length > 0) {
        context.logger.info('an unfinished run of this job wrote to the table: resuming it, so recreate, pre_sql and the emptiness check are skipped', { table: display(this.ref) });
        return undefined;
      }
      const o = this.options;
      if (o.schema_save_mode === 'recreate') await connection.query(`DROP TABLE IF EXISTS ${qualified(this.ref)}`);
      const columns = await targetColumns(connection, this.ref);
      if (!columns && o.schema_save_mode === 'error_when_missing') throw this.missingTable();
      if (columns && o.data_save_mode === 'error_when_not_empty') {
        const { rows: any } = await queryRows(connection, `SELECT 1 FROM ${qualified(this.ref)} LIMIT 1`);
        if (any.length > 0) {
          throw mysqlError('MYSQL_TABLE_NOT_EMPTY', `${display(this.ref)} already has rows and data_save_mode is error_when_not_empty; empty it, or use data_save_mode: append or truncate`, {
            context: { table: display(this.ref) },
          });
        }
      }
      for (const sql of o.pre_sql ?? []) await this.run(connection, sql, 'pre_sql');
      await connection.query(`INSERT INTO ${quoteId(this.ref.database)}.${quoteId(RUNS)} (job, target, state) VALUES (?, ?, 'running')`, [context.jobName, display(this.ref)]);
      return undefined;
    } finally {
      await connection.end().catch(() => connection.destroy());
    }
  }

  /** Reachable, the database exists, the table exists (or may be created), upsert has its key; and with the input schema, every column fits. Changes nothing. */
  async check(context: SinkContext & { schema?: Schema }): Promise<void> {
    const connection = await this.connect();
    try {
      await this.checkDatabase(connection);
      const columns = await targetColumns(connection, this.ref);
      if (!columns) {
        if (this.options.schema_save_mode === 'error_when_missing') throw this.missingTable();
        if (context.schema) createTableSql(this.ref, context.schema, this.options.primary_keys);
        return;
      }
      if (this.options.mode === 'upsert' && this.options.schema_save_mode !== 'recreate') await upsertKey(connection, this.ref, this.options, columns);
      if (context.schema && this.options.schema_save_mode !== 'recreate') matchColumns(this.ref, context.schema, columns);
    } finally {
      await connection.end().catch(() => connection.destroy());
    }
  }

  private async checkDatabase(connection: Connection): Promise<void> {
    if (!(await databaseExists(connection, this.ref.database))) {
      throw mysqlError('MYSQL_DATABASE_NOT_FOUND', `database "${this.ref.database}" does not exist (or this user cannot see it); create it or fix table/database`, { context: { table: display(this.ref) } });
    }
  }

  private missingTable() {
    return mysqlError('MYSQL_TABLE_NOT_FOUND', `table ${display(this.ref)} does not exist and schema_save_mode is error_when_missing; create it, or use schema_save_mode: create_when_missing`, {
      context: { table: display(this.ref) },
    });
  }

  private async run(connection: Connection, sql: string, what: string): Promise<void> {
    try {
      await connection.query(sql);
    } catch (error) {
      throw mysqlError('MYSQL_STATEMENT_FAILED', `${what} statement failed on ${display(this.ref)}: ${serverMessage(error)}`, { cause: error });
    }
  }

  async createWriter(context: SinkWriterContext, restored: MysqlWriterState | undefined): Promise<SinkWriter<MysqlCommitInfo, MysqlWriterState>> {
    const connection = await this.connect();
    try {
      let columns = await targetColumns(connection, this.ref);
      if (!columns) {
        if (this.options.schema_save_mode === 'error_when_missing') throw this.missingTable();
        // Every writer may get here at once: IF NOT EXISTS makes the creation idempotent.
        await connection.query(createTableSql(this.ref, context.schema, this.options.primary_keys));
        columns = (await targetColumns(connection, this.ref))!;
      }
      const matched = matchColumns(this.ref, context.schema, columns);
      const key = this.options.mode === 'upsert' ? await upsertKey(connection, this.ref, this.options, columns) : [];
      return new MysqlWriter(connection, this, context, restored?.runId ?? context.attemptId, matched.map((c) => ({ name: c.name, type: c.columnType, nullable: c.nullable })), key);
    } catch (error) {
      connection.destroy();
      throw error;
    }
  }

  async createCommitter(context: SinkContext): Promise<SinkCommitter<MysqlCommitInfo, MysqlWriterState>> {
    return new MysqlCommitter(this, context);
  }
}

interface WriteColumn {
  name: string;
  type: string;
  nullable: boolean;
}

/**
 * Encodes Arrow batches into multi-row INSERTs (or LOAD DATA streams) of up to batch_size rows or
 * batch_bytes, grouped in transactions of commit_size rows. With exactly_once they go into the writer's
 * staging table for the current checkpoint, created at its first row; otherwise into the target.
 */
class MysqlWriter implements SinkWriter<MysqlCommitInfo, MysqlWriterState> {
  private epoch = 0;
  private staging: string | undefined;
  private stagedRows = 0;
  private inTransaction = 0;
  /** Rows this writer has received, for error positions. */
  private received = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  private pendingFirst = 0;
  /** With a write context (INSERT only): each pending row's index in the batch in progress, and that context. */
  private pendingRows: number[] = [];
  private rejects: SinkWriteContext | undefined;
  /** Rows received before the batch in progress, for positions in messages. */
  private batchBase = 0;
  readonly stats = { rowsWritten: 0, bytesWritten: 0 };

  constructor(
    private readonly connection: Connection,
    private readonly sink: MysqlSink,
    private readonly context: SinkWriterContext,
    private readonly runId: string,
    private readonly columns: WriteColumn[],
    private readonly key: string[],
  ) {}

  private get options(): MysqlSinkOptions {
    return this.sink.options;
  }

  /**
   * With a write context (the engine always gives one), a row that cannot be encoded goes to its `reject`;
   * with INSERT, every row of the batch is also sent before write returns, so that a statement the server
   * refuses for its data (SQLSTATE 22 or 23) can be retried row by row and the refused rows rejected (InnoDB
   * undoes only the failed statement). LOAD DATA stays fail-fast.
   */
  async write(batch: RecordBatch, context?: SinkWriteContext): Promise<void> {
    const encoded = encoders(batch);
    const load = this.options.write_method === 'load_data';
    const base = this.received;
    this.received += batch.numRows;
    const perRow = context !== undefined && !load;
    if (perRow && this.pending.length > 0) await this.flush();
    this.rejects = perRow ? context : undefined;
    this.batchBase = base;
    try {
      for (let i = 0; i < batch.numRows; i++) {
        let piece: string;
        try {
          piece = load ? tsvLine(encoded, i) : sqlTuple(encoded, i);
        } catch (error) {
          if (!(error instanceof EncodeError)) throw error;
          if (!context) throw this.rowError(base + i + 1, error.message, error);
          context.reject(i, { code: 'MYSQL_ROW_REJECTED', message: error.message });
          continue;
        }
        if (this.pending.length === 0) this.pendingFirst = base + i + 1;
        this.pending.push(piece);
        if (perRow) this.pendingRows.push(i);
        this.pendingBytes += piece.length;
        if (this.pending.length >= this.options.batch_size || this.pendingBytes >= this.options.batch_bytes) await this.flush();
      }
      if (perRow) await this.flush();
    } finally {
      this.rejects = undefined;
      this.pendingRows = [];
    }
  }

  private target(): string {
    return this.options.exactly_once ? `${quoteId(this.sink.ref.database)}.${quoteId(this.staging!)}` : qualified(this.sink.ref);
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    let bytes = this.pendingBytes;
    const first = this.pendingFirst;
    const indexes = this.pendingRows;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingRows = [];
    let written = rows.length;
    if (this.options.exactly_once && this.staging === undefined) await this.createStaging();
    if (this.inTransaction === 0) await this.connection.query('START TRANSACTION');
    const names = this.columns.map((c) => quoteId(c.name));
    try {
      if (this.options.write_method === 'load_data') {
        // LOAD DATA reads fields as text: bytes arrive as hex, and BIT columns as numbers, both through variables.
        const via = this.columns.map((c) => (/blob|binary/i.test(c.type) ? 'UNHEX' : /^bit/i.test(c.type) ? 'BIT' : undefined));
        const vars = this.columns.map((c, i) => (via[i] ? `@v${i}` : quoteId(c.name)));
        const sets = this.columns.flatMap((c, i) => (via[i] === 'UNHEX' ? [`${quoteId(c.name)} = UNHEX(@v${i})`] : via[i] === 'BIT' ? [`${quoteId(c.name)} = CAST(@v${i} AS UNSIGNED)`] : []));
        const body = Buffer.from(rows.join(''), 'utf8');
        await this.connection.query({
          sql:
            `LOAD DATA LOCAL INFILE 'tideway-batch' INTO TABLE ${this.target()} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ` +
            `(${vars.join(', ')})${sets.length > 0 ? ` SET ${sets.join(', ')}` : ''}`,
          infileStreamFactory: () => Readable.from([body]),
        });
      } else {
        const upsert = !this.options.exactly_once && this.options.mode === 'upsert' ? ` ON DUPLICATE KEY UPDATE ${updateList(this.columns.map((c) => c.name), this.key)}` : '';
        const insert = (values: string) => `INSERT INTO ${this.target()} (${names.join(', ')}) VALUES ${values}${upsert}`;
        try {
          await this.connection.query(insert(rows.join(',')));
        } catch (error) {
          if (!this.rejects || !refusedForData(error)) throw error;
          [written, bytes] = await this.insertEach(rows, indexes, insert, this.rejects);
        }
      }
    } catch (error) {
      await this.connection.query('ROLLBACK').catch(() => undefined);
      this.inTransaction = 0;
      // The dirty-data policy failed the job on a refused row: its error already names the sink and the row.
      if (error instanceof TidewayError) throw error;
      const at = /at row (\d+)/.exec(serverMessage(error));
      const position = at ? first + Number(at[1]) - 1 : undefined;
      throw this.rowError(position, serverMessage(error), error, rows.length, first);
    }
    // Every row refused: end the transaction this flush opened (commitTransaction skips one that holds no row).
    if (written === 0 && this.inTransaction === 0) await this.connection.query('COMMIT');
    this.inTransaction += written;
    this.stagedRows += written;
    this.stats.bytesWritten += bytes;
    if (this.inTransaction >= this.options.commit_size) await this.commitTransaction();
  }

  /** Inserts `rows` one at a time, rejecting those the server refuses for their data; returns the rows and bytes written. */
  private async insertEach(rows: readonly string[], indexes: readonly number[], insert: (values: string) => string, context: SinkWriteContext): Promise<[number, number]> {
    let written = 0;
    let bytes = 0;
    for (const [k, row] of rows.entries()) {
      try {
        await this.connection.query(insert(row));
        written++;
        bytes += row.length;
      } catch (error) {
        if (!refusedForData(error)) throw error;
        const row = indexes[k]!;
        context.reject(row, { code: 'MYSQL_ROW_REJECTED', message: `${display(this.sink.ref)} refused row ${this.batchBase + row + 1} received by writer ${this.context.writerIndex}: ${serverMessage(error)}` });
      }
    }
    return [written, bytes];
  }

  private rowError(position: number | undefined, message: string, cause: unknown, count = 1, first = position ?? 0) {
    const where = position !== undefined ? `row ${position}` : `one of rows ${first}..${first + count - 1}`;
    return mysqlError(
      'MYSQL_ROW_REJECTED',
      `${display(this.sink.ref)} refused ${where} received by writer ${this.context.writerIndex}: ${message}. Nothing of this checkpoint was committed; fix the row or the column and run the job again (it resumes from the last checkpoint)`,
      { cause, context: { table: display(this.sink.ref), writer: this.context.writerIndex, ...(position !== undefined ? { row: position } : {}) } },
    );
  }

  private async commitTransaction(): Promise<void> {
    if (this.inTransaction === 0) return;
    await this.connection.query('COMMIT');
    this.inTransaction = 0;
  }

  private async createStaging(): Promise<void> {
    const name = stagingName(this.context.jobName, this.context.sinkName, this.context.attemptId, this.context.writerIndex, this.epoch);
    const columns = this.columns.map((c) => `${quoteId(c.name)} ${c.type} ${c.nullable ? 'NULL' : 'NOT NULL'}`);
    await this.connection.query(
      `CREATE TABLE ${quoteId(this.sink.ref.database)}.${quoteId(name)} (_tw_seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, ${columns.join(', ')}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT=${quoteString(stagingComment(this.context.jobName))}`,
    );
    this.staging = name;
    this.stagedRows = 0;
  }

  async prepareCommit(): Promise<MysqlCommitInfo[]> {
    await this.flush();
    await this.commitTransaction();
    this.stats.rowsWritten += this.stagedRows;
    if (!this.options.exactly_once || this.staging === undefined) {
      this.stagedRows = 0;
      return [];
    }
    const info: MysqlCommitInfo = { staging: this.staging, columns: this.columns.map((c) => c.name), rows: this.stagedRows, runId: this.runId };
    this.staging = undefined;
    this.stagedRows = 0;
    this.epoch++;
    return [info];
  }

  snapshotState(): MysqlWriterState {
    return { runId: this.runId };
  }

  async abortPrepare(): Promise<void> {
    this.pending = [];
    this.pendingBytes = 0;
    await this.connection.query('ROLLBACK').catch(() => undefined);
    this.inTransaction = 0;
    if (this.staging) await this.connection.query(`DROP TABLE IF EXISTS ${quoteId(this.sink.ref.database)}.${quoteId(this.staging)}`);
    this.staging = undefined;
    this.stagedRows = 0;
  }

  async close(): Promise<void> {
    await this.connection.end().catch(() => this.connection.destroy());
  }
}

function updateList(columns: readonly string[], key: readonly string[]): string {
  const keys = new Set(key.map((k) => k.toLowerCase()));
  const rest = columns.filter((c) => !keys.has(c.toLowerCase()));
  const list = rest.length > 0 ? rest : [columns[0]!];
  return list.map((c) => `${quoteId(c)} = VALUES(${quoteId(c)})`).join(', ');
}

/**
 * Makes staged checkpoints visible, once. For each commit info, in one transaction: look up the commit
 * log (present: already committed, nothing to do); otherwise move the staged rows into the target and
 * insert the log row; then drop the staging table (DDL commits by itself in MySQL, so it comes after and
 * is idempotent). An info whose log row and staging table are both missing is an error, never a success.
 */
export class MysqlCommitter implements SinkCommitter<MysqlCommitInfo, MysqlWriterState> {
  private connection: Promise<Connection> | undefined;

  constructor(
    private readonly sink: MysqlSink,
    private readonly context: SinkContext,
  ) {}

  private db(): Promise<Connection> {
    this.connection ??= this.sink.connect().then(async (c) => {
      await c.query(LOG_DDL(this.sink.ref.database));
      await c.query(RUNS_DDL(this.sink.ref.database));
      return c;
    });
    this.connection.catch(() => (this.connection = undefined));
    return this.connection;
  }

  private get log(): string {
    return `${quoteId(this.sink.ref.database)}.${quoteId(COMMIT_LOG)}`;
  }

  async commit(infos: readonly MysqlCommitInfo[], context: CommitContext): Promise<void> {
    const connection = await this.db();
    for (const info of infos) await this.commitOne(connection, info, context.checkpointId);
    if (context.endOfInput) await this.finish(connection, context);
  }

  private async commitOne(connection: Connection, info: MysqlCommitInfo, checkpointId: number): Promise<void> {
    const job = this.context.jobName;
    const ref = this.sink.ref;
    const staging = `${quoteId(ref.database)}.${quoteId(info.staging)}`;
    await connection.query('START TRANSACTION');
    try {
      const { rows: logged } = await queryRows(connection, `SELECT row_count FROM ${this.log} WHERE job = ? AND staging = ? FOR UPDATE`, [job, info.staging]);
      if (logged.length === 0) {
        const { rows: exists } = await queryRows(connection, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [ref.database, info.staging]);
        if (exists.length === 0) {
          throw mysqlError(
            'MYSQL_COMMIT_LOST',
            `checkpoint ${checkpointId} owns staging table ${ref.database}.${info.staging} (${info.rows} rows for ${display(ref)}), but it is gone and the commit log has no row for it: something outside this job dropped it before it was committed. Its rows are not in the target. Find out what dropped it; to rewrite the target once, start over with --fresh, with data_save_mode set on the sink to replace this job's earlier output (overwrite, or truncate for a table) so that no row is written twice`,
            { context: { table: display(ref), staging: info.staging, checkpoint: checkpointId } },
          );
        }
        await this.truncateOnce(connection, info.runId);
        const columns = info.columns.map(quoteId).join(', ');
        const upsert = this.sink.options.mode === 'upsert' ? ` ON DUPLICATE KEY UPDATE ${updateList(info.columns, await this.upsertKey(connection))}` : '';
        let moved: ResultSetHeader;
        try {
          [moved] = await connection.query<ResultSetHeader>(`INSERT INTO ${qualified(ref)} (${columns}) SELECT ${columns} FROM ${staging} ORDER BY _tw_seq${upsert}`);
        } catch (error) {
          throw mysqlError(
            'MYSQL_ROW_REJECTED',
            `moving checkpoint ${checkpointId}'s rows from ${ref.database}.${info.staging} into ${display(ref)} failed: ${serverMessage(error)}. Nothing of this checkpoint is in the target; the staged rows stay until the job is resumed: fix the conflict, then run the job again`,
            { cause: error, context: { table: display(ref), staging: info.staging, checkpoint: checkpointId } },
          );
        }
        if (this.sink.options.mode === 'append' && moved.affectedRows !== info.rows) {
          throw mysqlError('MYSQL_COMMIT_COUNT', `staging table ${ref.database}.${info.staging} should hold ${info.rows} rows but ${moved.affectedRows} were moved; nothing was committed`, {
            context: { table: display(ref), staging: info.staging },
          });
        }
        await connection.query(`INSERT INTO ${this.log} (job, staging, target, row_count) VALUES (?, ?, ?, ?)`, [job, info.staging, display(ref), info.rows]);
      }
      await connection.query('COMMIT');
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined);
      if ((error as { context?: unknown }).context !== undefined) throw error;
      throw mysqlError('MYSQL_COMMIT_FAILED', `committing ${ref.database}.${info.staging} into ${display(ref)} failed: ${serverMessage(error)}; the job can be resumed`, { cause: error, retryable: true });
    }
    // The log row is committed: the staging table is garbage now, and dropping it twice is harmless.
    await connection.query(`DROP TABLE IF EXISTS ${staging}`);
  }

  private key: string[] | undefined;
  private async upsertKey(connection: Connection): Promise<string[]> {
    this.key ??= await upsertKey(connection, this.sink.ref, this.sink.options, (await targetColumns(connection, this.sink.ref)) ?? []);
    return this.key;
  }

  /** data_save_mode truncate: the first commit of a run empties the table in its own transaction, once per run. */
  private async truncateOnce(connection: Connection, runId: string): Promise<void> {
    if (this.sink.options.data_save_mode !== 'truncate') return;
    const marker = `run:${runId}`;
    const { rows } = await queryRows(connection, `SELECT 1 FROM ${this.log} WHERE job = ? AND staging = ? FOR UPDATE`, [this.context.jobName, marker]);
    if (rows.length > 0) return;
    await connection.query(`DELETE FROM ${qualified(this.sink.ref)}`);
    await connection.query(`INSERT INTO ${this.log} (job, staging, target, row_count) VALUES (?, ?, ?, 0)`, [this.context.jobName, marker, display(this.sink.ref)]);
  }

  /** After the last commit: truncate a table that got no row, post_sql once, and the run is over. */
  private async finish(connection: Connection, context: CommitContext): Promise<void> {
    const runs = `${quoteId(this.sink.ref.database)}.${quoteId(RUNS)}`;
    const target = display(this.sink.ref);
    const runId = context.writerStates.map((s) => (s as MysqlWriterState | null | undefined)?.runId).find((r) => typeof r === 'string');
    await connection.query('START TRANSACTION');
    try {
      if (runId) await this.truncateOnce(connection, runId);
      await connection.query(`UPDATE ${runs} SET state = 'post_sql' WHERE job = ? AND target = ? AND state = 'running'`, [this.context.jobName, target]);
      await connection.query('COMMIT');
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    const { rows } = await queryRows(connection, `SELECT state FROM ${runs} WHERE job = ? AND target = ?`, [this.context.jobName, target]);
    if (rows.length === 0) return;
    for (const sql of this.sink.options.post_sql ?? []) {
      try {
        await connection.query(sql);
      } catch (error) {
        throw mysqlError('MYSQL_STATEMENT_FAILED', `post_sql statement failed on ${target}: ${serverMessage(error)}; every row is committed, and resuming the job runs post_sql again`, { cause: error });
      }
    }
    await connection.query(`DELETE FROM ${runs} WHERE job = ? AND target = ?`, [this.context.jobName, target]);
  }

  async abort(infos: readonly MysqlCommitInfo[]): Promise<void> {
    const connection = await this.db();
    for (const info of infos) {
      if (!info.staging.startsWith(STAGING_PREFIX)) continue;
      await connection.query(`DROP TABLE IF EXISTS ${quoteId(this.sink.ref.database)}.${quoteId(info.staging)}`);
    }
  }

  /** Drops this job's staging tables that no checkpoint owns (name prefix and comment both say so). */
  async removeOrphans({ keep, dryRun }: { keep: readonly MysqlCommitInfo[]; dryRun: boolean }): Promise<OrphanReport> {
    const connection = await this.db();
    const kept = new Set(keep.map((k) => k.staging));
    const prefix = `${STAGING_PREFIX}${jobTag(this.context.jobName, this.context.sinkName)}_`;
    const { rows } = await queryRows(
      connection,
      'SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ? AND TABLE_COMMENT = ?',
      [this.sink.ref.database, `${prefix.replace(/[\\_%]/g, '\\$&')}%`, stagingComment(this.context.jobName)],
    );
    const orphans = rows.map((r) => String(r[0])).filter((name) => name.startsWith(prefix) && !kept.has(name));
    if (!dryRun) for (const name of orphans) await connection.query(`DROP TABLE IF EXISTS ${quoteId(this.sink.ref.database)}.${quoteId(name)}`);
    return { removed: orphans.map((name) => `${this.sink.ref.database}.${name} (staging table)`) };
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    const c = await connection?.catch(() => undefined);
    await c?.end().catch(() => c.destroy());
  }
}

/** A statement the server refused for the data it carries (SQLSTATE class 22 data exception, 23 constraint), not for the connection or a lock. */
function refusedForData(error: unknown): boolean {
  const state = (error as { sqlState?: unknown }).sqlState;
  return typeof state === 'string' && (state.startsWith('22') || state.startsWith('23'));
}
