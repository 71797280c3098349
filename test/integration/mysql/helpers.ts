import { randomBytes } from 'node:crypto';
import mysql, { type Connection } from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import { requireService } from '../../helpers/services.js';

export const MYSQL_HOST = process.env.MYSQL_HOST ?? '127.0.0.1';
export const MYSQL_PORT = Number(process.env.MYSQL_PORT ?? 3306);
export const MYSQL_USER = process.env.MYSQL_USER ?? 'root';
export const MYSQL_PASSWORD = process.env.MYSQL_PASSWORD ?? '';

/** True when MariaDB/MySQL answers (fails the file under CI=true, skips it with the reason otherwise). */
export const mysqlUp = await requireService('MariaDB', MYSQL_HOST, MYSQL_PORT);

export function rootConnection(database?: string): Promise<Connection> {
  return mysql.createConnection({
    host: MYSQL_HOST,
    port: MYSQL_PORT,
    user: MYSQL_USER,
    password: MYSQL_PASSWORD,
    ...(database ? { database } : {}),
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    multipleStatements: true,
    timezone: 'Z',
  });
}

/** The connection options of a source or sink stage for `database`. */
export function connectionOptions(database: string): Record<string, unknown> {
  return { host: MYSQL_HOST, port: MYSQL_PORT, user: MYSQL_USER, ...(MYSQL_PASSWORD ? { password: MYSQL_PASSWORD } : {}), database };
}

/**
 * A randomly named database for one test file, created before its tests and dropped after. `db.sql` runs
 * statements in it (UTC, strict mode), `db.name` is its name.
 */
export function useDatabase(prefix: string): { readonly name: string; sql(text: string, values?: unknown[]): Promise<unknown[][]>; connection(): Connection } {
  const name = `tw_${prefix}_${randomBytes(4).toString('hex')}`;
  let connection: Connection | undefined;
  beforeAll(async () => {
    if (!mysqlUp) return;
    const admin = await rootConnection();
    await admin.query(`CREATE DATABASE \`${name}\``);
    await admin.end();
    connection = await rootConnection(name);
    await connection.query("SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES'");
  });
  afterAll(async () => {
    if (!connection) return;
    await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await connection.end();
  });
  return {
    name,
    async sql(text, values = []) {
      const [rows] = await connection!.query({ sql: text, values, rowsAsArray: true });
      return rows as unknown[][];
    },
    connection: () => connection!,
  };
}

/** Inserts rows in chunks of multi-row INSERTs. */
export async function insertRows(db: { sql(text: string, values?: unknown[]): Promise<unknown> }, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    await db.sql(`INSERT INTO \`${table}\` (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES ?`, [chunk]);
  }
}
