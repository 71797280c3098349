import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { runJob } from '../../../src/index.js';
import { connect } from '../../../connectors/mysql/connection.js';
import { mysqlSourceOptions } from '../../../connectors/mysql/options.js';
import type { ReadPlan } from '../../../connectors/mysql/plan.js';
import { MysqlSplitReader } from '../../../connectors/mysql/reader.js';
import { MysqlSource, type MysqlSplit } from '../../../connectors/mysql/source.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { connectionOptions, insertRows, mysqlUp, useDatabase } from './helpers.js';

const db = useDatabase('src');
const tempDir = useTempDirs('tideway-mysql-src-');

/** Every row the file sink committed, as parsed JSON objects. */
function committedRows(dir: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.jsonl')) continue;
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) if (line) out.push(JSON.parse(line) as Record<string, unknown>);
  }
  return out;
}

async function readAll(source: Record<string, unknown>, parallelism: number, transport: 'in-process' | 'worker-threads' = 'in-process'): Promise<{ rows: Record<string, unknown>[]; splits: number }> {
  const out = tempDir();
  const result = await runJob(
    {
      env: { name: `mysql-src-${parallelism}`, parallelism, transport, checkpoint: { dir: join(tempDir(), 'ckpt') } },
      source: [{ type: 'mysql', ...connectionOptions(db.name), ...source }],
      sink: [{ type: 'file', path: out, format: 'jsonl' }],
    },
    { logger: silentLogger },
  );
  expect(result.status, JSON.stringify(result.error)).toBe('finished');
  return { rows: committedRows(out), splits: result.sources[0]?.splitsDone ?? -1 };
}

