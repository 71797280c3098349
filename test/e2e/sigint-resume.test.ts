import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './support/build.js';
import { committedIds, stagedFiles } from '../helpers/output.js';
import { runCli, startCli, useWorkspaces, waitFor } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

const ROWS = 2400;

/** Slow enough (about 2.5 s) to be interrupted after its first commits. */
const slowJob = `env:
  name: e2e-sigint
  checkpoint:
    interval: 200ms
    dir: .ckpt
source:
  - type: fake
    rows: ${ROWS}
    splits: 6
    chunk_rows: 50
    rows_per_second: 1000
sink:
  - type: file
    path: out
    format: jsonl
`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const committed = (dir: string) => committedIds(join(dir, 'out')).sort((a, b) => a - b);
const staged = (dir: string) => stagedFiles(join(dir, 'out'));

/** Starts the slow job and interrupts it with `signals` once some output is committed. */
async function interrupted(dir: string, signals: NodeJS.Signals[]) {
  const started = startCli(['run', 'job.yaml', '--json'], { cwd: dir, env: {} });
  await waitFor(() => committedIds(join(dir, 'out')).length > 0, 'a first commit');
  for (const [index, signal] of signals.entries()) {
    // Signals of one kind sent back to back can merge into one: wait until the first one has been handled.
    if (index > 0) await waitFor(() => /stopping gracefully/.test(started.output().stderr), 'the graceful stop to begin', { pollMs: 2 });
    started.child.kill(signal);
  }
  return started.done;
}

describe('SIGINT and resume', () => {
  it('the first SIGINT stops gracefully (exit 130), the next run resumes, and every id is written exactly once', async () => {
    const dir = workspace({ 'job.yaml': slowJob });
    const first = await interrupted(dir, ['SIGINT']);
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toMatch(/SIGINT: stopping gracefully/);
    const stopped = JSON.parse(first.stdout) as { status: string; rowsWritten: number };
    expect(stopped.status).toBe('cancelled');
    const partial = committed(dir);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(ROWS);
    expect(new Set(partial).size).toBe(partial.length);

    const second = await runCli(['run', 'job.yaml', '--json'], { cwd: dir, env: {}, timeoutMs: 30_000 });
    expect(second.code, second.stderr).toBe(0);
    const report = JSON.parse(second.stdout) as { status: string; resumedFromCheckpoint: number | null };
    expect(report.status).toBe('finished');
    expect(report.resumedFromCheckpoint).toBeGreaterThanOrEqual(1);
    expect(second.stderr).toMatch(/resuming from checkpoint \d+/);
    expect(committed(dir)).toEqual(range(ROWS));
    expect(staged(dir)).toEqual([]);
  });

  it('a second SIGINT exits at once with 130, and the next run still ends with every id exactly once', async () => {
    const dir = workspace({ 'job.yaml': slowJob });
    const first = await interrupted(dir, ['SIGINT', 'SIGINT']);
    expect(first.code, first.stderr).toBe(130);
    expect(first.stderr).toMatch(/SIGINT again: exiting at once/);
    const second = await runCli(['run', 'job.yaml', '--json'], { cwd: dir, env: {}, timeoutMs: 30_000 });
    expect(second.code, second.stderr).toBe(0);
    expect(committed(dir)).toEqual(range(ROWS));
    expect(staged(dir)).toEqual([]);
  });

  it('--fresh discards the unfinished run: refused while its output is in the target, complete once with data_save_mode: overwrite', async () => {
    const dir = workspace({ 'job.yaml': slowJob });
    const first = await interrupted(dir, ['SIGTERM']);
    expect(first.code, first.stderr).toBe(130);
    const partial = committed(dir);
    expect(partial.length).toBeGreaterThan(0);
    // The default data_save_mode (error) will not add a second copy next to what the first run committed.
    const refused = await runCli(['run', 'job.yaml', '--json', '--fresh'], { cwd: dir, env: {}, timeoutMs: 30_000 });
    expect(refused.code, refused.stderr).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ status: 'failed', error: { code: 'FILE_TARGET_HAS_OUTPUT' } });
    expect(committed(dir)).toEqual(partial);
    writeFileSync(join(dir, 'job.yaml'), slowJob.replace('format: jsonl', 'format: jsonl\n    data_save_mode: overwrite'));
    const fresh = await runCli(['run', 'job.yaml', '--json', '--fresh'], { cwd: dir, env: {}, timeoutMs: 30_000 });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ status: 'finished', resumedFromCheckpoint: null, rowsWritten: ROWS });
    // The first run's committed files were replaced: one complete copy, nothing more.
    expect(committed(dir)).toEqual(range(ROWS));
    expect(staged(dir)).toEqual([]);
  });
});
