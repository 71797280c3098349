import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './support/build.js';
import { filesUnder, runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

const job = `env:
  name: e2e-clean
  checkpoint:
    dir: .ckpt
source:
  - type: fake
    rows: 100
sink:
  - type: file
    path: out
`;

describe('tideway clean', () => {
  it('--dry-run lists staged output no checkpoint owns; clean removes it and nothing else', async () => {
    const dir = workspace({ 'job.yaml': job });
    expect((await runCli(['run', 'job.yaml', '--quiet'], { cwd: dir, env: {} })).code).toBe(0);
    const committed = filesUnder(join(dir, 'out')).filter((f) => !f.startsWith('.tideway-staging'));
    expect(committed.length).toBeGreaterThan(0);
    // What a writer of a run that died before its checkpoint leaves behind.
    const orphanDir = join(dir, 'out/.tideway-staging/e2e-clean/dead-attempt');
    mkdirSync(orphanDir, { recursive: true });
    const orphan = join(orphanDir, 'part-dead-w0-00000.jsonl');
    writeFileSync(orphan, '{"id":1}\n');

    const dry = await runCli(['clean', 'job.yaml', '--dry-run'], { cwd: dir, env: {} });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^file\t.*part-dead-w0-00000\.jsonl$/m);
    expect(dry.stderr).toMatch(/e2e-clean: would remove 1 staged item that no checkpoint owns/);
    expect(existsSync(orphan)).toBe(true);

    const clean = await runCli(['clean', 'job.yaml', '--json'], { cwd: dir, env: {} });
    expect(clean.code, clean.stderr).toBe(0);
    const report = JSON.parse(clean.stdout) as { dryRun: boolean; sinks: { name: string; removed: string[] }[] };
    expect(report.dryRun).toBe(false);
    expect(report.sinks).toHaveLength(1);
    expect(report.sinks[0]!.removed).toHaveLength(1);
    expect(existsSync(orphan)).toBe(false);
    expect(filesUnder(join(dir, 'out')).filter((f) => !f.startsWith('.tideway-staging'))).toEqual(committed);
  });

  it('--dry-run writes nothing: not even the output directory of a job that never ran', async () => {
    const dir = workspace({ 'job.yaml': job });
    const dry = await runCli(['clean', 'job.yaml', '--dry-run'], { cwd: dir, env: {} });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toMatch(/e2e-clean: would remove 0 staged items that no checkpoint owns/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('an invalid job is exit 2 with located problems', async () => {
    const dir = workspace({ 'job.yaml': job.replace('path: out', 'paht: out') });
    const run = await runCli(['clean', 'job.yaml'], { cwd: dir, env: {} });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^job\.yaml:10:5: sink\[0\]\.paht: unknown option "paht"; did you mean "path"\?$/m);
  });
});
