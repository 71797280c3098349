import { TidewayError } from '../../src/api/errors.js';
import { displayName, type Endpoint, describeEndpoint, literal, type PgClient, qualified, type TableName } from './connection.js';
import type { PgColumn } from './types.js';

export interface TableInfo {
  name: TableName;
  columns: (PgColumn & { category: string })[];
  primaryKey: string[];
}

const COLUMN_QUERY = `
SELECT a.attname AS name, t.typname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS "typeText",
       t.typtype, t.typcategory AS category, tn.nspname AS "typeSchema", a.attnotnull AS "notNull", a.atthasdef AS "hasDefault",
       et.typname AS "elemTypname", et.typtype AS "elemTyptype"
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
  JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
  LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
 WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum`;

const PRIMARY_KEY_QUERY = `
SELECT a.attname AS name
  FROM pg_catalog.pg_index i
  JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = $1::regclass AND i.indisprimary
 ORDER BY k.ord`;

/** The table's columns and primary key, or undefined when it does not exist. */
export async function describeTable(client: PgClient, name: TableName): Promise<TableInfo | undefined> {
  const regclass = qualified(name);
  const exists = await client.query<{ oid: string | null }>('SELECT to_regclass($1)::oid AS oid', [regclass]);
  if (!exists.rows[0]?.oid) return undefined;
  const columns = await client.query<PgColumn & { category: string }>(COLUMN_QUERY, [regclass]);
  const pk = await client.query<{ name: string }>(PRIMARY_KEY_QUERY, [regclass]);
  return { name, columns: columns.rows, primaryKey: pk.rows.map((r) => r.name) };
}

/** describeTable, or an error naming the table, the database and the tables that do exist in its schema. */
export async function requireTable(client: PgClient, name: TableName, endpoint: Endpoint): Promise<TableInfo> {
  const info = await describeTable(client, name);
  if (info) return info;
  const others = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r','p','v','m','f') ORDER BY c.relname LIMIT 20`,
    [name.schema],
  );
  const list = others.rows.map((r) => r.relname);
  throw new TidewayError(
    'POSTGRES_TABLE_NOT_FOUND',
    `table ${displayName(name)} does not exist in ${describeEndpoint(endpoint)}` +
      (list.length > 0 ? `; tables in schema ${name.schema}: ${list.join(', ')}` : `; schema ${name.schema} has no tables`) +
      '. Check the table option (schema.table; unquoted names are lower-cased)',
    { context: { connector: 'postgres', object: displayName(name), host: endpoint.host, database: endpoint.database } },
  );
}

/** Column descriptions of a query's result, without running it (LIMIT 0). */
export async function describeQuery(client: PgClient, query: string): Promise<PgColumn[]> {
  const result = await client.query({ text: `SELECT * FROM (${query}) AS tideway_q LIMIT 0` });
  if (result.fields.length === 0) return [];
  const oids = [...new Set(result.fields.map((f) => f.dataTypeID))];
  const types = await client.query<{ oid: number; typname: string; typtype: string; typeSchema: string; elemTypname: string | null; elemTyptype: string | null }>(
    `SELECT t.oid::int AS oid, t.typname, t.typtype, n.nspname AS "typeSchema", et.typname AS "elemTypname", et.typtype AS "elemTyptype"
       FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
       LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
      WHERE t.oid = ANY($1::oid[])`,
    [oids],
  );
  const byOid = new Map(types.rows.map((t) => [t.oid, t]));
  const columns: PgColumn[] = [];
  for (const field of result.fields) {
    const type = byOid.get(field.dataTypeID);
    const text = await client.query<{ t: string }>(`SELECT pg_catalog.format_type(${Number(field.dataTypeID)}, ${Number(field.dataTypeModifier)}) AS t`);
    columns.push({
      name: field.name,
      typname: type?.typname ?? 'text',
      typeText: text.rows[0]?.t ?? 'text',
      typtype: type?.typtype ?? 'b',
      typeSchema: type?.typeSchema ?? 'pg_catalog',
      elemTypname: type?.elemTypname ?? null,
      elemTyptype: type?.elemTyptype ?? null,
      notNull: false,
    });
  }
  return columns;
}

export async function tableExists(client: PgClient, name: TableName): Promise<boolean> {
  const result = await client.query<{ oid: string | null }>(`SELECT to_regclass(${literal(qualified(name))})::oid AS oid`);
  return Boolean(result.rows[0]?.oid);
}
