import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { runJob } from '../../../src/index.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { expectExactlyOnce } from '../../helpers/output.js';
import { connectionOptions, mysqlUp, useDatabase } from './helpers.js';

const db = useDatabase('sink');
const tempDir = useTempDirs('tideway-mysql-sink-');

async function run(name: string, source: { type: string } & Record<string, unknown>, sink: Record<string, unknown>, env: Record<string, unknown> = {}, options: { signal?: AbortSignal; checkpoints?: string } = {}) {
  return runJob(
    {
      env: { name, parallelism: 2, transport: 'in-process', checkpoint: { dir: options.checkpoints ?? join(tempDir(), 'ckpt'), interval: '100ms' }, ...env },
      source: [source],
      sink: [{ type: 'mysql', ...connectionOptions(db.name), ...sink }],
    },
    { logger: silentLogger, ...(options.signal ? { signal: options.signal } : {}) },
  );
}

async function leftovers(): Promise<string[]> {
  return (await db.sql("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '\\_tws\\_%'")).map((r) => String(r[0]));
}

const ALL_TYPES = `CREATE TABLE %s (
  id INT NOT NULL PRIMARY KEY,
  i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, u16 SMALLINT UNSIGNED, i24 MEDIUMINT, u24 MEDIUMINT UNSIGNED,
  i32 INT, u32 INT UNSIGNED, i64 BIGINT, u64 BIGINT UNSIGNED,
  dec1 DECIMAL(10,2), dec2 DECIMAL(38,10) UNSIGNED, f32 FLOAT, f64 DOUBLE,
  b1 BIT(1), b12 BIT(12), bool1 BOOLEAN,
  c CHAR(5), vc VARCHAR(100), t TEXT, lt LONGTEXT,
  d DATE, tm TIME(6), dt DATETIME(6), dt0 DATETIME, ts TIMESTAMP(6) NULL, y YEAR,
  j JSON, bin BINARY(4), vb VARBINARY(20), bl BLOB,
  e ENUM('red','green','blue'), s SET('a','b','c')
) ENGINE=InnoDB`;

const VALUES = [
  `(1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
    -12345678.90, 1234567890123456789012345678.0123456789, 1.2345678, 2.718281828459045, b'1', b'101010101010', 1,
    'abc', 'héllo 世界 \\' " \\\\ tab\\tnew\\nline', REPEAT('x', 3000), 'long',
    '1000-01-01', '-838:59:59.000000', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:00', '2038-01-19 03:14:07.123456', 1901,
    '{"a": [1, 2.5, "x"], "b": null}', X'00FF0A0D', X'DEADBEEF00', X'000102030405',
    'green', 'a,c')`,
  `(2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0,
    0.01, 0, -3.4e38, -1.7976931348623157e308, b'0', b'0', 0,
    '', '', '', '',
    '2024-02-29', '00:00:00.000001', '2000-01-01 00:00:00.000001', '2024-06-30 12:34:56', '1970-01-01 00:00:01', 2155,
    '[]', X'00000000', X'', X'',
    'red', '')`,
  `(3, ${Array.from({ length: 33 }, () => 'NULL').join(', ')})`,
];

