import { join } from 'node:path';
import mysql, { type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../src/index.js';
import { fakeSource, fileSinkOutput, type KitContext, kitSeeds, type KitSubject, runFailureAndResume } from '../../src/testing/connector-kit.js';
import { requireService } from '../helpers/services.js';

const HOST = process.env.MYSQL_HOST ?? '127.0.0.1';
const PORT = Number(process.env.MYSQL_PORT ?? 3306);
const USER = process.env.MYSQL_USER ?? 'root';
const PASSWORD = process.env.MYSQL_PASSWORD ?? '';
const mysqlUp = await requireService('MariaDB', HOST, PORT);

/** The ids a source table holds: dense at the start, then sparse (every 37th), so that the key range is skewed. */
function sourceIds(rows: number): number[] {
  const dense = Math.floor(rows / 2);
  return Array.from({ length: rows }, (_, i) => (i < dense ? i : dense + (i - dense) * 37));
}

/**
 * The connector kit's failure-and-resume suite over the mysql connector, on the local MariaDB: the source (a
 * table with an integer key per seed, read in keyset splits into the file sink) and the exactly-once sink
 * (fake rows into a table; its leftovers are the job's `_tws_` staging tables and its run record). Each seed
 * works in a database of its own, dropped afterwards.
 * Replay a seed: TIDEWAY_SEED=<seed> npx vitest run test/failure/mysql.test.ts
 */
describe.skipIf(!mysqlUp)('connector kit: mysql', () => {
  let connection: Connection;
  beforeAll(async () => {
    connection = await mysql.createConnection({ host: HOST, port: PORT, user: USER, password: PASSWORD, supportBigNumbers: true, bigNumberStrings: true });
  });
  afterAll(async () => {
    await connection?.end();
  });
  const sql = async (text: string, values: unknown[] = []) => (await connection.query({ sql: text, values, rowsAsArray: true }))[0] as unknown[][];
  const databaseOf = (context: KitContext) => `tw_kit_${context.unique}`.toLowerCase();
  const stage = (context: KitContext, table: string) => ({ type: 'mysql', host: HOST, port: PORT, user: USER, ...(PASSWORD ? { password: PASSWORD } : {}), database: databaseOf(context), table });
  const teardown = async (context: KitContext) => {
    await sql(`DROP DATABASE IF EXISTS \`${databaseOf(context)}\``);
  };

  const source: KitSubject = {
    name: 'mysql source -> file',
    connectors: builtinConnectors,
    maxParallelism: 4,
    async setup(context) {
      const db = databaseOf(context);
      await sql(`CREATE DATABASE \`${db}\``);
      const ids = sourceIds(context.rows);
      await sql(`CREATE TABLE \`${db}\`.src (id ${context.seed % 2 === 0 ? 'BIGINT' : 'INT'} PRIMARY KEY, name VARCHAR(40), amount DOUBLE)`);
      for (let at = 0; at < ids.length; at += 1000) {
        const slice = ids.slice(at, at + 1000);
        await sql(`INSERT INTO \`${db}\`.src (id, name, amount) VALUES ${slice.map(() => '(?, ?, ?)').join(', ')}`, slice.flatMap((id) => [id, `n${id}`, id * 0.5]));
      }
      const cut = context.seed % 3 === 0 ? { partition_num: context.splits } : { split_size: Math.max(1, Math.ceil(context.rows / context.splits)) };
      return {
        source: [{ ...stage(context, 'src'), ...cut, fetch_size: context.chunkRows }],
        expectedIds: ids,
        ...fileSinkOutput(join(context.workDir, 'out')),
      };
    },
    teardown,
  };

  const sink: KitSubject = {
    name: 'fake -> mysql sink',
    connectors: builtinConnectors,
    maxParallelism: 4,
    async setup(context) {
      const db = databaseOf(context);
      await sql(`CREATE DATABASE \`${db}\``);
      const tableExists = async (name: string) => (await sql('SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [db, name])).length > 0;
      return {
        ...fakeSource(context),
        sink: [{ ...stage(context, 'dst'), batch_size: 50 + Math.floor(context.random() * 500), commit_size: 100 + Math.floor(context.random() * 1000) }],
        committedIds: async () => ((await tableExists('dst')) ? (await sql(`SELECT id FROM \`${db}\`.dst`)).map((r) => Number(r[0])) : []),
        leftovers: async () => {
          const staging = (await sql(`SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE '\\_tws\\_%'`, [db])).map((r) => `${db}.${String(r[0])}`);
          const runs = (await tableExists('_tideway_sink_runs')) ? (await sql(`SELECT job, state FROM \`${db}\`._tideway_sink_runs`)).map((r) => `run record of ${String(r[0])} (${String(r[1])})`) : [];
          return [...staging, ...runs];
        },
      };
    },
    teardown,
  };

  describe('source', () => {
    it.each(kitSeeds(12))('seed %i', async (seed) => {
      const report = await runFailureAndResume(source, seed);
      if (report.problem) console.error(`failing seed ${seed}:\n${report.describe()}`);
      expect(report.problem, report.describe()).toBeUndefined();
      expect(report.runs.length).toBeGreaterThanOrEqual(4);
    });
  });

  describe('sink', () => {
    it.each(kitSeeds(12))('seed %i', async (seed) => {
      const report = await runFailureAndResume(sink, seed);
      if (report.problem) console.error(`failing seed ${seed}:\n${report.describe()}`);
      expect(report.problem, report.describe()).toBeUndefined();
      expect(report.runs.length).toBeGreaterThanOrEqual(4);
    });
  });
});
