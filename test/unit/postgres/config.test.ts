import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../e2e/support/build.js';
import { runCli } from '../../e2e/support/cli.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { pgAvailable, usePgSchema } from './helpers.js';

const CONFIG = join(process.cwd(), 'configs/postgres-to-postgres.yaml');

/** configs/postgres-to-postgres.yaml against the local server, through the built CLI. */
describe.skipIf(!pgAvailable)('configs/postgres-to-postgres.yaml', () => {
  beforeAll(ensureBuilt, 240_000);
  const db = usePgSchema();
  const workdir = useTempDirs('tideway-pg-config-');

  it('passes check --connect, runs, and fails check --connect naming a missing source table', async () => {
    const source = db.table('demo');
    const target = db.table('demo_copy');
    await db.query(`CREATE TABLE ${source} (id int PRIMARY KEY, name text)`);
    await db.query(`INSERT INTO ${source} SELECT g, 'n' || g FROM generate_series(1, 1000) g`);
    const cwd = workdir();
    const env = { PG_URL: db.url, PG_SOURCE_TABLE: source, PG_TARGET_TABLE: target };
    const check = await runCli(['check', CONFIG, '--connect'], { cwd, env, timeoutMs: 60_000 });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/ok +source\[0\] postgres/);
    expect(check.stdout).toMatch(/ok +sink\[0\] postgres/);
    // check --connect creates nothing.
    expect(await db.query(`SELECT 1 FROM pg_class WHERE oid = to_regclass($1)`, [target])).toEqual([]);

    const run = await runCli(['run', CONFIG], { cwd, env, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    const [row] = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${target}`);
    expect(Number(row!.n)).toBe(1000);

    const missing = await runCli(['check', CONFIG, '--connect'], { cwd, env: { ...env, PG_SOURCE_TABLE: `${db.schema}.nope` }, timeoutMs: 60_000 });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/FAILED +source\[0\] postgres.*nope does not exist/);
  });
});
