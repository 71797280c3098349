import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { parse } from 'yaml';
import { requireService } from '../helpers/services.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

const CONFIGS = join(ROOT, 'configs');

/**
 * Examples that read a database table need one: each gets its own randomly named tables through the
 * variables the example documents, created here as its header comment says and dropped after.
 */
const setups: Record<string, () => Promise<{ args: string[]; cleanup(): Promise<void> }>> = {
  'postgres-to-postgres.yaml': async () => {
    if (!(await requireService('PostgreSQL', '127.0.0.1', 5432))) throw new Error('PostgreSQL is needed by this example');
    const suffix = Math.random().toString(36).slice(2, 10);
    const [source, target] = [`public.tideway_demo_${suffix}`, `public.tideway_demo_copy_${suffix}`];
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
    await client.connect();
    await client.query(`CREATE TABLE ${source} AS SELECT g AS id, md5(g::text) AS name, now() AS created_at FROM generate_series(1, 10000) g; ALTER TABLE ${source} ADD PRIMARY KEY (id)`);
    return {
      args: ['--var', `PG_SOURCE_TABLE=${source}`, '--var', `PG_TARGET_TABLE=${target}`],
      async cleanup() {
        await client.query(`DROP TABLE IF EXISTS ${source}, ${target}`);
        await client.end();
      },
    };
  },
  'mysql.yaml': async () => {
    if (!(await requireService('MariaDB', '127.0.0.1', 3306))) throw new Error('MariaDB is needed by this example');
    const table = `tideway_orders_${Math.random().toString(36).slice(2, 10)}`;
    return {
      args: ['--var', `MYSQL_TABLE=${table}`],
      async cleanup() {
        const connection = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', database: 'test' });
        await connection.query(`DROP TABLE IF EXISTS \`${table}\``);
        await connection.end();
      },
    };
  },
};
const files = readdirSync(CONFIGS).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));

describe('configs/', () => {
  it('holds the quickstart and other examples', () => {
    expect(files).toContain('quickstart.yaml');
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('%s passes tideway check', async (file) => {
    const run = await runCli(['check', join(CONFIGS, file)], { cwd: ROOT, env: {} });
    expect(run.code, run.stderr).toBe(0);
    const name = (parse(readFileSync(join(CONFIGS, file), 'utf8')) as { env: { name: string } }).env.name;
    expect(run.stdout).toMatch(new RegExp(`^job ${name}$`, 'm'));
    expect(run.stdout).toMatch(/^dag$/m);
  });

  it.each(files.filter((f) => f !== 'quickstart.yaml'))('%s runs as it is', async (file) => {
    const dir = workspace();
    // Examples that read files name them relative to the repository, as a user running them from it would.
    cpSync(join(CONFIGS, 'data'), join(dir, 'configs', 'data'), { recursive: true });
    const setup = await setups[file]?.();
    try {
      const run = await runCli(['run', join(CONFIGS, file), ...(setup?.args ?? [])], { cwd: dir, env: {}, timeoutMs: 90_000 });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/^job \S+ finished in /m);
    } finally {
      await setup?.cleanup();
    }
  });

  it('the quickstart runs as it is and shows the report', async () => {
    const dir = workspace();
    // A smaller row count through its own variable keeps the suite fast; the job is otherwise the file as shipped.
    const run = await runCli(['run', join(CONFIGS, 'quickstart.yaml'), '--var', 'ROWS=5000'], { cwd: dir, env: {}, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^job quickstart finished in /m);
    expect(run.stderr).toMatch(/^ {2}written +5,000 rows, .* to file$/m);
  });
});
