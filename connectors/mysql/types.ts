import { daysFromCivil } from '../../src/formats/text/field-bytes.js';
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
  Int8,
  Schema,
  TimestampMicrosecond,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
} from 'apache-arrow';
import type { FieldPacket } from 'mysql2/promise';
import { mysqlError } from './errors.js';

/** Field metadata key holding the column's MySQL type (`decimal(10,2) unsigned`), so a MySQL sink can recreate it. */
export const MYSQL_TYPE_KEY = 'mysql.type';

/** How one column is read: its Arrow type and the parser of its text (or bytes). */
export type ColumnKind =
  | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64'
  | 'float32' | 'float64' | 'bool' | 'bits' | 'text' | 'binary' | 'date' | 'datetime' | 'timestamp';

export interface ColumnInfo {
  name: string;
  kind: ColumnKind;
  nullable: boolean;
  /** The MySQL type as DDL text. */
  sqlType: string;
  /** Sorting by this column in SQL sorts like its values (not true of FLOAT as read through a cast). */
  partitionable: boolean;
  /** SQL that selects the column (FLOAT is widened to DOUBLE so its text carries every bit). */
  selectExpr: string;
  [key: string]: string | boolean;
}

const T = {
  DECIMAL: 0, TINY: 1, SHORT: 2, LONG: 3, FLOAT: 4, DOUBLE: 5, NULL: 6, TIMESTAMP: 7, LONGLONG: 8, INT24: 9, DATE: 10, TIME: 11,
  DATETIME: 12, YEAR: 13, NEWDATE: 14, VARCHAR: 15, BIT: 16, JSON: 245, NEWDECIMAL: 246, ENUM: 247, SET: 248, TINY_BLOB: 249,
  MEDIUM_BLOB: 250, LONG_BLOB: 251, BLOB: 252, VAR_STRING: 253, STRING: 254, GEOMETRY: 255,
} as const;
const FLAG = { NOT_NULL: 1, UNSIGNED: 32, ENUM: 256, SET: 2048 } as const;
const BINARY_CHARSET = 63;

/**
 * Maps a result column to how Tideway reads it. `columnType` is the exact type when known (a table's
 * information_schema COLUMN_TYPE); the wire metadata decides the Arrow type. Unmappable types throw, naming the column.
 */
export function columnInfo(field: FieldPacket, columnType: string | undefined, quote: (name: string) => string): ColumnInfo {
  const flags = typeof field.flags === 'number' ? field.flags : 0;
  const unsigned = (flags & FLAG.UNSIGNED) !== 0;
  const nullable = (flags & FLAG.NOT_NULL) === 0;
  const binary = field.characterSet === BINARY_CHARSET;
  const length = field.columnLength ?? 0;
  const u = unsigned ? ' unsigned' : '';
  const id = quote(field.name);
  const info = (kind: ColumnKind, sqlType: string, partitionable = false, selectExpr = id): ColumnInfo => ({
    name: field.name,
    kind,
    nullable,
    sqlType: columnType ?? sqlType,
    partitionable,
    selectExpr,
  });
  const ext = (field as { extendedFormat?: string }).extendedFormat;
  switch (field.columnType) {
    case T.TINY:
      return info(unsigned ? 'uint8' : 'int8', `tinyint${u}`, true);
    case T.SHORT:
      return info(unsigned ? 'uint16' : 'int16', `smallint${u}`, true);
    case T.INT24:
      return info(unsigned ? 'uint32' : 'int32', `mediumint${u}`, true);
    case T.LONG:
      return info(unsigned ? 'uint32' : 'int32', `int${u}`, true);
    case T.LONGLONG:
      return info(unsigned ? 'uint64' : 'int64', `bigint${u}`, true);
    case T.YEAR:
      return info('int16', 'year', true);
    case T.FLOAT:
      return info('float32', 'float', false, `(${id} + 0e0)`);
    case T.DOUBLE:
      return info('float64', 'double');
    case T.DECIMAL:
    case T.NEWDECIMAL: {
      const scale = field.decimals;
      const precision = Math.max(1, length - (scale > 0 ? 1 : 0) - (unsigned ? 0 : 1));
      return info('text', `decimal(${precision},${scale})${u}`);
    }
    case T.BIT:
      return length === 1 ? info('bool', 'bit(1)') : info('bits', `bit(${length})`);
    case T.DATE:
    case T.NEWDATE:
      return info('date', 'date', true);
    case T.DATETIME:
      return info('datetime', `datetime(${field.decimals})`, true);
    case T.TIMESTAMP:
      return info('timestamp', `timestamp(${field.decimals})`, true);
    case T.TIME:
      return info('text', `time(${field.decimals})`);
    case T.JSON:
      return info('text', 'json');
    case T.NULL:
      return info('text', 'text');
    case T.ENUM:
    case T.SET:
      return info('text', columnType ?? 'text');
    case T.STRING:
    case T.VAR_STRING:
    case T.VARCHAR: {
      if ((flags & (FLAG.ENUM | FLAG.SET)) !== 0) return info('text', columnType ?? 'text');
      const chars = Math.max(1, Math.floor(length / 4));
      if (binary) return info('binary', field.columnType === T.STRING ? `binary(${length})` : `varbinary(${length})`);
      return info('text', field.columnType === T.STRING ? `char(${chars})` : `varchar(${chars})`);
    }
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB: {
      if (ext === 'json') return info('text', 'json');
      return binary ? info('binary', 'longblob') : info('text', 'longtext');
    }
    default:
      throw mysqlError(
        'MYSQL_UNSUPPORTED_TYPE',
        `column "${field.name}" has type ${columnType ?? `#${String(field.columnType)}`}, which Tideway cannot map to Arrow; leave it out with columns, or read it with a query that converts it (for spatial types: ST_AsText(${field.name}) or ST_AsWKB(${field.name}))`,
        { context: { column: field.name } },
      );
  }
}

