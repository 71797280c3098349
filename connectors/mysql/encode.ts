import { type DataType, type Field, type RecordBatch, Type, type Vector } from 'apache-arrow';
import { quoteString } from './sql.js';
import { formatDate, formatDateTime, MYSQL_TYPE_KEY } from './types.js';

/**
 * Turns one Arrow column into text the server parses back to the same value: SQL literals for multi-row
 * INSERT, tab-separated fields for LOAD DATA. Timestamps are read from the raw int64 values (Arrow JS's
 * `get` turns microseconds into a float of milliseconds).
 */
export interface ColumnEncoder {
  /** The value at row i as text; null for NULL. Binary values come back as hex. */
  text(i: number): string | null;
  /** How the text goes into SQL: bare (numbers), quoted, or hex (X'..'). */
  readonly form: 'bare' | 'quoted' | 'hex';
}

export class EncodeError extends Error {}

const UNIT_TO_MICROS = [1_000_000n, 1_000n, 1n] as const;

export function columnEncoder(field: Field, vector: Vector): ColumnEncoder {
  const type = field.type as DataType;
  const data = vector.data[0];
  const isNull = (i: number) => !vector.isValid(i);
  switch (type.typeId) {
    case Type.Int:
    case Type.Float:
      return {
        form: 'bare',
        text: (i) => {
          if (isNull(i)) return null;
          const v = vector.get(i) as number | bigint;
          if (typeof v === 'number' && !Number.isFinite(v)) throw new EncodeError(`column "${field.name}" holds ${v}, which MySQL and MariaDB cannot store`);
          return String(v);
        },
      };
    case Type.Bool:
      return { form: 'bare', text: (i) => (isNull(i) ? null : vector.get(i) ? '1' : '0') };
    case Type.Decimal: {
      const { scale, bitWidth } = type as unknown as { scale: number; bitWidth?: number };
      const stride = (bitWidth ?? 128) / 32;
      const words = data!.values as Uint32Array;
      return {
        form: 'quoted',
        text: (i) => {
          if (isNull(i)) return null;
          const at = (data!.offset + i) * stride;
          let v = 0n;
          for (let w = stride - 1; w >= 0; w--) v = (v << 32n) | BigInt(words[at + w]!);
          return scaled(BigInt.asIntN(stride * 32, v), scale);
        },
      };
    }
    case Type.Date:
      return { form: 'quoted', text: (i) => (isNull(i) ? null : formatDate(Math.floor((vector.get(i) as number) / 86_400_000))) };
    case Type.Timestamp: {
      const unit = (type as unknown as { unit: number }).unit;
      const values = data!.values as BigInt64Array;
      return {
        form: 'quoted',
        text: (i) => {
          if (isNull(i)) return null;
          const raw = values[data!.offset + i]!;
          return formatDateTime(unit === 3 ? raw / 1000n : raw * UNIT_TO_MICROS[unit as 0 | 1 | 2]);
        },
      };
    }
    case Type.Time: {
      const unit = (type as unknown as { unit: number }).unit;
      return {
        form: 'quoted',
        text: (i) => {
          if (isNull(i)) return null;
          const raw = BigInt(vector.get(i) as number | bigint);
          const micros = unit === 3 ? raw / 1000n : raw * UNIT_TO_MICROS[unit as 0 | 1 | 2];
          return formatDateTime(micros).slice(11);
        },
      };
    }
    case Type.Binary:
    case Type.LargeBinary:
    case Type.FixedSizeBinary:
      return { form: 'hex', text: (i) => (isNull(i) ? null : Buffer.from(vector.get(i) as Uint8Array).toString('hex')) };
    case Type.Utf8:
    case Type.LargeUtf8:
    case Type.Dictionary:
      return { form: 'quoted', text: (i) => (isNull(i) ? null : String(vector.get(i))) };
    default:
      // Lists, structs and maps go in as JSON text (a JSON or TEXT column).
      return {
        form: 'quoted',
        text: (i) => {
          if (isNull(i)) return null;
          const v = vector.get(i) as { toJSON?: () => unknown } | null;
          return JSON.stringify(v?.toJSON ? v.toJSON() : v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
        },
      };
  }
}

function scaled(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return negative ? `-${text}` : text;
}

export function encoders(batch: RecordBatch): ColumnEncoder[] {
  return batch.schema.fields.map((field, c) => columnEncoder(field, batch.getChildAt(c)!));
}

/** One row as an SQL tuple `(1,'a',X'00',NULL)`. */
export function sqlTuple(columns: readonly ColumnEncoder[], i: number): string {
  let out = '(';
  for (let c = 0; c < columns.length; c++) {
    const column = columns[c]!;
    const text = column.text(i);
    if (c > 0) out += ',';
    out += text === null ? 'NULL' : column.form === 'bare' ? text : column.form === 'hex' ? `X'${text}'` : quoteString(text);
  }
  return `${out})`;
}

const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };

