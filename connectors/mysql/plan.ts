import type { Connection } from 'mysql2/promise';
import type { Json } from '../../src/api/json.js';
import { display, parseTableName, qualified, queryRows, quoteId, resolveEndpoint, type TableRef } from './connection.js';
import { mysqlError, serverMessage } from './errors.js';
import type { MysqlSourceOptions } from './options.js';
import { type ColumnInfo, type ColumnKind, columnInfo } from './types.js';

/**
 * How a source reads, worked out once on the coordinator and handed to every reader (as `prepared`):
 * what to select, from where, in which order, and how the partition column cuts it.
 */
export interface ReadPlan {
  /** The FROM clause: a quoted table or `(query) AS q`. */
  from: string;
  /** What the messages call it: `db.table` or `the query`. */
  label: string;
  /** The user's `where`, or null. */
  where: string | null;
  /** Every selected column: the output columns first, then key columns the output leaves out. */
  columns: ColumnInfo[];
  outputCount: number;
  /**
   * `keyset`: pages ordered by `order` (unique, not null) resume after the last key read.
   * `stream`: no unique key; one streamed query per split, ordered by every column, resumed by skipping
   * the rows already emitted (see README).
   */
  mode: 'keyset' | 'stream';
  /** Order of a range split (partition column first, then the rest of the key). */
  order: string[];
  /** Order of the NULL split (the key without the partition column). */
  nullOrder: string[];
  partition: { column: string; kind: ColumnKind; nullable: boolean } | null;
  [key: string]: Json;
}

interface SchemaRow {
  name: string;
  columnType: string;
  nullable: boolean;
}

/** Builds the read plan; every problem names the table and column and says what to change. */
export async function planRead(connection: Connection, options: MysqlSourceOptions): Promise<ReadPlan> {
  if (options.query !== undefined) return planQuery(connection, options.query);
  const ref = parseTableName(options.table!, resolveEndpoint(options).database);
  const table = await tableColumns(connection, ref);
  const byName = new Map(table.map((c) => [c.name.toLowerCase(), c]));
  const wanted = options.columns ?? table.map((c) => c.name);
  const unknown = wanted.filter((n) => !byName.has(n.toLowerCase()));
  if (unknown.length > 0) {
    throw mysqlError(
      'MYSQL_UNKNOWN_COLUMN',
      `columns names ${unknown.map((n) => `"${n}"`).join(', ')}, not in ${display(ref)}; its columns are ${table.map((c) => c.name).join(', ')}`,
      { context: { table: display(ref) } },
    );
  }
  const output = wanted.map((n) => byName.get(n.toLowerCase())!);
  const key = await uniqueKey(connection, ref, table);
  let partitionName = options.partition_column;
  if (partitionName === undefined && key?.primary && key.columns.length === 1) {
    const only = key.columns[0]!;
    if (/^(tiny|small|medium|big)?int\b/i.test(byName.get(only.toLowerCase())!.columnType)) partitionName = only;
  }
  const partitionRow = partitionName === undefined ? undefined : byName.get(partitionName.toLowerCase());
  if (partitionName !== undefined && !partitionRow) {
    throw mysqlError('MYSQL_UNKNOWN_COLUMN', `partition_column "${partitionName}" is not a column of ${display(ref)}; its columns are ${table.map((c) => c.name).join(', ')}`, {
      context: { table: display(ref) },
    });
  }
  const extra = [...(key?.columns ?? []), ...(partitionRow ? [partitionRow.name] : [])].filter(
    (n) => !output.some((o) => o.name.toLowerCase() === n.toLowerCase()),
  );
  const selected = [...output, ...[...new Set(extra)].map((n) => byName.get(n.toLowerCase())!)];
  const columns = await probe(connection, qualified(ref), selected.map((c) => quoteId(c.name)), display(ref), new Map(selected.map((c) => [c.name, c.columnType])));
  const info = (name: string) => columns.find((c) => c.name.toLowerCase() === name.toLowerCase())!;
  let partition: ReadPlan['partition'] = null;
  if (partitionRow) {
    const p = info(partitionRow.name);
    if (!p.partitionable) {
      throw mysqlError(
        'MYSQL_BAD_PARTITION_COLUMN',
        `partition_column "${p.name}" of ${display(ref)} has type ${p.sqlType}; it must be an integer, date, datetime or timestamp column (or leave partition_column out to read one split)`,
        { context: { table: display(ref), column: p.name } },
      );
    }
    partition = { column: p.name, kind: p.kind, nullable: p.nullable };
  }
  const keyCols = key?.columns.map((n) => info(n).name) ?? [];
  const mode = key ? 'keyset' : 'stream';
  const everything = columns.map((c) => c.name);
  const rest = (first: string | undefined, list: string[]) => list.filter((n) => n.toLowerCase() !== first?.toLowerCase());
  const order = partition ? [partition.column, ...rest(partition.column, mode === 'keyset' ? keyCols : everything)] : mode === 'keyset' ? keyCols : everything;
  const nullOrder = mode === 'keyset' ? keyCols : everything;
  return { from: qualified(ref), label: display(ref), where: options.where ?? null, columns, outputCount: output.length, mode, order, nullOrder, partition };
}

