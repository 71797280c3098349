import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const CHILD = new URL('./crash-child.ts', import.meta.url).pathname;

/**
 * Runs the child once. With `killAfterCommits`, it is killed with SIGKILL once that many commits have
 * ended: either `gapMs` after the last one (while rows are being written), or, with `atCommit`, 15 ms into
 * the next commit (between two renames). Killing on the job's own progress rather than on wall time makes
 * the schedule independent of how fast the machine starts a process. `script` is the child to run (default
 * crash-child.ts, the file sink's job); any child printing COMMIT-START / COMMIT-END lines and a final
 * RESULT line works.
 */
export function runChild(
  env: Record<string, string>,
  plan: { killAfterCommits: number; atCommit: boolean; gapMs: number } | undefined,
  script: string = CHILD,
): Promise<{ code: number | null; killed: boolean; duringCommit: boolean; duringHold: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let killed = false;
    let duringCommit = false;
    let duringHold = false;
    let inCommit = false;
    // Writers that heard a checkpoint was saved and have not yet committed its rows themselves.
    let holding = 0;
    let commitsEnded = 0;
    const kill = () => {
      // A child that printed its result has finished the job; killing it now would only test the exit.
      // Not once the final commit has ended: the job is finished then, and its checkpoint is cleared before
      // the report, so a kill in that window is followed by a fresh run (as after any finished run).
      if (killed || child.exitCode !== null || output.includes('RESULT ') || output.includes('FINAL-COMMIT-END')) return;
      killed = true;
      duringCommit = inCommit;
      duringHold = holding > 0;
      child.kill('SIGKILL');
    };
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('SAVED ')) holding++;
        else if (line.startsWith('WRITER-COMMITTED ')) holding--;
        else if (line.startsWith('COMMIT-START')) {
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
    child.on('exit', (code) => resolve({ code, killed, duringCommit, duringHold, output }));
  });
}

export function readIds(dir: string, format: 'jsonl' | 'csv'): number[] {
  const ids: number[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(`.${format}`)) continue;
    const lines = readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean);
    if (format === 'jsonl') for (const line of lines) ids.push(Number((JSON.parse(line) as { id: number }).id));
    else for (const line of lines.slice(1)) ids.push(Number(line.split(',')[0]));
  }
  return ids;
}

export function stagedFiles(dir: string): string[] {
  const root = join(dir, '.tideway-staging');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
}

