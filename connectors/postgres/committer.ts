import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { TidewayError } from '../../src/api/errors.js';
import type { CommitContext, OrphanReport, SinkCommitter, SinkContext } from '../../src/api/sink.js';
import { describeTable } from './catalog.js';
import { displayName, ident, literal, type PgClient, qualified, queryError } from './connection.js';
import { listSpills, removeSpill, SPILL_SUFFIX } from './spill.js';
import { COMMIT_LOG, createTableSql, type DirectCommitInfo, directTimings, isDirect, type PostgresCommitInfo, type PostgresSink, type PostgresWriterState, stagingPrefix } from './sink.js';

/**
 * Makes staged rows visible. Each commit is ONE transaction that, for every staging table of the checkpoint
 * not yet in the commit log, moves its rows into the target, records (job, staging table) in
 * tideway_commit_log and drops the staging table. So a staging table is committed at most once (its log row
 * and its rows appear together), and a recommit after a crash either finds the log row (done: skip) or the
 * staging table (not done: do it). A staging table found in neither place is an error, never a success.
 *
 * A direct commit's info (PostgresWriter) has a spill instead of a staging table, and its writer's own
 * transaction holds its rows and its log row. The committer inserts the same log row with ON CONFLICT DO
 * NOTHING: PostgreSQL makes that insert wait while the writer's transaction is open, then skip the row if
 * that transaction committed (done), or insert it if it rolled back, in which case the committer COPYs the
 * spill into the target in the same transaction. Spills are removed once their commit is durable.
 */
export class PostgresCommitter implements SinkCommitter<PostgresCommitInfo, PostgresWriterState> {
  private client: Promise<PgClient> | undefined;
  private readonly log: string;

  constructor(
    private readonly sink: PostgresSink,
    private readonly context: SinkContext,
  ) {
    this.log = `${ident(sink.stagingSchema)}.${COMMIT_LOG}`;
  }

  private connection(): Promise<PgClient> {
    this.client ??= this.sink.connect();
    return this.client;
  }

