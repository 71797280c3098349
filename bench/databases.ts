/**
 * `npm run bench -- databases`: PostgreSQL -> PostgreSQL through Tideway (parallelism 1 and 2, exactly-once
 * and plain append) against the physical limit `psql -c "COPY t TO STDOUT" | psql -c "COPY t2 FROM STDIN"`;
 * CSV -> PostgreSQL through Tideway (file source -> postgres sink, exactly-once, parallelism 1 and 2) against
 * pgloader (`LOAD CSV`) and the physical limit `psql -c "\copy t FROM 'file.csv' CSV HEADER"`; and MariaDB ->
 * PostgreSQL through Tideway against pgloader; all on the same 10 mixed columns in one run, every target
 * table the same (primary key included), created and dropped by the bench.
 *
 * TIDEWAY_BENCH_DB_ROWS sets the rows of every part (default 1,000,000; the issue's figure is 5,000,000);
 * TIDEWAY_BENCH_CSV_ROWS sets the CSV file's rows alone. TIDEWAY_BENCH_DB_ONLY=postgres,csv,mysql (any of
 * them, comma-separated) runs only those parts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { silentLogger } from '../src/api/logger.js';
import { runJob } from '../src/index.js';

const ROWS = Number(process.env.TIDEWAY_BENCH_DB_ROWS ?? 1_000_000);
const CSV_ROWS = Number(process.env.TIDEWAY_BENCH_CSV_ROWS ?? ROWS);
const ONLY = process.env.TIDEWAY_BENCH_DB_ONLY?.split(',').map((part) => part.trim());
const want = (part: 'postgres' | 'csv' | 'mysql') => !ONLY || ONLY.includes(part);
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = 'tw_bench_db';
const MYSQL_DB = 'tw_bench_db';
const REGISTRY = new URL('../connectors/index.ts', import.meta.url).href;

const COLUMNS = `id bigint PRIMARY KEY, name text, category varchar(16), amount numeric(12,2), price double precision,
  quantity integer, active boolean, created_at timestamp, day date, note text`;
const COLUMN_NAMES = ['id', 'name', 'category', 'amount', 'price', 'quantity', 'active', 'created_at', 'day', 'note'];
const SELECT_ROWS = (rows: number) => `SELECT g AS id, 'name-' || g AS name, 'cat-' || (g % 17) AS category, (g % 100000) / 100.0 AS amount,
  g * 0.37 AS price, g % 1000 AS quantity, g % 3 = 0 AS active, TIMESTAMP '2024-01-01' + g * INTERVAL '1 second' AS created_at,
  DATE '2024-01-01' + (g % 365) AS day, CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END AS note
  FROM generate_series(1, ${rows}) g`;
const GENERATE = (table: string) => `INSERT INTO ${table} ${SELECT_ROWS(ROWS)}`;

const line = (name: string, value: string, ratio?: string) => process.stdout.write(`${name.padEnd(62)} ${value.padStart(18)}${ratio ? `  ${ratio}` : ''}\n`);
const rate = (seconds: number, rows = ROWS) => `${Math.round(rows / seconds).toLocaleString('en-US')} rows/s`;

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

async function tideway(source: Record<string, unknown>, target: string, parallelism: number, exactlyOnce: boolean, rows = ROWS): Promise<number> {
  await sql(`DROP TABLE IF EXISTS ${target}; CREATE TABLE ${target} (${COLUMNS})`);
  const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-db-'));
  const started = performance.now();
  try {
    const result = await runJob(
      {
        env: { name: `bench-db-${String(source.type)}-${parallelism}-${exactlyOnce}`, parallelism, checkpoint: { interval: '60s', dir } },
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
  if (n !== rows) throw new Error(`${target} holds ${n} rows, expected ${rows}`);
  return seconds;
}

function timed(command: string, env: Record<string, string> = {}): number {
  const started = performance.now();
  const result = spawnSync('bash', ['-o', 'pipefail', '-c', command], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr.toString().slice(0, 500)}`);
  return (performance.now() - started) / 1000;
}

process.stdout.write(
  `databases: ${ROWS.toLocaleString('en-US')} rows x 10 columns (TIDEWAY_BENCH_DB_ROWS to change), CSV file ${CSV_ROWS.toLocaleString('en-US')} rows` +
    ` (TIDEWAY_BENCH_CSV_ROWS); ${ONLY ? `parts ${ONLY.join(', ')}` : 'every part'} (TIDEWAY_BENCH_DB_ONLY); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`,
);
await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}`);
try {
  if (want('postgres')) await postgresToPostgres();
  if (want('csv')) await csvToPostgres();
  if (want('mysql')) await mysqlToPostgres();
} finally {
  await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
}
process.stdout.write(`load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);

/** PostgreSQL -> PostgreSQL: Tideway at parallelism 1 and 2, exactly-once and plain append, against the COPY pipe. */
async function postgresToPostgres(): Promise<void> {
  await sql(`CREATE TABLE ${SCHEMA}.t (${COLUMNS}); ${GENERATE(`${SCHEMA}.t`)}`);
  await sql(`VACUUM ANALYZE ${SCHEMA}.t`);
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
  await sql(`DROP TABLE IF EXISTS ${SCHEMA}.t, ${SCHEMA}.t2, ${SCHEMA}.t3`);
}

