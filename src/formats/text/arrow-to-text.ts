import { Buffer, isAscii } from 'node:buffer';
import {
  type Data,
  type Date_,
  DateUnit,
  type Decimal,
  type FixedSizeBinary,
  type FixedSizeList,
  type Float,
  type Int,
  makeVector,
  type Struct,
  type Time,
  type Timestamp,
  TimeUnit,
  Type,
  type Vector,
} from 'apache-arrow';
import type { Json } from '../../api/json.js';
import { formatDate, formatTime, formatTimestamp } from './temporal.js';

/**
 * Arrow values as text, column by column: the hot path of the JSON Lines and CSV encoders.
 *
 * Value mapping (the same in both formats unless noted):
 * - integers and floats: numbers; Int64/UInt64 (and durations) are JSON numbers when they are safe
 *   integers (|v| <= 2^53 - 1) and JSON strings otherwise, so that no reader rounds them; CSV always has
 *   the exact digits. NaN and ±Infinity are the strings `NaN`, `Infinity`, `-Infinity`.
 * - booleans: `true` / `false`.
 * - strings: as they are (JSON-escaped, or CSV-quoted per RFC 4180 when they hold the delimiter, a quote,
 *   CR or LF; an empty string is written `""` in CSV so that it differs from null).
 * - binary: base64. Decimal: its exact decimal text, as a JSON string.
 * - dates `YYYY-MM-DD`; timestamps ISO 8601 with every digit of their unit, `Z` when the type has a
 *   time zone; times `HH:MM:SS[.fraction]`.
 * - list, struct and map values: JSON (map keys become object keys); in CSV, JSON text in one field.
 * - null: `null` in JSON, an empty unquoted field in CSV.
 */

