import { type Data, Schema, TimeUnit } from 'apache-arrow';
import { TidewayError } from '../../src/api/errors.js';
import { formatDate, formatTime, formatTimestamp } from '../../src/formats/text/temporal.js';
import { describeQuery, requireTable } from './catalog.js';
import { type Endpoint, ident, literal, parseTableName, type PgClient, qualified } from './connection.js';
import type { PostgresSourceOptions } from './options.js';
import { arrowField, type ColumnKind, columnKind, type PgColumn, type ScalarKind } from './types.js';

/** How partition bounds are expressed: plain numbers, days since 1970, or microseconds since 1970. */
export type Domain = 'int' | 'decimal' | 'date' | 'timestamp' | 'timestamptz';

export interface SelectColumn {
  name: string;
  /** The column's type as format_type spells it, for casts of keyset values. */
  typeText: string;
  kind: ColumnKind;
  /** Emitted (true) or only read for the keyset position (false). */
  output: boolean;
  nullable: boolean;
  typeSchema: string;
}

/**
 * Everything a reader needs to build its queries, computed once on the coordinator (`prepare`) and handed to
 * every reader as JSON.
 */
export interface ReadPlan {
  /** `"schema"."table" AS tideway_t`, or `(query) AS tideway_t`. */
  from: string;
  isQuery: boolean;
  where: string | null;
  columns: SelectColumn[];
  /** Index into columns of the partition column, and its domain; null: one split. */
  partition: { index: number; domain: Domain } | null;
  /** Indexes into columns of the keyset tie-breakers after the partition column (primary key, or ctid). */
  tiebreak: number[];
}

const KEYABLE: ReadonlySet<ScalarKind> = new Set(['int2', 'int4', 'int8', 'oid', 'numeric', 'float4', 'float8', 'text', 'uuid', 'date', 'time', 'timestamp', 'timestamptz', 'bool', 'tid']);
const DOMAINS: Partial<Record<ScalarKind, Domain>> = {
  int2: 'int',
  int4: 'int',
  int8: 'int',
  numeric: 'decimal',
  float4: 'decimal',
  float8: 'decimal',
  date: 'date',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
};

export async function buildPlan(client: PgClient, options: PostgresSourceOptions, endpoint: Endpoint): Promise<ReadPlan> {
  if (options.query !== undefined) {
    const described = await describeQuery(client, options.query);
    return {
      from: `(${options.query}) AS tideway_t`,
      isQuery: true,
      where: null,
      columns: described.map((c) => selectColumn(c, true)),
      partition: null,
      tiebreak: [],
    };
  }
  const name = parseTableName(options.table!);
  const info = await requireTable(client, name, endpoint);
  const byName = new Map(info.columns.map((c) => [c.name, c]));
  const find = (wanted: string, option: string): PgColumn => {
    const column = byName.get(wanted) ?? info.columns.find((c) => c.name.toLowerCase() === wanted.toLowerCase());
    if (!column) {
      throw new TidewayError(
        'POSTGRES_COLUMN_NOT_FOUND',
        `${option} names "${wanted}", which is not a column of ${name.schema}.${name.table}; its columns are ${info.columns.map((c) => c.name).join(', ')}`,
        { context: { connector: 'postgres', object: `${name.schema}.${name.table}`, column: wanted } },
      );
    }
    return column;
  };
  const wanted = options.columns ? options.columns.map((c) => find(c, 'columns')) : info.columns;
  const columns = wanted.map((c) => selectColumn(c, true));
  const indexOf = (column: PgColumn): number => {
    const at = columns.findIndex((c) => c.name === column.name && c.kind.cast === undefined);
    if (at >= 0) return at;
    columns.push(selectColumn(column, false));
    columns[columns.length - 1]!.kind = { kind: columnKind(column).kind };
    return columns.length - 1;
  };

  let partitionColumn: PgColumn | undefined;
  if (options.partition_column !== undefined) {
    partitionColumn = find(options.partition_column, 'partition_column');
    const kind = columnKind(partitionColumn);
    if (kind.cast || kind.kind === 'list' || !DOMAINS[kind.kind]) {
      throw new TidewayError(
        'POSTGRES_BAD_PARTITION_COLUMN',
        `partition_column "${partitionColumn.name}" is ${partitionColumn.typeText}; splits need an integer, numeric, date or timestamp column (or leave partition_column out for one split)`,
        { context: { connector: 'postgres', column: partitionColumn.name } },
      );
    }
  } else if (info.primaryKey.length === 1) {
    const pk = byName.get(info.primaryKey[0]!)!;
    if (DOMAINS[columnKind(pk).kind as ScalarKind] === 'int') partitionColumn = pk;
  }

  // A keyset needs a unique order: the partition column, then the primary key, else the physical row id.
  const pkColumns = info.primaryKey.map((n) => byName.get(n)!);
  const pkUsable = pkColumns.length > 0 && pkColumns.every((c) => {
    const k = columnKind(c);
    return k.kind !== 'list' && KEYABLE.has(k.kind);
  });
  let tiebreakColumns: PgColumn[];
  if (partitionColumn && info.primaryKey.length === 1 && info.primaryKey[0] === partitionColumn.name) tiebreakColumns = [];
  else if (pkUsable) tiebreakColumns = pkColumns.filter((c) => c.name !== partitionColumn?.name);
  else tiebreakColumns = [{ name: 'ctid', typname: 'tid', typeText: 'tid', typtype: 'b', typeSchema: 'pg_catalog', notNull: true }];

  const partition = partitionColumn ? { index: indexOf(partitionColumn), domain: DOMAINS[columnKind(partitionColumn).kind as ScalarKind]! } : null;
  const tiebreak = tiebreakColumns.map(indexOf);
  return { from: `${qualified(name)} AS tideway_t`, isQuery: false, where: options.where ?? null, columns, partition, tiebreak };
}

