/**
 * `npm run bench -- databases`: PostgreSQL -> PostgreSQL through Tideway (parallelism 1 and 2, exactly-once
 * and plain append) against the physical limit `psql -c "COPY t TO STDOUT" | psql -c "COPY t2 FROM STDIN"`,
 * and MariaDB -> PostgreSQL through Tideway against pgloader, all on the same 10-column table in one run.
 * TIDEWAY_BENCH_DB_ROWS sets the rows (default 1,000,000; the issue's figure is 5,000,000).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { silentLogger } from '../src/api/logger.js';
import { runJob } from '../src/index.js';

const ROWS = Number(process.env.TIDEWAY_BENCH_DB_ROWS ?? 1_000_000);
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = 'tw_bench_db';
const MYSQL_DB = 'tw_bench_db';
const REGISTRY = new URL('../connectors/index.ts', import.meta.url).href;

const COLUMNS = `id bigint PRIMARY KEY, name text, category varchar(16), amount numeric(12,2), price double precision,
  quantity integer, active boolean, created_at timestamp, day date, note text`;
const GENERATE = (table: string) => `INSERT INTO ${table} SELECT g, 'name-' || g, 'cat-' || (g % 17), (g % 100000) / 100.0, g * 0.37, g % 1000,
  g % 3 = 0, TIMESTAMP '2024-01-01' + g * INTERVAL '1 second', DATE '2024-01-01' + (g % 365), CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END
  FROM generate_series(1, ${ROWS}) g`;

const line = (name: string, value: string, ratio?: string) => process.stdout.write(`${name.padEnd(62)} ${value.padStart(18)}${ratio ? `  ${ratio}` : ''}\n`);
const rate = (seconds: number) => `${Math.round(ROWS / seconds).toLocaleString('en-US')} rows/s`;

async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function count(table: string): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
  } finally {
    await client.end();
  }
}

async function tideway(source: Record<string, unknown>, target: string, parallelism: number, exactlyOnce: boolean): Promise<number> {
  await sql(`DROP TABLE IF EXISTS ${target}; CREATE TABLE ${target} (${COLUMNS})`);
  const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-db-'));
  const started = performance.now();
  try {
    const result = await runJob(
      {
        env: { name: `bench-db-${parallelism}-${exactlyOnce}`, parallelism, checkpoint: { interval: '60s', dir } },
        source: [source],
        sink: [{ type: 'postgres', url: PG_URL, table: target, exactly_once: exactlyOnce }],
      } as never,
      { logger: silentLogger, registryModule: REGISTRY },
    );
    if (result.status !== 'finished') throw new Error(`job ${result.status}: ${result.error?.message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - started) / 1000;
  const n = await count(target);
  if (n !== ROWS) throw new Error(`${target} holds ${n} rows, expected ${ROWS}`);
  return seconds;
}

function timed(command: string, env: Record<string, string> = {}): number {
  const started = performance.now();
  const result = spawnSync('bash', ['-o', 'pipefail', '-c', command], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr.toString().slice(0, 500)}`);
  return (performance.now() - started) / 1000;
}

process.stdout.write(`databases: ${ROWS.toLocaleString('en-US')} rows x 10 columns (TIDEWAY_BENCH_DB_ROWS to change)\n`);
await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}; CREATE TABLE ${SCHEMA}.t (${COLUMNS}); ${GENERATE(`${SCHEMA}.t`)}`);
await sql(`VACUUM ANALYZE ${SCHEMA}.t`);
try {
  await sql(`CREATE TABLE ${SCHEMA}.t2 (${COLUMNS})`);
  const psql = `psql "${PG_URL}" -q`;
  const limit = timed(`${psql} -c "COPY ${SCHEMA}.t TO STDOUT" | ${psql} -c "COPY ${SCHEMA}.t2 FROM STDIN"`);
  line('limit: psql COPY TO STDOUT | psql COPY FROM STDIN', rate(limit));
  const pgSource = { type: 'postgres', url: PG_URL, table: `${SCHEMA}.t` };
  const results: Record<string, number> = {};
  for (const [label, parallelism, exactlyOnce] of [
    ['exactly-once, parallelism 1', 1, true],
    ['exactly-once, parallelism 2', 2, true],
    ['plain append, parallelism 1', 1, false],
    ['plain append, parallelism 2', 2, false],
  ] as const) {
    const seconds = await tideway(pgSource, `${SCHEMA}.t3`, parallelism, exactlyOnce);
    results[label] = seconds;
    line(`tideway postgres -> postgres, ${label}`, rate(seconds), `ratio ${(limit / seconds).toFixed(2)} of the COPY pipe${exactlyOnce ? ' (goal >= 0.6)' : ''}`);
  }
  for (const p of [1, 2]) {
    const cost = results[`exactly-once, parallelism ${p}`]! / results[`plain append, parallelism ${p}`]!;
    line(`cost of exactly-once vs plain append, parallelism ${p}`, `${cost.toFixed(2)}x time`);
  }
  await mysqlToPostgres();
} finally {
  await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
}

/** MariaDB -> PostgreSQL: pgloader against Tideway's mysql source, when the mysql connector and server exist. */
async function mysqlToPostgres(): Promise<void> {
  const { connectors } = await import('../connectors/index.js');
  if (!connectors.some((c) => c.name === 'mysql' && c.source)) {
    line('mysql -> postgres', '(not measured: no mysql source connector yet)');
    return;
  }
  const mysql = (statement: string) => timed(`mysql -h 127.0.0.1 -u root mysql -e "${statement.replace(/"/g, '\\"')}"`);
  try {
    mysql(`DROP DATABASE IF EXISTS ${MYSQL_DB}; CREATE DATABASE ${MYSQL_DB}`);
  } catch (error) {
    line('mysql -> postgres', `(not measured: ${(error as Error).message.slice(0, 80)})`);
    return;
  }
  try {
    mysql(
      `CREATE TABLE ${MYSQL_DB}.t (id bigint PRIMARY KEY, name text, category varchar(16), amount decimal(12,2), price double, quantity int, active boolean, created_at datetime(6), day date, note text);` +
        `INSERT INTO ${MYSQL_DB}.t SELECT seq, CONCAT('name-', seq), CONCAT('cat-', seq % 17), (seq % 100000) / 100.0, seq * 0.37, seq % 1000, seq % 3 = 0, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND, DATE '2024-01-01' + INTERVAL (seq % 365) DAY, IF(seq % 10 = 0, NULL, MD5(seq)) FROM seq_1_to_${ROWS}`,
    );
    await sql(`DROP SCHEMA IF EXISTS ${MYSQL_DB} CASCADE`);
    const loader = timed(`pgloader --quiet "mysql://root@127.0.0.1/${MYSQL_DB}" "${PG_URL}"`);
    line('peer: pgloader mariadb -> postgres', rate(loader));
    const source = { type: 'mysql', host: '127.0.0.1', user: 'root', database: MYSQL_DB, table: 't' };
    for (const parallelism of [1, 2]) {
      const seconds = await tideway(source, `${SCHEMA}.t4`, parallelism, true);
      line(`tideway mariadb -> postgres, exactly-once, parallelism ${parallelism}`, rate(seconds), `ratio ${(loader / seconds).toFixed(2)}x pgloader (goal >= 3)`);
    }
  } catch (error) {
    line('mysql -> postgres', `(failed: ${(error as Error).message.slice(0, 200)})`);
  } finally {
    await sql(`DROP SCHEMA IF EXISTS ${MYSQL_DB} CASCADE`).catch(() => undefined);
    try {
      mysql(`DROP DATABASE IF EXISTS ${MYSQL_DB}`);
    } catch {
      // Best effort.
    }
  }
}