/**
 * CSV -> PostgreSQL on one file (CSV_ROWS rows of the same 10 columns, with a header, written by psql's
 * `\copy ... TO ... CSV HEADER`): the limit `psql -c "\copy t FROM 'file.csv' CSV HEADER"` (timed before and
 * after the others, to show the load's drift; ratios use their mean), pgloader's `LOAD CSV` into the same
 * table, and Tideway's file source (types inferred from the file, as a user's first job would) into the
 * postgres sink, exactly-once (the default), parallelism 1 and 2, and plain append at parallelism 1 for the
 * cost of exactly-once. Every load goes into a fresh table with the
 * same columns and primary key, and its row count is checked.
 */
async function csvToPostgres(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tideway-bench-csv-pg-'));
  const csvPath = join(dir, 'rows.csv');
  const target = `${SCHEMA}.csv_target`;
  const psql = `psql "${PG_URL}" -q -v ON_ERROR_STOP=1`;
  const fresh = () => sql(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}; DROP TABLE IF EXISTS ${target}; CREATE TABLE ${target} (${COLUMNS})`);
  const check = async (who: string) => {
    const n = await count(target);
    if (n !== CSV_ROWS) throw new Error(`${who} left ${n} rows in ${target}, expected ${CSV_ROWS}`);
  };
  try {
    timed(`${psql} -c "\\copy (${SELECT_ROWS(CSV_ROWS).replace(/\s+/g, ' ')}) TO '${csvPath}' CSV HEADER"`);
    const megabytes = statSync(csvPath).size / 1e6;
    line(`csv file: ${CSV_ROWS.toLocaleString('en-US')} rows x 10 columns, header`, `${megabytes.toFixed(0)} MB`);

    const copy = async (): Promise<number> => {
      await fresh();
      const seconds = timed(`${psql} -c "\\copy ${target} FROM '${csvPath}' CSV HEADER"`);
      await check('\\copy');
      return seconds;
    };
    const before = await copy();
    line(`limit: psql \\copy t FROM 'file.csv' CSV HEADER (first)`, rate(before, CSV_ROWS));

    await fresh();
    const command = join(dir, 'load.pgl');
    writeFileSync(
      command,
      `LOAD CSV FROM '${csvPath}' (${COLUMN_NAMES.map((c) => (c === 'note' ? 'note [null if blanks]' : c)).join(', ')})
  INTO ${PG_URL} TARGET TABLE ${target} (${COLUMN_NAMES.join(', ')})
  WITH skip header = 1, fields terminated by ',', fields optionally enclosed by '"', fields escaped by double-quote;\n`,
    );
    const loader = timed(`pgloader --quiet "${command}"`);
    await check('pgloader');
    line('peer: pgloader LOAD CSV', rate(loader, CSV_ROWS));

    const source = { type: 'file', path: csvPath, format: 'csv', split_size: '32MiB' };
    const tidewaySeconds: number[] = [];
    for (const parallelism of [1, 2]) {
      tidewaySeconds.push(await tideway(source, target, parallelism, true, CSV_ROWS));
    }
    // Not the default: what exactly-once costs over plain append (the spill and the second connection of the
    // direct commit, or with staging, its second write).
    const plain = await tideway(source, target, 1, false, CSV_ROWS);
    const after = await copy();
    line(`limit: psql \\copy t FROM 'file.csv' CSV HEADER (again, last)`, rate(after, CSV_ROWS));
    const limit = (before + after) / 2;
    line('limit: mean of the two', rate(limit, CSV_ROWS));
    tidewaySeconds.forEach((seconds, i) =>
      line(
        `tideway csv -> postgres, exactly-once, parallelism ${i + 1}`,
        rate(seconds, CSV_ROWS),
        `ratio ${(loader / seconds).toFixed(2)}x pgloader (goal > 1), ${(limit / seconds).toFixed(2)} of \\copy (goal >= 0.6)`,
      ),
    );
    line('tideway csv -> postgres, plain append, parallelism 1', rate(plain, CSV_ROWS), `ratio ${(limit / plain).toFixed(2)} of \\copy; exactly-once costs ${(tidewaySeconds[0]! / plain).toFixed(2)}x time`);
  } catch (error) {
    line('csv -> postgres', `(failed: ${(error as Error).message.slice(0, 300)})`);
  } finally {
    await sql(`DROP TABLE IF EXISTS ${target}`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
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
    // The limit of a move by C tools alone: the MariaDB client streams the rows as tab-separated text (its
    // escapes are COPY's, NULL is the word NULL, which no value of this table is) into COPY FROM STDIN.
    await sql(`CREATE TABLE ${SCHEMA}.t5 (${COLUMNS})`);
    const limit = timed(
      `mysql -h 127.0.0.1 -u root --batch --quick --skip-column-names ${MYSQL_DB} -e "SELECT ${COLUMN_NAMES.join(', ')} FROM t" | ` +
        `psql "${PG_URL}" -q -v ON_ERROR_STOP=1 -c "COPY ${SCHEMA}.t5 FROM STDIN (NULL 'NULL')"`,
    );
    if ((await count(`${SCHEMA}.t5`)) !== ROWS) throw new Error(`the mysql | psql limit copied ${await count(`${SCHEMA}.t5`)} rows, not ${ROWS}`);
    line('limit: mysql --batch --quick | psql COPY FROM STDIN', rate(limit));
    // pgloader makes the schema named after the MariaDB database itself (the same name as the bench's schema).
    await sql(`DROP SCHEMA IF EXISTS ${MYSQL_DB} CASCADE`);
    const loader = timed(`pgloader --quiet "mysql://root@127.0.0.1/${MYSQL_DB}" "${PG_URL}"`);
    line('peer: pgloader mariadb -> postgres', rate(loader), `the limit is ${(loader / limit).toFixed(2)}x pgloader`);
    const source = { type: 'mysql', host: '127.0.0.1', user: 'root', database: MYSQL_DB, table: 't' };
    for (const parallelism of [1, 2]) {
      const seconds = await tideway(source, `${SCHEMA}.t4`, parallelism, true);
      line(
        `tideway mariadb -> postgres, exactly-once, parallelism ${parallelism}`,
        rate(seconds),
        `ratio ${(loader / seconds).toFixed(2)}x pgloader (goal >= 3), ${(limit / seconds).toFixed(2)} of the mysql | psql limit`,
      );
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