describe.skipIf(!mysqlUp)('mysql sink', () => {
  it('two mysql sinks of one job in one database keep their staging tables apart, across a stop and a resume', async () => {
    const checkpoints = join(tempDir(), 'ckpt');
    const job = (signal?: AbortSignal) =>
      runJob(
        {
          env: { name: 'two-mysql-sinks', parallelism: 2, transport: 'in-process', checkpoint: { dir: checkpoints, interval: '60ms' } },
          source: [{ type: 'fake', rows: 3000, splits: 4, chunk_rows: 100, rows_per_second: 6000 }],
          sink: [
            { type: 'mysql', name: 'left', ...connectionOptions(db.name), table: 'two_left' },
            { type: 'mysql', name: 'right', ...connectionOptions(db.name), table: 'two_right' },
          ],
        },
        { logger: silentLogger, ...(signal ? { signal } : {}) },
      );
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 250);
    const first = await job(stop.signal);
    expect(first.error).toBeNull();
    const second = await job();
    expect(second.error).toBeNull();
    for (const table of ['two_left', 'two_right']) {
      const [[n, distinct]] = (await db.sql(`SELECT COUNT(*), COUNT(DISTINCT id) FROM ${table}`)) as [[number, number]];
      expect({ table, n: Number(n), distinct: Number(distinct) }).toEqual({ table, n: 3000, distinct: 3000 });
    }
    expect(await leftovers()).toEqual([]);
  });

  it('round trip of every mapped type: MariaDB -> Arrow -> MariaDB, values equal, and the created table has the same column types', async () => {
    await db.sql(ALL_TYPES.replace('%s', 'types_src'));
    await db.sql(`INSERT INTO types_src VALUES ${VALUES.join(', ')}`);
    const result = await run('types', { type: 'mysql', ...connectionOptions(db.name), table: 'types_src' }, { table: 'types_copy' });
    expect(result.status, JSON.stringify(result.error)).toBe('finished');
    const columns = async (t: string) => db.sql('SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [t]);
    expect(await columns('types_copy')).toEqual(await columns('types_src'));
    const diff = await db.sql('SELECT COUNT(*) FROM types_src s JOIN types_copy c ON s.id = c.id WHERE NOT (' +
      (await columns('types_src')).map((r) => `s.\`${String(r[0])}\` <=> c.\`${String(r[0])}\``).join(' AND ') + ')');
    for (const [column] of await columns('types_src')) {
      const differ = await db.sql(`SELECT s.id, s.\`${String(column)}\`, c.\`${String(column)}\` FROM types_src s JOIN types_copy c ON s.id = c.id WHERE NOT (s.\`${String(column)}\` <=> c.\`${String(column)}\`)`);
      expect(differ, `column ${String(column)}`).toEqual([]);
    }
    expect(Number(diff[0]![0])).toBe(0);
    expect(Number((await db.sql('SELECT COUNT(*) FROM types_copy'))[0]![0])).toBe(3);
    // And into a table created by hand, through LOAD DATA.
    await db.sql(ALL_TYPES.replace('%s', 'types_load'));
    const loaded = await run('types-load', { type: 'mysql', ...connectionOptions(db.name), table: 'types_src' }, { table: 'types_load', write_method: 'load_data', schema_save_mode: 'error_when_missing' });
    expect(loaded.status, JSON.stringify(loaded.error)).toBe('finished');
    const diff2 = await db.sql('SELECT COUNT(*) FROM types_src s JOIN types_load c ON s.id = c.id WHERE NOT (' +
      (await columns('types_src')).map((r) => `s.\`${String(r[0])}\` <=> c.\`${String(r[0])}\``).join(' AND ') + ')');
    for (const [column] of await columns('types_src')) {
      const differ = await db.sql(`SELECT s.id, s.\`${String(column)}\`, c.\`${String(column)}\` FROM types_src s JOIN types_load c ON s.id = c.id WHERE NOT (s.\`${String(column)}\` <=> c.\`${String(column)}\`)`);
      expect(differ, `column ${String(column)}`).toEqual([]);
    }
    expect(Number(diff2[0]![0])).toBe(0);
    expect(Number((await db.sql('SELECT COUNT(*) FROM types_load'))[0]![0])).toBe(3);
    expect(await leftovers()).toEqual([]);
  });

  it('fake -> mysql: every id exactly once, no staging table left, commit log rows per checkpoint', async () => {
    const result = await run('fake-append', { type: 'fake', rows: 5000, splits: 4, chunk_rows: 500 }, { table: 'fake_rows', batch_size: 700 });
    expect(result.status, JSON.stringify(result.error)).toBe('finished');
    const ids = (await db.sql('SELECT id FROM fake_rows')).map((r) => Number(r[0]));
    expect(expectExactlyOnce(ids, 5000)).toBeUndefined();
    expect(await leftovers()).toEqual([]);
    const logged = await db.sql("SELECT SUM(row_count) FROM _tideway_commit_log WHERE job = 'fake-append'");
    expect(Number(logged[0]![0])).toBe(5000);
  });

  it('a job stopped mid-way and resumed holds every id exactly once', async () => {
    const checkpoints = join(tempDir(), 'ckpt');
    const stop = new AbortController();
    const source = { type: 'fake', rows: 6000, splits: 6, chunk_rows: 200, rows_per_second: 2000 };
    const first = run('stop-resume', source, { table: 'resumed', batch_size: 300 }, {}, { signal: stop.signal, checkpoints });
    // Stop once some rows are committed, well before the source is done.
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const n = await db.sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'resumed'");
      if (Number(n[0]![0]) > 0 && Number((await db.sql('SELECT COUNT(*) FROM resumed'))[0]![0]) > 0) break;
    }
    stop.abort();
    const stopped = await first;
    expect(stopped.status).not.toBe('finished');
    const between = Number((await db.sql('SELECT COUNT(*) FROM resumed'))[0]![0]);
    expect(between).toBeGreaterThan(0);
    expect(between).toBeLessThan(6000);
    const second = await run('stop-resume', source, { table: 'resumed', batch_size: 300 }, {}, { checkpoints });
    expect(second.status, JSON.stringify(second.error)).toBe('finished');
    expect(second.resumedFromCheckpoint).toBeDefined();
    expect(expectExactlyOnce((await db.sql('SELECT id FROM resumed')).map((r) => Number(r[0])), 6000)).toBeUndefined();
    expect(await leftovers()).toEqual([]);
  });

  it('a row the database refuses fails the job with its position and the server message, and commits nothing of it', async () => {
    await db.sql('CREATE TABLE narrow (id BIGINT PRIMARY KEY, name VARCHAR(10) NOT NULL, category TEXT, amount DOUBLE, quantity INT, active BOOL, created_at DATETIME(3))');
    const result = await run('narrow', { type: 'fake', rows: 50, splits: 1 }, { table: 'narrow', batch_size: 1000 });
    expect(result.status).toBe('failed');
    const message = JSON.stringify(result.error);
    // customer-10 is the first name longer than 10 characters: row 11.
    expect(message).toMatch(/refused row 11 /);
    expect(message).toMatch(/Data too long for column 'name'/);
    expect(Number((await db.sql('SELECT COUNT(*) FROM narrow'))[0]![0])).toBe(0);
  });

  it('upsert by the primary key updates rows in place; truncate empties the table once per run', async () => {
    await db.sql('CREATE TABLE up (id BIGINT PRIMARY KEY, name VARCHAR(40), category VARCHAR(20), amount DOUBLE, quantity INT, active BOOL, created_at DATETIME(3))');
    await db.sql("INSERT INTO up (id, name, category) VALUES (1, 'old', 'x'), (100000, 'keep', 'y')");
    const upsert = await run('up', { type: 'fake', rows: 30, splits: 2 }, { table: 'up', mode: 'upsert' });
    expect(upsert.status, JSON.stringify(upsert.error)).toBe('finished');
    expect(await db.sql('SELECT name FROM up WHERE id IN (1, 100000) ORDER BY id')).toEqual([['customer-1'], ['keep']]);
    expect(Number((await db.sql('SELECT COUNT(*) FROM up'))[0]![0])).toBe(31);
    const again = await run('up', { type: 'fake', rows: 30, splits: 2 }, { table: 'up', mode: 'upsert', data_save_mode: 'truncate' });
    expect(again.status, JSON.stringify(again.error)).toBe('finished');
    expect(Number((await db.sql('SELECT COUNT(*) FROM up'))[0]![0])).toBe(30);
  });

  it('error_when_missing, error_when_not_empty and a type mismatch are refused before any row moves', async () => {
    const missing = await run('missing', { type: 'fake', rows: 5 }, { table: 'nope', schema_save_mode: 'error_when_missing' });
    expect(JSON.stringify(missing.error)).toMatch(/table \S+\.nope does not exist/);
    await db.sql('CREATE TABLE full_t (id BIGINT PRIMARY KEY)');
    await db.sql('INSERT INTO full_t VALUES (42)');
    const notEmpty = await run('not-empty', { type: 'fake', rows: 5 }, { table: 'full_t', data_save_mode: 'error_when_not_empty' });
    expect(JSON.stringify(notEmpty.error)).toMatch(/already has rows/);
    await db.sql('CREATE TABLE wrong_t (id BIGINT PRIMARY KEY, name VARCHAR(40), category VARCHAR(20), amount DOUBLE, quantity INT, active BOOLEAN, created_at INT)');
    const mismatch = await run('mismatch', { type: 'fake', rows: 5 }, { table: 'wrong_t' });
    expect(JSON.stringify(mismatch.error)).toMatch(/created_at.*is Timestamp.*int/);
    expect(Number((await db.sql('SELECT COUNT(*) FROM wrong_t'))[0]![0])).toBe(0);
  });
});