/** One row as a LOAD DATA line (tab-separated, `\N` for NULL, backslash escapes; binary as hex for UNHEX). */
export function tsvLine(columns: readonly ColumnEncoder[], i: number): string {
  let out = '';
  for (let c = 0; c < columns.length; c++) {
    const text = columns[c]!.text(i);
    if (c > 0) out += '\t';
    out += text === null ? '\\N' : text.replace(/[\\\t\n\r\0]/g, (ch) => TSV_ESCAPES[ch]!);
  }
  return `${out}\n`;
}

/**
 * The column type a created table gets for an Arrow field: the MySQL type it was read as when the stream
 * came from a MySQL source, otherwise the closest type that holds every value. Undefined: no such type.
 */
export function ddlType(field: Field, key: boolean): string | undefined {
  const recorded = field.metadata.get(MYSQL_TYPE_KEY);
  if (recorded) return recorded;
  const type = field.type as DataType & { bitWidth?: number; isSigned?: boolean; precision?: number | string; scale?: number; unit?: number };
  switch (type.typeId) {
    case Type.Int: {
      const names: Record<number, string> = { 8: 'tinyint', 16: 'smallint', 32: 'int', 64: 'bigint' };
      return `${names[type.bitWidth ?? 64]}${type.isSigned === false ? ' unsigned' : ''}`;
    }
    case Type.Float:
      return type.precision === 1 || type.precision === 'SINGLE' ? 'float' : 'double';
    case Type.Bool:
      return 'boolean';
    case Type.Decimal:
      return type.precision !== undefined && Number(type.precision) <= 65 ? `decimal(${type.precision},${type.scale})` : undefined;
    case Type.Date:
      return 'date';
    case Type.Timestamp:
      return type.unit === 0 ? 'datetime' : type.unit === 1 ? 'datetime(3)' : 'datetime(6)';
    case Type.Time:
      return 'time(6)';
    case Type.Utf8:
    case Type.LargeUtf8:
    case Type.Dictionary:
      return key ? 'varchar(255)' : 'longtext';
    case Type.Binary:
    case Type.LargeBinary:
    case Type.FixedSizeBinary:
      return key ? 'varbinary(255)' : 'longblob';
    case Type.List:
    case Type.Struct:
    case Type.Map:
      return 'json';
    default:
      return undefined;
  }
}

/** Which MySQL column types a value of this Arrow type can go into without the server refusing the kind. */
export function compatible(field: Field, dataType: string): boolean {
  const t = dataType.toLowerCase();
  const numeric = /^(tinyint|smallint|mediumint|int|integer|bigint|decimal|numeric|float|double|real|bit|boolean|bool|year)$/.test(t);
  const text = /^(char|varchar|tinytext|text|mediumtext|longtext|enum|set|json)$/.test(t);
  const binary = /^(binary|varbinary|tinyblob|blob|mediumblob|longblob)$/.test(t);
  const temporal = /^(date|datetime|timestamp)$/.test(t);
  switch ((field.type as DataType).typeId) {
    case Type.Int:
    case Type.Float:
    case Type.Decimal:
    case Type.Bool:
      return numeric || text;
    case Type.Date:
    case Type.Timestamp:
      return temporal || text;
    case Type.Time:
      return t === 'time' || text;
    case Type.Binary:
    case Type.LargeBinary:
    case Type.FixedSizeBinary:
      return binary || text;
    default:
      return true;
  }
}
