import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../../src/api/errors.js';
import { loadJobText } from '../../../src/config/load-job.js';
import { MAX_ALIAS_EXPANSION, MAX_DOCUMENT_BYTES } from '../../../src/config/read-yaml.js';
import { registry } from './fixture-registry.js';

function load(yaml: string) {
  return loadJobText(yaml, 'job.yaml', { registry, vars: {}, env: {} });
}

/** The "billion laughs": each level is a list of nine aliases to the level before; 8 levels hold 43 million values. */
function aliasBomb(levels: number): string {
  const lines = ['  a0: &a0 [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= levels; i++) lines.push(`  a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
  return `anchors:\n${lines.join('\n')}\nenv:\n  name: bomb\nsource:\n  - type: gen\n    label: *a${levels}\nsink:\n  - type: file\n    path: out\n`;
}

describe('hostile job files are refused quickly with a clear error', () => {
  it('an alias bomb stops at the expansion budget instead of growing to gigabytes', () => {
    const text = aliasBomb(8);
    const started = Date.now();
    const result = load(text);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map(formatIssue)).toContainEqual(expect.stringMatching(new RegExp(`^job\\.yaml:\\d+:\\d+: .*aliases \\(\\*name\\) expand to more than ${MAX_ALIAS_EXPANSION} values`)));
  });

  it('a few aliases sharing options still work', () => {
    const text = `env:\n  name: shared\nsource:\n  - type: gen\n    rows: &n 10\nsink:\n  - &sink { type: file, path: out }\n`;
    const result = load(text);
    expect(result.ok, JSON.stringify(!result.ok && result.issues)).toBe(true);
  });

  it('a file larger than the document limit is refused before it is parsed', () => {
    const text = `env:\n  name: big\n# ${'x'.repeat(MAX_DOCUMENT_BYTES)}\n`;
    const result = load(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatIssue(result.issues[0]!)).toMatch(/^job\.yaml:1:1: the job file is \d+ bytes; a job file may have at most 1048576 \(1 MiB\)/);
  });
});
