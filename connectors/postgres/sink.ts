import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { Field, RecordBatch, Schema } from 'apache-arrow';
import { from as copyFrom } from 'pg-copy-streams';
import type { FactoryContext } from '../../src/api/connector.js';
import { ConfigError, TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import type { Sink, SinkCommitter, SinkContext, SinkWriteContext, SinkWriter, SinkWriterContext } from '../../src/api/sink.js';
import { describeTable, type TableInfo } from './catalog.js';
import { clientConfig, connect, displayName, type Endpoint, ident, literal, parseTableName, type PgClient, qualified, queryError, type TableName } from './connection.js';
import { binaryCopyPlan, CopyBinaryEncoder } from './copy-binary-encoder.js';
import { CopyTextEncoder } from './copy-encoder.js';
import { PostgresCommitter } from './committer.js';
import { SPILL_SUFFIX, SpillFile } from './spill.js';
import type { PostgresSinkOptions } from './options.js';
import { incompatibility, pgTypeFor } from './types.js';

/** What the committer needs to make one writer's rows of one checkpoint visible. */
export type PostgresCommitInfo = StagedCommitInfo | DirectCommitInfo;

export interface StagedCommitInfo {
  /**
   * Staging table name (in `schema`), unique per job, attempt, writer and sequence number; in the direct
   * commit, the same name identifies the writer's transaction in the commit log and names its spill.
   */
  staging: string;
  schema: string;
  writer: number;
  rows: number;
  [key: string]: Json;
}

/** The direct commit (PostgresWriter): the writer's transaction sent these rows to the target itself. */
export interface DirectCommitInfo extends StagedCommitInfo {
  /** The spill file holding the same COPY bytes, for the committer to replay if that transaction was lost. */
  spill: string;
  /** The spill is binary COPY (else text), of these columns. */
  binary: boolean;
  columns: string[];
}

/** Whether an info is a direct commit's (infos of checkpoints older than the direct commit have no spill). */
export function isDirect(info: PostgresCommitInfo): info is DirectCommitInfo {
  return typeof info.spill === 'string';
}

export interface StagingColumn {
  name: string;
  type: string;
  notNull: boolean;
  [key: string]: Json;
}

/**
 * A writer's checkpointed state. `runId` names the run of the job (kept across resumes), so the committer
 * applies data_save_mode, recreate and pre_sql once per run; `columns` is the table to create.
 */
export interface PostgresWriterState {
  runId: string;
  columns: StagingColumn[];
  [key: string]: Json;
}

export const COMMIT_LOG = 'tideway_commit_log';

/**
 * A short stable key of the job and the sink: staging tables, commit-log items and spills start with
 * `tws_<key>_`. The sink's name is part of it because two postgres sinks of one job (or a sink and its
 * postgres dead letter) may share a schema: each sweeps only its own orphans and logs only its own items.
 */
export function sinkKey(jobName: string, sinkName: string): string {
  return createHash('sha256').update(`${jobName}\u0000${sinkName}`).digest('hex').slice(0, 10);
}

export function stagingPrefix(jobName: string, sinkName: string): string {
  return `tws_${sinkKey(jobName, sinkName)}_`;
}

export class PostgresSink implements Sink<PostgresCommitInfo, PostgresWriterState> {
  readonly target: TableName;
  readonly stagingSchema: string;
  private readonly config;
  readonly endpoint: Endpoint;

  constructor(
    readonly options: PostgresSinkOptions,
    context: FactoryContext,
  ) {
    const { config, endpoint } = clientConfig(options, context.baseDir);
    this.config = config;
    this.endpoint = endpoint;
    this.target = parseTableName(options.table!);
    this.stagingSchema = options.staging_schema ?? this.target.schema;
  }

  /** Whether rows are committed through the commit log (append exactly-once, and every upsert). */
  get staged(): boolean {
    return this.options.exactly_once || this.options.write_mode === 'upsert';
  }

  /**
   * Whether a writer commits its own rows (the direct commit, see PostgresWriter) instead of staging them:
   * exactly-once append where the committer can read the writers' spills (one machine), and where nothing
   * must happen in the target before the job's first rows (data_save_mode append, no recreate, no pre_sql).
   */
  direct(context: SinkContext): boolean {
    const o = this.options;
    return (
      o.exactly_once &&
      o.commit_method === 'auto' &&
      o.write_mode === 'append' &&
      o.data_save_mode === 'append' &&
      o.schema_save_mode !== 'recreate' &&
      o.pre_sql.length === 0 &&
      context.localDir !== undefined
    );
  }

  connect(): Promise<PgClient> {
    return connect(this.config, this.endpoint);
  }

  /** Refuses what cannot be done exactly once, and creates the commit log. */
  async prepare(): Promise<Json | undefined> {
    this.refuseUnsafeModes();
    const client = await this.connect();
    try {
      await this.requireSchema(client);
      if (this.options.schema_save_mode === 'error_when_missing' && !(await describeTable(client, this.target))) throw this.missingTable();
      if (this.staged) await ensureCommitLog(client, this.stagingSchema);
    } catch (error) {
      throw queryError(error, `preparing ${displayName(this.target)}`, this.endpoint);
    } finally {
      await client.end().catch(() => undefined);
    }
    return undefined;
  }

  /** Reachable, target present (or creatable), writable, and when the stream's schema is known, matching. */
  async check(context: SinkContext & { schema?: Schema }): Promise<void> {
    this.refuseUnsafeModes();
    const client = await this.connect();
    try {
      await this.requireSchema(client);
      const info = await describeTable(client, this.target);
      const user = this.endpoint.user;
      if (!info) {
        if (this.options.schema_save_mode === 'error_when_missing') throw this.missingTable();
        const ok = await client.query<{ ok: boolean }>(`SELECT has_schema_privilege(${literal(this.target.schema)}, 'CREATE') AS ok`);
        if (!ok.rows[0]?.ok) throw new TidewayError('POSTGRES_NO_PRIVILEGE', `table ${displayName(this.target)} does not exist and user ${user} may not create tables in schema ${this.target.schema}; create the table or GRANT CREATE ON SCHEMA ${this.target.schema} TO ${user}`);
      } else {
        const ok = await client.query<{ ok: boolean }>(`SELECT has_table_privilege(${literal(qualified(this.target))}, 'INSERT') AS ok`);
        if (!ok.rows[0]?.ok) throw new TidewayError('POSTGRES_NO_PRIVILEGE', `user ${user} may not INSERT into ${displayName(this.target)}; GRANT INSERT ON ${displayName(this.target)} TO ${user}`);
        if (context.schema && this.options.schema_save_mode !== 'recreate') checkColumns(context.schema.fields, info, this.options);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private refuseUnsafeModes(): void {
    if (this.staged) return;
    const refuse = (path: string, what: string) =>
      new ConfigError([{ path, message: `${what} needs exactly_once: true (it is applied in the transaction of the job's first commit, so a resumed run never applies it twice)` }]);
    if (this.options.data_save_mode !== 'append') throw refuse('data_save_mode', `data_save_mode: ${this.options.data_save_mode}`);
    if (this.options.schema_save_mode === 'recreate') throw refuse('schema_save_mode', 'schema_save_mode: recreate');
    if (this.options.pre_sql.length > 0 || this.options.post_sql.length > 0) throw refuse('pre_sql', 'pre_sql and post_sql');
  }

  private async requireSchema(client: PgClient): Promise<void> {
    for (const schema of new Set([this.target.schema, this.stagingSchema])) {
      const found = await client.query('SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1', [schema]);
      if (found.rowCount === 0) {
        throw new TidewayError('POSTGRES_SCHEMA_NOT_FOUND', `schema ${schema} does not exist in ${this.endpoint.database} on ${this.endpoint.host}; create it (CREATE SCHEMA ${ident(schema)}) or fix the table option`, {
          context: { connector: 'postgres', object: schema },
        });
      }
    }
  }

  missingTable(): TidewayError {
    return new TidewayError(
      'POSTGRES_TABLE_NOT_FOUND',
      `table ${displayName(this.target)} does not exist in ${this.endpoint.database} on ${this.endpoint.host} and schema_save_mode is error_when_missing; create it, or set schema_save_mode: create_when_missing`,
      { context: { connector: 'postgres', object: displayName(this.target) } },
    );
  }

  async createWriter(context: SinkWriterContext, restored: PostgresWriterState | undefined): Promise<SinkWriter<PostgresCommitInfo, PostgresWriterState>> {
    const writer = new PostgresWriter(this, context, restored);
    await writer.open();
    return writer;
  }

  async createCommitter(context: SinkContext): Promise<SinkCommitter<PostgresCommitInfo, PostgresWriterState>> {
    return new PostgresCommitter(this, context);
  }
}

/** Every stream column exists in the target with a type that can hold it; NOT NULL columns without default are fed. */
export function checkColumns(fields: readonly Field[], info: TableInfo, options: Pick<PostgresSinkOptions, 'table'>): void {
  const byName = new Map(info.columns.map((c) => [c.name, c]));
  const problems: string[] = [];
  for (const field of fields) {
    const column = byName.get(field.name);
    if (!column) {
      problems.push(`column "${field.name}" of the stream is missing in the table (add it: ALTER TABLE ${displayName(info.name)} ADD COLUMN ${ident(field.name)} ${pgTypeFor(field)})`);
      continue;
    }
    const why = incompatibility(field.type, column.typname, column.category);
    if (why) problems.push(`column "${field.name}" is ${column.typeText} in the table but ${String(field.type)} in the stream: ${why}`);
  }
  const fed = new Set(fields.map((f) => f.name));
  for (const column of info.columns) {
    if (column.notNull && !column.hasDefault && !fed.has(column.name)) problems.push(`column "${column.name}" is NOT NULL without a default, and the stream has no such column`);
  }
  if (problems.length > 0) {
    throw new TidewayError('POSTGRES_SCHEMA_MISMATCH', `the stream does not fit table ${options.table}: ${problems.join('; ')}`, {
      context: { connector: 'postgres', object: displayName(info.name) },
    });
  }
}

/** Columns of a table created from the stream's Arrow schema. */
export function columnsFromSchema(fields: readonly Field[]): StagingColumn[] {
  return fields.map((f) => ({ name: f.name, type: pgTypeFor(f), notNull: !f.nullable }));
}

export function createTableSql(table: string, columns: readonly StagingColumn[], primaryKeys: readonly string[] = []): string {
  const defs = columns.map((c) => `${ident(c.name)} ${c.type}${c.notNull ? ' NOT NULL' : ''}`);
  if (primaryKeys.length > 0) defs.push(`PRIMARY KEY (${primaryKeys.map(ident).join(', ')})`);
  return `CREATE TABLE ${table} (${defs.join(', ')})`;
}

export async function ensureCommitLog(client: PgClient, schema: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('tideway_commit_log'))`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${ident(schema)}.${COMMIT_LOG} (job text NOT NULL, item text NOT NULL, target text NOT NULL, rows bigint NOT NULL DEFAULT 0, committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job, item))`,
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * The writer's COPY. A staging table is loaded with FREEZE, which PostgreSQL allows because the table was
 * created in the same transaction (and no cursor or older snapshot is open in it): its rows are written
 * frozen and its pages all-visible, so the commit's INSERT ... SELECT reads them without setting hint bits,
 * which would dirty and write every page of the staging table a second time. Binary when every column
 * pairs an Arrow type with a target type that copy-binary-encoder.ts writes exactly, text otherwise.
 */
function copyStatement(table: string, columnList: string, options: { freeze: boolean; binary: boolean }): string {
  const settings = [...(options.binary ? ['FORMAT binary'] : []), ...(options.freeze ? ['FREEZE'] : [])];
  return `COPY ${table} (${columnList}) FROM STDIN${settings.length > 0 ? ` (${settings.join(', ')})` : ''}`;
}

/**
 * How long a direct commit's transaction waits for word that its checkpoint was saved before rolling back
 * (its committer then replays the spill); the committer waits up to `commitWaitMs` for such a transaction.
 * Exported for tests.
 */
export const directTimings = { holdMs: 30_000, commitWaitMs: 120_000 };

/**
 * The rows of one checkpoint in progress: the transaction that holds them, into a staging table (or the
 * target), and the streaming COPY that carries them, if any (a writer that rejects rows one by one runs a COPY
 * per batch instead: see writeCarefully).
 */
interface OpenCopy {
  stream: Writable | undefined;
  /** SQL name of the table the rows go into. */
  into: string;
  /** The staging table's or commit-log item's name (or, without exactly-once, the target's display name). */
  table: string;
  rows: number;
  error: Error | undefined;
}

/** SQLSTATE classes of a row's own data: 22 data exception (too long, bad value), 23 integrity (unique, NOT NULL, check, foreign key). */
const ROW_DATA_ERROR = /^2[23]/;

/**
 * Streams rows with COPY FROM STDIN as they arrive, in one of three ways:
 * - Staged (exactly-once where the direct commit does not apply, and upsert): into a staging table created in
 *   the same transaction, committed by prepareCommit (durable, invisible in the target); the committer moves
 *   it into the target with its commit-log row. A crash before prepareCommit leaves nothing, since
 *   PostgreSQL rolls back the transaction with the connection.
 * - Direct (exactly-once append on one machine): into the target itself, in a transaction that stays open
 *   past prepareCommit. prepareCommit adds the commit-log row of this writer's checkpoint to that
 *   transaction and seals a spill of the same COPY bytes on local disk; when the checkpoint is saved the
 *   writer commits (checkpointSaved). The committer inserts the same log row with ON CONFLICT DO NOTHING,
 *   which waits while the writer's transaction is open: finding the row means the writer committed; inserting
 *   it means the writer's transaction rolled back (a crash, a lost connection, a close), and the committer
 *   replays the spill in its own transaction. Either way the rows land once, with one write into the target.
 * - Plain append (exactly_once: false): into the target, committed by prepareCommit.
 */
export class PostgresWriter implements SinkWriter<PostgresCommitInfo, PostgresWriterState> {
  private client: PgClient | undefined;
  private readonly direct: boolean;
  private spill: SpillFile | undefined;
  /** Direct commit: the transaction holding the rows of the newest prepared checkpoint, until it is saved. */
  private pending: { checkpointId: number; client: PgClient; timer: NodeJS.Timeout } | undefined;
  /** Direct commit: a connection free for the next checkpoint's COPY. */
  private spare: PgClient | undefined;
  private copy: OpenCopy | undefined;
  private encoder: CopyTextEncoder | CopyBinaryEncoder | undefined;
  private binary = false;
  private columns: StagingColumn[] = [];
  private sequence = 0;
  private readonly runId: string;
  private readonly attempt: string;
  private rowsBefore = 0;
  /** Rows received since the last prepareCommit (those rejected included). */
  private epochReceived = 0;
  private written = 0;
  private bytes = 0;

  constructor(
    private readonly sink: PostgresSink,
    private readonly context: SinkWriterContext,
    restored: PostgresWriterState | undefined,
  ) {
    this.runId = restored?.runId ?? context.attemptId;
    this.attempt = context.attemptId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 16);
    this.direct = sink.direct(context);
  }

  get stats() {
    return { rowsWritten: this.written, bytesWritten: this.bytes };
  }

  /** Connects, creates the target when allowed, and checks the stream against it: before any row moves. */
  async open(): Promise<void> {
    const { options, target } = this.sink;
    const client = await this.sink.connect();
    this.client = client;
    const fields = this.context.schema.fields;
    try {
      let info = await describeTable(client, target);
      if (!info) {
        if (options.schema_save_mode === 'error_when_missing') throw this.sink.missingTable();
        // Writers start together: one creates the table, the others wait for it and then find it.
        const lock = `SELECT %s(hashtext(${literal(`tideway:${qualified(target)}`)}))`;
        await client.query(lock.replace('%s', 'pg_advisory_lock'));
        try {
          if (!(await describeTable(client, target))) {
            await client.query(createTableSql(qualified(target), columnsFromSchema(fields), options.write_mode === 'upsert' ? (options.primary_keys ?? []) : []));
          }
        } catch (error) {
          if ((error as { code?: string }).code !== '42P07') throw error;
        } finally {
          await client.query(lock.replace('%s', 'pg_advisory_unlock'));
        }
        info = (await describeTable(client, target))!;
      }
      if (options.schema_save_mode === 'recreate') {
        this.columns = columnsFromSchema(fields);
      } else {
        checkColumns(fields, info, options);
        const byName = new Map(info.columns.map((c) => [c.name, c]));
        this.columns = fields.map((f) => {
          const column = byName.get(f.name)!;
          return { name: f.name, type: column.typeText, notNull: column.notNull };
        });
      }
      if (options.write_mode === 'upsert') {
        const keys = options.primary_keys ?? info.primaryKey;
        if (keys.length === 0) {
          throw new TidewayError('POSTGRES_NO_KEY', `write_mode upsert needs primary_keys: table ${displayName(target)} has no primary key; set primary_keys or add one`);
        }
      }
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw queryError(error, `opening writer ${this.context.writerIndex} on ${displayName(target)}`, this.sink.endpoint);
    }
    const kinds = binaryCopyPlan(fields, this.columns.map((c) => c.type));
    this.binary = kinds !== undefined;
    this.encoder = kinds ? new CopyBinaryEncoder(fields, kinds) : new CopyTextEncoder(fields);
  }

  async write(batch: RecordBatch, context?: SinkWriteContext): Promise<void> {
    if (batch.numRows === 0) return;
    if (context && this.context.rowErrorsTolerated) return this.writeCarefully(batch, context);
    const copy = this.copy ?? (await this.begin(true));
    const stream = copy.stream!;
    const step = this.sink.options.batch_rows;
    for (let start = 0; start < batch.numRows; start += step) {
      const end = Math.min(batch.numRows, start + step);
      const bytes = this.encoder!.encode(batch, start, end);
      this.bytes += bytes.length;
      copy.rows += end - start;
      this.epochReceived += end - start;
      if (copy.error) throw this.copyError(copy);
      this.spill?.write(bytes);
      if (!stream.write(bytes)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            stream.off('drain', done);
            stream.off('error', done);
            resolve();
          };
          stream.on('drain', done);
          stream.on('error', done);
        });
        if (copy.error) throw this.copyError(copy);
      }
    }
  }

  /** Opens the checkpoint's transaction (and its staging table or spill), and with `streaming` its COPY. */
  private async begin(streaming: boolean): Promise<OpenCopy> {
    const client = this.client!;
    const { target, stagingSchema } = this.sink;
    const upsert = this.sink.options.write_mode === 'upsert';
    let table: string;
    let name = '';
    await client.query('BEGIN');
    if (this.direct) {
      name = this.nextName();
      table = qualified(target);
      this.spill = SpillFile.create(this.context.localDir!, `${name}${SPILL_SUFFIX}`);
    } else if (this.sink.staged) {
      name = this.nextName();
      table = `${ident(stagingSchema)}.${ident(name)}`;
      const columns = upsert ? [...this.columns, { name: '__tideway_ord', type: 'bigint GENERATED ALWAYS AS IDENTITY', notNull: false }] : this.columns;
      await client.query(createTableSql(table, columns));
    } else {
      table = qualified(target);
    }
    const copy: OpenCopy = { stream: undefined, into: table, table: name || displayName(target), rows: 0, error: undefined };
    if (this.binary) this.spill?.write(CopyBinaryEncoder.header());
    if (streaming) {
      const stream = this.startCopy(table);
      stream.on('error', (error: Error) => (copy.error ??= error));
      if (this.binary) stream.write(CopyBinaryEncoder.header());
      copy.stream = stream;
    }
    this.copy = copy;
    return copy;
  }

  private startCopy(table: string): Writable {
    const list = this.columns.map((c) => ident(c.name)).join(', ');
    return this.client!.query(copyFrom(copyStatement(table, list, { freeze: this.sink.staged && !this.direct, binary: this.binary })));
  }

  /**
   * For a sink whose dirty-data policy tolerates refused rows: each batch is its own COPY inside a savepoint,
   * awaited, so that a row PostgreSQL refuses for its data (SQLSTATE class 22 or 23: too long, bad value,
   * unique, NOT NULL, check, foreign key) is known by its line. The savepoint is rolled back, the row rejected
   * (to the dead-letter sink, counted), the rows before it sent again, and the COPY goes on after it. Only what
   * PostgreSQL accepted reaches the spill. Slower than the one streaming COPY per checkpoint, which is why it
   * is used only when a refused row would not fail the job anyway.
   */
  private async writeCarefully(batch: RecordBatch, context: SinkWriteContext): Promise<void> {
    const copy = this.copy ?? (await this.begin(false));
    const before = this.epochReceived;
    this.epochReceived += batch.numRows;
    let start = 0;
    while (start < batch.numRows) {
      const attempt = await this.copyRange(copy, batch, start, batch.numRows);
      if (attempt.error === undefined) break;
      const error = attempt.error as Error & { where?: string; code?: string; detail?: string };
      const line = Number(/line (\d+)/.exec(error.where ?? '')?.[1] ?? NaN);
      if (!ROW_DATA_ERROR.test(error.code ?? '') || !(line >= 1)) throw this.copyError({ ...copy, error }, before + start);
      const bad = start + line - 1;
      context.reject(bad, { code: 'POSTGRES_ROW_REJECTED', message: `PostgreSQL refused the row for ${displayName(this.sink.target)}: ${error.message}${error.detail ? ` (${error.detail})` : ''}` });
      if (bad > start) {
        const prefix = await this.copyRange(copy, batch, start, bad);
        if (prefix.error) throw this.copyError({ ...copy, error: prefix.error }, before + start);
      }
      start = bad + 1;
    }
  }

  /** One COPY of rows [start, end) in a savepoint: kept (and spilled) when PostgreSQL takes it whole, else rolled back. */
  private async copyRange(copy: OpenCopy, batch: RecordBatch, start: number, end: number): Promise<{ error?: Error }> {
    const client = this.client!;
    await client.query('SAVEPOINT tideway_batch');
    const chunks: Uint8Array[] = [];
    const step = this.sink.options.batch_rows;
    for (let from = start; from < end; from += step) chunks.push(this.encoder!.encode(batch, from, Math.min(end, from + step)));
    const stream = this.startCopy(copy.into);
    const error = await new Promise<Error | undefined>((resolve) => {
      stream.once('finish', () => resolve(undefined));
      stream.once('error', resolve);
      if (this.binary) stream.write(CopyBinaryEncoder.header());
      for (const chunk of chunks) stream.write(chunk);
      stream.end(this.binary ? CopyBinaryEncoder.trailer() : undefined);
    });
    if (error) {
      await client.query('ROLLBACK TO SAVEPOINT tideway_batch');
      return { error };
    }
    await client.query('RELEASE SAVEPOINT tideway_batch');
    for (const chunk of chunks) {
      this.spill?.write(chunk);
      this.bytes += chunk.length;
    }
    copy.rows += end - start;
    return {};
  }

  /** Staging table and commit-log item names: unique per job, attempt, writer and sequence number. */
  private nextName(): string {
    return `${stagingPrefix(this.context.jobName, this.context.sinkName)}${this.attempt}_${this.context.writerIndex}_${this.sequence++}`;
  }

  /** The database refused a row: which one (its position since the last checkpoint), and the database's words. */
  private copyError(copy: OpenCopy, offset = 0): TidewayError {
    const error = copy.error as Error & { where?: string; code?: string; detail?: string };
    const found = /line (\d+)/.exec(error.where ?? '')?.[1];
    const line = found === undefined ? undefined : String(Number(found) + offset);
    const column = /column ([^:]+)/.exec(error.where ?? '')?.[1];
    const position = line
      ? `row ${line} of the rows writer ${this.context.writerIndex} received since its last checkpoint (row ${this.rowsBefore + Number(line)} of its input)${column ? `, column ${column}` : ''}`
      : `a row of writer ${this.context.writerIndex}`;
    return new TidewayError(
      'POSTGRES_ROW_REJECTED',
      `PostgreSQL rejected ${position} for ${displayName(this.sink.target)}: ${error.message}${error.detail ? ` (${error.detail})` : ''}. Fix the row at the source or the table definition, then resume the job; nothing from this checkpoint was written`,
      { cause: error, context: { connector: 'postgres', object: displayName(this.sink.target), ...(error.code ? { sqlstate: error.code } : {}), ...(line ? { row: this.rowsBefore + Number(line) } : {}) } },
    );
  }

  async prepareCommit(checkpointId: number): Promise<PostgresCommitInfo[]> {
    const copy = this.copy;
    if (!copy) return [];
    const client = this.client!;
    const stream = copy.stream;
    if (this.binary) this.spill?.write(CopyBinaryEncoder.trailer());
    // A COPY the server already refused is detached from its connection: ending it would throw.
    if (stream && !copy.error) {
      await new Promise<void>((resolve) => {
        stream.once('finish', resolve);
        stream.once('error', () => resolve());
        if (this.binary) stream.end(CopyBinaryEncoder.trailer());
        else stream.end();
      });
    }
    if (copy.error) throw this.copyError(copy);
    if (this.direct) return this.prepareDirect(checkpointId, client, copy);
    await client.query('COMMIT');
    this.copy = undefined;
    this.rowsBefore += this.epochReceived;
    this.epochReceived = 0;
    this.written += copy.rows;
    if (!this.sink.staged) return [];
    return [{ staging: copy.table, schema: this.sink.stagingSchema, writer: this.context.writerIndex, rows: copy.rows }];
  }

  /**
   * The direct commit's prepare: the log row joins the open transaction, the spill is sealed, and the
   * transaction waits for checkpointSaved on its connection while the next checkpoint's rows use another.
   */
  private async prepareDirect(checkpointId: number, client: PgClient, copy: OpenCopy): Promise<PostgresCommitInfo[]> {
    const spill = this.spill!;
    await Promise.all([
      client.query(`INSERT INTO ${ident(this.sink.stagingSchema)}.${COMMIT_LOG} (job, item, target, rows) VALUES ($1, $2, $3, $4)`, [
        this.context.jobName,
        copy.table,
        displayName(this.sink.target),
        copy.rows,
      ]),
      spill.seal(),
    ]);
    this.spill = undefined;
    this.copy = undefined;
    this.rowsBefore += this.epochReceived;
    this.epochReceived = 0;
    this.written += copy.rows;
    // At most one transaction waits for its checkpoint's save: an older one that is still waiting is rolled
    // back, which is always safe (its committer replays the spill), and its connection carries on.
    const older = this.pending;
    // Nor does one wait for ever: the hint may never come (a lost message), and the committer waits for this
    // transaction to end before it can replay the spill.
    const timer = setTimeout(() => void this.giveUp(checkpointId), directTimings.holdMs);
    timer.unref();
    this.pending = { checkpointId, client, timer };
    if (older) {
      clearTimeout(older.timer);
      await older.client.query('ROLLBACK');
      this.client = older.client;
    } else {
      this.client = this.spare ?? (await this.sink.connect());
      this.spare = undefined;
    }
    return [
      {
        staging: copy.table,
        schema: this.sink.stagingSchema,
        writer: this.context.writerIndex,
        rows: copy.rows,
        spill: spill.path,
        binary: this.binary,
        columns: this.columns.map((c) => c.name),
      },
    ];
  }

  /** The direct commit's decision has been saved: commit the rows (the committer then finds them done). */
  async checkpointSaved(checkpointId: number): Promise<void> {
    const pending = this.pending;
    if (!pending || pending.checkpointId > checkpointId) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    try {
      await pending.client.query('COMMIT');
    } catch (error) {
      // The committer replays the spill: the transaction rolled back with its connection.
      await pending.client.end().catch(() => undefined);
      throw error;
    }
    if (this.spare) await pending.client.end().catch(() => undefined);
    else this.spare = pending.client;
  }

  /** The save was not heard of in time: roll back, so that the committer (which waits for that) replays the spill. */
  private async giveUp(checkpointId: number): Promise<void> {
    const pending = this.pending;
    if (pending?.checkpointId !== checkpointId) return;
    this.pending = undefined;
    this.context.logger.warn('no word of a saved checkpoint in time: its rows are left to the committer, which replays them from the spill', {
      writer: this.context.writerIndex,
      checkpoint: checkpointId,
    });
    await pending.client.end().catch(() => undefined);
  }

  snapshotState(): PostgresWriterState {
    return { runId: this.runId, columns: this.columns };
  }

  /** Drops what this writer staged since its last prepareCommit: the transaction is rolled back with its table. */
  async abortPrepare(): Promise<void> {
    const copy = this.copy;
    this.copy = undefined;
    this.epochReceived = 0;
    this.spill?.discard();
    this.spill = undefined;
    if (!copy || !this.client) return;
    // A COPY in progress cannot be rolled back from this side of the protocol: close the connection instead.
    const client = this.client;
    this.client = undefined;
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    await client.end().catch(() => undefined);
    this.client = await this.sink.connect();
  }

  /**
   * A transaction still waiting for its checkpoint's save ends here without committing: closing the
   * connection rolls it back, and the committer replays its spill if that checkpoint was saved.
   */
  async close(): Promise<void> {
    if (this.copy) await this.abortPrepare();
    const clients = [this.client, this.pending?.client, this.spare];
    if (this.pending) clearTimeout(this.pending.timer);
    this.client = undefined;
    this.pending = undefined;
    this.spare = undefined;
    await Promise.all(clients.map((c) => c?.end().catch(() => undefined)));
  }
}
