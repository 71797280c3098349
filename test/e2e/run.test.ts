import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './support/build.js';
import { committedIds } from '../helpers/output.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();


const fakeToFile = (rows: number, extraEnv = '') => `env:
  name: e2e-run
  checkpoint:
    interval: 300ms
    dir: .ckpt
${extraEnv}source:
  - type: fake
    rows: ${rows}
    splits: 4
    chunk_rows: 250
sink:
  - type: file
    path: out
    format: jsonl
`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('tideway run', () => {
  it('finishes with exit 0 and prints exactly the JSON report, and nothing else, on stdout', async () => {
    const dir = workspace({ 'job.yaml': fakeToFile(2000) });
    const run = await runCli(['run', 'job.yaml', '--json'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(['job', 'status', 'rowsRead', 'rowsWritten', 'rowsErrored', 'checkpoints', 'durationMs', 'resumedFromCheckpoint', 'sources', 'transforms', 'sinks', 'error']);
    expect(report).toMatchObject({
      job: 'e2e-run',
      status: 'finished',
      rowsRead: 2000,
      rowsWritten: 2000,
      rowsErrored: 0,
      resumedFromCheckpoint: null,
      sources: [{ name: 'fake', type: 'fake', rowsRead: 2000 }],
      transforms: [],
      sinks: [{ name: 'file', type: 'file', rowsWritten: 2000, rowsRejected: 0, rowsLate: 0, rowsErrored: 0, deadLetter: false }],
      error: null,
    });
    expect(report.checkpoints).toBeGreaterThanOrEqual(1);
    expect(report.durationMs).toBeGreaterThan(0);
    expect((report.sinks as { bytesWritten: number }[])[0]!.bytesWritten).toBeGreaterThan(0);
    expect(committedIds(`${dir}/out`).sort((a, b) => a - b)).toEqual(range(2000));
    // The human report is not printed in --json mode.
    expect(run.stderr).not.toMatch(/^job e2e-run finished/m);
  });

  it('--json: rows fanned out to two sinks count once at the top and per sink, and a filter\'s dropped rows are reported', async () => {
    const dir = workspace({
      'job.yaml': `env:
  name: e2e-fan-out
  checkpoint:
    dir: .ckpt
source:
  - type: fake
    rows: 1000
transform:
  - type: filter
    name: small
    where: [{ column: id, op: '<', value: 600 }]
sink:
  - type: blackhole
    name: one
  - type: file
    name: two
    path: out
`,
    });
    const run = await runCli(['run', 'job.yaml', '--json'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { rowsWritten: number; transforms: unknown[]; sinks: { name: string; rowsWritten: number }[] };
    expect(report.rowsWritten).toBe(600);
    expect(report.sinks.map((s) => [s.name, s.rowsWritten])).toEqual([
      ['one', 600],
      ['two', 600],
    ]);
    expect(report.transforms).toEqual([{ name: 'small', type: 'filter', rowsIn: 1000, rowsOut: 600, rowsFiltered: 400, rowsErrored: 0 }]);
  });

  it('prints the human report on stderr and keeps stdout empty without --json', async () => {
    const dir = workspace({ 'job.yaml': fakeToFile(500) });
    const run = await runCli(['run', 'job.yaml'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^job e2e-run finished in /m);
    expect(run.stderr).toMatch(/^ {2}read +500 rows, .* from fake$/m);
    expect(run.stderr).toMatch(/^ {2}written +500 rows, .* to file$/m);
    expect(run.stderr).toMatch(/^ {2}resumed +no \(fresh start\)$/m);
    expect(run.stderr).toMatch(/^ {2}checkpoints +[1-9]\d*$/m);
  });

  it('--quiet prints no report and no progress', async () => {
    const dir = workspace({ 'job.yaml': fakeToFile(300) });
    const run = await runCli(['run', 'job.yaml', '--quiet'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe('');
  });

  it('--parallelism overrides env.parallelism and the output is still exactly once', async () => {
    const dir = workspace({ 'job.yaml': fakeToFile(3000) });
    const check = await runCli(['check', 'job.yaml', '--parallelism', '2'], { cwd: dir });
    expect(check.stdout).toMatch(/^ {2}parallelism +2 \(--parallelism; the file says 1\)$/m);
    const run = await runCli(['run', 'job.yaml', '--parallelism', '2', '--json'], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(committedIds(`${dir}/out`).sort((a, b) => a - b)).toEqual(range(3000));
  });

  it('a failing job exits 1 with error [CODE] naming what broke, and no stack without --verbose', async () => {
    const dir = workspace({
      'job.yaml': `env:
  name: e2e-assert
  checkpoint:
    dir: .ckpt
source:
  - type: fake
    rows: 1000
sink:
  - type: assert
    rows:
      equals: 999
`,
    });
    const run = await runCli(['run', 'job.yaml', '--json'], { cwd: dir });
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { status: string; error: { code: string; message: string } };
    expect(report.status).toBe('failed');
    expect(report.error.code).toBe('ASSERT_FAILED');
    expect(report.error.message).toMatch(/rows/);
    expect(run.stderr).toMatch(/^error \[ASSERT_FAILED\]: .*rows/m);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('usage errors exit 2', () => {
  it.each([
    [[]],
    [['frobnicate']],
    [['run']],
    [['run', 'job.yaml', '--parallelism', '0']],
    [['run', 'job.yaml', '--parallelism', 'two']],
    [['run', 'job.yaml', '--var', 'not a pair']],
    [['run', 'job.yaml', '--no-such-flag']],
    [['connectors', 'nosuch']],
  ])('tideway %j', async (args) => {
    const dir = workspace({ 'job.yaml': fakeToFile(10) });
    const run = await runCli(args, { cwd: dir });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr.length).toBeGreaterThan(0);
  });

  it.each([['check'], ['run']])('%s -p 10000 is a range error about the flag, not about a line of the file', async (command) => {
    const dir = workspace({ 'job.yaml': fakeToFile(10, '  parallelism: 2\n') });
    const run = await runCli([command, 'job.yaml', '-p', '10000'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/option '-p, --parallelism <n>' argument '10000' is invalid\. expected a whole number from 1 to 64/);
    expect(run.stderr).not.toMatch(/job\.yaml:\d+/);
    expect(run.stdout).toBe('');
  });

  it.each([['check'], ['run']])('%s -p 100 on one machine is refused (exit 2), naming the limit and the cluster mode that lifts it', async (command) => {
    const dir = workspace({ 'job.yaml': fakeToFile(10, '  parallelism: 2\n') });
    const run = await runCli([command, 'job.yaml', '-p', '100'], { cwd: dir });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/parallelism is at most 64 on one machine/);
    expect(run.stderr).toMatch(/cluster/);
    expect(readdirSync(dir)).not.toContain('out');
  });

  it('a job the engine rejects at start (an unbounded source in batch mode) is a config error, exit 2', async () => {
    const dir = workspace({ 'job.yaml': 'env:\n  name: e2e-unbounded\n  checkpoint:\n    dir: .ckpt\nsource:\n  - type: fake\n    unbounded: true\nsink:\n  - type: blackhole\n' });
    const run = await runCli(['run', 'job.yaml'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^job\.yaml:7:16: source\[0\]\.unbounded: this fake source is unbounded.*env\.mode: streaming/m);
  });

  it('a missing job file is named, exit 2', async () => {
    const dir = workspace();
    const run = await runCli(['run', 'nope.yaml'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/cannot read the job file nope\.yaml: no such file/);
  });

  it('--help and --version exit 0 on stdout', async () => {
    const dir = workspace();
    const help = await runCli(['--help'], { cwd: dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: tideway/);
    expect(help.stdout).toMatch(/run \[options\] <job\.yaml>/);
    const version = await runCli(['--version'], { cwd: dir });
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('tideway connectors', () => {
  it('lists every built-in connector on one line each', async () => {
    const run = await runCli(['connectors'], { cwd: process.cwd() });
    expect(run.code).toBe(0);
    for (const name of ['assert', 'blackhole', 'console', 'fake', 'file']) expect(run.stdout).toMatch(new RegExp(`^${name} +(source|sink)`, 'm'));
  });

  it('describes one connector: every option with type, required, secret, default', async () => {
    const run = await runCli(['connectors', 'fake'], { cwd: process.cwd() });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\| Option +\| Type +\| Required +\| Secret +\| Default +\| Description \|$/m);
    expect(run.stdout).toMatch(/^\| rows +\| number +\| no +\| no +\| 1000 +\| /m);
  });
});