  async commit(infos: readonly PostgresCommitInfo[], context: CommitContext): Promise<void> {
    const states = context.writerStates.filter((s): s is PostgresWriterState => typeof s === 'object' && s !== null && 'runId' in s);
    // The oldest run id: writers added by a resume with more parallelism carry the new attempt's id.
    const runId = states.map((s) => s.runId).sort()[0];
    const { options } = this.sink;
    if (!this.sink.staged) {
      if (context.endOfInput && options.post_sql.length > 0 && runId) await this.inTransaction((client) => this.postSql(client, runId));
      return;
    }
    await this.inTransaction(async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext(${literal(`tideway:${this.context.jobName}`)}))`);
      if (runId && !(await this.logged(client, `run:${runId}`))) await this.startRun(client, runId, states[0]?.columns ?? []);
      for (const info of infos) {
        if (isDirect(info)) await this.settleDirect(client, info);
        else await this.moveOne(client, info);
      }
      if (context.endOfInput && runId) await this.postSql(client, runId);
    });
    for (const info of infos) if (isDirect(info)) await removeSpill(info.spill);
  }

  /** A direct commit: done by its writer, or replayed here from its spill (see the class comment). */
  private async settleDirect(client: PgClient, info: DirectCommitInfo): Promise<void> {
    const { target } = this.sink;
    // A writer commits as soon as it hears of the save; only a stuck one makes this wait, and then the
    // commit fails in doubt (nothing lost: the next run settles it the same way) rather than hang.
    await client.query(`SET LOCAL lock_timeout = ${literal(`${directTimings.commitWaitMs}ms`)}`);
    let inserted;
    try {
      inserted = await client.query(`INSERT INTO ${this.log} (job, item, target, rows) VALUES ($1, $2, $3, $4) ON CONFLICT (job, item) DO NOTHING`, [
        this.context.jobName,
        info.staging,
        displayName(target),
        info.rows,
      ]);
    } catch (error) {
      if ((error as { code?: string }).code !== '55P03') throw error;
      throw new TidewayError(
        'POSTGRES_WRITER_STUCK',
        `writer ${info.writer}'s transaction holding its ${info.rows} rows for ${displayName(target)} neither committed nor rolled back within ${directTimings.commitWaitMs / 1000} s, ` +
          `so this commit could not tell whether they are written. Nothing is lost: the checkpoint is saved and the rows are in ${info.spill}. ` +
          `Resume the job once that session is gone (pg_stat_activity, application_name tideway); the resumed run commits them exactly once`,
        { cause: error, context: { connector: 'postgres', object: displayName(target) } },
      );
    }
    await client.query('SET LOCAL lock_timeout = DEFAULT');
    if (inserted.rowCount === 0) return;
    const spill = info.spill;
    if (!existsSync(spill)) {
      throw new TidewayError(
        'POSTGRES_SPILL_LOST',
        `the ${info.rows} rows of writer ${info.writer} for ${displayName(target)} are neither committed (no row ${info.staging} in ${COMMIT_LOG}) nor in their spill file ${spill}, ` +
          `so they cannot be proven written. Something outside this job removed the file (the checkpoint directory was cleaned or moved). Nothing of this commit was applied. ` +
          `Put the file back if you have it and resume; otherwise check ${displayName(target)} for those rows, and to rewrite the target once start over with --fresh and data_save_mode: truncate on the sink, so that no row is written twice`,
        { context: { connector: 'postgres', object: displayName(target), path: spill } },
      );
    }
    const list = info.columns.map(ident).join(', ');
    const copy = client.query(copyFrom(`COPY ${qualified(target)} (${list}) FROM STDIN${info.binary ? ' (FORMAT binary)' : ''}`));
    try {
      await pipeline(createReadStream(spill), copy);
    } catch (error) {
      const pgError = error as { message?: string; detail?: string };
      throw new TidewayError(
        'POSTGRES_COMMIT_REJECTED',
        `PostgreSQL rejected rows of writer ${info.writer} replayed from ${spill} into ${displayName(target)}: ${pgError.message}${pgError.detail ? ` (${pgError.detail})` : ''}. ` +
          `Nothing of this checkpoint was applied and the spill is kept; fix the target (for example the conflicting row) and resume the job`,
        { cause: error, context: { connector: 'postgres', object: displayName(target) } },
      );
    }
    if (copy.rowCount !== info.rows) {
      throw new TidewayError('POSTGRES_SPILL_CHANGED', `spill file ${spill} holds ${copy.rowCount} rows where writer ${info.writer} sent ${info.rows}; something else wrote to it. Nothing of this commit was applied`, {
        context: { connector: 'postgres', path: spill },
      });
    }
    this.context.logger.info('replayed a spill whose writer had not committed', { writer: info.writer, rows: info.rows, item: info.staging });
  }

  /** Once per run, in the transaction of its first commit: recreate, truncate, the emptiness check, pre_sql. */
  private async startRun(client: PgClient, runId: string, columns: PostgresWriterState['columns']): Promise<void> {
    const { options, target } = this.sink;
    const table = qualified(target);
    if (options.schema_save_mode === 'recreate' && columns.length > 0) {
      await client.query(`DROP TABLE IF EXISTS ${table}`);
      await client.query(createTableSql(table, columns, options.write_mode === 'upsert' ? (options.primary_keys ?? []) : []));
    } else if (options.data_save_mode === 'truncate') {
      await client.query(`TRUNCATE ${table}`);
    } else if (options.data_save_mode === 'error_when_not_empty') {
      const any = await client.query(`SELECT 1 FROM ${table} LIMIT 1`);
      if ((any.rowCount ?? 0) > 0) {
        throw new TidewayError(
          'POSTGRES_TARGET_NOT_EMPTY',
          `table ${displayName(target)} already holds rows and data_save_mode is error_when_not_empty; empty it, or set data_save_mode: append or truncate. Nothing was written`,
          { context: { connector: 'postgres', object: displayName(target) } },
        );
      }
    }
    for (const sql of options.pre_sql) await this.userSql(client, sql, 'pre_sql');
    await client.query(`INSERT INTO ${this.log} (job, item, target) VALUES ($1, $2, $3)`, [this.context.jobName, `run:${runId}`, displayName(target)]);
  }

  private async postSql(client: PgClient, runId: string): Promise<void> {
    if (this.sink.options.post_sql.length === 0 || (await this.logged(client, `end:${runId}`))) return;
    for (const sql of this.sink.options.post_sql) await this.userSql(client, sql, 'post_sql');
    await client.query(`INSERT INTO ${this.log} (job, item, target) VALUES ($1, $2, $3)`, [this.context.jobName, `end:${runId}`, displayName(this.sink.target)]);
  }

  private async userSql(client: PgClient, sql: string, option: string): Promise<void> {
    try {
      await client.query(sql);
    } catch (error) {
      throw new TidewayError('POSTGRES_USER_SQL_FAILED', `${option} statement failed: ${(error as Error).message}; statement: ${sql}. Nothing of this commit was applied; fix the statement and resume`, { cause: error, context: { connector: 'postgres' } });
    }
  }

  private async logged(client: PgClient, item: string): Promise<boolean> {
    const found = await client.query(`SELECT 1 FROM ${this.log} WHERE job = $1 AND item = $2`, [this.context.jobName, item]);
    return (found.rowCount ?? 0) > 0;
  }

  private async moveOne(client: PgClient, info: PostgresCommitInfo): Promise<void> {
    if (await this.logged(client, info.staging)) return;
    const staging = `${ident(info.schema)}.${ident(info.staging)}`;
    const present = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid AS oid', [staging]);
    if (!present.rows[0]?.oid) {
      throw new TidewayError(
        'POSTGRES_STAGING_LOST',
        `staging table ${info.schema}.${info.staging} (${info.rows} rows of writer ${info.writer}) is neither committed (no row in ${COMMIT_LOG}) nor present, so its rows cannot be proven written. ` +
          `Something outside this job removed it (a manual DROP, or tideway clean on another checkpoint directory). Check ${displayName(this.sink.target)} for those rows; to rewrite the target once, start over with --fresh, with data_save_mode set on the sink to replace this job's earlier output (overwrite, or truncate for a table) so that no row is written twice`,
        { context: { connector: 'postgres', object: `${info.schema}.${info.staging}` } },
      );
    }
    const { options, target } = this.sink;
    const columns = (await describeTable(client, { schema: info.schema, table: info.staging }))!.columns.map((c) => c.name).filter((n) => n !== '__tideway_ord');
    const list = columns.map(ident).join(', ');
    let moved: number;
    try {
      if (options.write_mode === 'upsert') {
        const keys = options.primary_keys ?? (await describeTable(client, target))?.primaryKey ?? [];
        const keyList = keys.map(ident).join(', ');
        const updates = columns.filter((c) => !keys.includes(c)).map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`);
        // The last row of a key in this staging table wins (DISTINCT ON keeps the first in ORDER BY ... DESC).
        const result = await client.query(
          `INSERT INTO ${qualified(target)} (${list}) SELECT DISTINCT ON (${keyList}) ${list} FROM ${staging} ORDER BY ${keyList}, __tideway_ord DESC ` +
            `ON CONFLICT (${keyList}) DO ${updates.length > 0 ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
        );
        moved = result.rowCount ?? 0;
      } else {
        const result = await client.query(`INSERT INTO ${qualified(target)} (${list}) SELECT ${list} FROM ${staging}`);
        moved = result.rowCount ?? 0;
        if (moved !== info.rows) {
          throw new TidewayError('POSTGRES_STAGING_CHANGED', `staging table ${info.schema}.${info.staging} holds ${moved} rows where writer ${info.writer} staged ${info.rows}; something else wrote to it. Nothing of this commit was applied`);
        }
      }
    } catch (error) {
      if (error instanceof TidewayError) throw error;
      const pgError = error as { message?: string; detail?: string };
      throw new TidewayError(
        'POSTGRES_COMMIT_REJECTED',
        `PostgreSQL rejected rows of writer ${info.writer} moving from staging table ${info.schema}.${info.staging} into ${displayName(target)}: ${pgError.message}${pgError.detail ? ` (${pgError.detail})` : ''}. ` +
          `Nothing of this checkpoint was applied and the rows stay staged; fix the target (for example the conflicting row) and resume the job`,
        { cause: error, context: { connector: 'postgres', object: displayName(target) } },
      );
    }
    await client.query(`INSERT INTO ${this.log} (job, item, target, rows) VALUES ($1, $2, $3, $4)`, [this.context.jobName, info.staging, displayName(target), moved]);
    await client.query(`DROP TABLE ${staging}`);
  }

  private async inTransaction(work: (client: PgClient) => Promise<void>): Promise<void> {
    const client = await this.connection();
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw queryError(error, `committing to ${displayName(this.sink.target)}`, this.sink.endpoint);
    }
  }

  async abort(infos: readonly PostgresCommitInfo[]): Promise<void> {
    if (infos.length === 0) return;
    const client = await this.connection();
    for (const info of infos) {
      if (isDirect(info)) await removeSpill(info.spill);
      else await client.query(`DROP TABLE IF EXISTS ${ident(info.schema)}.${ident(info.staging)}`);
    }
  }

  /**
   * Drops this job's staging tables that no checkpoint owns (committed ones are already gone; uncommitted
   * ones of a crashed writer never became visible), and forgets their commit-log rows.
   */
  async removeOrphans(options: { keep: readonly PostgresCommitInfo[]; dryRun: boolean }): Promise<OrphanReport> {
    if (!this.sink.staged) return { removed: [] };
    const client = await this.connection();
    const keep = new Set(options.keep.map((i) => i.staging));
    const prefix = stagingPrefix(this.context.jobName, this.context.sinkName);
    const tables = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r' AND starts_with(c.relname, $2) ORDER BY c.relname`,
      [this.sink.stagingSchema, prefix],
    );
    const removed = tables.rows.map((r) => r.name).filter((name) => !keep.has(name));
    const dir = this.context.localDir;
    const spills = dir === undefined ? [] : (await listSpills(dir, prefix)).filter((name) => !keep.has(name.slice(0, -SPILL_SUFFIX.length)));
    if (!options.dryRun) {
      for (const name of removed) await client.query(`DROP TABLE IF EXISTS ${ident(this.sink.stagingSchema)}.${ident(name)}`);
      for (const name of spills) await removeSpill(join(dir!, name));
      const exists = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid AS oid', [this.log]);
      if (exists.rows[0]?.oid) {
        await client.query(`DELETE FROM ${this.log} WHERE job = $1 AND starts_with(item, $2) AND NOT (item = ANY($3::text[]))`, [this.context.jobName, prefix, [...keep]]);
      }
    }
    return { removed: [...removed.map((name) => `${this.sink.stagingSchema}.${name}`), ...spills.map((name) => join(dir!, name))] };
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await (await client.catch(() => undefined))?.end().catch(() => undefined);
  }
}