/** How one text format spells values. */
export interface TextStyle {
  readonly json: boolean;
  readonly nullText: string;
  /** A number or boolean. */
  plain(text: string): string;
  /** A string value. */
  text(value: string): string;
  /** A 64-bit integer. */
  bigint(value: bigint): string;
  /** A nested value (list, struct, map) already mapped to JSON values. */
  nested(value: Json): string;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export const JSON_STYLE: TextStyle = {
  json: true,
  nullText: 'null',
  plain: (text) => text,
  text: (value) => JSON.stringify(value),
  bigint: (value) => (value <= MAX_SAFE && value >= -MAX_SAFE ? String(value) : `"${value}"`),
  nested: (value) => JSON.stringify(value),
};

/** A CSV style for `delimiter`: RFC 4180 quoting, empty unquoted field for null. */
export function csvStyle(delimiter: string): TextStyle {
  const special = new RegExp(`["\\r\\n${delimiter.replace(/[\\^\]-]/g, '\\$&')}]`);
  const quote = (value: string): string => {
    if (value === '') return '""';
    if (!special.test(value)) return value;
    return `"${value.replace(/"/g, '""')}"`;
  };
  // Numbers, booleans and ISO dates cannot hold the usual delimiters; any other delimiter (a digit, '.', ':')
  // might occur in them, so they go through the quoting check too.
  const safe = ',;\t| '.includes(delimiter);
  return {
    json: false,
    nullText: '',
    plain: safe ? (text) => text : quote,
    text: quote,
    bigint: safe ? (value) => String(value) : (value) => quote(String(value)),
    nested: (value) => quote(JSON.stringify(value)),
  };
}

/**
 * Appends `sep` and the text of every row of `data` to `acc[i]`. Working a column at a time keeps each
 * loop monomorphic and reads typed arrays directly instead of materialising row objects.
 */
export function appendColumn(data: Data, acc: string[], sep: string, style: TextStyle): void {
  const n = data.length;
  if (data.typeId === Type.Null) {
    const cell = sep + style.nullText;
    for (let i = 0; i < n; i++) acc[i] += cell;
    return;
  }
  const write = cellWriter(data, style);
  const nullCell = sep + style.nullText;
  const bitmap = data.nullCount > 0 ? data.nullBitmap : undefined;
  if (!bitmap || bitmap.length === 0) {
    for (let i = 0; i < n; i++) acc[i] += sep + write(i);
    return;
  }
  const offset = data.offset;
  for (let i = 0; i < n; i++) {
    const bit = offset + i;
    acc[i] += (bitmap[bit >> 3]! >> (bit & 7)) & 1 ? sep + write(i) : nullCell;
  }
}

/** The text of row `i` of a non-null cell of `data`. */
export function cellWriter(data: Data, style: TextStyle): (i: number) => string {
  const type = data.type;
  switch (data.typeId) {
    case Type.Int: {
      const values = data.values as ArrayLike<number | bigint>;
      if ((type as Int).bitWidth === 64) return (i) => style.bigint(values[i] as bigint);
      return (i) => style.plain(String(values[i]));
    }
    case Type.Float: {
      const values = data.values as ArrayLike<number>;
      const precision = (type as Float).precision;
      if (precision === 0) return (i) => floatText(halfToFloat(values[i]!), style);
      if (precision === 1) return (i) => float32Text(values[i]!, style);
      return (i) => floatText(values[i]!, style);
    }
    case Type.Bool: {
      const values = data.values as Uint8Array;
      const offset = data.offset;
      const t = style.plain('true');
      const f = style.plain('false');
      return (i) => ((values[(offset + i) >> 3]! >> ((offset + i) & 7)) & 1 ? t : f);
    }
    case Type.Utf8:
    case Type.LargeUtf8: {
      const read = utf8Reader(data);
      return (i) => style.text(read(i));
    }
    case Type.Binary:
    case Type.LargeBinary:
    case Type.FixedSizeBinary: {
      const read = base64Reader(data);
      return (i) => style.text(read(i));
    }
    case Type.Dictionary:
      return dictionaryWriter(data, style);
    case Type.Decimal:
    case Type.Date:
    case Type.Timestamp:
    case Type.Time: {
      const scalar = scalarReader(data);
      return (i) => style.text(scalar(i) as string);
    }
    case Type.Duration: {
      const values = data.values as BigInt64Array;
      return (i) => style.bigint(values[i]!);
    }
    default:
      return (i) => style.nested(jsonValue(data, i));
  }
}

/** The JSON value of row `i` of `data` (null for a null), following the mapping at the top of this file. */
export function jsonValue(data: Data, i: number): Json {
  if (!isValid(data, i)) return null;
  const type = data.type;
  switch (data.typeId) {
    case Type.Null:
      return null;
    case Type.Int: {
      const v = (data.values as ArrayLike<number | bigint>)[i]!;
      if (typeof v === 'bigint') return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : String(v);
      return v;
    }
    case Type.Float: {
      const raw = (data.values as ArrayLike<number>)[i]!;
      const precision = (type as Float).precision;
      const v = precision === 0 ? halfToFloat(raw) : precision === 1 ? Number(float32Repr(raw)) : raw;
      return Number.isFinite(v) ? v : String(v);
    }
    case Type.Bool: {
      const bit = data.offset + i;
      return ((data.values as Uint8Array)[bit >> 3]! >> (bit & 7)) & 1 ? true : false;
    }
    case Type.Utf8:
    case Type.LargeUtf8: {
      const offsets = data.valueOffsets;
      return bytesView(data.values as Uint8Array).toString('utf8', Number(offsets[i]), Number(offsets[i + 1]));
    }
    case Type.Binary:
    case Type.LargeBinary:
    case Type.FixedSizeBinary:
      // The reader closure is cheap to make: unlike utf8Reader it scans nothing.
      return base64Reader(data)(i);
    case Type.Decimal:
    case Type.Date:
    case Type.Timestamp:
    case Type.Time:
      return scalarReader(data)(i);
    case Type.Duration: {
      const v = (data.values as BigInt64Array)[i]!;
      return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : String(v);
    }
    case Type.List:
    case Type.LargeList: {
      const offsets = data.valueOffsets;
      const child = data.children[0]!;
      const out: Json[] = [];
      for (let j = Number(offsets[i]); j < Number(offsets[i + 1]); j++) out.push(jsonValue(child, j));
      return out;
    }
    case Type.FixedSizeList: {
      const size = (type as FixedSizeList).listSize;
      const child = data.children[0]!;
      const out: Json[] = [];
      for (let j = i * size; j < (i + 1) * size; j++) out.push(jsonValue(child, j));
      return out;
    }
    case Type.Struct: {
      const out: { [key: string]: Json } = {};
      (type as Struct).children.forEach((f, k) => {
        out[f.name] = jsonValue(data.children[k]!, i);
      });
      return out;
    }
    case Type.Map: {
      const offsets = data.valueOffsets;
      const entries = data.children[0]!;
      const keys = entries.children[0]!;
      const values = entries.children[1]!;
      const out: { [key: string]: Json } = {};
      for (let j = Number(offsets[i]); j < Number(offsets[i + 1]); j++) {
        const key = jsonValue(keys, j);
        out[typeof key === 'string' ? key : JSON.stringify(key)] = jsonValue(values, j);
      }
      return out;
    }
    case Type.Dictionary: {
      const key = Number((data.values as ArrayLike<number | bigint>)[i]);
      const [chunk, at] = locate(data.dictionary!, key);
      return jsonValue(chunk, at);
    }
    default:
      return toJson(makeVector(data).get(i));
  }
}

/** Readers for the scalar types whose text form needs formatting (decimal, date, timestamp, time). */
function scalarReader(data: Data): (i: number) => string {
  const type = data.type;
  switch (data.typeId) {
    case Type.Decimal: {
      const words = data.values as Uint32Array;
      const stride = (type as Decimal).bitWidth / 32;
      const scale = (type as Decimal).scale;
      return (i) => decimalText(words, i * stride, stride, scale);
    }
    case Type.Date: {
      if ((type as Date_).unit === DateUnit.DAY) {
        const days = data.values as Int32Array;
        return (i) => formatDate(days[i]!);
      }
      const ms = data.values as BigInt64Array;
      return (i) => formatDate(Math.floor(Number(ms[i]!) / 86_400_000));
    }
    case Type.Timestamp: {
      const values = data.values as BigInt64Array;
      const unit = (type as Timestamp).unit;
      const timezone = (type as Timestamp).timezone;
      const utc = timezone !== null && timezone !== undefined && timezone !== '';
      return (i) => formatTimestamp(values[i]!, unit, utc);
    }
    case Type.Time: {
      const values = data.values as ArrayLike<number | bigint>;
      const unit = (type as Time).unit as unknown as TimeUnit;
      return (i) => formatTime(values[i]!, unit);
    }
    default:
      throw new TypeError(`no scalar text form for ${String(type)}`);
  }
}

function isValid(data: Data, i: number): boolean {
  if (data.typeId === Type.Null) return false;
  const bitmap = data.nullBitmap;
  if (!bitmap || bitmap.length === 0 || data.nullCount === 0) return true;
  const bit = data.offset + i;
  return ((bitmap[bit >> 3]! >> (bit & 7)) & 1) === 1;
}

function bytesView(values: Uint8Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/**
 * Reads strings of a Utf8 column. ASCII data (the common case) is decoded once per batch and sliced,
 * which is several times faster than decoding each value.
 */
function utf8Reader(data: Data): (i: number) => string {
  const values = data.values as Uint8Array;
  const offsets = data.valueOffsets as Int32Array | BigInt64Array;
  const buf = bytesView(values);
  if (offsets instanceof Int32Array) {
    const start = offsets[0]!;
    const end = offsets[data.length]!;
    if (isAscii(buf.subarray(start, end))) {
      const all = buf.toString('latin1', start, end);
      return (i) => all.slice(offsets[i]! - start, offsets[i + 1]! - start);
    }
    return (i) => buf.toString('utf8', offsets[i]!, offsets[i + 1]!);
  }
  return (i) => buf.toString('utf8', Number(offsets[i]!), Number(offsets[i + 1]!));
}

function base64Reader(data: Data): (i: number) => string {
  const buf = bytesView(data.values as Uint8Array);
  if (data.typeId === Type.FixedSizeBinary) {
    const width = (data.type as FixedSizeBinary).byteWidth;
    return (i) => buf.toString('base64', i * width, (i + 1) * width);
  }
  const offsets = data.valueOffsets as Int32Array | BigInt64Array;
  return (i) => buf.toString('base64', Number(offsets[i]!), Number(offsets[i + 1]!));
}

const dictionaryCache = new WeakMap<Vector, Map<TextStyle, string[]>>();

/** Dictionary columns format each dictionary entry once; dictionaries are shared by every batch of a stream. */
function dictionaryWriter(data: Data, style: TextStyle): (i: number) => string {
  const dictionary = data.dictionary!;
  let byStyle = dictionaryCache.get(dictionary);
  if (!byStyle) dictionaryCache.set(dictionary, (byStyle = new Map()));
  let texts = byStyle.get(style);
  if (!texts) {
    texts = [];
    for (const chunk of dictionary.data) {
      const acc = new Array<string>(chunk.length).fill('');
      appendColumn(chunk, acc, '', style);
      texts.push(...acc);
    }
    byStyle.set(style, texts);
  }
  const keys = data.values as ArrayLike<number | bigint>;
  const table = texts;
  return (i) => table[Number(keys[i])]!;
}

function locate(vector: Vector, index: number): [Data, number] {
  let at = index;
  for (const chunk of vector.data) {
    if (at < chunk.length) return [chunk, at];
    at -= chunk.length;
  }
  throw new RangeError(`dictionary index ${index} out of range`);
}

function floatText(v: number, style: TextStyle): string {
  return Number.isFinite(v) ? style.plain(String(v)) : style.text(String(v));
}

function float32Text(v: number, style: TextStyle): string {
  return Number.isFinite(v) ? style.plain(float32Repr(v)) : style.text(String(v));
}

/** The shortest decimal that reads back as the same float32 (what a float32 printer would show). */
function float32Repr(v: number): string {
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  for (let digits = 1; digits < 10; digits++) {
    const text = String(Number(v.toPrecision(digits)));
    if (Math.fround(Number(text)) === v) return text;
  }
  return String(v);
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Exact decimal text of a two's-complement little-endian integer of `stride` 32-bit words, with `scale`. */
export function decimalText(words: Uint32Array, at: number, stride: number, scale: number): string {
  let v = 0n;
  for (let w = stride - 1; w >= 0; w--) v = (v << 32n) | BigInt(words[at + w]!);
  const bits = BigInt(stride * 32);
  if (v >> (bits - 1n)) v -= 1n << bits;
  const negative = v < 0n;
  let digits = (negative ? -v : v).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  } else if (scale < 0) {
    digits += '0'.repeat(-scale);
  }
  return negative ? `-${digits}` : digits;
}

/** Fallback for rare types (unions, intervals, views): the arrow-js value made JSON-safe. */
function toJson(value: unknown): Json {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, (v) => toJson(v));
  if (typeof value === 'object' && value !== null && 'toJSON' in value && typeof value.toJSON === 'function') {
    return toJson((value as { toJSON(): unknown }).toJSON());
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJson(v);
    return out;
  }
  return String(value);
}
