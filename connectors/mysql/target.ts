import type { Schema } from 'apache-arrow';
import type { Connection } from 'mysql2/promise';
import { display, qualified, queryRows, quoteId, type TableRef } from './connection.js';
import { mysqlError } from './errors.js';
import { compatible, ddlType } from './encode.js';
import type { MysqlSinkOptions } from './options.js';
import { uniqueKey } from './plan.js';

export interface TargetColumn {
  name: string;
  dataType: string;
  columnType: string;
  nullable: boolean;
  hasDefault: boolean;
  generated: boolean;
}

export async function targetColumns(connection: Connection, ref: TableRef): Promise<TargetColumn[] | undefined> {
  const { rows } = await queryRows(
    connection,
    'SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [ref.database, ref.table],
  );
  if (rows.length === 0) return undefined;
  return rows.map((r) => {
    const extra = String(r[5] ?? '').toLowerCase();
    return {
      name: String(r[0]),
      dataType: String(r[1]),
      columnType: String(r[2]),
      nullable: r[3] === 'YES',
      hasDefault: r[4] !== null || extra.includes('auto_increment'),
      generated: extra.includes('generated'),
    };
  });
}

export async function databaseExists(connection: Connection, database: string): Promise<boolean> {
  const { rows } = await queryRows(connection, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
  return rows.length > 0;
}

/** The target's columns that the input fills, in input order; every mismatch named, before any row moves. */
export function matchColumns(ref: TableRef, schema: Schema, columns: readonly TargetColumn[]): TargetColumn[] {
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  const problems: string[] = [];
  const matched: TargetColumn[] = [];
  for (const field of schema.fields) {
    const column = byName.get(field.name.toLowerCase());
    if (!column) {
      problems.push(`input column "${field.name}" (${String(field.type)}) has no column in ${display(ref)}: add it (ALTER TABLE ${qualified(ref)} ADD COLUMN ${quoteId(field.name)} ${ddlType(field, false) ?? '...'}) or leave it out with a select transform`);
      continue;
    }
    if (column.generated) problems.push(`column "${column.name}" of ${display(ref)} is generated and cannot be written; leave it out with a select transform`);
    else if (!compatible(field, column.dataType)) problems.push(`input column "${field.name}" is ${String(field.type)} but ${display(ref)}.${column.name} is ${column.columnType}; change the column type or convert the value in a transform`);
    matched.push(column);
  }
  const filled = new Set(matched.map((c) => c.name.toLowerCase()));
  for (const column of columns) {
    if (!filled.has(column.name.toLowerCase()) && !column.nullable && !column.hasDefault && !column.generated) {
      problems.push(`column "${column.name}" of ${display(ref)} is NOT NULL without a default and the input has no such column; every row would be refused`);
    }
  }
  if (problems.length > 0) {
    throw mysqlError('MYSQL_SCHEMA_MISMATCH', `the input does not fit ${display(ref)}:\n  ${problems.join('\n  ')}`, { context: { table: display(ref) } });
  }
  return matched;
}

/** CREATE TABLE for the input schema (from a MySQL source, the same column types). */
export function createTableSql(ref: TableRef, schema: Schema, primaryKeys: readonly string[] | undefined): string {
  const keys = new Set((primaryKeys ?? []).map((k) => k.toLowerCase()));
  const columns = schema.fields.map((field) => {
    const type = ddlType(field, keys.has(field.name.toLowerCase()));
    if (type === undefined) {
      throw mysqlError('MYSQL_UNMAPPABLE_TYPE', `input column "${field.name}" is ${String(field.type)}, which has no MySQL column type; create ${display(ref)} yourself or convert the column in a transform`, {
        context: { table: display(ref), column: field.name },
      });
    }
    return `${quoteId(field.name)} ${type}${field.nullable && !keys.has(field.name.toLowerCase()) ? ' NULL' : ' NOT NULL'}`;
  });
  const missing = [...keys].filter((k) => !schema.fields.some((f) => f.name.toLowerCase() === k));
  if (missing.length > 0) throw mysqlError('MYSQL_UNKNOWN_COLUMN', `primary_keys names ${missing.join(', ')}, which the input does not have`, { context: { table: display(ref) } });
  if (primaryKeys?.length) columns.push(`PRIMARY KEY (${primaryKeys.map(quoteId).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${qualified(ref)} (${columns.join(', ')}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;
}

/** The upsert key: primary_keys (backed by a unique index) or the table's primary key. */
export async function upsertKey(connection: Connection, ref: TableRef, options: MysqlSinkOptions, columns: readonly TargetColumn[]): Promise<string[]> {
  const { rows } = await queryRows(
    connection,
    'SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX',
    [ref.database, ref.table],
  );
  const indexes = new Map<string, string[]>();
  for (const [index, column] of rows) indexes.set(String(index), [...(indexes.get(String(index)) ?? []), String(column).toLowerCase()]);
  if (options.primary_keys) {
    const wanted = options.primary_keys.map((k) => k.toLowerCase());
    const unknown = wanted.filter((k) => !columns.some((c) => c.name.toLowerCase() === k));
    if (unknown.length > 0) throw mysqlError('MYSQL_UNKNOWN_COLUMN', `primary_keys names ${unknown.join(', ')}, not columns of ${display(ref)}`, { context: { table: display(ref) } });
    const backed = [...indexes.values()].some((cols) => cols.length === wanted.length && cols.every((c) => wanted.includes(c)));
    if (!backed) {
      throw mysqlError(
        'MYSQL_NO_UPSERT_KEY',
        `upsert by (${options.primary_keys.join(', ')}) needs a PRIMARY KEY or UNIQUE index on exactly those columns of ${display(ref)} (ON DUPLICATE KEY UPDATE matches on unique indexes); add one: ALTER TABLE ${qualified(ref)} ADD UNIQUE (${options.primary_keys.map(quoteId).join(', ')})`,
        { context: { table: display(ref) } },
      );
    }
    return options.primary_keys;
  }
  const key = await uniqueKey(connection, ref, columns);
  if (!key?.primary) {
    throw mysqlError('MYSQL_NO_UPSERT_KEY', `mode: upsert needs a key: ${display(ref)} has no PRIMARY KEY; set primary_keys (backed by a UNIQUE index) or add a primary key`, { context: { table: display(ref) } });
  }
  return key.columns;
}
