import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { committedIds } from '../helpers/output.js';
import { ensureBuilt } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

const job = (mode?: string) => `env:
  name: e2e-save-mode
  checkpoint:
    dir: .ckpt
source:
  - type: fake
    rows: 500
sink:
  - type: file
    path: out
${mode ? `    data_save_mode: ${mode}\n` : ''}`;

const ids = (dir: string) => committedIds(join(dir, 'out')).sort((a, b) => a - b);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('file sink data_save_mode through the CLI', () => {
  it('by default a second run of a finished job refuses to write its rows again, and says what is there', async () => {
    const dir = workspace({ 'job.yaml': job() });
    expect((await runCli(['run', 'job.yaml', '-q'], { cwd: dir })).code).toBe(0);
    for (const args of [['run', 'job.yaml', '--json'], ['run', 'job.yaml', '--json', '--fresh']]) {
      const again = await runCli(args, { cwd: dir });
      expect(again.code).toBe(1);
      expect(JSON.parse(again.stdout)).toMatchObject({ status: 'failed', rowsWritten: 0, error: { code: 'FILE_TARGET_HAS_OUTPUT' } });
      expect(again.stderr).toMatch(/^error \[FILE_TARGET_HAS_OUTPUT\]: .*out already holds \d+ file\(s\) with 500 rows that an earlier run of job "e2e-save-mode" committed \(it finished/m);
      expect(ids(dir)).toEqual(range(500));
    }
  });

  it('overwrite replaces the earlier run\'s output: every row once', async () => {
    const dir = workspace({ 'job.yaml': job('overwrite') });
    expect((await runCli(['run', 'job.yaml', '-q'], { cwd: dir })).code).toBe(0);
    const again = await runCli(['run', 'job.yaml', '--json'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(ids(dir)).toEqual(range(500));
  });
});
