import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../../src/api/errors.js';
import { loadJobText } from '../../../src/config/load-job.js';
import { parseVarAssignments, substituteVariables, yamlCoreScalar } from '../../../src/config/variables.js';
import { registry } from './fixture-registry.js';

const lines = (...parts: string[]) => `${parts.join('\n')}\n`;

function load(yaml: string, vars: Record<string, string> = {}, env: Record<string, string> = {}) {
  return loadJobText(yaml, 'job.yaml', { registry, vars, env });
}

function valid(yaml: string, vars: Record<string, string> = {}, env: Record<string, string> = {}) {
  const result = load(yaml, vars, env);
  if (!result.ok) throw new Error(`expected a valid job, got:\n${result.issues.map(formatIssue).join('\n')}`);
  return result;
}

function problems(yaml: string, vars: Record<string, string> = {}, env: Record<string, string> = {}) {
  const result = load(yaml, vars, env);
  if (result.ok) throw new Error('expected the job to be invalid');
  return result.issues.map(formatIssue);
}

const dbJob = (host: string, extra: string[] = []) =>
  lines('env:', '  name: demo', 'source:', '  - type: db', `    host: ${host}`, '    table: t', '    password: pw', ...extra, 'sink:', '  - type: file', '    path: out');

describe('substituteVariables', () => {
  it('takes --var before the environment', () => {
    expect(substituteVariables('${H}', { vars: { H: 'from-var' }, env: { H: 'from-env' } }).text).toBe('from-var');
    expect(substituteVariables('${H}', { vars: {}, env: { H: 'from-env' } }).text).toBe('from-env');
  });

  it('uses the default when unset or empty, and records only variables whose values were used', () => {
    expect(substituteVariables('${H:-local}', { env: {} })).toMatchObject({ text: 'local', used: [], problems: [] });
    expect(substituteVariables('${H:-local}', { vars: { H: '' } }).text).toBe('local');
    expect(substituteVariables('a-${H:-}-b', {}).text).toBe('a--b');
    expect(substituteVariables('${A}/${B:-x}/${A}', { vars: { A: '1' } })).toMatchObject({ text: '1/x/1', used: ['A'] });
  });

  it('$${ is a literal ${ and a lone $ stays', () => {
    expect(substituteVariables('cost $5 and $${HOME}', { env: { HOME: '/root' } })).toMatchObject({ text: 'cost $5 and ${HOME}', problems: [] });
  });

  it('reports unresolved and malformed references with their offsets', () => {
    const result = substituteVariables('x ${MISSING} ${1BAD} ${OPEN', {});
    expect(result.problems.map((p) => p.index)).toEqual([2, 13, 21]);
    expect(result.problems[0]?.message).toMatch(/variable "MISSING" is not set/);
    expect(result.problems[1]?.message).toMatch(/malformed variable reference/);
    expect(result.problems[2]?.message).toMatch(/unclosed/);
  });
});

describe('parseVarAssignments', () => {
  it('splits at the first = and rejects bad names without echoing the value', () => {
    expect(parseVarAssignments(['A=1', 'B=x=y', 'C='])).toEqual({ ok: true, vars: { A: '1', B: 'x=y', C: '' } });
    const bad = parseVarAssignments(['9X=hunter22']);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.message).not.toContain('hunter22');
    expect(parseVarAssignments(['NOEQUALS']).ok).toBe(false);
  });
});

describe('yamlCoreScalar', () => {
  it('types text as an unquoted YAML 1.2 scalar would be', () => {
    expect(yamlCoreScalar('4')).toBe(4);
    expect(yamlCoreScalar('-2.5e3')).toBe(-2500);
    expect(yamlCoreScalar('0x1F')).toBe(31);
    expect(yamlCoreScalar('true')).toBe(true);
    expect(yamlCoreScalar('')).toBeNull();
    expect(yamlCoreScalar('yes')).toBe('yes');
    expect(yamlCoreScalar('1.2.3')).toBe('1.2.3');
    expect(yamlCoreScalar('a: b')).toBe('a: b');
  });
});

describe('variables in job files', () => {
  it('--var wins over the environment, which is used when no --var is given', () => {
    expect(valid(dbJob('${HOST}'), { HOST: 'var-host' }, { HOST: 'env-host' }).plan.sources[0]?.options.host).toBe('var-host');
    expect(valid(dbJob('${HOST}'), {}, { HOST: 'env-host' }).plan.sources[0]?.options.host).toBe('env-host');
    expect(valid(dbJob('${HOST:-localhost}')).plan.sources[0]?.options.host).toBe('localhost');
  });

  it('$${ keeps a literal reference', () => {
    expect(valid(dbJob('"$${HOST}"'), { HOST: 'x' }).plan.sources[0]?.options.host).toBe('${HOST}');
  });

  it('an unquoted value that reads as a number is a number', () => {
    const job = valid(dbJob('h', ['    port: ${PORT}']).replace('  name: demo', '  name: demo\n  parallelism: ${P}'), { P: '3', PORT: '6543' });
    expect(job.plan.env.parallelism).toBe(3);
    expect(job.plan.sources[0]?.options.port).toBe(6543);
    expect(job.config.env.parallelism).toBe(3);
  });

  it('text options keep the text exactly, even when it reads as a number', () => {
    const job = valid(
      lines('env:', '  name: demo', 'source:', '  - type: db', '    host: ${H}', '    table: ${T}', '    password: ${PW}', 'sink:', '  - type: file', '    path: out'),
      { H: 'true', T: '007', PW: '0123' },
    );
    expect(job.plan.sources[0]?.options).toMatchObject({ host: 'true', table: '007', password: '0123' });
  });

  it('a value invalid either way keeps the natural message', () => {
    const out = problems(dbJob('h').replace('  name: demo', '  name: demo\n  parallelism: ${P}'), { P: '0' });
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:3:16: env\.parallelism: parallelism is at least 1/)]);
  });

  it('a quoted reference stays text', () => {
    const out = problems(dbJob('h').replace('  name: demo', '  name: demo\n  parallelism: "${P}"'), { P: '2' });
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:3:16: env\.parallelism: expected number, received string/)]);
  });

  it('an unresolved variable is named with the position of its ${', () => {
    const out = problems(
      lines('env:', '  name: demo', 'source:', '  - type: db', '    host: db-${REGION}.local', '    table: t', '    password: pw', 'sink:', '  - type: file', '    path: "out/${DIR}/${DAY:-today}"'),
    );
    expect(out).toEqual([
      'job.yaml:5:14: source[0].host: variable "REGION" is not set: pass --var REGION=... or set it in the environment, or give a default with ${REGION:-value}',
      expect.stringMatching(/^job\.yaml:10:16: sink\[0\]\.path: variable "DIR" is not set/),
    ]);
  });

  it('locates a second unresolved use of the same name in one value', () => {
    const out = problems(dbJob('${X:-a}-${Y}-${Y}'));
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:5:19: source\[0\]\.host: variable "Y"/), expect.stringMatching(/^job\.yaml:5:24: source\[0\]\.host: variable "Y"/)]);
  });

  it('keys are never substituted', () => {
    const out = problems(dbJob('h', ['    ${KEY}: 1']), { KEY: 'port' });
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:8:5: source\[0\]\.\$\{KEY\}: unknown option/)]);
  });
});
