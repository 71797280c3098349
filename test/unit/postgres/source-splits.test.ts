import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { PostgresSplitReader } from '../../../connectors/postgres/reader.js';
import { planSplits, PostgresSource, type PostgresSplit } from '../../../connectors/postgres/source.js';
import { sourceOptionsSchema } from '../../../connectors/postgres/options.js';
import { pgAvailable, runPgJob, usePgSchema } from './helpers.js';

const context = { jobName: 'splits', mode: 'batch' as const, parallelism: 4, logger: silentLogger, baseDir: process.cwd() };

/** Ids the target misses or holds more than once, compared with the source. */
async function compare(db: ReturnType<typeof usePgSchema>, source: string, target: string): Promise<{ missing: number; extra: number; rows: number }> {
  const [row] = await db.query<{ missing: string; extra: string; rows: string }>(
    `SELECT (SELECT count(*) FROM (SELECT id FROM ${source} EXCEPT ALL SELECT id FROM ${target}) m) AS missing,
            (SELECT count(*) FROM (SELECT id FROM ${target} EXCEPT ALL SELECT id FROM ${source}) e) AS extra,
            (SELECT count(*) FROM ${target}) AS rows`,
  );
  return { missing: Number(row!.missing), extra: Number(row!.extra), rows: Number(row!.rows) };
}

describe.skipIf(!pgAvailable)('postgres source splits', () => {
  const db = usePgSchema();

  it('reads skewed and sparse keys, NULL partition values and an empty table exactly once at parallelism 1 to 8', async () => {
    const skewed = db.table('skewed');
    const sparse = db.table('sparse');
    const nulls = db.table('nulls');
    const empty = db.table('empty');
    await db.query(`CREATE TABLE ${skewed} (id bigint PRIMARY KEY, v text)`);
    await db.query(`INSERT INTO ${skewed} SELECT g, 'v' || g FROM generate_series(1, 3000) g UNION ALL SELECT 1000000000 + g, 'far' FROM generate_series(1, 5) g`);
    await db.query(`CREATE TABLE ${sparse} (id int PRIMARY KEY, v text)`);
    await db.query(`INSERT INTO ${sparse} SELECT g * 7919 * 1000, 'x' FROM generate_series(-40, 40) g`);
    // Partition by a non-unique, nullable date column: the primary key breaks ties in the keyset.
    await db.query(`CREATE TABLE ${nulls} (id int PRIMARY KEY, day date, v text)`);
    await db.query(`INSERT INTO ${nulls} SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE DATE '2024-01-01' + (g % 37) END, 'n' FROM generate_series(1, 2000) g`);
    await db.query(`CREATE TABLE ${empty} (id int PRIMARY KEY, v text)`);

    for (let parallelism = 1; parallelism <= 8; parallelism++) {
      for (const [source, extra] of [
        [skewed, { split_size: 400 }],
        [sparse, { partition_num: 9 }],
        [nulls, { partition_column: 'day', split_size: 300 }],
        [empty, {}],
      ] as const) {
        const target = db.table('copy');
        const result = await runPgJob(
          {
            source: [{ type: 'postgres', url: db.url, table: source, chunk_rows: 256, ...extra }],
            sink: [{ type: 'postgres', url: db.url, table: target }],
          },
          { parallelism },
        );
        expect(result.error, `${source} at parallelism ${parallelism}`).toBeNull();
        const [{ n }] = (await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${source}`)) as [{ n: string }];
        expect(await compare(db, source, target), `${source} at parallelism ${parallelism}`).toEqual({ missing: 0, extra: 0, rows: Number(n) });
      }
    }
  });

  it('plans NULLs into one split of their own and open-ended first and last ranges', async () => {
    const table = db.table('plan');
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, k int)`);
    await db.query(`INSERT INTO ${table} SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g END FROM generate_series(1, 100) g`);
    const options = sourceOptionsSchema.parse({ url: db.url, table, partition_column: 'k', partition_num: 4, partition_lower_bound: 20, partition_upper_bound: 60 });
    const source = new PostgresSource(options, context);
    const plan = await source.readPlan();
    const client = await source.connect();
    try {
      const splits = await planSplits(client, plan, options, 4);
      expect(splits.filter((s) => s.nulls).length).toBe(1);
      const ranges = splits.filter((s) => !s.nulls);
      expect(ranges.length).toBe(4);
      expect(ranges[0]!.lo).toBeNull();
      expect(ranges[3]!.hi).toBeNull();
      // Given bounds shape the cuts; rows outside them (1..19, 61..99) still belong to the first and last split.
      expect(ranges.map((r) => r.hi).slice(0, 3)).toEqual(['30', '40', '50']);
    } finally {
      await client.end();
    }
  });

  for (const [label, ddl, options] of [
    ['an integer primary key', 'id int PRIMARY KEY, v text', {}],
    ['a non-unique partition column (primary key tie-break)', 'id int PRIMARY KEY, grp int NOT NULL, v text', { partition_column: 'grp' }],
    ['no key at all (ctid keyset)', 'id int, v text', {}],
  ] as const) {
    it(`resumes a split mid-range from its keyset position with ${label}`, async () => {
      const table = db.table('resume');
      await db.query(`CREATE TABLE ${table} (${ddl})`);
      const hasGroup = ddl.includes('grp');
      await db.query(`INSERT INTO ${table} SELECT g, ${hasGroup ? 'g % 3, ' : ''}'r' || g FROM generate_series(1, 1000) g`);
      const parsed = sourceOptionsSchema.parse({ url: db.url, table, partition_num: 1, ...options });
      const source = new PostgresSource(parsed, context);
      const plan = await source.readPlan();
      const client = await source.connect();
      const [split] = (await planSplits(client, plan, parsed, 1)) as [PostgresSplit];
      await client.end();
      const ids: number[] = [];
      const collect = (batches: { getChild(name: string): { toArray(): ArrayLike<number> } | null }[]) => {
        for (const b of batches) ids.push(...Array.from(b.getChild('id')!.toArray()));
      };
      const signal = new AbortController().signal;
      const first = new PostgresSplitReader(() => source.connect(), plan, source.endpoint, silentLogger);
      const a = await first.read(split, { maxRows: 337, signal });
      collect(a.batches as never);
      expect(a.finished).toBe(false);
      expect(a.next.after).not.toBeNull();
      // The reader "crashes": its stream is gone; a new reader continues from the checkpointed position.
      await first.close();
      const second = new PostgresSplitReader(() => source.connect(), plan, source.endpoint, silentLogger);
      let next = a.next;
      for (;;) {
        const chunk = await second.read(next, { maxRows: 250, signal });
        collect(chunk.batches as never);
        next = chunk.next;
        if (chunk.finished) break;
      }
      await second.close();
      expect(ids.length).toBe(1000);
      expect(new Set(ids).size).toBe(1000);
      expect(second.sql(a.next)).not.toMatch(/OFFSET/i);
    });
  }
});
