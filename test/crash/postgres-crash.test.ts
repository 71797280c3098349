import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/testing/random.js';
import { tempDir } from '../helpers/jobs.js';
import { pgAvailable, runPgJob, usePgSchema } from '../unit/postgres/helpers.js';
import { runChild } from './support.js';

const CHILD = new URL('./postgres-crash-child.ts', import.meta.url).pathname;

/**
 * SIGKILL at random moments of fake -> postgres and postgres -> postgres jobs (during reads, while writers
 * stage and prepare, inside commits), then resume until the job finishes: every id is in the target exactly
 * once, and no staging table, prepared transaction or open session of the job is left.
 */
describe.skipIf(!pgAvailable)('postgres crash and resume (SIGKILL)', () => {
  const db = usePgSchema();

  const scenarios = [
    { label: 'fake -> postgres', rows: 6000, seed: 1010, source: (_: string) => ({ type: 'fake', rows: 6000, splits: 6, chunk_rows: 200, rows_per_second: 3000 }) },
    // The postgres source has no pace of its own: writers pause after each 50-row batch instead, so that the
    // job outlasts its kills however fast the machine reads (unpaced, a loaded run once finished after 1 kill).
    { label: 'postgres -> postgres', rows: 40000, seed: 2020, writeDelayMs: 8, source: (table: string) => ({ type: 'postgres', url: db.url, table, split_size: 2000, chunk_rows: 50 }) },
  ];

  for (const scenario of scenarios) {
    it(`${scenario.label}: every id exactly once after kills in reads, prepare and commit; nothing left behind`, async () => {
      const random = seededRandom(scenario.seed);
      const source = db.table('crash_src');
      await db.query(`CREATE TABLE ${source} (id bigint PRIMARY KEY, name text, amount double precision)`);
      await db.query(`INSERT INTO ${source} SELECT g, 'n' || g, g * 0.5 FROM generate_series(0, ${scenario.rows - 1}) g`);
      const target = db.table('crash_dst');
      const checkpoints = tempDir('tideway-pg-crash-');
      const sourceConfig = scenario.source(source);
      const env = {
        CRASH_JOB: JSON.stringify({
          // Unique per run: the sink's commit lock is keyed by job name, so two runs of this file (or a stuck child
          // of an earlier one) must not share it.
          name: `pg-crash-${scenario.seed}-${db.schema}`,
          checkpoints: checkpoints.path,
          parallelism: 2,
          commitPauseMs: 25,
          // Writers commit their own rows 40 ms after they hear of the save, so that kills at a commit land
          // between the decision and those commits (the direct commit's window).
          savedDelayMs: 40,
          ...(scenario.writeDelayMs ? { writeDelayMs: scenario.writeDelayMs } : {}),
          source: sourceConfig,
          sink: { type: 'postgres', url: db.url, table: target },
        }),
      };
      try {
        let kills = 0;
        let commitKills = 0;
        let holdKills = 0;
        const wanted = 3;
        let finished = false;
        for (let run = 0; run < wanted + 10; run++) {
          const plan = kills < wanted ? { killAfterCommits: 1 + Math.floor(random() * 2), atCommit: random() < 0.4, gapMs: Math.floor(random() * 60) } : undefined;
          const result = await runChild(env, plan, CHILD);
          if (result.killed) {
            kills++;
            if (result.duringCommit) commitKills++;
            if (result.duringHold) holdKills++;
            continue;
          }
          expect(result.code, `the job failed after ${kills} kills (seed ${scenario.seed}):\n${result.output}`).toBe(0);
          finished = true;
          break;
        }
        console.log(`postgres crash test ${scenario.label} seed ${scenario.seed}: ${kills} kills, ${commitKills} during a commit, ${holdKills} while writers held a saved checkpoint's rows uncommitted`);
        expect(finished).toBe(true);
        expect(kills).toBeGreaterThanOrEqual(2);
        const [counts] = await db.query<{ n: string; distinct: string; missing: string }>(
          `SELECT count(*) AS n, count(DISTINCT id) AS distinct, (SELECT count(*) FROM (SELECT id FROM ${source} EXCEPT SELECT id FROM ${target}) m) AS missing FROM ${target}`,
        );
        expect({ n: Number(counts!.n), distinct: Number(counts!.distinct), missing: Number(counts!.missing) }).toEqual({ n: scenario.rows, distinct: scenario.rows, missing: 0 });
        const staging = await db.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND relname LIKE 'tws\\_%'`, [db.schema]);
        expect(staging).toEqual([]);
        const prepared = await db.query(`SELECT gid FROM pg_prepared_xacts`);
        expect(prepared).toEqual([]);
        // No spill of the direct commit is left beside the checkpoints.
        const spills = readdirSync(checkpoints.path, { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && d.name.endsWith('.copy'));
        expect(spills.map((d) => d.name)).toEqual([]);
        // Killed children's sessions are gone (the server rolled them back and released their locks).
        await new Promise((r) => setTimeout(r, 200));
        // Only this test's sessions (their last statement names its schema): other suites' jobs running at the
        // same time legitimately hold a snapshot transaction open.
        const sessions = await db.query(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tideway' AND state LIKE 'idle in transaction%' AND query LIKE $1`,
          [`%${db.schema}%`],
        );
        expect(sessions).toEqual([]);
      } finally {
        checkpoints.remove();
      }
    }, 240_000);
  }

  it('a plain run of the crash job writes every id once (the child works without kills)', async () => {
    const target = db.table('plain');
    const result = await runPgJob({ source: [{ type: 'fake', rows: 500, splits: 2 }], sink: [{ type: 'postgres', url: db.url, table: target }] });
    expect(result.error).toBeNull();
    const [row] = await db.query<{ n: string }>(`SELECT count(DISTINCT id) AS n FROM ${target}`);
    expect(Number(row!.n)).toBe(500);
  });
});
