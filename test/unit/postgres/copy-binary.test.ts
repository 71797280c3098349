import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { describeTable } from '../../../connectors/postgres/catalog.js';
import { parseTableName } from '../../../connectors/postgres/connection.js';
import { binaryCopyPlan } from '../../../connectors/postgres/copy-binary-encoder.js';
import { arrowField, columnKind } from '../../../connectors/postgres/types.js';
import { pgAvailable, PG_URL, runPgJob, usePgSchema } from './helpers.js';

const COLUMNS = `id bigint PRIMARY KEY, small smallint, i integer, name text, code varchar(8), pad char(4), amount numeric(12,2), free numeric, price double precision,
  ratio real, active boolean, created_at timestamp, at_zone timestamptz, day date, doc jsonb, raw bytea, note text`;

// Every edge the binary encoder has a branch for, and NULL in every nullable column.
const ROWS = `
  (1, 1, 1, 'plain', 'abc', 'ab', 0, 0, 0, 0, true, '2024-01-01 00:00:00', '2024-01-01 00:00:00+00', '2024-01-01', '{}', '\\x', ''),
  (2, -32768, -2147483648, E'tab\\there\\nnew\\\\line', 'ü€😀', 'x', -0.5, '-123456789012345678901234567890.123456789', -0.0, 'NaN', false,
     '1900-02-28 23:59:59.999999', '1969-12-31 23:59:59.5+03', '1900-01-01', '{"a": [1, "\\u00e9", null]}', '\\x00ff10', 'x'),
  (3, 32767, 2147483647, 'z', 'z', 'z', 9999999999.99, 'NaN', 'Infinity', 'Infinity', true, 'infinity', '-infinity', 'infinity', '[1,2]', '\\xdeadbeef', 'y'),
  (4, 0, 0, 'z', 'z', 'z', '0.01', '1e-20', '-Infinity', '-Infinity', true, '-infinity', 'infinity', '-infinity', 'null', '\\x01', 'y'),
  (5, 7, 7, 'z', 'z', 'z', '1.50', '10000', 'NaN', '1.5e-40', true, '4713-01-01 00:00:00 BC', '294276-12-31 23:59:59.999999+00', '4713-01-01 BC', '1', '\\x02', 'y'),
  (6, 8, 8, 'z', 'z', 'z', '100000.10', '0.00010000', 1e-300, 3.4e38, true, '2262-04-11 23:47:16.854775', '2000-01-01 00:00:00.000001+00', '5874897-12-31', '"s"', '\\x03', 'y'),
  (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`;

describe.skipIf(!pgAvailable)('postgres sink, binary COPY', () => {
  const db = usePgSchema();

  it('takes the binary path for these columns, and copies every value as the text path does', async () => {
    const source = db.table('bin_src');
    await db.query(`CREATE TABLE ${source} (${COLUMNS})`);
    await db.query(`INSERT INTO ${source} VALUES ${ROWS}`);
    await db.query(`INSERT INTO ${source} SELECT 100 + g, g % 30000, g * 7, 'name-' || g, 'c' || g % 17, 'p', (g % 100000) / 100.0, g / 7.0, g * 0.37, g * 0.25,
      g % 3 = 0, TIMESTAMP '2024-01-01' + g * INTERVAL '1.5 second', TIMESTAMPTZ '2024-01-01 00:00+00' - g * INTERVAL '1 hour', DATE '2024-01-01' - g,
      jsonb_build_object('g', g), int8send(g), CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END FROM generate_series(1, 3000) g`);
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    let info;
    try {
      info = (await describeTable(client, parseTableName(source)))!;
    } finally {
      await client.end();
    }
    // The fields the postgres source produces for this table, against the same types in the target.
    const fields = info.columns.map((c) => arrowField(c, columnKind(c)));
    expect(binaryCopyPlan(fields, info.columns.map((c) => c.typeText))).toEqual([
      'int8', 'int2', 'int4', 'text', 'text', 'text', 'numeric', 'numeric', 'float8', 'float4', 'bool', 'timestamp', 'timestamp', 'date', 'jsonb', 'bytea', 'text',
    ]);

    for (const exactlyOnce of [true, false]) {
      const target = db.table('bin_dst');
      await db.query(`CREATE TABLE ${target} (${COLUMNS})`);
      const result = await runPgJob({ source: [{ type: 'postgres', url: db.url, table: source, chunk_rows: 1000 }], sink: [{ type: 'postgres', url: db.url, table: target, exactly_once: exactlyOnce }] });
      expect(result.error).toBeNull();
      // Row for row, value for value (IS NOT DISTINCT FROM: NULLs and NaNs equal); text forms too (numeric scale, -0).
      const differ = await db.query(`SELECT count(*)::int AS n FROM ${source} s FULL JOIN ${target} t ON s.id = t.id WHERE (s.*)::text IS DISTINCT FROM (t.*)::text`);
      expect(differ[0]).toEqual({ n: 0 });
      expect((await db.query(`SELECT count(*)::int AS n FROM ${target}`))[0]).toEqual({ n: 3007 });
    }
  });

  it('falls back to text COPY for a stream with a column binary cannot write exactly', async () => {
    const fields = [arrowField({ name: 'u', typname: 'uuid', typeText: 'uuid', typtype: 'b', typeSchema: 'pg_catalog', notNull: false }, { kind: 'text', cast: 'text' })];
    expect(binaryCopyPlan(fields, ['uuid'])).toBeUndefined();
    const target = db.table('bin_fallback');
    await db.query(`CREATE TABLE ${target} (id bigint, u uuid, amount numeric(6,2), at timestamptz)`);
    // From the fake source: amount is a double into numeric, at a zone-less timestamp into timestamptz: both text.
    const source = db.table('bin_fallback_src');
    await db.query(`CREATE TABLE ${source} (id bigint, u uuid, amount double precision, at timestamp)`);
    await db.query(`INSERT INTO ${source} SELECT g, md5(g::text)::uuid, g * 0.37, TIMESTAMP '2024-01-01' + g * INTERVAL '1 minute' FROM generate_series(1, 500) g`);
    const result = await runPgJob({ source: [{ type: 'postgres', url: db.url, table: source }], sink: [{ type: 'postgres', url: db.url, table: target }] });
    expect(result.error).toBeNull();
    const differ = await db.query(
      `SELECT count(*)::int AS n FROM ${source} s FULL JOIN ${target} t ON s.id = t.id WHERE s.u IS DISTINCT FROM t.u OR s.amount::numeric(6,2) IS DISTINCT FROM t.amount OR s.at::timestamptz IS DISTINCT FROM t.at`,
    );
    expect(differ[0]).toEqual({ n: 0 });
  });
});
