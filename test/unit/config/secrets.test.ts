import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../../src/api/errors.js';
import { loadJobText } from '../../../src/config/load-job.js';
import { Redactor } from '../../../src/config/secrets.js';
import { registry } from './fixture-registry.js';

const lines = (...parts: string[]) => `${parts.join('\n')}\n`;

const job = (password: string, extra: string[] = []) =>
  lines(
    'env:',
    '  name: demo',
    'source:',
    '  - type: db',
    '    host: h',
    '    table: t',
    `    password: ${password}`,
    ...extra,
    'sink:',
    '  - type: file',
    '    path: out',
    '    access_key: AKIAEXAMPLEKEY',
  );

describe('secrets', () => {
  it('the plan shows secret options as *** and keeps the real values for the run', () => {
    const result = loadJobText(job('s3cr3t-pass'), 'job.yaml', { registry, env: {} });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.plan.sources[0]?.maskedOptions.password).toBe('***');
    expect(result.plan.sinks[0]?.maskedOptions.access_key).toBe('***');
    expect(result.plan.sources[0]?.options.password).toBe('s3cr3t-pass');
    expect(JSON.stringify(result.plan.sources.map((s) => s.maskedOptions))).not.toContain('s3cr3t');
    expect(result.secrets.sort()).toEqual(['AKIAEXAMPLEKEY', 's3cr3t-pass']);
  });

  it('a variable that feeds a secret is a secret, and so is the resolved text', () => {
    const result = loadJobText(job('pre-${PW}'), 'job.yaml', { registry, vars: { PW: 'hunter22' }, env: {} });
    expect(result.secrets).toEqual(expect.arrayContaining(['pre-hunter22', 'hunter22']));
  });

  it('secrets are known even when the job is invalid, and issues never contain them', () => {
    const result = loadJobText(job('${PW}', ['    colour: blue']), 'job.yaml', { registry, env: { PW: 'hunter22' } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.secrets).toContain('hunter22');
    const text = result.issues.map(formatIssue).join('\n');
    expect(text).toMatch(/source\[0\]\.colour: unknown option/);
    expect(text).not.toContain('hunter22');
  });

  it('the redactor masks every occurrence, longest secret first, also JSON-escaped', () => {
    const redactor = new Redactor(['hunter22', 'hunter22-and-more', 'pa"ss\\word', 'ab']);
    expect(redactor.redact('a hunter22-and-more b hunter22 c')).toBe('a *** b *** c');
    expect(redactor.redact(JSON.stringify({ error: 'bad pa"ss\\word' }))).toBe('{"error":"bad ***"}');
    // Too short to search for in free text: masked only where the option is shown.
    expect(redactor.redact('ab cd')).toBe('ab cd');
  });
});
