import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JsonReport } from '../../src/cli/report.js';
import { committedRows } from '../helpers/output.js';
import { ensureBuilt, ROOT } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();
const CONFIG = join(ROOT, 'configs', 'dead-letter.yaml');

describe('tideway run: dirty data with a dead-letter sink (configs/dead-letter.yaml)', () => {
  it('writes the good rows to the output and each rejected row once to the dead letter; --json counts them per stage', async () => {
    const dir = workspace();
    const run = await runCli(['run', CONFIG, '--json'], { cwd: dir, env: {}, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.status).toBe('finished');
    expect(report.rowsRead).toBe(200);
    // ids 0..127 fit an int8; the 72 others are rejected by the split transform.
    expect(report.rowsErrored).toBe(72);
    expect(report.rowsWritten).toBe(128);
    expect(report.transforms).toEqual([{ name: 'split', type: 'split', rowsIn: 200, rowsOut: 128, rowsFiltered: 0, rowsErrored: 72 }]);
    expect(report.sinks.map((s) => [s.name, s.rowsWritten, s.deadLetter])).toEqual([
      ['file', 128, false],
      ['dead-letter', 72, true],
    ]);
    const good = committedRows(join(dir, 'out/dead-letter/good'));
    expect(good.map((r) => r.id).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 128 }, (_, i) => i));
    const bad = committedRows(join(dir, 'out/dead-letter/bad-rows'));
    expect(bad).toHaveLength(72);
    const ids = bad.map((r) => (JSON.parse(r.row_json as string) as { id: number }).id).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 72 }, (_, i) => 128 + i));
    expect(Object.keys(bad[0]!).sort()).toEqual(['column', 'error_code', 'error_message', 'job', 'row_json', 'stage', 'stage_type']);
    expect(bad[0]).toMatchObject({ job: 'dead-letter', stage: 'split', stage_type: 'split', error_code: 'SPLIT_TYPE', column: 'name' });
    expect(bad[0]!.error_message).toMatch(/is not an integer in the range of Int8/);
  });

  it('with -p 3 (pipelines on worker threads, each with its own dead-letter writer): the same rows, each once', async () => {
    const dir = workspace();
    const run = await runCli(['run', CONFIG, '-p', '3', '--var', 'ROWS=3000', '--var', 'MAX_ERRORS=5000', '--json'], { cwd: dir, env: {}, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.rowsErrored).toBe(3000 - 128);
    const good = committedRows(join(dir, 'out/dead-letter/good')).map((r) => Number(r.id));
    const bad = committedRows(join(dir, 'out/dead-letter/bad-rows')).map((r) => (JSON.parse(r.row_json as string) as { id: number }).id);
    expect(good.sort((a, b) => a - b)).toEqual(Array.from({ length: 128 }, (_, i) => i));
    expect(bad.sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 - 128 }, (_, i) => 128 + i));
  });

  it('prints the errored rows and the dead-letter sink in the human report', async () => {
    const dir = workspace();
    const run = await runCli(['run', CONFIG], { cwd: dir, env: {}, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^ {2}transform +split: 200 in, 128 out, 0 filtered, 72 errored \(dirty data\)$/m);
    expect(run.stderr).toMatch(/^ {2}dead letter +72 bad rows, .* to dead-letter \(file\)$/m);
    expect(run.stderr).toMatch(/^ {2}errored +72 bad rows rejected by the dirty-data policy/m);
  });

  it('fails with exit code 1 once the stage crosses max_errors, naming the stage and its first errors', async () => {
    const dir = workspace();
    const run = await runCli(['run', CONFIG, '--var', 'MAX_ERRORS=10', '--json'], { cwd: dir, env: {}, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as JsonReport;
    expect(report.status).toBe('failed');
    expect(report.error?.code).toBe('DIRTY_DATA_LIMIT');
    expect(report.error?.message).toMatch(/^transform\[0\] \(split\) rejected \d+ of \d+ rows \(in this run\), more than max_errors \(10\) set in env.errors. First errors: \[SPLIT_TYPE\] /);
    // Nothing of the failed run is visible: the output only holds what a checkpoint committed.
    expect(committedRows(join(dir, 'out/dead-letter/bad-rows')).length).toBeLessThanOrEqual(10);
  });

  it('refuses a dead_letter under tolerance none before anything runs', async () => {
    const dir = workspace({
      'job.yaml': ['env:', '  name: strict', '  errors:', '    dead_letter: { type: file, path: bad }', 'source:', '  - type: fake', '    rows: 5', 'sink:', '  - type: blackhole', ''].join('\n'),
    });
    const run = await runCli(['run', 'job.yaml'], { cwd: dir, env: {} });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/job.yaml:4:\d+: env.errors.dead_letter: dead_letter applies only with tolerance: all/);
  });
});
