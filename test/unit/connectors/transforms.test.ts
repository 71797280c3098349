import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { parseOptions } from '../../../src/api/options.js';
import { filterConnector } from '../../../connectors/filter/index.js';
import { fakeRow } from '../../../connectors/fake/generator.js';
import { runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { committedIds } from '../../helpers/output.js';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';

const dir = useTempDirs();

describe('filter and select transforms', () => {
  it('filter keeps matching rows, select projects and renames, and the report counts what was filtered', async () => {
    const rows = 5000;
    const expected = Array.from({ length: rows }, (_, id) => fakeRow(9, id)).filter((r) => ['books', 'games'].includes(r.category) && r.amount >= 2500);
    const out = join(dir(), 'out');
    const result = await runJob(
      {
        env: { name: 'transforms', parallelism: 2, transport: 'in-process', checkpoint: { dir: dir() } },
        source: [{ type: 'fake', rows, seed: 9, splits: 3 }],
        transform: [
          { type: 'filter', where: [{ column: 'category', op: 'in', value: ['books', 'games'] }, { column: 'amount', op: '>=', value: 2500 }] },
          { type: 'select', columns: ['id', 'category', 'amount'], rename: { amount: 'total' } },
        ],
        sink: [
          { type: 'file', path: out },
          { type: 'assert', rows: { equals: expected.length }, fields: [{ name: 'category', values: ['books', 'games'] }, { name: 'total', min: 2500 }] },
        ],
      },
      { logger: silentLogger },
    );
    expect(result.error).toBeNull();
    expect(result.transforms[0]).toMatchObject({ name: 'filter', rowsIn: rows, rowsOut: expected.length, rowsFiltered: rows - expected.length });
    expect(result.transforms[1]).toMatchObject({ rowsIn: expected.length, rowsOut: expected.length, rowsFiltered: 0 });
    expect(committedIds(out).sort((a, b) => a - b)).toEqual(expected.map((r) => Number(r.id)));
    const first = readdirSync(out).find((n) => n.endsWith('.jsonl'))!;
    expect(Object.keys(JSON.parse(readFileSync(join(out, first), 'utf8').split('\n')[0]!))).toEqual(['id', 'category', 'total']);
  });

  it('names the unknown column, with a did-you-mean', async () => {
    const result = await runJob(
      {
        env: { name: 'bad-select', checkpoint: { dir: dir() } },
        source: [{ type: 'fake', rows: 10 }],
        transform: [{ type: 'select', columns: ['id', 'amuont'] }],
        sink: [{ type: 'blackhole' }],
      },
      { logger: silentLogger },
    );
    expect(result.status).toBe('failed');
    expect(result.error?.message).toContain('select names column "amuont"');
    expect(result.error?.message).toContain('did you mean "amount"');
  });

  it('a comparison without a value is an option error at plan time, at the condition\'s value', () => {
    const parsed = parseOptions(filterConnector.transform!.options, { where: [{ column: 'amount', op: '>=' }] }, 'transform[0]');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.issues).toEqual([{ path: 'transform[0].where[0].value', message: '>= needs a value to compare amount with' }]);
    expect(parseOptions(filterConnector.transform!.options, { where: [{ column: 'amount', op: 'is_null' }] }, 'transform[0]').ok).toBe(true);
  });
});
