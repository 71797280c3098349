import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Field, Int64, makeData, RecordBatch, Schema, Utf8, vectorFromArray } from 'apache-arrow';
import { afterEach, describe, expect, it } from 'vitest';
import { sinkOptionsSchema } from '../../../connectors/postgres/options.js';
import { directTimings, isDirect, type PostgresCommitInfo, PostgresSink, type PostgresWriterState, stagingPrefix } from '../../../connectors/postgres/sink.js';
import { builtinConnectors, cleanJob, ConnectorRegistry, type JobConfig } from '../../../src/index.js';
import type { Logger } from '../../../src/api/logger.js';
import { silentLogger } from '../../../src/api/logger.js';
import type { SinkCommitter, SinkContext, SinkWriter } from '../../../src/api/sink.js';
import { seededRandom } from '../../../src/testing/random.js';
import { tempDir } from '../../helpers/jobs.js';
import { pgAvailable, runPgJob, usePgSchema } from './helpers.js';

const schema = new Schema([new Field('id', new Int64(), false), new Field('name', new Utf8(), true)]);

function batch(from: number, count: number): RecordBatch {
  const ids = BigInt64Array.from({ length: count }, (_, i) => BigInt(from + i));
  const names = Array.from({ length: count }, (_, i) => (i % 7 === 0 ? null : `name-${from + i}`));
  return new RecordBatch({ id: makeData({ type: new Int64(), data: ids }), name: vectorFromArray(names, new Utf8()).data[0]! });
}

/**
 * The direct commit of the postgres sink (connectors/postgres/sink.ts): a writer COPYs into the target inside
 * a transaction it commits once the checkpoint is saved, and seals a spill that the committer replays when that
 * transaction rolled back instead. Each test drives a writer and a committer by hand, as the engine would.
 */
