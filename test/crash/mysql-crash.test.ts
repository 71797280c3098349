import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/jobs.js';
import { expectExactlyOnce } from '../helpers/output.js';
import { connectionOptions, insertRows, mysqlUp, useDatabase } from '../integration/mysql/helpers.js';

const CHILD = new URL('./mysql-crash-child.ts', import.meta.url).pathname;
const db = useDatabase('crash');

type Plan = { at: 'read' | 'prepare' | 'commit'; afterCommits: number };

/**
 * Runs the child once; with a plan, SIGKILLs it after that many commits have ended: 15 ms after the
 * next batch of reads starts (read), 10 ms into a writer's prepareCommit (prepare), or 15 ms into the
 * next commit, between two staged tables (commit).
 */
function runChild(env: Record<string, string>, plan: Plan | undefined): Promise<{ code: number | null; killed: boolean; phase: string; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let killed = false;
    let phase = 'read';
    let commitsEnded = 0;
    const kill = () => {
      // Not once the final commit has ended: the job is finished then, and its checkpoint is cleared before
      // the report, so a kill in that window is followed by a fresh run (as after any finished run).
      if (killed || child.exitCode !== null || output.includes('RESULT ') || output.includes('FINAL-COMMIT-END')) return;
      killed = true;
      child.kill('SIGKILL');
    };
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('PREPARE-START')) {
          if (!killed) phase = 'prepare';
          if (plan?.at === 'prepare' && commitsEnded >= plan.afterCommits) setTimeout(kill, 10);
        } else if (line.startsWith('COMMIT-START')) {
          if (!killed) phase = 'commit';
          if (plan?.at === 'commit' && commitsEnded >= plan.afterCommits) setTimeout(kill, 15);
        } else if (line.startsWith('COMMIT-END')) {
          if (!killed) phase = 'read';
          commitsEnded++;
          if (plan?.at === 'read' && commitsEnded === plan.afterCommits) setTimeout(kill, 15);
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, killed, phase, output }));
  });
}

describe.skipIf(!mysqlUp)('mysql -> mysql: SIGKILL during reads, prepareCommit and commit, then resume', () => {
  it('holds every source row exactly once and leaves no staging table', async () => {
    const rows = 6000;
    await db.sql('CREATE TABLE crash_src (id BIGINT PRIMARY KEY, name VARCHAR(40) NOT NULL, amount DECIMAL(12,2), at DATETIME(6))');
    await insertRows(db, 'crash_src', ['id', 'name', 'amount', 'at'], Array.from({ length: rows }, (_, i) => [i, `row-${i}`, (i * 1.25).toFixed(2), `2024-01-01 00:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0').slice(-6)}`]));
    const checkpoints = tempDir('tideway-mysql-crash-');
    const env = {
      MYSQL_CRASH_JOB: JSON.stringify({ name: `mysql-crash-${db.name}`, connection: connectionOptions(db.name), checkpoints: checkpoints.path, parallelism: 2, writeDelayMs: 12, commitPauseMs: 15 }),
    };
    const plans: Plan[] = [
      { at: 'read', afterCommits: 1 },
      { at: 'prepare', afterCommits: 1 },
      { at: 'commit', afterCommits: 1 },
      { at: 'read', afterCommits: 2 },
      { at: 'prepare', afterCommits: 0 },
      { at: 'commit', afterCommits: 0 },
      { at: 'prepare', afterCommits: 2 },
      { at: 'commit', afterCommits: 2 },
    ];
    const kills = { read: 0, prepare: 0, commit: 0 } as Record<string, number>;
    try {
      let finished: { output: string } | undefined;
      for (let run = 0; run < plans.length + 4 && !finished; run++) {
        const outcome = await runChild(env, plans[run]);
        if (outcome.killed) {
          kills[outcome.phase] = (kills[outcome.phase] ?? 0) + 1;
          continue;
        }
        expect(outcome.code, `the job failed after ${JSON.stringify(kills)} kills:\n${outcome.output}`).toBe(0);
        finished = outcome;
      }
      console.log(`mysql crash test: kills ${JSON.stringify(kills)}`);
      expect(finished).toBeDefined();
      expect(finished!.output).toMatch(/"resumed":\d+/);
      expect(kills.read).toBeGreaterThanOrEqual(1);
      expect(kills.prepare).toBeGreaterThanOrEqual(2);
      expect(kills.commit).toBeGreaterThanOrEqual(2);
      const ids = (await db.sql('SELECT id FROM crash_dst')).map((r) => Number(r[0]));
      expect(expectExactlyOnce(ids, rows)).toBeUndefined();
      // Values, not only ids, arrived intact.
      const differ = await db.sql('SELECT COUNT(*) FROM crash_src s JOIN crash_dst d USING (id) WHERE NOT (s.name <=> d.name AND s.amount <=> d.amount AND s.at <=> d.at)');
      expect(Number(differ[0]![0])).toBe(0);
      expect(await db.sql("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_tws\\_%'")).toEqual([]);
    } finally {
      checkpoints.remove();
    }
  }, 180_000);
});
