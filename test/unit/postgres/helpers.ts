import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { type JobConfig, type JobResult, runJob } from '../../../src/index.js';
import { requireService } from '../../helpers/services.js';
import { tempDir } from '../../helpers/jobs.js';

export const PG_HOST = process.env.PGHOST ?? '127.0.0.1';
export const PG_PORT = Number(process.env.PGPORT ?? 5432);
export const PG_URL = process.env.PG_URL ?? `postgres://postgres@${PG_HOST}:${PG_PORT}/test`;

/** True when PostgreSQL answers (under CI=true a missing server fails the file instead). */
export const pgAvailable = await requireService('PostgreSQL', PG_HOST, PG_PORT);

export interface PgTestBed {
  /** A schema of its own for this test file, dropped afterwards. */
  readonly schema: string;
  readonly url: string;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** A fresh table name inside the schema: `schema.prefix_random`. */
  table(prefix: string): string;
}

/** One schema per test file on the local server, created before and dropped (with everything in it) after. */
export function usePgSchema(): PgTestBed {
  const schema = `tw_test_${randomBytes(4).toString('hex')}`;
  let client: pg.Client | undefined;
  beforeAll(async () => {
    if (!pgAvailable) return;
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`CREATE SCHEMA ${schema}`);
  });
  afterAll(async () => {
    if (!client) return;
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  });
  return {
    schema,
    url: PG_URL,
    async query(sql, params) {
      return (await client!.query(sql, params)).rows;
    },
    table(prefix) {
      return `${schema}.${prefix}_${randomBytes(3).toString('hex')}`;
    },
  };
}

/** Runs a job in-process with a temporary checkpoint directory (or the one given). */
export async function runPgJob(
  stages: Pick<JobConfig, 'source' | 'sink'> & { transform?: JobConfig['transform'] },
  options: { name?: string; parallelism?: number; checkpoints?: string; interval?: string; signal?: AbortSignal } = {},
): Promise<JobResult> {
  const dir = options.checkpoints ? undefined : tempDir('tideway-pg-ckpt-');
  try {
    return await runJob(
      {
        env: {
          name: options.name ?? `pg-${randomBytes(3).toString('hex')}`,
          parallelism: options.parallelism ?? 1,
          transport: 'in-process',
          checkpoint: { interval: options.interval ?? '10s', dir: options.checkpoints ?? dir!.path },
        },
        ...stages,
      } as JobConfig,
      { logger: silentLogger, ...(options.signal ? { signal: options.signal } : {}) },
    );
  } finally {
    dir?.remove();
  }
}
