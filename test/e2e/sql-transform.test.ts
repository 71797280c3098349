import { beforeAll, describe, expect, it } from 'vitest';
import { fakeSchema, generateBatch } from '../../connectors/fake/generator.js';
import { batchToRows } from '../../src/api/rows.js';
import { committedRows } from '../helpers/output.js';
import { ensureBuilt } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

const job = (query: string) => `env:
  name: e2e-sql
  checkpoint:
    interval: 300ms
    dir: .ckpt
source:
  - type: fake
    rows: 3000
    splits: 3
    chunk_rows: 500
    seed: 11
transform:
  - type: sql
    query: |
${query
  .split('\n')
  .map((line) => `      ${line}`)
  .join('\n')}
sink:
  - type: file
    path: out
    format: jsonl
`;

describe('sql transform through the CLI', () => {
  it('fake -> sql -> file: the committed rows are the source rows filtered and computed as the query says', async () => {
    const dir = workspace({
      'job.yaml': job(`SELECT id, upper(category) AS category, round(amount * 2, 2) AS doubled,
       CASE WHEN quantity IS NULL THEN -1 ELSE quantity END AS quantity
FROM default
WHERE amount >= 5000 AND category <> 'toys'`),
    });
    const run = await runCli(['run', 'job.yaml', '--json'], { cwd: dir, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { rowsRead: number; rowsWritten: number; transforms: { type: string; rowsIn: number; rowsOut: number }[] };
    // The same rows computed here from the generator the fake source uses.
    const source = batchToRows(generateBatch(11, 0, 3000));
    const expected = source
      .filter((r) => (r.amount as number) >= 5000 && r.category !== 'toys')
      .map((r) => ({ id: Number(r.id), category: (r.category as string).toUpperCase(), doubled: Math.round((r.amount as number) * 2 * 100) / 100, quantity: r.quantity ?? -1 }));
    expect(expected.length).toBeGreaterThan(500);
    const written = committedRows(`${dir}/out`).sort((a, b) => (a.id as number) - (b.id as number));
    expect(written).toEqual(expected);
    expect(report.rowsRead).toBe(3000);
    expect(report.rowsWritten).toBe(expected.length);
    expect(report.transforms[0]).toMatchObject({ type: 'sql', rowsIn: 3000, rowsOut: expected.length });
    expect(fakeSchema.fields.map((f) => f.name)).toContain('quantity');
  });

  it('fake -> sql with two LATERAL VIEWs -> file: one committed row per element, the WHERE over input and exploded columns', async () => {
    const dir = workspace({
      'job.yaml': job(`SELECT id, upper(part) AS part, CAST(q AS INT) * 2 AS q2
FROM default
LATERAL VIEW EXPLODE(SPLIT(category, 'o')) AS part
LATERAL VIEW EXPLODE(ARRAY(quantity, 1)) AS q
WHERE amount >= 5000 AND part <> ''`),
    });
    const run = await runCli(['run', 'job.yaml', '--json'], { cwd: dir, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { rowsRead: number; rowsWritten: number; transforms: { type: string; rowsIn: number; rowsOut: number; rowsErrored: number; rowsFiltered: number }[] };
    const key = (r: Record<string, unknown>) => JSON.stringify([r.id, r.part, r.q2]);
    // The same rows exploded here from the generator the fake source uses: NULL quantities are skipped.
    const expected = batchToRows(generateBatch(11, 0, 3000))
      .filter((r) => (r.amount as number) >= 5000)
      .flatMap((r) =>
        (r.category as string)
          .split('o')
          .filter((part) => part !== '')
          .flatMap((part) => [r.quantity, 1].filter((q) => q !== null).map((q) => ({ id: Number(r.id), part: part.toUpperCase(), q2: (q as number) * 2 }))),
      )
      .sort((a, b) => key(a).localeCompare(key(b)));
    expect(expected.length).toBeGreaterThan(3000);
    const written = committedRows(`${dir}/out`).sort((a, b) => key(a).localeCompare(key(b)));
    expect(written).toEqual(expected);
    expect(report.rowsWritten).toBe(expected.length);
    // Filtered: the input rows that gave no row (the WHERE, or no non-empty part), never a negative count.
    const gaveRows = new Set(expected.map((r) => r.id)).size;
    expect(report.transforms[0]).toMatchObject({ type: 'sql', rowsIn: 3000, rowsOut: expected.length, rowsErrored: 0, rowsFiltered: 3000 - gaveRows });
  });

  it('check reports an unknown column inside a LATERAL VIEW at its line and column in the job file', async () => {
    const dir = workspace({ 'job.yaml': job("SELECT id, tag\nFROM default\n  LATERAL VIEW EXPLODE(SPLIT(categry, ',')) AS tag") });
    const run = await runCli(['check', 'job.yaml'], { cwd: dir });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/job\.yaml:17:36: transform\[0\]\.query: sql query, line 3, column 30: unknown column "categry"; did you mean "category"\?/);
  });

  it('check reports an unknown column at the job file with the line and column inside the query, and runs nothing', async () => {
    const dir = workspace({ 'job.yaml': job('SELECT id,\n       amout * 2 AS x\nFROM default') });
    const run = await runCli(['check', 'job.yaml'], { cwd: dir });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/job\.yaml:16:14: transform\[0\]\.query: sql query, line 2, column 8: unknown column "amout"; did you mean "amount"\?/);
  });

  it('a row that fails a CAST fails the job under the default dirty-data policy, naming the stage, row and code', async () => {
    const dir = workspace({ 'job.yaml': job("SELECT id, CAST(CASE WHEN id = 7 THEN 'x' ELSE '1' END AS INT) AS n FROM default") });
    const run = await runCli(['run', 'job.yaml'], { cwd: dir, timeoutMs: 90_000 });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('SQL_CAST_FAILED');
    expect(run.stderr).toContain('cannot cast "x"');
  });

  it('tideway connectors lists sql as a transform and describes its query option', async () => {
    const list = await runCli(['connectors'], { cwd: workspace(), env: {} });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^sql +transform +Runs a SQL SELECT over each batch/m);
    const one = await runCli(['connectors', 'sql'], { cwd: workspace(), env: {} });
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/^\| query +\| string +\| yes +\| no +\| +\| One SELECT over the stage's input stream/m);
  });
});