export function arrowType(kind: ColumnKind): DataType {
  switch (kind) {
    case 'int8': return new Int8();
    case 'int16': return new Int16();
    case 'int32': return new Int32();
    case 'int64': return new Int64();
    case 'uint8': return new Uint8();
    case 'uint16': return new Uint16();
    case 'uint32': return new Uint32();
    case 'uint64':
    case 'bits': return new Uint64();
    case 'float32': return new Float32();
    case 'float64': return new Float64();
    case 'bool': return new Bool();
    case 'text': return new Utf8();
    case 'binary': return new Binary();
    case 'date': return new DateDay();
    case 'datetime': return new TimestampMicrosecond();
    case 'timestamp': return new TimestampMicrosecond('UTC');
  }
}

export function arrowSchema(columns: readonly ColumnInfo[]): Schema {
  return new Schema(columns.map((c) => new Field(c.name, arrowType(c.kind), c.nullable, new Map([[MYSQL_TYPE_KEY, c.sqlType]]))));
}

/** The two-digit number at `at`, or -1. */
function digits2(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Days since 1970-01-01 of `YYYY-MM-DD` (civil calendar arithmetic: no Date object per value). */
export function parseDate(text: string): number {
  const hi = digits2(text, 0);
  const lo = digits2(text, 2);
  const m = digits2(text, 5);
  const d = digits2(text, 8);
  if (hi < 0 || lo < 0 || !(m >= 1 && m <= 12) || !(d >= 1 && d <= 31) || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) {
    throw new RangeError(`"${text}" is not a date Arrow can hold (zero dates such as 0000-00-00 have no equivalent)`);
  }
  return daysFromCivil(hi * 100 + lo, m, d);
}

/** Whole seconds since the epoch and the microseconds of `YYYY-MM-DD HH:MM:SS[.ffffff]` read as UTC. */
function dateTimeParts(text: string): [seconds: number, micros: number] {
  const days = parseDate(text);
  const n = text.length;
  let seconds = 0;
  if (n > 10) {
    const h = digits2(text, 11);
    const mi = digits2(text, 14);
    const s = n > 16 ? digits2(text, 17) : 0;
    if (h < 0 || mi < 0 || s < 0) throw new RangeError(`"${text}" is not a date and time`);
    seconds = h * 3600 + mi * 60 + s;
  }
  let micros = 0;
  if (n > 20) {
    let scale = 100_000;
    for (let at = 20; at < n && at < 26; at++, scale /= 10) {
      const digit = text.charCodeAt(at) - 48;
      if (digit < 0 || digit > 9) throw new RangeError(`"${text}" is not a date and time`);
      micros += digit * scale;
    }
  }
  return [days * 86_400 + seconds, micros];
}

/**
 * Microseconds since the epoch of `YYYY-MM-DD HH:MM:SS[.ffffff]` read as UTC, as a number, or NaN beyond 2^53
 * (after about 2255 or before 1685), where only parseDateTime is exact.
 */
export function parseDateTimeMicros(text: string): number {
  const [seconds, micros] = dateTimeParts(text);
  const value = seconds * 1_000_000 + micros;
  return Number.isSafeInteger(value) ? value : Number.NaN;
}

/** Microseconds since the epoch of `YYYY-MM-DD HH:MM:SS[.ffffff]` read as UTC. */
export function parseDateTime(text: string): bigint {
  const [seconds, micros] = dateTimeParts(text);
  return BigInt(seconds) * 1_000_000n + BigInt(micros);
}

export function formatDate(days: number): string {
  const d = new Date(days * 86_400_000);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

export function formatDateTime(micros: bigint): string {
  let days = micros / 86_400_000_000n;
  let rest = micros % 86_400_000_000n;
  if (rest < 0n) {
    rest += 86_400_000_000n;
    days -= 1n;
  }
  const secs = Number(rest / 1_000_000n);
  const frac = Number(rest % 1_000_000n);
  const time = `${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}`;
  return `${formatDate(Number(days))} ${time}${frac ? `.${pad(frac, 6)}` : ''}`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * The typed array of a numeric, date or datetime column from each row's text (`textAt` gives null for NULL,
 * and is called once per row), or undefined for the other kinds. 64-bit values are written as their two
 * 32-bit halves (little-endian) from a number, with no BigInt per value; beyond 2^53 they are parsed exactly.
 */
export function numericValues(kind: ColumnKind, length: number, textAt: (row: number) => string | null): ArrayBufferView | undefined {
  const fill = <A extends { [i: number]: number }>(array: A, parse: (text: string) => number): A => {
    for (let i = 0; i < length; i++) {
      const text = textAt(i);
      if (text !== null) array[i] = parse(text);
    }
    return array;
  };
  const wide = <A extends BigInt64Array | BigUint64Array>(array: A, parse: (text: string) => number, exact: (text: string) => bigint): A => {
    const halves = new Int32Array(array.buffer, array.byteOffset, length * 2);
    for (let i = 0; i < length; i++) {
      const text = textAt(i);
      if (text === null) continue;
      const v = parse(text);
      if (Number.isSafeInteger(v)) {
        const hi = Math.floor(v / 4_294_967_296);
        halves[2 * i] = v - hi * 4_294_967_296;
        halves[2 * i + 1] = hi;
      } else array[i] = exact(text) as never;
    }
    return array;
  };
  switch (kind) {
    case 'int8': return fill(new Int8Array(length), Number);
    case 'int16': return fill(new Int16Array(length), Number);
    case 'int32': return fill(new Int32Array(length), Number);
    case 'uint8': return fill(new Uint8Array(length), Number);
    case 'uint16': return fill(new Uint16Array(length), Number);
    case 'uint32': return fill(new Uint32Array(length), Number);
    case 'int64': return wide(new BigInt64Array(length), integerText, BigInt);
    case 'uint64': return wide(new BigUint64Array(length), integerText, BigInt);
    case 'float32': return fill(new Float32Array(length), Number);
    case 'float64': return fill(new Float64Array(length), Number);
    case 'date': return fill(new Int32Array(length), parseDate);
    case 'datetime':
    case 'timestamp': return wide(new BigInt64Array(length), parseDateTimeMicros, parseDateTime);
    default: return undefined;
  }
}

/** An integer's text as a number when it has at most 15 digits (always exact), else NaN. */
function integerText(text: string): number {
  return text.length <= 15 ? Number(text) : Number.NaN;
}
