import {
  Binary,
  Bool,
  type DataType,
  DateDay,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  List,
  Schema,
  TimeMicrosecond,
  TimestampMicrosecond,
  Type,
  Utf8,
  Timestamp,
  TimeUnit,
} from 'apache-arrow';

/** How a value of a column travels in binary COPY and lands in Arrow. */
export type ScalarKind =
  | 'int2'
  | 'int4'
  | 'int8'
  | 'oid'
  | 'float4'
  | 'float8'
  | 'bool'
  | 'text'
  | 'numeric'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'jsonb'
  | 'uuid'
  | 'bytea'
  | 'tid';

export interface ColumnKind {
  kind: ScalarKind | 'list';
  /** Element kind of a one-dimensional array. */
  element?: ScalarKind;
  /** Read through this cast (the column's text form, which its input accepts back). */
  cast?: 'text' | 'text[]';
}

/** A column as the catalog describes it. */
export interface PgColumn {
  name: string;
  /** pg_type.typname, e.g. int4, _text, my_enum. */
  typname: string;
  /** format_type(atttypid, atttypmod), e.g. numeric(12,2), character varying(20), text[]. */
  typeText: string;
  /** pg_type.typtype: b base, e enum, d domain, c composite, r range... */
  typtype: string;
  /** typname of the element type, for arrays. */
  elemTypname?: string | null;
  elemTyptype?: string | null;
  /** Schema of the type, to tell built-in types from user types. */
  typeSchema: string;
  notNull: boolean;
  hasDefault?: boolean;
}

const SCALARS: Record<string, ScalarKind> = {
  int2: 'int2',
  int4: 'int4',
  int8: 'int8',
  oid: 'oid',
  float4: 'float4',
  float8: 'float8',
  bool: 'bool',
  text: 'text',
  varchar: 'text',
  bpchar: 'text',
  name: 'text',
  char: 'text',
  citext: 'text',
  json: 'text',
  xml: 'text',
  numeric: 'numeric',
  date: 'date',
  time: 'time',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
  jsonb: 'jsonb',
  uuid: 'uuid',
  bytea: 'bytea',
  tid: 'tid',
};

/**
 * Maps a catalog column to how it is read. Types without a binary decoder here (interval, money, inet,
 * ranges, geometric and composite types, timetz, bit strings) are read through `::text`: PostgreSQL's text
 * output of every type is accepted back by its input, so nothing is lost.
 */
export function columnKind(column: Pick<PgColumn, 'typname' | 'typtype' | 'elemTypname' | 'elemTyptype'>): ColumnKind {
  const scalar = scalarKind(column.typname, column.typtype);
  if (scalar) return { kind: scalar };
  if (column.elemTypname) {
    const element = scalarKind(column.elemTypname, column.elemTyptype ?? 'b');
    if (element && element !== 'tid') return { kind: 'list', element };
    return { kind: 'list', element: 'text', cast: 'text[]' };
  }
  return { kind: 'text', cast: 'text' };
}

function scalarKind(typname: string, typtype: string): ScalarKind | undefined {
  if (typtype === 'e') return 'text';
  return SCALARS[typname];
}

export function arrowType(kind: ColumnKind): DataType {
  if (kind.kind === 'list') return new List(new Field('item', scalarArrowType(kind.element ?? 'text'), true));
  return scalarArrowType(kind.kind);
}

function scalarArrowType(kind: ScalarKind): DataType {
  switch (kind) {
    case 'int2':
      return new Int16();
    case 'int4':
      return new Int32();
    case 'int8':
    case 'oid':
      return new Int64();
    case 'float4':
      return new Float32();
    case 'float8':
      return new Float64();
    case 'bool':
      return new Bool();
    case 'date':
      return new DateDay();
    case 'time':
      return new TimeMicrosecond();
    case 'timestamp':
      return new TimestampMicrosecond();
    case 'timestamptz':
      return new Timestamp(TimeUnit.MICROSECOND, 'UTC');
    case 'bytea':
      return new Binary();
    default:
      return new Utf8();
  }
}

/** Field metadata key holding the PostgreSQL type, so a PostgreSQL sink can create the same column type. */
export const PG_TYPE_METADATA = 'postgres.type';

