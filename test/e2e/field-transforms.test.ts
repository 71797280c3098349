import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fakeRow } from '../../connectors/fake/generator.js';
import { ensureBuilt, ROOT } from './support/build.js';
import { runCli, useWorkspaces } from './support/cli.js';

beforeAll(ensureBuilt, 240_000);

const workspace = useWorkspaces();

/** Every row of the committed JSON Lines files under `dir`, ordered by id. */
function outputRows(dir: string): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.jsonl')) continue;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) if (line) rows.push(JSON.parse(line) as Record<string, unknown>);
  }
  return rows.sort((a, b) => Number(a.id) - Number(b.id));
}

/** Runs `tideway run job.yaml --json` in a new workspace holding `files`; the run must end with `code`. */
async function runJobFiles(files: Record<string, string>, code = 0): Promise<{ dir: string; report: Record<string, unknown> }> {
  const dir = workspace(files);
  const run = await runCli(['run', 'job.yaml', '--json'], { cwd: dir, env: {}, timeoutMs: 90_000 });
  expect(run.code, run.stderr).toBe(code);
  return { dir, report: JSON.parse(run.stdout) as Record<string, unknown> };
}

describe('field transforms through the CLI', () => {
  it('configs/field-transforms.yaml: a change stream through every field transform into JSON Lines', async () => {
    const dir = workspace();
    cpSync(join(ROOT, 'configs', 'data'), join(dir, 'configs', 'data'), { recursive: true });
    const run = await runCli(['run', join(ROOT, 'configs', 'field-transforms.yaml'), '--json'], { cwd: dir, env: {}, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { status: string; rowsRead: number; rowsWritten: number; transforms: { type: string; rowsIn: number; rowsOut: number }[] };
    expect(report).toMatchObject({ status: 'finished', rowsRead: 8, rowsWritten: 6 });
    expect(report.transforms.map((t) => [t.type, t.rowsIn, t.rowsOut])).toEqual([
      ['filter_row_kind', 8, 6],
      ['json_path', 6, 6],
      ['split', 6, 6],
      ['replace', 6, 6],
      ['copy', 6, 6],
      ['replace', 6, 6],
      ['rename', 6, 6],
      ['field_mapper', 6, 6],
    ]);
    expect(outputRows(join(dir, 'out', 'field-transforms'))).toEqual([
      { id: 1, customer_name: 'Zoë Ünal', email: 'z***@example.com', channel: 'web', total: '12.50', first_sku: 'A1', first_qty: 2, sku_raw: 'A-1' },
      { id: 2, customer_name: 'Kenji 山田', email: 'k***@example.jp', channel: 'in-store', total: '7.00', first_sku: 'B7', first_qty: 1, sku_raw: 'B-7' },
      { id: 4, customer_name: 'Zoë Ünal', email: 'z***@example.com', channel: 'web', total: '15.00', first_sku: 'A1', first_qty: 3, sku_raw: 'A-1' },
      { id: 5, customer_name: "Ana (test) O'Neil", email: null, channel: 'web', total: '0.99', first_sku: null, first_qty: null, sku_raw: null },
      { id: 7, customer_name: 'Émile', email: 'e***@example.fr', channel: 'app 😀', total: '120.00', first_sku: 'D12', first_qty: 10, sku_raw: 'D-12' },
      { id: 8, customer_name: "Ana (test) O'Neil", email: 'a***@example.org', channel: 'web', total: '1.99', first_sku: null, first_qty: null, sku_raw: null },
    ]);
  });

  it('fake -> filter_row_kind, split, copy, replace, rename, field_mapper -> file: every row as computed from the generator', async () => {
    const rows = 3000;
    const { dir } = await runJobFiles({
      'job.yaml': `env:
  name: e2e-field-transforms
  parallelism: 2
  checkpoint:
    interval: 200ms
    dir: .ckpt
source:
  - type: fake
    rows: ${rows}
    seed: 5
    splits: 3
    chunk_rows: 256
transform:
  - type: filter_row_kind          # no __row_kind column: every row is an INSERT
    include_kinds: [INSERT]
  - type: split
    split_field: name              # customer-17
    separator: '-'
    output_fields: [prefix, number]
    output_types: [string, int64]
    keep_split_field: false
  - type: copy
    fields: { category_raw: category }
  - type: replace
    rules:
      - { replace_field: category, pattern: '^(\\w)(\\w*)$', replacement: '$2$1ay', is_regex: true }
      - { replace_field: category_raw, pattern: 'o', replacement: '0' }
  - type: rename
    fields: { amount: total }
  - type: field_mapper
    field_mapper: { id: id, number: n, prefix: prefix, category: category, category_raw: category_raw, total: total, quantity: quantity }
sink:
  - type: file
    path: out
    format: jsonl
`,
    });
    const expected = Array.from({ length: rows }, (_, id) => {
      const r = fakeRow(5, id);
      return {
        id,
        n: id,
        prefix: 'customer',
        category: r.category.replace(/^(\w)(\w*)$/u, '$2$1ay'),
        category_raw: r.category.replaceAll('o', '0'),
        total: r.amount,
        quantity: r.quantity,
      };
    });
    expect(outputRows(join(dir, 'out'))).toEqual(expected);
  });

  it('a row whose JSON does not parse fails the job (no dirty-data policy), naming the stage, the row and the code', async () => {
    const files = {
      'events.jsonl': ['{"id":1,"doc":"{\\"a\\":1}"}', '{"id":2,"doc":"{\\"a\\":"}'].join('\n') + '\n',
      'job.yaml': `env:
  name: e2e-json-path-bad
  checkpoint:
    dir: .ckpt
source:
  - type: file
    path: events.jsonl
transform:
  - type: json_path
    name: extract
    columns:
      - { src_field: doc, path: $.a, dest_field: a, dest_type: int64 }
sink:
  - type: file
    path: out
`,
    };
    const { report } = await runJobFiles(files, 1);
    const { status, error } = report as { status: string; error: { code: string; message: string } };
    expect(status).toBe('failed');
    expect(error.code).toBe('JSON_PATH_INVALID_JSON');
    expect(error.message).toContain('transform[0] (extract)');
    expect(error.message).toContain('row 1');
    expect(error.message).toContain('"doc" is not valid JSON');
  });

  it('with tolerance: all, rejected rows go to the dead-letter sink with their stage, code and row, and the rest is written', async () => {
    const events = [
      { id: 1, __row_kind: 'INSERT', doc: '{"n":1}' },
      { id: 2, __row_kind: 'UPSERT', doc: '{"n":2}' },
      { id: 3, __row_kind: 'DELETE', doc: '{"n":3}' },
      { id: 4, __row_kind: 'INSERT', doc: '{"n":' },
      { id: 5, __row_kind: '+U', doc: '{"n":"five"}' },
      { id: 6, __row_kind: 'UPDATE_AFTER', doc: '{"m":6}' },
    ];
    const { dir, report } = await runJobFiles({
      'events.jsonl': events.map((e) => JSON.stringify(e)).join('\n') + '\n',
      'job.yaml': `env:
  name: e2e-field-dead-letter
  checkpoint:
    dir: .ckpt
  errors:
    tolerance: all
    dead_letter:
      type: file
      path: bad
      format: jsonl
source:
  - type: file
    path: events.jsonl
transform:
  - type: filter_row_kind
    name: changes
    exclude_kinds: [DELETE]
  - type: json_path
    name: extract
    columns:
      - { src_field: doc, path: $.n, dest_field: n, dest_type: int32 }
sink:
  - type: file
    path: out
    format: jsonl
`,
    });
    expect(outputRows(join(dir, 'out')).map((r) => [r.id, r.n])).toEqual([
      [1, 1],
      [6, null],
    ]);
    type DeadLetter = { stage: string; stage_type: string; error_code: string; column: string | null; row_json: string };
    const bad = (outputRows(join(dir, 'bad')) as DeadLetter[]).map((r) => ({ ...r, id: (JSON.parse(r.row_json) as { id: number }).id }));
    bad.sort((a, b) => a.id - b.id);
    expect(bad.map((r) => [r.id, r.stage, r.stage_type, r.error_code, r.column])).toEqual([
      [2, 'changes', 'filter_row_kind', 'ROW_KIND_UNKNOWN', '__row_kind'],
      [4, 'extract', 'json_path', 'JSON_PATH_INVALID_JSON', 'doc'],
      [5, 'extract', 'json_path', 'JSON_PATH_TYPE', 'doc'],
    ]);
    const { transforms } = report as { transforms: { name: string; rowsIn: number; rowsOut: number; rowsErrored?: number }[] };
    expect(transforms.map((t) => [t.name, t.rowsIn, t.rowsOut, t.rowsErrored])).toEqual([
      ['changes', 6, 4, 1],
      ['extract', 4, 2, 2],
    ]);
  });

  it('tideway check names a column a field transform lacks, at its option, with a did-you-mean', async () => {
    const dir = workspace({
      'job.yaml': `env:
  name: e2e-field-check
source:
  - type: fake
    rows: 10
transform:
  - type: rename
    fields: { amuont: total }
sink:
  - type: blackhole
`,
    });
    const run = await runCli(['check', 'job.yaml'], { cwd: dir, env: {} });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('transform[0].fields.amuont: rename names column "amuont", which the stream does not have; did you mean "amount"?');
    expect(run.stderr).toMatch(/job\.yaml:\d+:\d+: transform\[0\]\.fields\.amuont: /);
  });

  it('tideway connectors lists every field transform', async () => {
    const run = await runCli(['connectors'], { cwd: workspace(), env: {} });
    expect(run.code).toBe(0);
    for (const name of ['field_mapper', 'rename', 'replace', 'split', 'copy', 'json_path', 'filter_row_kind']) expect(run.stdout).toMatch(new RegExp(`^${name} +transform `, 'm'));
  });
});
