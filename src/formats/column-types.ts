import {
  Binary,
  Bool,
  type DataType,
  DateDay,
  Decimal,
  Field,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  Schema,
  Timestamp,
  TimeUnit,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
} from 'apache-arrow';

/**
 * Column types written by hand in a job (a declared schema for CSV or JSON Lines files), by name:
 * `boolean`, `int8` … `int64`, `uint8` … `uint64`, `float32`, `float64`, `string`, `binary`, `date`,
 * `timestamp` (milliseconds, no time zone), `timestamp(s|ms|us|ns)`, `timestamptz` / `timestamptz(unit)`
 * (an instant, UTC), `decimal(precision, scale)`. Common SQL spellings are accepted too.
 */
const SIMPLE: Record<string, () => DataType> = {
  boolean: () => new Bool(),
  bool: () => new Bool(),
  int8: () => new Int8(),
  tinyint: () => new Int8(),
  int16: () => new Int16(),
  smallint: () => new Int16(),
  int32: () => new Int32(),
  int: () => new Int32(),
  integer: () => new Int32(),
  int64: () => new Int64(),
  bigint: () => new Int64(),
  long: () => new Int64(),
  uint8: () => new Uint8(),
  uint16: () => new Uint16(),
  uint32: () => new Uint32(),
  uint64: () => new Uint64(),
  float32: () => new Float32(),
  float: () => new Float32(),
  real: () => new Float32(),
  float64: () => new Float64(),
  double: () => new Float64(),
  string: () => new Utf8(),
  utf8: () => new Utf8(),
  text: () => new Utf8(),
  varchar: () => new Utf8(),
  binary: () => new Binary(),
  bytes: () => new Binary(),
  date: () => new DateDay(),
};

const UNITS: Record<string, TimeUnit> = { s: TimeUnit.SECOND, ms: TimeUnit.MILLISECOND, us: TimeUnit.MICROSECOND, ns: TimeUnit.NANOSECOND };

export const COLUMN_TYPE_HELP =
  'boolean, int8, int16, int32, int64, uint8-uint64, float32, float64, string, binary, date, timestamp, timestamp(s|ms|us|ns), timestamptz, timestamptz(unit), decimal(p,s)';

/** The Arrow type a column type name stands for, or undefined. */
export function columnType(name: string): DataType | undefined {
  const text = name.trim().toLowerCase().replace(/\s+/g, '');
  const simple = SIMPLE[text];
  if (simple) return simple();
  const timestamp = /^(timestamp|timestamptz)(?:\((s|ms|us|ns)\))?$/.exec(text);
  if (timestamp) return new Timestamp(UNITS[timestamp[2] ?? 'ms']!, timestamp[1] === 'timestamptz' ? 'UTC' : null);
  const decimal = /^(?:decimal|numeric)\((\d+),(\d+)\)$/.exec(text);
  if (decimal) {
    const precision = Number(decimal[1]);
    const scale = Number(decimal[2]);
    if (precision < 1 || precision > 38 || scale > precision) return undefined;
    return new Decimal(scale, precision, 128);
  }
  return undefined;
}

/** A declared column: name, type name, nullable (default true). */
export interface ColumnDeclaration {
  name: string;
  type: string;
  nullable?: boolean | undefined;
}

/** The schema of declared columns; throws a RangeError naming the first unknown type. */
export function schemaOfColumns(columns: readonly ColumnDeclaration[]): Schema {
  return new Schema(
    columns.map((c) => {
      const type = columnType(c.type);
      if (!type) throw new RangeError(`column "${c.name}": unknown type ${JSON.stringify(c.type)}; use one of ${COLUMN_TYPE_HELP}`);
      return new Field(c.name, type, c.nullable ?? true);
    }),
  );
}