export function arrowField(column: PgColumn, kind: ColumnKind): Field {
  const metadata = new Map<string, string>();
  // User types (enums, domains) may not exist where the rows go; they travel as their base text.
  if (column.typeSchema === 'pg_catalog') metadata.set(PG_TYPE_METADATA, column.typeText);
  return new Field(column.name, arrowType(kind), !column.notNull, metadata);
}

export function arrowSchema(columns: readonly PgColumn[], kinds: readonly ColumnKind[]): Schema {
  return new Schema(columns.map((c, i) => arrowField(c, kinds[i]!)));
}

/** The PostgreSQL type to create for an Arrow field (create_when_missing, recreate, staging tables). */
export function pgTypeFor(field: Field): string {
  const declared = field.metadata.get(PG_TYPE_METADATA);
  if (declared) return declared;
  return pgTypeForArrow(field.type);
}

function pgTypeForArrow(type: DataType): string {
  switch (type.typeId) {
    case Type.Int: {
      const t = type as unknown as { bitWidth: number; isSigned: boolean };
      if (t.bitWidth <= 16 && (t.isSigned || t.bitWidth <= 8)) return 'smallint';
      if (t.bitWidth <= 32 && (t.isSigned || t.bitWidth <= 16)) return 'integer';
      if (t.isSigned || t.bitWidth < 64) return 'bigint';
      return 'numeric(20,0)';
    }
    case Type.Float: {
      const precision = (type as unknown as { precision: number }).precision;
      return precision === 1 ? 'real' : 'double precision';
    }
    case Type.Decimal: {
      const t = type as unknown as { precision: number; scale: number };
      return `numeric(${t.precision},${t.scale})`;
    }
    case Type.Bool:
      return 'boolean';
    case Type.Utf8:
    case Type.LargeUtf8:
      return 'text';
    case Type.Binary:
    case Type.LargeBinary:
    case Type.FixedSizeBinary:
      return 'bytea';
    case Type.Date:
      return 'date';
    case Type.Time:
      return 'time';
    case Type.Timestamp: {
      const zone = (type as Timestamp).timezone;
      return zone ? 'timestamptz' : 'timestamp';
    }
    case Type.Interval:
    case Type.Duration:
      return 'interval';
    case Type.List:
    case Type.FixedSizeList: {
      const child = (type as unknown as { children: Field[] }).children[0];
      const inner = child ? pgTypeForArrow(child.type) : 'text';
      return inner.endsWith('[]') || inner === 'jsonb' ? 'jsonb' : `${inner}[]`;
    }
    case Type.Null:
      return 'text';
    default:
      return 'jsonb';
  }
}

/**
 * Whether Arrow values of `type` can be written into a column of PostgreSQL type category `category`
 * (pg_type.typcategory) named `typname`; returns the reason when not.
 */
export function incompatibility(type: DataType, typname: string, category: string): string | undefined {
  // Text reaches any column: the server parses it with the column's own input function.
  if (type.typeId === Type.Utf8 || type.typeId === Type.LargeUtf8 || type.typeId === Type.Null) return undefined;
  if (category === 'S' || typname === 'json' || typname === 'jsonb') return undefined;
  const ok = (() => {
    switch (type.typeId) {
      case Type.Int:
        // MySQL booleans arrive as tinyint 0/1, which boolean's input reads.
        return category === 'N' || category === 'B';
      case Type.Float:
      case Type.Decimal:
        return category === 'N';
      case Type.Bool:
        return category === 'B';
      case Type.Date:
      case Type.Timestamp:
        return category === 'D' && typname !== 'time' && typname !== 'timetz';
      case Type.Time:
        return typname === 'time' || typname === 'timetz' || typname === 'interval';
      case Type.Binary:
      case Type.LargeBinary:
      case Type.FixedSizeBinary:
        return typname === 'bytea';
      case Type.List:
      case Type.FixedSizeList:
        return category === 'A';
      case Type.Interval:
      case Type.Duration:
        return typname === 'interval';
      default:
        return false;
    }
  })();
  return ok ? undefined : `${String(type)} values cannot be stored in a ${typname} column`;
}
