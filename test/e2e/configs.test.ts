import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

const CONFIGS = join(ROOT, 'configs');
const files = readdirSync(CONFIGS).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));

describe('configs/', () => {
  it('holds the quickstart and other examples', () => {
    expect(files).toContain('quickstart.yaml');
    expect(files.length).toBeGreaterThanOrEqual(3);
  });

  it.each(files)('%s passes tideway check', async (file) => {
    const run = await runCli(['check', join(CONFIGS, file)], { cwd: ROOT, env: {} });
    expect(run.code, run.stderr).toBe(0);
    const name = (parse(readFileSync(join(CONFIGS, file), 'utf8')) as { env: { name: string } }).env.name;
    expect(run.stdout).toMatch(new RegExp(`^job ${name}$`, 'm'));
    expect(run.stdout).toMatch(/^dag$/m);
  });

  it.each(files.filter((f) => f !== 'quickstart.yaml'))('%s runs as it is', async (file) => {
    const dir = workspace();
    // Examples that read files name them relative to the repository, as a user running them from it would.
    cpSync(join(CONFIGS, 'data'), join(dir, 'configs', 'data'), { recursive: true });
    const run = await runCli(['run', join(CONFIGS, file)], { cwd: dir, env: {}, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^job \S+ finished in /m);
  });

  it('the quickstart runs as it is and shows the report', async () => {
    const dir = workspace();
    // A smaller row count through its own variable keeps the suite fast; the job is otherwise the file as shipped.
    const run = await runCli(['run', join(CONFIGS, 'quickstart.yaml'), '--var', 'ROWS=5000'], { cwd: dir, env: {}, timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^job quickstart finished in /m);
    expect(run.stderr).toMatch(/^ {2}written +5,000 rows, .* to file$/m);
  });
});