async function planQuery(connection: Connection, query: string): Promise<ReadPlan> {
  const from = `(${query.replace(/;\s*$/, '')}) AS q`;
  const columns = await probe(connection, from, ['*'], 'the query', new Map());
  const names = new Set<string>();
  for (const c of columns) {
    if (names.has(c.name.toLowerCase())) {
      throw mysqlError('MYSQL_DUPLICATE_COLUMN', `the query returns two columns named "${c.name}"; give them distinct aliases (SELECT a.id AS a_id, b.id AS b_id ...)`);
    }
    names.add(c.name.toLowerCase());
  }
  return { from, label: 'the query', where: null, columns, outputCount: columns.length, mode: 'stream', order: columns.map((c) => c.name), nullOrder: [], partition: null };
}

/** The result columns as the server describes them (LIMIT 0: no row is read). */
async function probe(connection: Connection, from: string, select: string[], label: string, types: Map<string, string>): Promise<ColumnInfo[]> {
  let fields;
  try {
    ({ fields } = await queryRows(connection, `SELECT ${select.join(', ')} FROM ${from} LIMIT 0`));
  } catch (error) {
    throw mysqlError('MYSQL_QUERY_FAILED', `cannot read ${label}: ${serverMessage(error)}`, { cause: error });
  }
  return fields.map((f) => columnInfo(f, types.get(f.name), quoteId));
}

async function tableColumns(connection: Connection, ref: TableRef): Promise<SchemaRow[]> {
  const { rows } = await queryRows(
    connection,
    'SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [ref.database, ref.table],
  );
  if (rows.length === 0) {
    const { rows: dbs } = await queryRows(connection, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [ref.database]);
    const what = dbs.length === 0 ? `database "${ref.database}" does not exist (or this user cannot see it)` : `table ${display(ref)} does not exist (or this user cannot see it)`;
    throw mysqlError('MYSQL_TABLE_NOT_FOUND', `${what}; check table and database`, { context: { table: display(ref) } });
  }
  return rows.map((r) => ({ name: String(r[0]), columnType: String(r[1]), nullable: r[2] === 'YES' }));
}

/** The primary key, or else the first unique index on NOT NULL columns: what keyset pages order by. */
export async function uniqueKey(connection: Connection, ref: TableRef, table: readonly { name: string; nullable: boolean }[]): Promise<{ columns: string[]; primary: boolean } | undefined> {
  const { rows } = await queryRows(
    connection,
    'SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME = \'PRIMARY\' DESC, INDEX_NAME, SEQ_IN_INDEX',
    [ref.database, ref.table],
  );
  const indexes = new Map<string, string[]>();
  const prefixed = new Set<string>();
  for (const [index, column, subPart] of rows) {
    indexes.set(String(index), [...(indexes.get(String(index)) ?? []), String(column)]);
    // A prefix index is unique on the prefix only: ordering by the whole column is not what it guarantees.
    if (subPart !== null) prefixed.add(String(index));
  }
  for (const name of prefixed) indexes.delete(name);
  const nullable = new Set(table.filter((c) => c.nullable).map((c) => c.name));
  for (const [name, columns] of indexes) {
    if (columns.some((c) => nullable.has(c))) continue;
    return { columns, primary: name === 'PRIMARY' };
  }
  return undefined;
}

