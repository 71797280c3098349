import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/testing/random.js';
import { tempDir } from '../helpers/jobs.js';

const CHILD = new URL('./crash-child.ts', import.meta.url).pathname;

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
 * Runs the child once. With `killAfterCommits`, it is killed with SIGKILL once that many commits have
 * ended: either `gapMs` after the last one (while rows are being written), or, with `atCommit`, 15 ms into
 * the next commit (between two renames). Killing on the job's own progress rather than on wall time makes
 * the schedule independent of how fast the machine starts a process.
 */
function runChild(
  env: Record<string, string>,
  plan: { killAfterCommits: number; atCommit: boolean; gapMs: number } | undefined,
): Promise<{ code: number | null; killed: boolean; duringCommit: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let killed = false;
    let duringCommit = false;
    let inCommit = false;
    let commitsEnded = 0;
    const kill = () => {
      if (killed || child.exitCode !== null) return;
      killed = true;
      duringCommit = inCommit;
      child.kill('SIGKILL');
    };
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('COMMIT-START')) {
          inCommit = true;
          if (plan?.atCommit && commitsEnded >= plan.killAfterCommits) setTimeout(kill, 15);
        } else if (line.startsWith('COMMIT-END')) {
          inCommit = false;
          commitsEnded++;
          if (plan && !plan.atCommit && commitsEnded === plan.killAfterCommits) setTimeout(kill, plan.gapMs);
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, killed, duringCommit, output }));
  });
}

function readIds(dir: string, format: 'jsonl' | 'csv'): number[] {
  const ids: number[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(`.${format}`)) continue;
    const lines = readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean);
    if (format === 'jsonl') for (const line of lines) ids.push(Number((JSON.parse(line) as { id: number }).id));
    else for (const line of lines.slice(1)) ids.push(Number(line.split(',')[0]));
  }
  return ids;
}

function stagedFiles(dir: string): string[] {
  const root = join(dir, '.tideway-staging');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
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
