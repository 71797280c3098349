import { describe, expect, it } from 'vitest';
import { pgAvailable, runPgJob, usePgSchema } from './helpers.js';

/**
 * Every mapped type PostgreSQL -> Arrow -> PostgreSQL: a table of every type is copied by a job into a table
 * the sink creates (create_when_missing), and the two are compared value by value in SQL.
 */
describe.skipIf(!pgAvailable)('postgres type round trip', () => {
  const db = usePgSchema();

  const COLUMNS: [string, string, string[]][] = [
    ['c_int2', 'smallint', ['-32768', '32767', '0']],
    ['c_int4', 'integer', ['-2147483648', '2147483647', '7']],
    ['c_int8', 'bigint', ['-9223372036854775808', '9223372036854775807', '42']],
    ['c_num', 'numeric(20,6)', ['-12345678901234.123456', '0.000001', '1e10']],
    ['c_num_free', 'numeric', ["'NaN'", '123456789012345678901234567890.123456789', '-0.5']],
    ['c_real', 'real', ['3.14159', "'-Infinity'", "'NaN'"]],
    ['c_double', 'double precision', ['2.718281828459045', '1e300', '-0.0']],
    ['c_bool', 'boolean', ['true', 'false', 'true']],
    ['c_text', 'text', [`E'tab\\there\\nnew line \\\\ backslash'`, "'unicode: 中文 😀'", "''"]],
    ['c_varchar', 'varchar(20)', ["'short'", "'x'", "'twenty chars long..'"]],
    ['c_char', 'char(5)', ["'ab'", "'abcde'", "'z'"]],
    ['c_date', 'date', ["'2024-02-29'", "'0001-01-01'", "'infinity'"]],
    ['c_time', 'time', ["'23:59:59.999999'", "'00:00:00'", "'12:34:56.5'"]],
    ['c_ts', 'timestamp', ["'2024-01-01 12:34:56.789012'", "'1900-01-01 00:00:00'", "'2200-12-31 23:59:59.000001'"]],
    ['c_tstz', 'timestamptz', ["'2024-01-01 12:34:56.789012+08'", "'1970-01-01 00:00:00+00'", "'-infinity'"]],
    ['c_interval', 'interval', ["'1 year 2 months 3 days 04:05:06.789'", "'-3 days'", "'0'"]],
    ['c_json', 'json', [`'{"a": [1, 2]}'`, "'null'", "'\"s\"'"]],
    ['c_jsonb', 'jsonb', [`'{"b": {"c": true}}'`, "'[]'", "'1.5'"]],
    ['c_uuid', 'uuid', ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'", "gen_random_uuid()"]],
    ['c_bytea', 'bytea', ["'\\x00ff10'", "''", "'\\x5c09'"]],
    ['c_mood', 'MOODTYPE', ["'happy'", "'sad'", "'ok'"]],
    ['c_int_arr', 'integer[]', ["'{1,2,NULL,4}'", "'{}'", "'{-1}'"]],
    ['c_text_arr', 'text[]', [`'{"a b","c\\"d",NULL,"e,f"}'`, "'{}'", `'{"\\\\"}'`]],
    ['c_inet', 'inet', ["'192.168.0.1/24'", "'::1'", "'10.0.0.1'"]],
  ];

  it('copies a table of every mapped type into a created table with equal values', async () => {
    const mood = `${db.schema}.mood`;
    await db.query(`CREATE TYPE ${mood} AS ENUM ('happy', 'sad', 'ok')`);
    const source = db.table('types');
    const target = db.table('types_copy');
    const defs = COLUMNS.map(([name, type]) => `${name} ${type.replace('MOODTYPE', mood)}`).join(', ');
    await db.query(`CREATE TABLE ${source} (id int PRIMARY KEY, ${defs})`);
    for (let row = 0; row < 3; row++) {
      await db.query(`INSERT INTO ${source} VALUES (${row}, ${COLUMNS.map(([, , values]) => values[row]).join(', ')})`);
    }
    await db.query(`INSERT INTO ${source} (id) VALUES (3)`);
    const result = await runPgJob({
      source: [{ type: 'postgres', url: db.url, table: source }],
      sink: [{ type: 'postgres', url: db.url, table: target }],
    });
    expect(result.error).toBeNull();
    expect(result.status).toBe('finished');
    // The enum travels as text: the created column is text, so compare as text.
    const differences = await db.query<{ id: number; col: string }>(
      `SELECT s.id, col FROM ${source} s JOIN ${target} t USING (id),
        LATERAL (VALUES ${COLUMNS.map(([name, type]) => `('${name}', ${type === 'MOODTYPE' || type === 'json' ? `s.${name}::text IS DISTINCT FROM t.${name}::text` : `s.${name} IS DISTINCT FROM t.${name}`})`).join(', ')}) AS d(col, differs)
       WHERE differs`,
    );
    expect(differences).toEqual([]);
    const count = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${target}`);
    expect(Number(count[0]!.n)).toBe(4);
    const types = await db.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, format_type(atttypid, atttypmod) AS data_type FROM information_schema.columns c JOIN pg_attribute a ON a.attrelid = $1::regclass AND a.attname = c.column_name WHERE table_schema = $2 AND table_name = $3`,
      [target, db.schema, target.split('.')[1]],
    );
    const byName = Object.fromEntries(types.map((t) => [t.column_name, t.data_type]));
    expect(byName.c_num).toBe('numeric(20,6)');
    expect(byName.c_jsonb).toBe('jsonb');
    expect(byName.c_uuid).toBe('uuid');
    expect(byName.c_int_arr).toBe('integer[]');
    expect(byName.c_tstz).toBe('timestamp with time zone');
  });
});
