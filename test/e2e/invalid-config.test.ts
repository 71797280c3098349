import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

/** Runs `tideway <command> job.yaml` on `yaml`; returns the result and the stderr lines. */
async function invalid(yaml: string, command: 'run' | 'check' = 'check', extra: string[] = []) {
  const dir = workspace({ 'job.yaml': yaml });
  const run = await runCli([command, 'job.yaml', ...extra], { cwd: dir, env: {} });
  return { ...run, lines: run.stderr.trimEnd().split('\n') };
}

describe('invalid configs: every problem, each as file:line:col: key.path: message, exit 2', () => {
  it('an unknown key, with a did-you-mean', async () => {
    const r = await invalid(`env:
  name: bad
source:
  - type: fake
    rowz: 10
sink:
  - type: blackhole
`);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual(['job.yaml:5:5: source[0].rowz: unknown option "rowz"; did you mean "rows"?', '1 problem in job.yaml; nothing ran']);
    expect(r.stdout).toBe('');
  });

  it('a wrong type, at the value', async () => {
    const r = await invalid(`env:
  name: bad
  parallelism: lots
source:
  - type: fake
    splits: many
sink:
  - type: blackhole
`);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([
      'job.yaml:3:16: env.parallelism: expected number, received string',
      'job.yaml:6:13: source[0].splits: expected number, received string',
      '2 problems in job.yaml; nothing ran',
    ]);
  });

  it('a missing required option, at the mapping that needs it', async () => {
    const r = await invalid(`env:
  name: bad
source:
  - type: fake
sink:
  - type: file
    format: csv
`);
    expect(r.code).toBe(2);
    expect(r.lines[0]).toBe('job.yaml:6:5: sink[0].path: required option "path" is missing');
  });

  it('an unknown connector type, with a did-you-mean', async () => {
    const r = await invalid(`env:
  name: bad
source:
  - type: fak
sink:
  - type: blackhole
`);
    expect(r.code).toBe(2);
    expect(r.lines[0]).toMatch(/^job\.yaml:4:11: source\[0\]\.type: unknown source type "fak"; did you mean "fake"\?/);
  });

  it('a dangling input, with a did-you-mean', async () => {
    const r = await invalid(`env:
  name: bad
source:
  - type: fake
    output: orders
sink:
  - type: blackhole
    input: ordres
`);
    expect(r.code).toBe(2);
    expect(r.lines[0]).toMatch(/^job\.yaml:8:12: sink\[0\]\.input: no stage produces stream "ordres"; did you mean "orders"\?/);
  });

  it('a cycle, at the input of every transform in it', async () => {
    const r = await invalid(`env:
  name: bad
source:
  - type: fake
    output: raw
transform:
  - type: select
    input: b
    output: a
  - type: select
    input: a
    output: b
sink:
  - type: blackhole
    input: raw
`);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([
      expect.stringMatching(/^job\.yaml:8:12: transform\[0\]\.input: streams form a cycle: transform\[0\] -> transform\[1\] -> transform\[0\]/),
      expect.stringMatching(/^job\.yaml:11:12: transform\[1\]\.input: streams form a cycle/),
      '2 problems in job.yaml; nothing ran',
    ]);
  });

  it('a duplicate output', async () => {
    const r = await invalid(`env:
  name: bad
source:
  - type: fake
    output: rows
  - type: fake
    output: rows
sink:
  - type: blackhole
    input: rows
`);
    expect(r.code).toBe(2);
    expect(r.lines[0]).toMatch(/^job\.yaml:7:13: source\[1\]\.output: stream "rows" is already produced by source\[0\]/);
  });

  it('a YAML syntax error', async () => {
    const r = await invalid(`env:
  name: bad
source:
  - type: fake
    rows: [1, 2
sink:
  - type: blackhole
`);
    expect(r.code).toBe(2);
    expect(r.lines[0]).toMatch(/^job\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('reports every problem of a file at once, through run too, and --json carries them', async () => {
    const r = await invalid(
      `env:
  name: bad
  parallelizm: 2
source:
  - type: fake
    rows: -1
  - type: fak
sink:
  - type: file
`,
      'run',
      ['--json'],
    );
    expect(r.code).toBe(2);
    const expected = [
      'job.yaml:3:3: env.parallelizm: unknown option "parallelizm"; did you mean "parallelism"?',
      expect.stringMatching(/^job\.yaml:6:11: source\[0\]\.rows: .*>=\s?0/),
      expect.stringMatching(/^job\.yaml:7:11: source\[1\]\.type: unknown source type "fak"/),
      'job.yaml:9:5: sink[0].path: required option "path" is missing',
      expect.stringMatching(/^job\.yaml:9:5: sink\[0\]\.input: input is required when the job has several sources/),
      '5 problems in job.yaml; nothing ran',
    ];
    expect(r.lines).toEqual(expected);
    const report = JSON.parse(r.stdout) as { status: string; error: { code: string; message: string } };
    expect(report.status).toBe('failed');
    expect(report.error.code).toBe('CONFIG_INVALID');
    expect(report.error.message.split('\n')).toEqual(expected);
  });

  it.each([['check'], ['run']] as const)('%s: an unbounded source in batch mode is found before anything runs, at its line', async (command) => {
    const r = await invalid('env:\n  name: bad\n  checkpoint:\n    dir: .ckpt\nsource:\n  - type: fake\n    unbounded: true\nsink:\n  - type: blackhole\n', command);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([
      'job.yaml:7:16: source[0].unbounded: this fake source is unbounded, so it never ends in env.mode: batch; set env.mode: streaming (or make the source bounded)',
      '1 problem in job.yaml; nothing ran',
    ]);
  });

  it.each([['check'], ['run']] as const)('%s: select on a column the source does not have, at that column', async (command) => {
    const r = await invalid('env:\n  name: bad\n  checkpoint:\n    dir: .ckpt\nsource:\n  - type: fake\n    rows: 10\ntransform:\n  - type: select\n    columns: [id, nmae]\nsink:\n  - type: blackhole\n', command);
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([
      expect.stringMatching(/^job\.yaml:10:19: transform\[0\]\.columns\[1\]: select names column "nmae", which the stream does not have; did you mean "name"\?/),
      '1 problem in job.yaml; nothing ran',
    ]);
  });

  it('source written as a mapping, and two sinks with one name', async () => {
    const r = await invalid('env:\n  name: bad\nsource:\n  type: fake\nsink:\n  - type: blackhole\n    name: out\n  - type: console\n    name: out\n');
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([
      expect.stringMatching(/^job\.yaml:4:3: source: source must be a list of stages/),
      expect.stringMatching(/^job\.yaml:9:11: sink\[1\]\.name: sink name "out" is already used by sink\[0\]/),
      '2 problems in job.yaml; nothing ran',
    ]);
  });

  it.each([
    ['a file', (dir: string) => (writeFileSync(join(dir, 'ckpt-file'), 'x'), 'ckpt-file/sub'), 'PATH_NOT_DIRECTORY', /ckpt-file is a file/],
    ['under /sys', () => '/sys/kernel/tideway-e2e', 'PATH_SYSTEM_DIRECTORY', /kernel filesystem/],
    ['under /proc', () => '/proc/tideway-e2e/ckpt', 'PATH_SYSTEM_DIRECTORY', /kernel filesystem/],
  ] as const)('run: checkpoint.dir %s is a located config error naming the option and the path, not INTERNAL (and never a hang)', async (_what, make, code, detail) => {
    const dir = workspace();
    const ckpt = make(dir);
    writeFileSync(join(dir, 'job.yaml'), `env:\n  name: bad\n  checkpoint:\n    dir: ${ckpt}\nsource:\n  - type: fake\n    rows: 5\nsink:\n  - type: blackhole\n`);
    const run = await runCli(['run', 'job.yaml', '--json'], { cwd: dir, env: {}, timeoutMs: 20_000 });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^job\\.yaml:4:10: env\\.checkpoint\\.dir: \\[${code}\\] checkpoint\\.dir `, 'm'));
    expect(run.stderr).toMatch(detail);
    expect(run.stderr).not.toMatch(/INTERNAL/);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'failed', error: { code } });
  });
});
