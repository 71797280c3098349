import { Field, Int64, makeData, RecordBatch, Schema, Utf8, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { sinkOptionsSchema } from '../../../connectors/postgres/options.js';
import { PostgresSink, stagingPrefix } from '../../../connectors/postgres/sink.js';
import { silentLogger } from '../../../src/api/logger.js';
import { checkConnections } from '../../../src/index.js';
import { tempDir } from '../../helpers/jobs.js';
import { pgAvailable, runPgJob, usePgSchema } from './helpers.js';

const ROWS = 3000;

describe.skipIf(!pgAvailable)('postgres sink', () => {
  const db = usePgSchema();
  const stagingTables = async () =>
    (await db.query<{ relname: string }>(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relname LIKE 'tws\\_%'`, [db.schema])).map((r) => r.relname);
  const ids = async (table: string) => (await db.query<{ id: string }>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => Number(r.id));

  it('a job stopped mid-way and resumed writes every id exactly once and leaves no staging table', async () => {
    const target = db.table('resumed');
    const checkpoints = tempDir('tideway-pg-stop-');
    const name = 'pg-stop-resume';
    const stages = {
      source: [{ type: 'fake', rows: ROWS, splits: 6, chunk_rows: 50, rows_per_second: 1500 }],
      sink: [{ type: 'postgres', url: db.url, table: target }],
    };
    try {
      const stop = new AbortController();
      const first = runPgJob(stages, { name, parallelism: 2, checkpoints: checkpoints.path, interval: '150ms', signal: stop.signal });
      // Stop once some rows are committed.
      for (let i = 0; i < 200; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const exists = await db.query<{ n: string }>(`SELECT count(*) AS n FROM pg_class WHERE oid = to_regclass($1)`, [target]);
        if (Number(exists[0]!.n) > 0 && (await ids(target)).length > 0) break;
      }
      stop.abort();
      const stopped = await first;
      expect(stopped.status).toBe('cancelled');
      const partial = await ids(target);
      expect(partial.length).toBeGreaterThan(0);
      expect(partial.length).toBeLessThan(ROWS);
      const second = await runPgJob(stages, { name, parallelism: 2, checkpoints: checkpoints.path, interval: '150ms' });
      expect(second.error).toBeNull();
      expect(second.resumedFromCheckpoint).not.toBeNull();
      const all = await ids(target);
      expect(all.length).toBe(ROWS);
      expect(new Set(all).size).toBe(ROWS);
      expect(await stagingTables()).toEqual([]);
    } finally {
      checkpoints.remove();
    }
  });

  it('upsert by the primary key updates rows written twice; truncate empties the table once per run', async () => {
    const target = db.table('upsert');
    await db.query(`CREATE TABLE ${target} (id bigint PRIMARY KEY, name text, amount double precision)`);
    await db.query(`INSERT INTO ${target} VALUES (1, 'old', 0), (100000, 'kept', 0)`);
    const job = (extra: Record<string, unknown>) =>
      runPgJob({
        source: [{ type: 'fake', rows: 500, splits: 2 }],
        transform: [{ type: 'select', columns: ['id', 'name', 'amount'] }],
        sink: [{ type: 'postgres', url: db.url, table: target, ...extra }],
      });
    expect((await job({ write_mode: 'upsert' })).error).toBeNull();
    expect((await job({ write_mode: 'upsert' })).error).toBeNull();
    const rows = await db.query<{ n: string; old: string }>(`SELECT count(*) AS n, count(*) FILTER (WHERE name = 'old') AS old FROM ${target}`);
    expect(Number(rows[0]!.n)).toBe(501);
    expect(Number(rows[0]!.old)).toBe(0);
    expect((await job({ data_save_mode: 'truncate' })).error).toBeNull();
    expect(await ids(target)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(await stagingTables()).toEqual([]);
  });

  it('a row the database rejects fails the job with its position and the database message, and nothing is committed', async () => {
    const target = db.table('rejects');
    await db.query(`CREATE TABLE ${target} (id bigint PRIMARY KEY, name text, quantity int CHECK (quantity IS NOT NULL OR id < 0))`);
    const result = await runPgJob({
      source: [{ type: 'fake', rows: 200, splits: 1 }],
      transform: [{ type: 'select', columns: ['id', 'name', 'quantity'] }],
      sink: [{ type: 'postgres', url: db.url, table: target }],
    });
    expect(result.status).toBe('failed');
    // The COPY is refused before the writer's first checkpoint (the direct commit copies into the target):
    // the error is the database's, not a failure to end the refused COPY.
    expect(result.error!.code).toMatch(/^POSTGRES_(ROW|COMMIT)_REJECTED$/);
    // Either at the COPY (NOT NULL) or at the commit (CHECK): the message names where and what.
    expect(result.error!.message).toMatch(/violates check constraint|null value/);
    expect(result.error!.message).toMatch(/row \d+|writer \d+/);
    expect(await ids(target)).toEqual([]);
  });

  it('check --connect reports an unreachable server by host, never the password', async () => {
    const checks = await checkConnections(
      {
        env: { name: 'pg-check' },
        source: [{ type: 'fake', rows: 1 }],
        sink: [{ type: 'postgres', url: 'postgres://postgres:s3cret-pw@127.0.0.1:1/test', table: 'public.t', connect_timeout: '2s' }],
      } as never,
      { signal: new AbortController().signal },
    );
    const sink = checks.find((c) => c.path.startsWith('sink'))!;
    expect(sink.status).toBe('failed');
    expect(sink.detail).toMatch(/127\.0\.0\.1:1/);
    expect(sink.detail).toMatch(/ECONNREFUSED|connect/);
    expect(sink.detail).not.toContain('s3cret-pw');
    expect(sink.code).toBe('POSTGRES_CONNECT_FAILED');
  });

  it('a type mismatch or a missing column fails before any row moves, naming the column', async () => {
    const target = db.table('mismatch');
    await db.query(`CREATE TABLE ${target} (id bigint, name text, active date)`);
    const result = await runPgJob({
      source: [{ type: 'fake', rows: 10 }],
      sink: [{ type: 'postgres', url: db.url, table: target }],
    });
    expect(result.status).toBe('failed');
    expect(result.error!.message).toMatch(/column "active" is date in the table but Bool/);
    expect(result.error!.message).toMatch(/column "category" of the stream is missing/);
    expect(await ids(target)).toEqual([]);
    void silentLogger;
  });

  it('stages with COPY FREEZE: the commit reads the staging table without dirtying a page of it', async () => {
    const target = db.table('frozen');
    await db.query(`CREATE TABLE ${target} (id bigint PRIMARY KEY, name text)`);
    const options = sinkOptionsSchema.parse({ url: db.url, table: target });
    const context = { jobName: `pg-freeze-${target}`, mode: 'batch', parallelism: 1, logger: silentLogger, baseDir: process.cwd() } as const;
    const sink = new PostgresSink(options, context);
    await sink.prepare();
    const schema = new Schema([new Field('id', new Int64(), false), new Field('name', new Utf8(), true)]);
    const writer = await sink.createWriter(
      { ...context, attemptId: 'freeze', sinkName: 'sink[0]', signal: new AbortController().signal, prepared: undefined, restoredCheckpointId: null, writerIndex: 0, schema },
      undefined,
    );
    const committer = await sink.createCommitter({ ...context, attemptId: 'freeze', sinkName: 'sink[0]', signal: new AbortController().signal, prepared: undefined, restoredCheckpointId: null });
    // The first read of freshly committed rows sets their hint bits, dirtying every page; frozen rows have nothing to set.
    // CHECKPOINT first: pages still dirty from the COPY would hide the hint bits' dirtying (a big staging table's
    // pages leave shared buffers during the COPY, through its ring).
    const dirtiedByFirstRead = async (table: string) => {
      await db.query('CHECKPOINT');
      const [plan] = await db.query<{ 'QUERY PLAN': [{ Plan: { 'Shared Dirtied Blocks': number; 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }] }>(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT count(*) FROM ${table}`,
      );
      const top = plan!['QUERY PLAN'][0].Plan;
      expect(top['Shared Hit Blocks'] + top['Shared Read Blocks']).toBeGreaterThan(10);
      return top['Shared Dirtied Blocks'];
    };
    try {
      const keys = BigInt64Array.from({ length: 5000 }, (_, i) => BigInt(i));
      const names = Array.from({ length: 5000 }, (_, i) => `name-${i}`);
      await writer.write(new RecordBatch({ id: makeData({ type: new Int64(), data: keys }), name: vectorFromArray(names, new Utf8()).data[0]! }));
      const infos = await writer.prepareCommit(1);
      expect(infos).toHaveLength(1);
      const staging = `${db.schema}.${infos[0]!.staging}`;
      expect(await dirtiedByFirstRead(staging)).toBe(0);
      // The control: the same rows copied without FREEZE into a table created in its transaction do dirty its pages.
      const control = db.table('unfrozen');
      await db.query(`BEGIN; CREATE TABLE ${control} AS SELECT * FROM ${staging} WITH NO DATA; INSERT INTO ${control} SELECT * FROM ${staging}; COMMIT`);
      expect(await dirtiedByFirstRead(control)).toBeGreaterThan(10);
      await committer.commit(infos, { checkpointId: 1, writerStates: [await writer.snapshotState(1)], endOfInput: true });
      expect(await ids(target)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
      expect((await stagingTables()).filter((t) => t.startsWith(stagingPrefix(context.jobName, 'sink[0]')))).toEqual([]);
    } finally {
      await writer.close();
      await committer.close();
    }
  });
});
