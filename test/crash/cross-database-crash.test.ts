import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/jobs.js';
import { requireService } from '../helpers/services.js';
import { connectionOptions, insertRows, MYSQL_HOST, MYSQL_PORT, useDatabase } from '../integration/mysql/helpers.js';
import { PG_HOST, PG_PORT, usePgSchema } from '../unit/postgres/helpers.js';
import { runChild } from './support.js';

/**
 * SIGKILL crash tests across databases: postgres -> mysql and mysql -> postgres, killed during reads, while
 * writers stage (inside prepareCommit) and in the middle of commits, each kill followed by a rerun, until the
 * job finishes. Then the target holds exactly the source rows (the same ids, once each, and the same values
 * by checksum), and neither database keeps a staging table, a prepared transaction or a session idle in a
 * transaction.
 */
const CHILD = new URL('./postgres-crash-child.ts', import.meta.url).pathname;
const ROWS = 20_000;

const pgUp = await requireService('PostgreSQL', PG_HOST, PG_PORT);
const mysqlServiceUp = await requireService('MariaDB', MYSQL_HOST, MYSQL_PORT);

type Kill = { at: 'read'; afterCommits: number; gapMs: number } | { at: 'prepare'; afterCommits: number; delayMs: number } | { at: 'commit'; afterCommits: number };

/** Each row as one canonical text line, in id order, the same whichever database holds it. */
const PG_ROWS = (table: string) =>
  `SELECT id::text AS key, concat_ws('|', id::text, coalesce(name, '\\N'), coalesce(amount::text, '\\N'), coalesce(to_char(at, 'YYYY-MM-DD HH24:MI:SS.US'), '\\N')) AS line FROM ${table} ORDER BY id`;
const MYSQL_ROWS = (table: string) =>
  `SELECT CAST(id AS CHAR), CONCAT_WS('|', CAST(id AS CHAR), COALESCE(name, '\\\\N'), COALESCE(CAST(amount AS CHAR), '\\\\N'), COALESCE(DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f'), '\\\\N')) FROM \`${table}\` ORDER BY id`;

/** Where `actual` differs from `expected` as multisets of ids: undefined when they hold the same ids once each. */
function idDifference(actual: number[], expected: number[]): { duplicated: number[]; missing: number[]; unexpected: number[] } | undefined {
  const seen = new Map<number, number>();
  for (const id of actual) seen.set(id, (seen.get(id) ?? 0) + 1);
  const wanted = new Set(expected);
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  const missing = expected.filter((id) => !seen.has(id));
  const unexpected = [...seen.keys()].filter((id) => !wanted.has(id));
  if (duplicated.length + missing.length + unexpected.length === 0 && actual.length === expected.length) return undefined;
  return { duplicated: duplicated.slice(0, 20), missing: missing.slice(0, 20), unexpected: unexpected.slice(0, 20) };
}

function digest(rows: { id: string; line: string }[]): { ids: number[]; checksum: string } {
  const hash = createHash('sha256');
  for (const row of rows) hash.update(`${row.line}\n`);
  return { ids: rows.map((r) => Number(r.id)), checksum: hash.digest('hex') };
}

