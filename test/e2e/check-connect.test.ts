import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

const job = (source: string, path = 'out') => `env:
  name: e2e-connect
source:
${source}
sink:
  - type: file
    path: ${path}
`;

describe('tideway check --connect', () => {
  it('contacts each source and sink, reports them, and creates nothing', async () => {
    const dir = workspace({ 'job.yaml': job('  - type: maxcompute\n    endpoint: embedded\n    table_name: customers') });
    const run = await runCli(['check', 'job.yaml', '--connect'], { cwd: dir, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/ok +source\[0\] maxcompute \(maxcompute\): reachable; \d+ columns/);
    expect(run.stdout).toMatch(/ok +sink\[0\] file \(file\): reachable and writable/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('exits 1 and names the stage when a target cannot be reached', async () => {
    const dir = workspace({
      'job.yaml': job('  - type: maxcompute\n    endpoint: http://127.0.0.1:9/api\n    project: p\n    table_name: t\n    access_id: id\n    access_key: not-the-real-secret\n    max_retries: 0', 'blocked/out'),
    });
    writeFileSync(join(dir, 'blocked'), 'a file where the sink wants a directory');
    const run = await runCli(['check', 'job.yaml', '--connect'], { cwd: dir, timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAILED +source\[0\] maxcompute \(maxcompute\): \[[A-Z_]+\]/);
    expect(run.stdout).toMatch(/FAILED +sink\[0\] file \(file\): \[PATH_NOT_DIRECTORY\]/);
    expect(run.stdout + run.stderr).not.toContain('not-the-real-secret');
  });

  it('does not call a path where no file can be created "reachable and writable"', async () => {
    const dir = workspace({ 'job.yaml': job('  - type: fake\n    rows: 10', '/sys/kernel/tideway-e2e-out') });
    const run = await runCli(['check', 'job.yaml', '--connect'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAILED +sink\[0\] file \(file\): \[PATH_SYSTEM_DIRECTORY\] sink "file" path \/sys\/kernel\/tideway-e2e-out/);
    expect(run.stdout).not.toMatch(/reachable and writable/);
  });
});
