import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../../src/api/errors.js';
import { loadJobText } from '../../../src/config/load-job.js';
import { registry } from './fixture-registry.js';

/** Every issue of an invalid job as the CLI prints it: `file:line:col: key.path: message`. */
function problems(yaml: string): string[] {
  const result = loadJobText(yaml, 'job.yaml', { registry, vars: {}, env: {} });
  if (result.ok) throw new Error('expected the job to be invalid');
  return result.issues.map(formatIssue);
}

const lines = (...parts: string[]) => `${parts.join('\n')}\n`;

describe('config issues are located at file:line:col', () => {
  it('unknown keys point at the key and suggest the closest name', () => {
    const out = problems(
      lines('env:', '  name: demo', '  parallelizm: 2', 'source:', '  - type: gen', '    rowz: 10', 'sink:', '  - type: file', '    path: out'),
    );
    expect(out).toHaveLength(2);
    expect(out).toContain('job.yaml:3:3: env.parallelizm: unknown option "parallelizm"; did you mean "parallelism"?');
    expect(out).toContain('job.yaml:6:5: source[0].rowz: unknown option "rowz"; did you mean "rows"?');
  });

  it('an unknown section points at its key', () => {
    const out = problems(lines('env:', '  name: demo', 'source:', '  - type: gen', 'sinks:', '  - type: file', '    path: out'));
    expect(out).toContainEqual(expect.stringMatching(/^job\.yaml:5:1: sinks: unknown section "sinks"; did you mean "sink"\?$/));
    // The missing sink section is reported too, at the job's top-level mapping.
    expect(out).toContainEqual(expect.stringMatching(/^job\.yaml:1:1: sink: at least one sink is required$/));
  });

  it('wrong types and values point at the value', () => {
    const out = problems(
      lines('env:', '  name: demo', '  parallelism: two', 'source:', '  - type: gen', '    rows: -5', 'sink:', '  - type: file', '    path: out', '    format: parquet'),
    );
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^job\.yaml:3:16: env\.parallelism: expected number/);
    expect(out).toContainEqual(expect.stringMatching(/^job\.yaml:6:11: source\[0\]\.rows: .*>=\s?0/));
    expect(out).toContainEqual(expect.stringMatching(/^job\.yaml:10:13: sink\[0\]\.format: .*"jsonl"/));
  });

  it('a wrong value in a nested env block points at that value', () => {
    const out = problems(
      lines('env:', '  name: demo', '  checkpoint:', '    interval: soon', 'source:', '  - type: gen', 'sink:', '  - type: file', '    path: out'),
    );
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:4:15: env\.checkpoint\.interval: expected a duration/)]);
  });

  it('missing required options point at the mapping that should hold them', () => {
    const out = problems(lines('env:', '  name: demo', 'source:', '  - type: db', '    table: t', 'sink:', '  - type: file'));
    expect(out).toEqual(
      expect.arrayContaining([
        'job.yaml:4:5: source[0].host: required option "host" is missing',
        'job.yaml:4:5: source[0].password: required option "password" is missing',
        'job.yaml:7:5: sink[0].path: required option "path" is missing',
      ]),
    );
    expect(out).toHaveLength(3);
  });

  it('a missing env block points at the top of the file', () => {
    const out = problems(lines('# a job without env', 'source:', '  - type: gen', 'sink:', '  - type: file', '    path: out'));
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:2:1: env: env is required/)]);
  });

  it('an unknown connector type points at the type value with a suggestion', () => {
    const out = problems(lines('env:', '  name: demo', 'source:', '  - type: gen', 'sink:', '  - type: fiel', '    path: out'));
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:6:11: sink\[0\]\.type: unknown sink type "fiel"; did you mean "file"\?/)]);
  });

  it('a dangling input points at the input value', () => {
    const out = problems(
      lines(
        'env:',
        '  name: demo',
        'source:',
        '  - type: gen',
        '    output: orders',
        '  - type: gen',
        '    output: users',
        'sink:',
        '  - type: file',
        '    input: order',
        '    path: out',
      ),
    );
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:10:12: sink\[0\]\.input: no stage produces stream "order"; did you mean "orders"\?/)]);
  });

  it('a missing input with several sources points at the sink', () => {
    const out = problems(
      lines('env:', '  name: demo', 'source:', '  - type: gen', '    output: a', '  - type: gen', '    output: b', 'sink:', '  - type: file', '    path: out'),
    );
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:9:5: sink\[0\]\.input: input is required when the job has several sources/)]);
  });

  it('a cycle points at the input of every transform in it', () => {
    const out = problems(
      lines(
        'env:',
        '  name: demo',
        'source:',
        '  - type: gen',
        '    output: raw',
        'transform:',
        '  - type: upper',
        '    input: b',
        '    output: a',
        '    field: x',
        '  - type: upper',
        '    input: a',
        '    output: b',
        '    field: x',
        'sink:',
        '  - type: file',
        '    input: raw',
        '    path: out',
      ),
    );
    expect(out).toEqual([
      expect.stringMatching(/^job\.yaml:8:12: transform\[0\]\.input: streams form a cycle/),
      expect.stringMatching(/^job\.yaml:12:12: transform\[1\]\.input: streams form a cycle/),
    ]);
  });

  it('a duplicate output points at the second declaration', () => {
    const out = problems(
      lines(
        'env:',
        '  name: demo',
        'source:',
        '  - type: gen',
        '    output: rows',
        '  - type: gen',
        '    output: rows',
        'sink:',
        '  - type: file',
        '    input: rows',
        '    path: out',
      ),
    );
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:7:13: source\[1\]\.output: stream "rows" is already produced by source\[0\]/)]);
  });

  it('flow-style mappings are located too', () => {
    const out = problems(lines('env: {name: demo, parallelism: "2"}', 'source: [{type: gen}]', 'sink: [{type: file, path: out, formt: csv}]'));
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^job\.yaml:1:32: env\.parallelism: expected number/),
        'job.yaml:3:32: sink[0].formt: unknown option "formt"; did you mean "format"?',
      ]),
    );
  });

  it('YAML syntax errors are located and stop before validation', () => {
    const out = problems(lines('env:', '  name: demo', 'source:', '  - type: gen', '   rows: 1', 'sink: [', ''));
    expect(out.length).toBeGreaterThanOrEqual(1);
    for (const line of out) expect(line).toMatch(/^job\.yaml:\d+:\d+: invalid YAML: /);
    expect(out[0]).toMatch(/^job\.yaml:5:/);
  });

  it('duplicate keys are a YAML error at the second key', () => {
    const out = problems(lines('env:', '  name: demo', '  name: other', 'source:', '  - type: gen', 'sink:', '  - type: file', '    path: out'));
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:3:3: invalid YAML: .*unique/i)]);
  });

  it('an empty file is one issue at 1:1', () => {
    expect(problems('')).toEqual([expect.stringMatching(/^job\.yaml:1:1: a job must be a mapping/)]);
  });

  it('a valid job loads with its plan', () => {
    const result = loadJobText(lines('env:', '  name: demo', 'source:', '  - type: gen', 'sink:', '  - type: file', '    path: out'), 'job.yaml', {
      registry,
      env: {},
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.plan.sources[0]?.options).toEqual({ rows: 100, splits: 4 });
    expect(result.plan.sinks[0]?.input).toBe('default');
  });

  it('a section written as a mapping instead of a list is an error at the section, not silently a list', () => {
    const out = problems(lines('env:', '  name: demo', 'source:', '  type: gen', '  rows: 5', 'sink:', '  - type: file', '    path: out'));
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:4:3: source: source must be a list of stages, each starting with "- ": write "source:" then " {2}- type: fake"/)]);
  });

  it('two sinks with the same name are an error at the second name', () => {
    const out = problems(lines('env:', '  name: demo', 'source:', '  - type: gen', 'sink:', '  - type: file', '    name: out', '    path: a', '  - type: file', '    name: out', '    path: b'));
    expect(out).toEqual(['job.yaml:10:11: sink[1].name: sink name "out" is already used by sink[0]; give each sink its own name (reports and checkpoints tell sinks apart by name)']);
  });

  it('two unnamed sinks of one type are numbered, not a conflict', () => {
    const result = loadJobText(lines('env:', '  name: demo', 'source:', '  - type: gen', 'sink:', '  - type: file', '    path: a', '  - type: file', '    path: b'), 'job.yaml', { registry, env: {} });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.plan.sinks.map((s) => s.name)).toEqual(['file#1', 'file#2']);
  });
});
