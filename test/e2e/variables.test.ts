import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './support/build.js';
import { filesUnder, runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

const job = `env:
  name: e2e-vars
  parallelism: \${P:-1}
  checkpoint:
    dir: .ckpt
source:
  - type: fake
    rows: \${ROWS}
sink:
  - type: file
    path: "out/\${DAY:-today}/$\${NOT_A_VAR}"
`;

async function run(args: string[], env: Record<string, string> = {}) {
  const dir = workspace({ 'job.yaml': job });
  const result = await runCli(['run', 'job.yaml', '--json', ...args], { cwd: dir, env });
  return { ...result, dir: dir, report: result.stdout ? (JSON.parse(result.stdout) as { rowsRead: number; status: string }) : undefined };
}

describe('variables', () => {
  it('--var wins over the environment; defaults fill the rest; $${ stays literal', async () => {
    const r = await run(['--var', 'ROWS=70', '--var', 'DAY=monday'], { ROWS: '50' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.report?.rowsRead).toBe(70);
    expect(existsSync(join(r.dir, 'out/monday/${NOT_A_VAR}'))).toBe(true);
    expect(filesUnder(join(r.dir, 'out/monday/${NOT_A_VAR}')).some((f) => f.endsWith('.jsonl'))).toBe(true);
  });

  it('the environment is used when no --var is given, and the default when neither is', async () => {
    const r = await run([], { ROWS: '50', P: '2' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.report?.rowsRead).toBe(50);
    expect(existsSync(join(r.dir, 'out/today'))).toBe(true);
  });

  it('an unquoted number from a variable is a number (parallelism: ${P})', async () => {
    const dir = workspace({ 'job.yaml': job });
    const check = await runCli(['check', 'job.yaml', '--var', 'P=2', '--var', 'ROWS=5'], { cwd: dir, env: {} });
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^ {2}parallelism +2$/m);
    expect(check.stdout).toMatch(/^ {4}rows: +5$/m);
  });

  it('an unresolved variable is an error naming it at file:line:col, exit 2', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      'job.yaml:8:11: source[0].rows: variable "ROWS" is not set: pass --var ROWS=... or set it in the environment, or give a default with ${ROWS:-value}',
    );
    expect(r.report?.status).toBe('failed');
  });
});
