import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinConnectors } from '../../src/index.js';
import { fakeSource, fileSinkOutput, type KitContext, kitSeeds, type KitSubject, runFailureAndResume } from '../../src/testing/connector-kit.js';
import { requireService } from '../helpers/services.js';

const PG_HOST = process.env.PGHOST ?? '127.0.0.1';
const PG_PORT = Number(process.env.PGPORT ?? 5432);
const PG_URL = process.env.PG_URL ?? `postgres://postgres@${PG_HOST}:${PG_PORT}/test`;
const pgUp = await requireService('PostgreSQL', PG_HOST, PG_PORT);

/** A schema of its own for each seed, so that what one seed leaves behind is never counted for another. */
function schemaOf(context: KitContext): string {
  return `tw_kit_${context.unique}_${randomBytes(2).toString('hex')}`.toLowerCase();
}

/**
 * The ids a source table holds: dense at the start, then sparse (every 37th), so that the splits planned
 * from the key range are skewed.
 */
function sourceIds(rows: number): number[] {
  const dense = Math.floor(rows / 2);
  return Array.from({ length: rows }, (_, i) => (i < dense ? i : dense + (i - dense) * 37));
}

/**
 * The connector kit's failure-and-resume suite over the postgres connector, on the local server: the source
 * (a table with an integer key per seed, read in key-range splits into the file sink) and the exactly-once
 * sink (fake rows into a table, committed directly or through staging by seed; its leftovers are the job's
 * `tws_` staging tables and spill files). Each seed works in a
 * schema of its own, dropped afterwards.
 * Replay a seed: TIDEWAY_SEED=<seed> npx vitest run test/failure/postgres.test.ts
 */
describe.skipIf(!pgUp)('connector kit: postgres', () => {
  let client: pg.Client;
  const schemas = new Map<number, string>();
  beforeAll(async () => {
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });
  const query = async (sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as Record<string, unknown>[];

  const createSchema = async (context: KitContext): Promise<string> => {
    const schema = schemaOf(context);
    schemas.set(context.seed, schema);
    await query(`CREATE SCHEMA ${schema}`);
    return schema;
  };
  const teardown = async (context: KitContext): Promise<void> => {
    const schema = schemas.get(context.seed);
    if (schema) await query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    schemas.delete(context.seed);
  };

  const source: KitSubject = {
    name: 'postgres source -> file',
    connectors: builtinConnectors,
    maxParallelism: 4,
    async setup(context) {
      const schema = await createSchema(context);
      const table = `${schema}.src`;
      const ids = sourceIds(context.rows);
      await query(`CREATE TABLE ${table} (id ${context.seed % 2 === 0 ? 'bigint' : 'integer'} PRIMARY KEY, name text, amount double precision)`);
      await query(`INSERT INTO ${table} SELECT id, 'n' || id, id * 0.5 FROM unnest($1::bigint[]) AS id`, [ids]);
      const cut = context.seed % 3 === 0 ? { partition_num: context.splits } : { split_size: Math.max(1, Math.ceil(context.rows / context.splits)) };
      return {
        source: [{ type: 'postgres', url: PG_URL, table, ...cut, chunk_rows: context.chunkRows }],
        expectedIds: ids,
        ...fileSinkOutput(join(context.workDir, 'out')),
      };
    },
    teardown,
  };

  const sink: KitSubject = {
    name: 'fake -> postgres sink',
    connectors: builtinConnectors,
    maxParallelism: 4,
    async setup(context) {
      const schema = await createSchema(context);
      const table = `${schema}.dst`;
      return {
        ...fakeSource(context),
        // Odd seeds commit directly (writers' own transactions, spills replayed), even seeds through staging tables.
        sink: [{ type: 'postgres', url: PG_URL, table, batch_rows: 64 + Math.floor(context.random() * 512), commit_method: context.seed % 2 === 1 ? 'auto' : 'staging' }],
        committedIds: async () => {
          const exists = await query(`SELECT to_regclass($1) AS t`, [table]);
          if (exists[0]?.t === null) return [];
          return (await query(`SELECT id FROM ${table}`)).map((r) => Number(r.id));
        },
        leftovers: async () => [
          ...(await query(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'tws\\_%'`, [schema])).map((r) => `${schema}.${String(r.table_name)}`),
          // The direct commit's spills, beside the checkpoints.
          ...(existsSync(join(context.workDir, 'checkpoints'))
            ? readdirSync(join(context.workDir, 'checkpoints'), { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.copy'))
            : []),
        ],
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
