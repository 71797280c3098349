import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/testing/random.js';
import { tempDir } from '../helpers/jobs.js';
import { readIds, runChild, stagedFiles } from './support.js';


interface Scenario {
  name: string;
  seed: number;
  parallelism: number;
  transport: 'in-process' | 'worker-threads';
  format: 'jsonl' | 'csv';
  rows: number;
  kills: number;
}

/**
 * Kills the job with SIGKILL at seeded random moments (some of them in the middle of a commit), reruns it
 * each time, and checks that the output holds every id exactly once and that nothing staged is left.
 */
describe('crash and resume (SIGKILL)', () => {
  const scenarios: Scenario[] = [
    { name: 'in-process, parallelism 1', seed: 11, parallelism: 1, transport: 'in-process', format: 'jsonl', rows: 6000, kills: 8 },
    { name: 'in-process, parallelism 3', seed: 23, parallelism: 3, transport: 'in-process', format: 'csv', rows: 6000, kills: 8 },
    { name: 'worker threads, parallelism 2', seed: 37, parallelism: 2, transport: 'worker-threads', format: 'jsonl', rows: 6000, kills: 6 },
  ];

  it.each(scenarios)('$name (seed $seed)', async (scenario) => {
    const random = seededRandom(scenario.seed);
    const out = tempDir('tideway-crash-out-');
    const checkpoints = tempDir('tideway-crash-ckpt-');
    const env = {
      CRASH_JOB: JSON.stringify({
        name: `crash-${scenario.seed}`,
        rows: scenario.rows,
        out: out.path,
        checkpoints: checkpoints.path,
        parallelism: scenario.parallelism,
        transport: scenario.transport,
        format: scenario.format,
        commitPauseMs: 20,
      }),
    };
    try {
      let kills = 0;
      let commitKills = 0;
      let resumed = 0;
      for (let run = 0; run < scenario.kills + 10; run++) {
        const wantKill = kills < scenario.kills;
        const plan = wantKill ? { killAfterCommits: 1 + Math.floor(random() * 3), atCommit: random() < 0.4, gapMs: Math.floor(random() * 50) } : undefined;
        const result = await runChild(env, plan);
        if (result.output.includes('"resumed":') && !result.output.includes('"resumed":null')) resumed++;
        if (result.killed) {
          kills++;
          if (result.duringCommit) commitKills++;
          continue;
        }
        expect(result.code, `the job failed after ${kills} kills (seed ${scenario.seed}):\n${result.output}`).toBe(0);
        break;
      }
      console.log(`crash test seed ${scenario.seed}: ${kills} kills, ${commitKills} during a commit, ${resumed} resumed runs`);
      expect(kills).toBe(scenario.kills);
      expect(commitKills).toBeGreaterThan(0);
      const ids = readIds(out.path, scenario.format).sort((a, b) => a - b);
      expect(ids.length).toBe(scenario.rows);
      expect(new Set(ids).size).toBe(scenario.rows);
      expect(ids[0]).toBe(0);
      expect(ids[ids.length - 1]).toBe(scenario.rows - 1);
      expect(stagedFiles(out.path)).toEqual([]);
    } finally {
      out.remove();
      checkpoints.remove();
    }
  }, 240_000);
});
