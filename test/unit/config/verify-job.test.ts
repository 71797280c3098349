import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../../src/api/errors.js';
import { loadJobText } from '../../../src/config/load-job.js';
import { verifyPlan } from '../../../src/config/verify-job.js';
import { builtinRegistry } from '../../../src/index.js';

const registry = builtinRegistry();

/** Loads a valid job, then returns what verifyPlan finds, located as the CLI prints it. */
async function verified(yaml: string): Promise<string[]> {
  const loaded = loadJobText(yaml, 'job.yaml', { registry, vars: {}, env: {} });
  if (!loaded.ok) throw new Error(`expected the options to be valid: ${loaded.issues.map(formatIssue).join('; ')}`);
  return (await verifyPlan(loaded.plan, { baseDir: process.cwd() })).map((issue) => formatIssue(loaded.locations.attach(issue)));
}

const job = (source: string, transform = '') => `env:\n  name: verify\nsource:\n  - type: fake\n${source}${transform ? `transform:\n${transform}` : ''}sink:\n  - type: blackhole\n`;

describe('verifyPlan: what check finds before anything runs', () => {
  it('an unbounded source in batch mode, at its unbounded option', async () => {
    expect(await verified(job('    unbounded: true\n'))).toEqual([
      'job.yaml:5:16: source[0].unbounded: this fake source is unbounded, so it never ends in env.mode: batch; set env.mode: streaming (or make the source bounded)',
    ]);
    expect(await verified(job('    unbounded: true\n').replace('  name: verify\n', '  name: verify\n  mode: streaming\n'))).toEqual([]);
  });

  it('select on a column the source does not have, at that column, with a suggestion', async () => {
    const out = await verified(job('    rows: 5\n', '  - type: select\n    columns: [id, amont]\n'));
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:8:19: transform\[0\]\.columns\[1\]: select names column "amont", which the stream does not have; did you mean "amount"\?/)]);
  });

  it('follows the stream through transforms: a filter after a rename sees the new names', async () => {
    const ok = await verified(job('    rows: 5\n', '  - type: select\n    columns: [id, amount]\n    rename: { amount: total }\n  - type: filter\n    where: [{ column: total, op: ">", value: 1 }]\n'));
    expect(ok).toEqual([]);
    const out = await verified(job('    rows: 5\n', '  - type: select\n    columns: [id, amount]\n    rename: { amount: total }\n  - type: filter\n    where: [{ column: amount, op: ">", value: 1 }]\n'));
    expect(out).toEqual([expect.stringMatching(/^job\.yaml:\d+:\d+: transform\[1\]\.where\[0\]\.column: filter where\[0\] names column "amount", which the stream does not have/)]);
  });
});