describe.skipIf(!pgAvailable)('postgres sink: direct commit', () => {
  const db = usePgSchema();
  const dirs: { remove(): void }[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove();
  });

  async function setup(label: string, options: Record<string, unknown> = {}) {
    const target = db.table(label);
    await db.query(`CREATE TABLE ${target} (id bigint PRIMARY KEY, name text)`);
    const local = tempDir('tideway-pg-direct-');
    dirs.push(local);
    const localDir = join(local.path, 'sink');
    const jobName = `pg-direct-${target}`;
    const replays: string[] = [];
    const logger: Logger = { ...silentLogger, info: (message: string) => void replays.push(message) };
    const sink = new PostgresSink(sinkOptionsSchema.parse({ url: db.url, table: target, ...options }), { jobName, mode: 'batch', parallelism: 1, logger, baseDir: process.cwd() });
    await sink.prepare();
    const context: SinkContext = { jobName, attemptId: `a${label}`, sinkName: 'sink[0]', parallelism: 1, logger, signal: new AbortController().signal, prepared: undefined, restoredCheckpointId: null, localDir };
    const writer = (await sink.createWriter({ ...context, writerIndex: 0, schema }, undefined)) as SinkWriter<PostgresCommitInfo, PostgresWriterState>;
    const committer = (await sink.createCommitter(context)) as SinkCommitter<PostgresCommitInfo, PostgresWriterState>;
    const count = async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${target}`))[0]!.n);
    const distinct = async () => Number((await db.query<{ n: string }>(`SELECT count(DISTINCT id) AS n FROM ${target}`))[0]!.n);
    const spills = () => (existsSync(localDir) ? readdirSync(localDir) : []);
    const commit = async (infos: PostgresCommitInfo[], checkpointId: number) =>
      committer.commit(infos, { checkpointId, endOfInput: false, writerStates: [await writer.snapshotState(checkpointId)] });
    return { target, sink, writer, committer, count, distinct, spills, commit, replays, localDir, jobName, context };
  }

  it('rows stay invisible until the save; the writer then commits them and the committer finds them done', async () => {
    const t = await setup('saved');
    try {
      await t.writer.write(batch(0, 2500));
      const infos = await t.writer.prepareCommit(1);
      expect(infos).toHaveLength(1);
      expect(isDirect(infos[0]!)).toBe(true);
      // Sealed before prepareCommit returned: the spill holds the rows (binary COPY of two columns).
      expect(t.spills()).toHaveLength(1);
      expect(readFileSync((infos[0] as { spill: string }).spill).subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
      expect(await t.count()).toBe(0);
      // No staging table: the rows went to the target itself.
      expect(await db.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relname LIKE 'tws\\_%'`, [db.schema])).toEqual([]);
      await t.writer.checkpointSaved!(1);
      expect(await t.count()).toBe(2500);
      await t.commit(infos, 1);
      expect(await t.count()).toBe(2500);
      expect(t.replays).toEqual([]);
      expect(t.spills()).toEqual([]);
      // The next checkpoint reuses the spare connection and lands the same way.
      await t.writer.write(batch(2500, 100));
      const next = await t.writer.prepareCommit(2);
      await t.writer.checkpointSaved!(2);
      await t.commit(next, 2);
      expect(await t.distinct()).toBe(2600);
    } finally {
      await t.writer.close();
      await t.committer.close();
    }
  });

  it('a writer gone after prepare (its transaction rolled back): the committer replays the spill, once', async () => {
    const t = await setup('lost');
    try {
      await t.writer.write(batch(0, 3000));
      const infos = await t.writer.prepareCommit(1);
      // As a dead process: the connection closes without a commit, and the server rolls the transaction back.
      await t.writer.close();
      expect(await t.count()).toBe(0);
      await t.commit(infos, 1);
      expect(await t.count()).toBe(3000);
      expect(await t.distinct()).toBe(3000);
      expect(t.replays).toEqual(['replayed a spill whose writer had not committed']);
      expect(t.spills()).toEqual([]);
      // A recommit (a crash after the commit, before the checkpoint was known committed) changes nothing.
      await t.commit(infos, 1);
      expect(await t.count()).toBe(3000);
      expect(t.replays).toHaveLength(1);
    } finally {
      await t.committer.close();
    }
  });

  it('a commit that starts while the writer still holds its transaction waits for it, whichever way it ends (seeded)', async () => {
    const seed = Number(process.env.TIDEWAY_SEED ?? 4711);
    console.log(`direct commit race seed ${seed}`);
    const random = seededRandom(seed);
    for (let round = 0; round < 6; round++) {
      const t = await setup(`race${round}`);
      const commitsItself = random() < 0.5;
      const delay = Math.floor(random() * 150);
      try {
        await t.writer.write(batch(0, 1000));
        const infos = await t.writer.prepareCommit(1);
        const committing = t.commit(infos, 1);
        await new Promise((r) => setTimeout(r, delay));
        // The committer is blocked on the writer's log row: nothing is visible yet either way.
        expect(await t.count(), `seed ${seed} round ${round}`).toBe(0);
        if (commitsItself) await t.writer.checkpointSaved!(1);
        else await t.writer.close();
        await committing;
        expect({ rows: await t.count(), distinct: await t.distinct(), replayed: t.replays.length }, `seed ${seed} round ${round}`).toEqual({
          rows: 1000,
          distinct: 1000,
          replayed: commitsItself ? 0 : 1,
        });
      } finally {
        await t.writer.close();
        await t.committer.close();
      }
    }
  });

  it('a checkpoint prepared while the one before still waits for its save rolls that one back; both land once', async () => {
    const t = await setup('overtaken');
    try {
      await t.writer.write(batch(0, 500));
      const first = await t.writer.prepareCommit(1);
      await t.writer.write(batch(500, 500));
      const second = await t.writer.prepareCommit(2);
      // The word for checkpoint 2 covers only the transaction still held (2); 1 was rolled back.
      await t.writer.checkpointSaved!(2);
      expect(await t.count()).toBe(500);
      await t.commit([...first, ...second], 2);
      expect(await t.distinct()).toBe(1000);
      expect(t.replays).toHaveLength(1);
    } finally {
      await t.writer.close();
      await t.committer.close();
    }
  });

  it('no word of the save in time: the writer rolls back and the committer replays', async () => {
    const saved = directTimings.holdMs;
    directTimings.holdMs = 100;
    const t = await setup('unheard');
    try {
      await t.writer.write(batch(0, 700));
      const infos = await t.writer.prepareCommit(1);
      await t.commit(infos, 1);
      expect(await t.distinct()).toBe(700);
      expect(t.replays).toHaveLength(1);
      // A late word changes nothing.
      await t.writer.checkpointSaved!(1);
      expect(await t.count()).toBe(700);
    } finally {
      directTimings.holdMs = saved;
      await t.writer.close();
      await t.committer.close();
    }
  });

  it('a spill removed by hand while its rows are uncommitted fails the commit by name and applies nothing', async () => {
    const t = await setup('spill_lost');
    try {
      await t.writer.write(batch(0, 10));
      const infos = await t.writer.prepareCommit(1);
      await t.writer.close();
      rmSync((infos[0] as { spill: string }).spill);
      await expect(t.commit(infos, 1)).rejects.toMatchObject({ code: 'POSTGRES_SPILL_LOST' });
      expect(await t.count()).toBe(0);
      const log = await db.query(`SELECT item FROM ${db.schema}.tideway_commit_log WHERE job = $1 AND item = $2`, [t.jobName, infos[0]!.staging]);
      expect(log).toEqual([]);
    } finally {
      await t.committer.close();
    }
  });

  it('orphan sweep: spills no checkpoint owns are removed, the restored checkpoint keeps its own', async () => {
    const t = await setup('orphans');
    try {
      await t.writer.write(batch(0, 10));
      const kept = await t.writer.prepareCommit(1);
      await t.writer.write(batch(10, 10));
      await t.writer.prepareCommit(2);
      await t.writer.write(batch(20, 10));
      await t.writer.close();
      expect(t.spills()).toHaveLength(2);
      const dry = await t.committer.removeOrphans({ keep: kept, dryRun: true });
      expect(dry.removed).toHaveLength(1);
      expect(t.spills()).toHaveLength(2);
      await t.committer.removeOrphans({ keep: kept, dryRun: false });
      expect(t.spills()).toEqual([`${kept[0]!.staging}.copy`]);
      await t.commit(kept, 1);
      expect(await t.distinct()).toBe(10);
    } finally {
      await t.committer.close();
    }
  });

  it('staging stays in use where the direct commit does not apply (truncate, commit_method: staging, no local directory)', async () => {
    for (const options of [{ data_save_mode: 'truncate' }, { commit_method: 'staging' }]) {
      const t = await setup('staged', options);
      try {
        await t.writer.write(batch(0, 10));
        const infos = await t.writer.prepareCommit(1);
        expect(isDirect(infos[0]!)).toBe(false);
        expect(t.spills()).toEqual([]);
      } finally {
        await t.writer.close();
        await t.committer.close();
      }
    }
    const t = await setup('no_local');
    const { localDir: _, ...context } = t.context;
    const writer = await t.sink.createWriter({ ...context, writerIndex: 1, schema }, undefined);
    try {
      await writer.write(batch(0, 10));
      expect(isDirect((await writer.prepareCommit(1))[0]!)).toBe(false);
    } finally {
      await writer.close();
      await t.writer.close();
      await t.committer.close();
    }
  });

  it('a job run commits directly: its checkpoint names spills beside it, and none is left when it ends', async () => {
    const target = db.table('job');
    const checkpoints = tempDir('tideway-pg-direct-job-');
    dirs.push(checkpoints);
    const name = 'pg-direct-job';
    const stages = { source: [{ type: 'fake', rows: 4000, splits: 4, chunk_rows: 100, rows_per_second: 4000 }], sink: [{ type: 'postgres', url: db.url, table: target }] };
    const stop = new AbortController();
    const first = runPgJob(stages, { name, parallelism: 2, checkpoints: checkpoints.path, interval: '200ms', signal: stop.signal });
    const jobDir = join(checkpoints.path, name);
    let sawSpill = false;
    for (let i = 0; i < 200 && !sawSpill; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const files = existsSync(jobDir) ? readdirSync(jobDir).filter((f) => f.startsWith('chk-')) : [];
      sawSpill = files.some((f) => readFileSync(join(jobDir, f), 'utf8').includes('"spill"'));
    }
    stop.abort();
    expect((await first).status).toBe('cancelled');
    expect(sawSpill).toBe(true);
    const second = await runPgJob(stages, { name, parallelism: 2, checkpoints: checkpoints.path, interval: '200ms' });
    expect(second.error).toBeNull();
    const [row] = await db.query<{ n: string; d: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM ${target}`);
    expect({ n: Number(row!.n), d: Number(row!.d) }).toEqual({ n: 4000, d: 4000 });
    const spillDir = join(jobDir, 'sinks', encodeURIComponent('postgres'));
    expect(existsSync(spillDir) ? readdirSync(spillDir) : []).toEqual([]);
  });

  it('tideway clean removes a spill no checkpoint owns, from the directory the runs use', async () => {
    const checkpoints = tempDir('tideway-pg-direct-clean-');
    dirs.push(checkpoints);
    const name = 'pg-direct-clean';
    const target = db.table('clean');
    const config = {
      env: { name, checkpoint: { dir: checkpoints.path } },
      source: [{ type: 'fake', rows: 10 }],
      sink: [{ type: 'postgres', url: db.url, table: target }],
    } as JobConfig;
    const spillDir = join(checkpoints.path, name, 'sinks', 'postgres');
    mkdirSync(spillDir, { recursive: true });
    const orphan = `${stagingPrefix(name, 'postgres')}dead_0_0.copy`;
    writeFileSync(join(spillDir, orphan), 'PGCOPY');
    writeFileSync(join(spillDir, 'not-ours.txt'), 'x');
    const report = await cleanJob(config, { registry: new ConnectorRegistry(builtinConnectors), logger: silentLogger });
    expect(report.sinks[0]!.removed).toEqual([join(spillDir, orphan)]);
    expect(readdirSync(spillDir)).toEqual(['not-ours.txt']);
  });

  it.each(['auto', 'staging'])('two postgres sinks of one job in one schema keep their staging, spills and log rows apart (commit_method %s), across a stop and a resume', async (method) => {
    const checkpoints = tempDir('tideway-pg-two-sinks-');
    dirs.push(checkpoints);
    const name = `pg-two-sinks-${method}`;
    const [a, b] = [db.table('two_a'), db.table('two_b')];
    const stages = {
      source: [{ type: 'fake', rows: 3000, splits: 4, chunk_rows: 100, rows_per_second: 6000 }],
      sink: [
        { type: 'postgres', name: 'left', url: db.url, table: a, commit_method: method },
        { type: 'postgres', name: 'right', url: db.url, table: b, commit_method: method },
      ],
    };
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 250);
    const first = await runPgJob(stages, { name, parallelism: 2, checkpoints: checkpoints.path, interval: '60ms', signal: stop.signal });
    expect(first.error).toBeNull();
    const second = await runPgJob(stages, { name, parallelism: 2, checkpoints: checkpoints.path, interval: '60ms' });
    expect(second.error).toBeNull();
    for (const table of [a, b]) {
      const [row] = await db.query<{ n: string; d: string }>(`SELECT count(*) AS n, count(DISTINCT id) AS d FROM ${table}`);
      expect({ table, n: Number(row!.n), d: Number(row!.d) }).toEqual({ table, n: 3000, d: 3000 });
    }
  });
});
