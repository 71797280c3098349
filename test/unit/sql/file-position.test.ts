import { describe, expect, it } from 'vitest';
import { readYaml } from '../../../src/config/read-yaml.js';

/** Where `check` puts an issue at line:col inside transform[0].query of a job file. */
function placed(yaml: string, within: { line: number; col: number }) {
  const { locations } = readYaml(yaml, 'job.yaml', {});
  return locations.attach({ path: 'transform[0].query', message: 'x', within }).location;
}

const job = (query: string) => `source:\n  - type: fake\ntransform:\n  - type: sql\n    query: ${query}\nsink:\n  - type: blackhole\n`;

describe('sql error positions in the job file', () => {
  it('a | block: line n of the query is the n-th line of the block, at its indentation', () => {
    const yaml = job('|\n      SELECT id,\n\n        amout\n      FROM default');
    expect(placed(yaml, { line: 1, col: 8 })).toEqual({ file: 'job.yaml', line: 6, col: 14 });
    expect(placed(yaml, { line: 3, col: 3 })).toEqual({ file: 'job.yaml', line: 8, col: 9 });
    expect(yaml.split('\n')[7]!.slice(8)).toBe('amout');
  });

  it('a one-line plain or quoted value: the column adds to the value start', () => {
    expect(placed(job('SELECT amout FROM default'), { line: 1, col: 8 })).toEqual({ file: 'job.yaml', line: 5, col: 19 });
    expect(placed(job('"SELECT amout FROM default"'), { line: 1, col: 8 })).toEqual({ file: 'job.yaml', line: 5, col: 20 });
    expect(job('SELECT amout FROM default').split('\n')[4]!.slice(18, 23)).toBe('amout');
  });

  it('folded values and escapes before the column keep the value start (no wrong position)', () => {
    expect(placed(job('>\n      SELECT amout\n      FROM default'), { line: 1, col: 8 })).toEqual({ file: 'job.yaml', line: 5, col: 12 });
    expect(placed(job('"SELECT \\"a\\", amout FROM default"'), { line: 1, col: 15 })).toEqual({ file: 'job.yaml', line: 5, col: 12 });
  });
});