function counts(values: unknown[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(String(v), (m.get(String(v)) ?? 0) + 1);
  return m;
}

describe.skipIf(!mysqlUp)('mysql source: parallel range splits', () => {
  it('reads skewed and sparse keys exactly once at parallelism 1 to 8', async () => {
    await db.sql('CREATE TABLE skewed (id BIGINT PRIMARY KEY, grp INT NOT NULL, note VARCHAR(20))');
    // Sparse: a dense run, a few ids far apart (up to near 2^62), and a cluster at the top.
    const ids: bigint[] = [];
    for (let i = 0n; i < 1500n; i++) ids.push(i);
    for (let i = 1n; i <= 40n; i++) ids.push(i * 1_000_003n);
    for (let i = 0n; i < 500n; i++) ids.push(4_611_686_018_427_387_000n + i);
    await insertRows(db, 'skewed', ['id', 'grp', 'note'], ids.map((id, i) => [id.toString(), i % 7, `n${i}`]));
    for (const parallelism of [1, 2, 3, 5, 8]) {
      const { rows, splits } = await readAll({ table: 'skewed', split_size: 97 }, parallelism);
      // 2040 rows in splits of about 97 rows: the sparse gaps do not make empty or giant splits.
      expect(splits).toBeGreaterThanOrEqual(21);
      expect(splits).toBeLessThanOrEqual(23);
      const seen = counts(rows.map((r) => r.id));
      expect(rows.length, `parallelism ${parallelism}`).toBe(ids.length);
      for (const id of ids) expect(seen.get(id.toString()), `id ${id} at parallelism ${parallelism}`).toBe(1);
    }
  });

  it('equal-width ranges (partition_num) over sparse keys still read every row once', async () => {
    // On worker threads too: readers get the read plan through prepare.
    const { rows } = await readAll({ table: 'skewed', partition_num: 6 }, 2, 'worker-threads');
    expect(rows.length).toBe(2040);
    expect(new Set(rows.map((r) => String(r.id))).size).toBe(2040);
  });

  it('reads rows whose partition column is NULL in exactly one split, and a skewed non-unique partition column', async () => {
    await db.sql('CREATE TABLE nullable_part (id INT PRIMARY KEY, day DATE NULL, v INT)');
    const rows: unknown[][] = [];
    for (let i = 0; i < 1200; i++) {
      // 300 NULLs; most dated rows on one day (skew), the rest spread over years.
      const day = i % 4 === 0 ? null : i % 3 === 0 ? '2024-02-29' : `20${String(10 + (i % 15)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 9}`;
      rows.push([i, day, i * 2]);
    }
    await insertRows(db, 'nullable_part', ['id', 'day', 'v'], rows);
    for (const parallelism of [1, 4, 8]) {
      const read = await readAll({ table: 'nullable_part', partition_column: 'day', split_size: 50 }, parallelism);
      expect(read.rows.length).toBe(1200);
      expect(new Set(read.rows.map((r) => r.id)).size).toBe(1200);
      expect(read.rows.filter((r) => r.day === null).length).toBe(300);
    }
  });

  it('reads an empty table as no rows (and finishes)', async () => {
    await db.sql('CREATE TABLE empty_t (id INT PRIMARY KEY, v TEXT)');
    for (const parallelism of [1, 3]) expect((await readAll({ table: 'empty_t' }, parallelism)).rows).toEqual([]);
    expect((await readAll({ table: 'empty_t', partition_num: 4 }, 2)).rows).toEqual([]);
  });

  it('reads a table with no key, and a query, as one streamed split', async () => {
    await db.sql('CREATE TABLE nokey (a INT, b VARCHAR(10))');
    await insertRows(db, 'nokey', ['a', 'b'], Array.from({ length: 700 }, (_, i) => [i % 50, `x${i % 3}`]));
    const table = await readAll({ table: 'nokey', fetch_size: 64 }, 3);
    expect(table.rows.length).toBe(700);
    const query = await readAll({ query: 'SELECT id, grp FROM skewed WHERE grp = 3', fetch_size: 100 }, 2);
    expect(query.rows.length).toBe(291);
    expect(new Set(query.rows.map((r) => r.grp))).toEqual(new Set([3]));
  });

  it('applies columns and where', async () => {
    const { rows } = await readAll({ table: 'skewed', columns: ['note', 'id'], where: 'grp = 2 AND id < 100', split_size: 5 }, 2);
    expect(Object.keys(rows[0]!)).toEqual(['note', 'id']);
    const expected = Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 7 === 2);
    expect(rows.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual(expected);
  });
});

describe.skipIf(!mysqlUp)('mysql source: a split resumes where its checkpoint left it', () => {
  const reader = async (source: Record<string, unknown>) => {
    const options = mysqlSourceOptions.parse({ ...connectionOptions(db.name), ...source });
    const src = new MysqlSource(options, { jobName: 't', mode: 'batch', parallelism: 1, logger: silentLogger, baseDir: process.cwd() });
    const plan = (await src.prepare()) as ReadPlan;
    return new MysqlSplitReader(plan, { consistentSnapshot: false, connect: () => connect(options) });
  };
  const signal = new AbortController().signal;

  for (const [label, source] of [
    ['keyset pages', { table: 'skewed' }],
    ['a streamed split (no key)', { table: 'nokey' }],
  ] as const) {
    it(`${label}: a new reader given the snapshotted split reads the rest, and nothing twice`, async () => {
      const first = await reader(source);
      let split: MysqlSplit = { splitId: 'all', lo: null, hi: null, nulls: false, after: null, skip: 0 };
      const ids: string[] = [];
      const take = async (r: MysqlSplitReader) => {
        const chunk = await r.read(split, { maxRows: 100, signal });
        for (const b of chunk.batches) for (const row of b) ids.push(JSON.stringify(row?.toJSON(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
        split = chunk.next;
        return chunk.finished;
      };
      await take(first);
      await take(first);
      // The "crash": the first reader is gone; the split as a checkpoint holds it goes to a new reader.
      await first.close();
      const restored = JSON.parse(JSON.stringify(split)) as MysqlSplit;
      expect(restored.after !== null || restored.skip === 200).toBe(true);
      split = restored;
      const second = await reader(source);
      while (!(await take(second)));
      await second.close();
      const total = Number((await db.sql(`SELECT COUNT(*) FROM \`${source.table}\``))[0]![0]);
      expect(ids.length).toBe(total);
      if (source.table === 'skewed') expect(new Set(ids).size).toBe(total);
    });
  }
});