describe.skipIf(!pgUp || !mysqlServiceUp)('postgres <-> mysql: SIGKILL during reads, prepareCommit and commit, then resume', () => {
  const pg = usePgSchema();
  const my = useDatabase('xcrash');

  async function pgDigest(table: string) {
    return digest((await pg.query<{ key: string; line: string }>(PG_ROWS(table))).map((r) => ({ id: r.key, line: r.line })));
  }
  async function mysqlDigest(table: string) {
    return digest((await my.sql(MYSQL_ROWS(table))).map((r) => ({ id: String(r[0]), line: String(r[1]) })));
  }

  /** Nothing of any run is left in either database: no staging table, prepared transaction or idle transaction. */
  async function expectNothingLeft(): Promise<void> {
    expect(await pg.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relname LIKE 'tws\\_%'`, [pg.schema])).toEqual([]);
    expect(await my.sql("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_tws\\_%'")).toEqual([]);
    expect(await pg.query(`SELECT gid FROM pg_prepared_xacts WHERE database = current_database()`)).toEqual([]);
    expect(await my.sql('XA RECOVER')).toEqual([]);
    // A killed child's sessions end when the servers see its sockets close; give them a moment.
    let idle: unknown[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      idle = [
        ...(await pg.query(
          `SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tideway' AND state LIKE 'idle in transaction%' AND query LIKE $1`,
          [`%${pg.schema}%`],
        )),
        ...(await my.sql(
          'SELECT p.ID, p.COMMAND, t.trx_state FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE p.DB = DATABASE() AND p.ID <> CONNECTION_ID()',
        )),
      ];
      if (idle.length === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(idle).toEqual([]);
  }

  async function crashAndResume(label: string, job: { source: Record<string, unknown>; sink: Record<string, unknown> }, kills: Kill[], committed: () => Promise<number>) {
    const started = Date.now();
    const checkpoints = tempDir('tideway-xdb-crash-');
    const base = { name: `xdb-crash-${label}-${my.name}`, checkpoints: checkpoints.path, parallelism: 2, commitPauseMs: 25, writeDelayMs: 4, ...job };
    const phases = { read: 0, prepare: 0, 'prepare (returned)': 0, commit: 0, 'between commits': 0 } as Record<string, number>;
    let runs = 0;
    // Rows in the target after each kill: the kills land while the job is under way, not after it.
    const progress: number[] = [];
    try {
      let finished = false;
      for (let run = 0; run < kills.length + 4 && !finished; run++) {
        runs++;
        const kill = kills[run];
        const env = { CRASH_JOB: JSON.stringify({ ...base, ...(kill?.at === 'prepare' ? { killInPrepare: { afterCommits: kill.afterCommits, delayMs: kill.delayMs } } : {}) }) };
        const plan = kill?.at === 'read' ? { killAfterCommits: kill.afterCommits, atCommit: false, gapMs: kill.gapMs } : kill?.at === 'commit' ? { killAfterCommits: kill.afterCommits, atCommit: true, gapMs: 0 } : undefined;
        const outcome = await runChild(env, plan, CHILD);
        const self = /SELF-KILL prepare (running|returned)/.exec(outcome.output);
        if (outcome.killed || self) {
          const phase = self ? (self[1] === 'running' ? 'prepare' : 'prepare (returned)') : outcome.duringCommit ? 'commit' : kill?.at === 'commit' ? 'between commits' : 'read';
          phases[phase]!++;
          progress.push(await committed());
          continue;
        }
        expect(outcome.code, `${label}: the job failed after kills ${JSON.stringify(phases)}:\n${outcome.output}`).toBe(0);
        finished = true;
      }
      const total = Object.values(phases).reduce((a, b) => a + b, 0);
      console.log(`cross-database crash test ${label}: ${total} kills ${JSON.stringify(phases)}, ${runs} runs, target rows after each kill ${progress.join(', ')}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
      expect(finished).toBe(true);
      return { phases, total };
    } finally {
      checkpoints.remove();
    }
  }

  it('postgres -> mysql: the target holds exactly the source rows; nothing left behind', async () => {
    const source = pg.table('src');
    await pg.query(`CREATE TABLE ${source} (id bigint PRIMARY KEY, name text, amount numeric(12,2), at timestamp)`);
    await pg.query(
      `INSERT INTO ${source} SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE 'row ' || g || repeat('x', g % 13) END, CASE WHEN g % 89 = 0 THEN NULL ELSE round(g * 1.37, 2) END,
         CASE WHEN g % 83 = 0 THEN NULL ELSE timestamp '2024-01-01' + g * interval '1.000123 second' END FROM generate_series(1, ${ROWS}) g`,
    );
    // No key on the target: a row committed twice would show as a duplicate, not as a failed commit.
    await my.sql('CREATE TABLE pg_dst (id BIGINT NOT NULL, name TEXT NULL, amount DECIMAL(12,2) NULL, at DATETIME(6) NULL)');
    const { phases, total } = await crashAndResume(
      'pg-to-mysql',
      {
        source: { type: 'postgres', url: pg.url, table: source, split_size: 2000, chunk_rows: 200 },
        sink: { type: 'mysql', ...connectionOptions(my.name), table: 'pg_dst', batch_size: 500 },
      },
      [
        { at: 'read', afterCommits: 1, gapMs: 20 },
        { at: 'prepare', afterCommits: 1, delayMs: 1 },
        { at: 'commit', afterCommits: 1 },
        { at: 'prepare', afterCommits: 2, delayMs: 0 },
      ],
      async () => Number((await my.sql('SELECT COUNT(*) FROM pg_dst'))[0]![0]),
    );
    expect(total).toBeGreaterThanOrEqual(4);
    expect(phases.prepare! + phases['prepare (returned)']!).toBeGreaterThanOrEqual(1);
    expect(phases.commit! + phases['between commits']!).toBeGreaterThanOrEqual(1);
    const expected = await pgDigest(source);
    const actual = await mysqlDigest('pg_dst');
    expect(expected.ids.length).toBe(ROWS);
    expect(idDifference(actual.ids, expected.ids)).toBeUndefined();
    expect(actual.checksum).toBe(expected.checksum);
    await expectNothingLeft();
  }, 300_000);

  it('mysql -> postgres: the target holds exactly the source rows; nothing left behind', async () => {
    await my.sql('CREATE TABLE my_src (id BIGINT PRIMARY KEY, name VARCHAR(60) NULL, amount DECIMAL(12,2) NULL, at DATETIME(6) NULL)');
    const stamp = (g: number) => new Date(Date.UTC(2024, 0, 1) + g * 1000).toISOString().replace('T', ' ').replace('Z', '').slice(0, 19) + `.${String(g * 123).padStart(6, '0').slice(-6)}`;
    await insertRows(
      my,
      'my_src',
      ['id', 'name', 'amount', 'at'],
      Array.from({ length: ROWS }, (_, i) => {
        const g = i + 1;
        return [g, g % 97 === 0 ? null : `row ${g}${'y'.repeat(g % 11)}`, g % 89 === 0 ? null : (g * 2.71).toFixed(2), g % 83 === 0 ? null : stamp(g)];
      }),
    );
    const target = pg.table('my_dst');
    await pg.query(`CREATE TABLE ${target} (id bigint NOT NULL, name text, amount numeric(12,2), at timestamp)`);
    const { phases, total } = await crashAndResume(
      'mysql-to-pg',
      {
        source: { type: 'mysql', ...connectionOptions(my.name), table: 'my_src', split_size: 2000, fetch_size: 200 },
        sink: { type: 'postgres', url: pg.url, table: target },
      },
      [
        { at: 'read', afterCommits: 1, gapMs: 30 },
        { at: 'commit', afterCommits: 1 },
        { at: 'prepare', afterCommits: 1, delayMs: 2 },
        { at: 'commit', afterCommits: 2 },
      ],
      async () => Number((await pg.query<{ n: string }>(`SELECT count(*) AS n FROM ${target}`))[0]!.n),
    );
    expect(total).toBeGreaterThanOrEqual(4);
    expect(phases.prepare! + phases['prepare (returned)']!).toBeGreaterThanOrEqual(1);
    expect(phases.commit! + phases['between commits']!).toBeGreaterThanOrEqual(1);
    const expected = await mysqlDigest('my_src');
    const actual = await pgDigest(target);
    expect(expected.ids.length).toBe(ROWS);
    expect(idDifference(actual.ids, expected.ids)).toBeUndefined();
    expect(actual.checksum).toBe(expected.checksum);
    await expectNothingLeft();
  }, 300_000);
});