function selectColumn(column: PgColumn, output: boolean): SelectColumn {
  return { name: column.name, typeText: column.typeText, kind: columnKind(column), output, nullable: !column.notNull, typeSchema: column.typeSchema };
}

export function outputSchema(plan: ReadPlan): Schema {
  return new Schema(plan.columns.filter((c) => c.output).map((c) => fieldOf(c)));
}

export function fullSchema(plan: ReadPlan): Schema {
  return new Schema(plan.columns.map((c) => fieldOf(c)));
}

function fieldOf(c: SelectColumn) {
  return arrowField(
    { name: c.name, typname: '', typeText: c.typeText, typtype: 'b', typeSchema: c.typeSchema, notNull: !c.nullable },
    c.kind,
  );
}

/** `tideway_t."col"`, the raw column (never the cast output alias). */
export function columnRef(plan: ReadPlan, index: number): string {
  const c = plan.columns[index]!;
  return c.name === 'ctid' && c.kind.kind === 'tid' ? 'tideway_t.ctid' : `tideway_t.${ident(c.name)}`;
}

export function selectList(plan: ReadPlan): string {
  return plan.columns
    .map((c, i) => {
      const ref = columnRef(plan, i);
      return c.kind.cast ? `${ref}::${c.kind.cast} AS ${ident(c.name)}` : plan.isQuery ? ref : `${ref} AS ${ident(c.name)}`;
    })
    .join(', ');
}

/** SQL of a partition column value in its domain (a number). */
export function domainExpression(domain: Domain, sql: string): string {
  switch (domain) {
    case 'int':
    case 'decimal':
      return `(${sql})::numeric`;
    case 'date':
      return `((${sql}) - DATE '1970-01-01')::numeric`;
    case 'timestamp':
      return `round(extract(epoch FROM (${sql})) * 1000000)`;
    case 'timestamptz':
      return `round(extract(epoch FROM (${sql})) * 1000000)`;
  }
}

/** SQL of the column value at a domain number (the inverse of domainExpression). */
export function fromDomain(domain: Domain, value: string): string {
  if (!/^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(value)) throw new TidewayError('POSTGRES_BAD_SPLIT', `a split bound is not a number: ${JSON.stringify(value)}`);
  switch (domain) {
    case 'int':
    case 'decimal':
      return value;
    case 'date':
      return `(DATE '1970-01-01' + ${value}::int)`;
    case 'timestamp':
      return `(TIMESTAMP '1970-01-01' + (${value}::int8 / 1000000) * INTERVAL '1 second' + (${value}::int8 % 1000000) * INTERVAL '1 microsecond')`;
    case 'timestamptz':
      return `(TIMESTAMPTZ '1970-01-01 00:00:00+00' + (${value}::int8 / 1000000) * INTERVAL '1 second' + (${value}::int8 % 1000000) * INTERVAL '1 microsecond')`;
  }
}

/** The text of a key column's value at `row` of decoded data, which `CAST(text AS type)` reads back. */
export function keyText(data: Data, row: number, kind: ColumnKind): string {
  const values = data.values as ArrayLike<number | bigint>;
  switch (kind.kind) {
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid':
    case 'float4':
    case 'float8':
      return String(values[row]);
    case 'bool':
      return (data.values as Uint8Array)[row >> 3]! & (1 << (row & 7)) ? 'true' : 'false';
    case 'date': {
      const days = values[row] as number;
      return days === 2_147_483_647 ? 'infinity' : days === -2_147_483_648 ? '-infinity' : formatDate(days);
    }
    case 'timestamp':
    case 'timestamptz': {
      const us = values[row] as bigint;
      if (us === 9_223_372_036_854_775_807n) return 'infinity';
      if (us === -9_223_372_036_854_775_808n) return '-infinity';
      return formatTimestamp(us, TimeUnit.MICROSECOND, kind.kind === 'timestamptz');
    }
    case 'time':
      return formatTime(values[row] as bigint, TimeUnit.MICROSECOND);
    default: {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      return Buffer.from(bytes.buffer, bytes.byteOffset + offsets[row]!, offsets[row + 1]! - offsets[row]!).toString('utf8');
    }
  }
}

export function keyLiteral(text: string, typeText: string): string {
  return `CAST(${literal(text)} AS ${typeText})`;
}
