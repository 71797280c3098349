import { isAscii } from 'node:buffer';
import { decimalText, jsonValue } from '../../src/formats/text/arrow-to-text.js';
import { formatTime } from '../../src/formats/text/temporal.js';
import {
  Binary,
  Bool,
  type Data,
  DataType,
  DateDay,
  type FixedSizeList,
  Float64,
  Int32,
  Int64,
  type List,
  makeData,
  makeVector,
  type Struct,
  TimeUnit,
  TimestampMillisecond,
  Type,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';

/**
 * The SQL types the evaluator computes with. Every Arrow type the project carries maps onto one of them on
 * the way in; `null` is the type of a bare NULL literal, which coerces to anything.
 */
export type SqlType = 'null' | 'bool' | 'int32' | 'int64' | 'float64' | 'utf8' | 'binary' | 'date' | 'timestamp';

/** One value as functions see it: numbers for int32/float64/date (days)/timestamp (epoch ms), bigint for int64. */
export type Scalar = boolean | number | bigint | string | Uint8Array | null;

/**
 * The column of values one expression yields over a batch. `values` is a typed array for fixed-width types
 * (bool as 0/1 bytes, date as days, timestamp as epoch milliseconds) and a plain array for utf8 and binary;
 * `valid[i] === 0` marks a NULL, and `valid === null` means no NULLs. A constant is kept unexpanded.
 */
export type Vec = { readonly kind: 'const'; readonly value: Scalar } | { readonly kind: 'col'; readonly values: Values; readonly valid: Uint8Array | null };

export type Values = Uint8Array | Int32Array | BigInt64Array | Float64Array | (string | null)[] | (Uint8Array | null)[];

export const NUMERIC: ReadonlySet<SqlType> = new Set(['int32', 'int64', 'float64']);
export const isNumeric = (t: SqlType): boolean => NUMERIC.has(t);
export const isTemporal = (t: SqlType): boolean => t === 'date' || t === 'timestamp';

export const MS_PER_DAY = 86_400_000;

/** The SQL type an Arrow column is computed as, or undefined when it can only be passed through unchanged. */
export function sqlTypeOf(type: DataType): SqlType | undefined {
  switch (type.typeId) {
    case Type.Bool:
      return 'bool';
    case Type.Int: {
      const { bitWidth, isSigned } = type as unknown as { bitWidth: number; isSigned: boolean };
      return bitWidth < 32 || (bitWidth === 32 && isSigned) ? 'int32' : 'int64';
    }
    case Type.Float:
    case Type.Decimal:
      // A decimal is computed as a DOUBLE: exact to about 15 significant digits.
      return 'float64';
    case Type.Utf8:
    case Type.LargeUtf8:
      return 'utf8';
    case Type.Binary:
    case Type.LargeBinary:
    case Type.FixedSizeBinary:
      return 'binary';
    case Type.Date:
      return 'date';
    case Type.Timestamp:
      return 'timestamp';
    case Type.Time:
      // SQL has no TIME type here (CAST(x AS TIME) gives text too): a time of day is read as its text.
      return 'utf8';
    case Type.List:
    case Type.LargeList:
    case Type.FixedSizeList:
    case Type.Struct:
    case Type.Map:
      // Nor ARRAY, ROW or MAP types: these are read as their JSON text, what ARRAY() and SPLIT() give.
      return 'utf8';
    case Type.Dictionary: {
      const inner = sqlTypeOf((type as unknown as { dictionary: DataType }).dictionary);
      return inner === 'utf8' ? 'utf8' : undefined;
    }
    default:
      return undefined;
  }
}

/** The Arrow type a computed column of `type` is written as. */
export function arrowTypeOf(type: SqlType): DataType {
  switch (type) {
    case 'bool':
      return new Bool();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'float64':
      return new Float64();
    case 'binary':
      return new Binary();
    case 'date':
      return new DateDay();
    case 'timestamp':
      return new TimestampMillisecond();
    case 'utf8':
    case 'null':
      return new Utf8();
  }
}

/** The validity bytes (1 = value) of `data`, or null when it has no NULLs; for rows `sel` when given. */
export function validityOf(data: Data, sel: Int32Array | null): Uint8Array | null {
  if (data.nullCount === 0 || !data.nullBitmap) return null;
  const n = sel ? sel.length : data.length;
  const out = new Uint8Array(n);
  const bits = data.nullBitmap;
  const offset = data.offset;
  for (let i = 0; i < n; i++) {
    const r = (sel ? sel[i]! : i) + offset;
    out[i] = (bits[r >> 3]! >> (r & 7)) & 1;
  }
  return out;
}

const TIMESTAMP_TO_MS = { [TimeUnit.SECOND]: 1000, [TimeUnit.MILLISECOND]: 1, [TimeUnit.MICROSECOND]: 1e-3, [TimeUnit.NANOSECOND]: 1e-6 } as const;

/**
 * Reads an Arrow column (rows `sel`, or all) as a Vec of its SQL type. Fixed-width numbers are copied into
 * typed arrays with one tight loop; strings are decoded from the UTF-8 bytes without going through builders.
 */
export function decode(vector: Vector, type: SqlType, sel: Int32Array | null): Vec {
  const data = vector.data[0]!;
  const n = sel ? sel.length : data.length;
  const valid = validityOf(data, sel);
  // arrow-js slices a sliced column's value and offset buffers; only the validity and boolean bitmaps are
  // read at `data.offset` (as everywhere in the project's readers).
  const offset = data.offset;
  const typeId = data.type.typeId;
  const at = (i: number): number => (sel ? sel[i]! : i);
  if (typeId === Type.Time) return decodeTime(vector, sel);
  if (NESTED.has(typeId)) return decodeJson(vector, sel);
  if (typeId === Type.Dictionary || vector.data.length !== 1) return decodeSlow(vector, type, sel, valid);
  switch (type) {
    case 'bool': {
      const out = new Uint8Array(n);
      const bits = data.values as Uint8Array;
      for (let i = 0; i < n; i++) {
        const r = at(i) + offset;
        out[i] = (bits[r >> 3]! >> (r & 7)) & 1;
      }
      return { kind: 'col', values: out, valid };
    }
    case 'int32': {
      const src = data.values as Int32Array;
      if (!sel && src instanceof Int32Array) return { kind: 'col', values: src.subarray(0, n), valid };
      const out = new Int32Array(n);
      if (sel) for (let i = 0; i < n; i++) out[i] = src[sel[i]!]!;
      else for (let i = 0; i < n; i++) out[i] = src[i]!;
      return { kind: 'col', values: out, valid };
    }
    case 'int64': {
      const src = data.values as BigInt64Array | Uint32Array | BigUint64Array;
      if (!sel && src instanceof BigInt64Array) return { kind: 'col', values: src.subarray(0, n), valid };
      const out = new BigInt64Array(n);
      if (src instanceof BigInt64Array) {
        // Copy the two 32-bit halves: no BigInt made per value.
        const from = new Int32Array(src.buffer, src.byteOffset, src.length * 2);
        const to = new Int32Array(out.buffer);
        for (let i = 0; i < n; i++) {
          const r = at(i) * 2;
          to[i * 2] = from[r]!;
          to[i * 2 + 1] = from[r + 1]!;
        }
      } else for (let i = 0; i < n; i++) out[i] = BigInt.asIntN(64, BigInt(src[at(i)]!));
      return { kind: 'col', values: out, valid };
    }
    case 'float64': {
      if (typeId === Type.Decimal) {
        const words = data.values as Uint32Array;
        const { bitWidth, scale } = data.type as unknown as { bitWidth: number; scale: number };
        const stride = bitWidth / 32;
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) if (!valid || valid[i]) out[i] = Number(decimalText(words, at(i) * stride, stride, scale));
        return { kind: 'col', values: out, valid };
      }
      const src = data.values as Float64Array | Float32Array | Uint16Array;
      if (typeId === Type.Float && (data.type as unknown as { precision: number }).precision === 0) return decodeSlow(vector, type, sel, valid);
      if (!sel && src instanceof Float64Array) return { kind: 'col', values: src.subarray(0, n), valid };
      const out = new Float64Array(n);
      if (sel) for (let i = 0; i < n; i++) out[i] = src[sel[i]!]!;
      else for (let i = 0; i < n; i++) out[i] = src[i]!;
      return { kind: 'col', values: out, valid };
    }
    case 'date': {
      const out = new Int32Array(n);
      if ((data.type as unknown as { unit: number }).unit === 0) {
        const src = data.values as Int32Array;
        for (let i = 0; i < n; i++) out[i] = src[at(i)]!;
      } else {
        const src = data.values as unknown as BigInt64Array;
        for (let i = 0; i < n; i++) out[i] = Math.floor(Number(src[at(i)]!) / MS_PER_DAY);
      }
      return { kind: 'col', values: out, valid };
    }
    case 'timestamp': {
      const src = data.values as unknown as BigInt64Array;
      const scale = TIMESTAMP_TO_MS[(data.type as unknown as { unit: TimeUnit }).unit];
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[at(i)]!) * scale;
      return { kind: 'col', values: out, valid };
    }
    case 'utf8': {
      const offsets = data.valueOffsets as Int32Array | BigInt64Array;
      const buffer = Buffer.from(data.values.buffer, data.values.byteOffset, data.values.byteLength);
      const out: (string | null)[] = new Array(n);
      if (offsets instanceof Int32Array) {
        // ASCII text (the common case) is decoded once for the whole column and cut into substrings.
        const first = offsets[at(0)] ?? 0;
        const last = n > 0 ? offsets[at(n - 1) + 1]! : 0;
        if (isAscii(buffer.subarray(first, last))) {
          const whole = buffer.toString('latin1', first, last);
          for (let i = 0; i < n; i++) {
            const r = at(i);
            out[i] = valid && valid[i] === 0 ? null : whole.substring(offsets[r]! - first, offsets[r + 1]! - first);
          }
          return { kind: 'col', values: out, valid };
        }
      }
      for (let i = 0; i < n; i++) {
        const r = at(i);
        out[i] = valid && valid[i] === 0 ? null : buffer.toString('utf8', Number(offsets[r]!), Number(offsets[r + 1]!));
      }
      return { kind: 'col', values: out, valid };
    }
    case 'binary': {
      if (typeId === Type.FixedSizeBinary) return decodeSlow(vector, type, sel, valid);
      const offsets = data.valueOffsets as Int32Array | BigInt64Array;
      const bytes = data.values as Uint8Array;
      const out: (Uint8Array | null)[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const r = at(i);
        out[i] = valid && valid[i] === 0 ? null : bytes.slice(Number(offsets[r]!), Number(offsets[r + 1]!));
      }
      return { kind: 'col', values: out, valid };
    }
    case 'null':
      return { kind: 'const', value: null };
  }
}

/** Dictionary-encoded, chunked or half-float columns: read through `get`, which is slower but general. */
function decodeSlow(vector: Vector, type: SqlType, sel: Int32Array | null, valid: Uint8Array | null): Vec {
  const n = sel ? sel.length : vector.length;
  const out = allocate(type, n);
  const ok = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const raw: unknown = vector.get(sel ? sel[i]! : i);
    if (raw === null || raw === undefined) continue;
    ok[i] = 1;
    (out as unknown[])[i] = type === 'bool' ? (raw ? 1 : 0) : type === 'int64' ? BigInt(raw as number) : raw;
  }
  return { kind: 'col', values: out, valid: valid ?? (ok.every((v) => v === 1) ? null : ok) };
}

/** A time-of-day column (Time32 or Time64) as text: `HH:MM:SS` and the fraction digits of its unit. */
function decodeTime(vector: Vector, sel: Int32Array | null): Vec {
  const unit = (vector.type as unknown as { unit: TimeUnit }).unit;
  const n = sel ? sel.length : vector.length;
  const out = new Array<string | null>(n).fill(null);
  const ok = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const raw = vector.get(sel ? sel[i]! : i) as number | bigint | null;
    if (raw === null || raw === undefined) continue;
    ok[i] = 1;
    out[i] = formatTime(raw, unit);
  }
  return { kind: 'col', values: out, valid: ok.every((v) => v === 1) ? null : ok };
}

const NESTED: ReadonlySet<Type> = new Set([Type.List, Type.LargeList, Type.FixedSizeList, Type.Struct, Type.Map]);

/** A list, struct or map column as JSON text, with the JSON Lines sink's mapping of each value (jsonValue). */
function decodeJson(vector: Vector, sel: Int32Array | null): Vec {
  const chunks = vector.data;
  const starts: number[] = [];
  let total = 0;
  for (const chunk of chunks) {
    starts.push(total);
    total += chunk.length;
  }
  const n = sel ? sel.length : vector.length;
  const out = new Array<string | null>(n).fill(null);
  const ok = new Uint8Array(n);
  for (let i = 0, c = 0; i < n; i++) {
    const r = sel ? sel[i]! : i;
    if (r < starts[c]!) c = 0;
    while (c + 1 < chunks.length && r >= starts[c + 1]!) c++;
    const value = jsonValue(chunks[c]!, r - starts[c]!);
    if (value === null) continue;
    ok[i] = 1;
    out[i] = JSON.stringify(value);
  }
  return { kind: 'col', values: out, valid: ok.every((v) => v === 1) ? null : ok };
}

/** A values array of `n` rows for `type`. */
export function allocate(type: SqlType, n: number): Values {
  switch (type) {
    case 'bool':
      return new Uint8Array(n);
    case 'int32':
    case 'date':
      return new Int32Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'float64':
    case 'timestamp':
      return new Float64Array(n);
    default:
      return new Array<null>(n).fill(null);
  }
}

/** Row `i` of a Vec as a Scalar (bool as boolean). */
export function scalarAt(vec: Vec, type: SqlType, i: number): Scalar {
  if (vec.kind === 'const') return vec.value;
  if (vec.valid && vec.valid[i] === 0) return null;
  const v = vec.values[i];
  if (v === undefined) return null;
  return type === 'bool' ? v === 1 : (v as Scalar);
}

/** Expands a Vec to `n` rows (a constant becomes a column). */
export function materialise(vec: Vec, type: SqlType, n: number): { values: Values; valid: Uint8Array | null } {
  if (vec.kind === 'col') return vec;
  const values = allocate(type, n);
  if (vec.value === null) return { values, valid: new Uint8Array(n) };
  const v = type === 'bool' ? (vec.value ? 1 : 0) : vec.value;
  (values as { fill(value: unknown): unknown }).fill(v);
  return { values, valid: null };
}

/** Arrow's bitmap (64-byte padded) of 0/1 bytes. */
export function packBits(valid: Uint8Array, n: number): Uint8Array {
  const bits = new Uint8Array(((n + 63) >> 6) << 3);
  for (let i = 0; i < n; i++) if (valid[i]) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

function countNulls(valid: Uint8Array | null, n: number): number {
  if (!valid) return 0;
  let nulls = 0;
  for (let i = 0; i < n; i++) nulls += valid[i] ? 0 : 1;
  return nulls;
}

/** Builds the Arrow column of a computed Vec. */
export function encode(vec: Vec, type: SqlType, n: number): Data {
  const { values, valid } = materialise(vec, type, n);
  const nullCount = countNulls(valid, n);
  const nullBitmap = nullCount > 0 && valid ? packBits(valid, n) : undefined;
  const arrowType = arrowTypeOf(type);
  switch (type) {
    case 'bool':
      return makeData({ type: arrowType as Bool, length: n, nullCount, nullBitmap, data: packBits(values as Uint8Array, n) });
    case 'int32':
      return makeData({ type: arrowType as Int32, length: n, nullCount, nullBitmap, data: values as Int32Array });
    case 'date':
      return makeData({ type: arrowType as DateDay, length: n, nullCount, nullBitmap, data: values as Int32Array });
    case 'int64':
      return makeData({ type: arrowType as Int64, length: n, nullCount, nullBitmap, data: values as BigInt64Array });
    case 'float64':
      return makeData({ type: arrowType as Float64, length: n, nullCount, nullBitmap, data: values as Float64Array });
    case 'timestamp': {
      const ms = values as Float64Array;
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = valid && !valid[i] ? 0n : BigInt(Math.floor(ms[i]!));
      return makeData({ type: arrowType as TimestampMillisecond, length: n, nullCount, nullBitmap, data: out as unknown as Int32Array });
    }
    case 'binary': {
      const items = values as (Uint8Array | null)[];
      const offsets = new Int32Array(n + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        total += items[i]?.length ?? 0;
        offsets[i + 1] = total;
      }
      const bytes = new Uint8Array(total);
      for (let i = 0; i < n; i++) if (items[i]) bytes.set(items[i]!, offsets[i]!);
      return makeData({ type: arrowType as Binary, length: n, nullCount, nullBitmap, valueOffsets: offsets, data: bytes });
    }
    case 'utf8':
    case 'null': {
      const items = values as (string | null)[];
      const offsets = new Int32Array(n + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        total += items[i]?.length ?? 0;
        offsets[i + 1] = total;
      }
      // Encode the column as one string; when every character took one byte (ASCII) the offsets are the lengths.
      const joined = Buffer.from(items.join(''), 'utf8');
      if (joined.length === total) {
        return makeData({ type: arrowType as Utf8, length: n, nullCount, nullBitmap, valueOffsets: offsets, data: new Uint8Array(joined.buffer, joined.byteOffset, total) });
      }
      total = 0;
      for (let i = 0; i < n; i++) {
        const s = items[i];
        total += s ? Buffer.byteLength(s, 'utf8') : 0;
        offsets[i + 1] = total;
      }
      const bytes = Buffer.allocUnsafe(total);
      for (let i = 0; i < n; i++) {
        const s = items[i];
        if (s) bytes.write(s, offsets[i]!, 'utf8');
      }
      return makeData({ type: arrowType as Utf8, length: n, nullCount, nullBitmap, valueOffsets: offsets, data: new Uint8Array(bytes.buffer, bytes.byteOffset, total) });
    }
  }
}

/**
 * Rows `sel` of an Arrow column, copied at the byte level for the common layouts (no per-value objects). Of a
 * sliced column, the value and offset buffers start at the slice; the bitmaps at `data.offset`.
 */
export function gatherData(data: Data, sel: Int32Array): Data {
  const n = sel.length;
  const offset = data.offset;
  const valid = validityOf(data, sel);
  const nullCount = countNulls(valid, n);
  const nullBitmap = nullCount > 0 && valid ? packBits(valid, n) : undefined;
  const type = data.type;
  const typeId = type.typeId;
  if (typeId === Type.Bool) {
    const src = data.values as Uint8Array;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const r = sel[i]! + offset;
      out[i] = (src[r >> 3]! >> (r & 7)) & 1;
    }
    return makeData({ type: type as Bool, length: n, nullCount, nullBitmap, data: packBits(out, n) });
  }
  if ((typeId === Type.Utf8 || typeId === Type.Binary) && data.valueOffsets instanceof Int32Array) {
    const offsets = data.valueOffsets;
    const src = data.values as Uint8Array;
    const out = new Int32Array(n + 1);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const r = sel[i]!;
      total += offsets[r + 1]! - offsets[r]!;
      out[i + 1] = total;
    }
    const bytes = new Uint8Array(total);
    // Copy runs of consecutive rows at once: a WHERE usually keeps long runs.
    for (let i = 0; i < n; ) {
      let j = i + 1;
      while (j < n && sel[j] === sel[j - 1]! + 1) j++;
      const from = offsets[sel[i]!]!;
      bytes.set(src.subarray(from, offsets[sel[j - 1]! + 1]!), out[i]!);
      i = j;
    }
    return makeData({ type: type as Utf8, length: n, nullCount, nullBitmap, valueOffsets: out, data: bytes });
  }
  const fixed = typeId === Type.Int || typeId === Type.Float || typeId === Type.Date || typeId === Type.Timestamp || typeId === Type.Time || typeId === Type.Decimal || typeId === Type.Interval || typeId === Type.Duration;
  if (fixed && ArrayBuffer.isView(data.values)) {
    // Copy raw bits through a 32-bit (or byte) view: no BigInt per value, no NaN canonicalisation.
    const values = data.values as unknown as ArrayBufferView & { length: number; BYTES_PER_ELEMENT: number };
    const elementBytes = values.BYTES_PER_ELEMENT * (data as unknown as { stride: number }).stride;
    const unit = elementBytes % 4 === 0 ? 4 : 1;
    const width = elementBytes / unit;
    const View = unit === 4 ? Uint32Array : Uint8Array;
    const src = new View(values.buffer as ArrayBuffer, values.byteOffset, Math.floor(values.byteLength / unit));
    const out = new View(n * width);
    for (let i = 0; i < n; ) {
      let j = i + 1;
      while (j < n && sel[j] === sel[j - 1]! + 1) j++;
      const from = sel[i]! * width;
      out.set(src.subarray(from, from + (j - i) * width), i * width);
      i = j;
    }
    const Typed = values.constructor as new (buffer: ArrayBuffer) => unknown;
    return makeData({ type: type as Int32, length: n, nullCount, nullBitmap, data: new Typed(out.buffer as ArrayBuffer) as Int32Array });
  }
  if ((typeId === Type.List || typeId === Type.LargeList || typeId === Type.Map) && data.valueOffsets) {
    // The child's rows of each selected list, gathered in turn (the child is not sliced: offsets index it).
    const offsets = data.valueOffsets as Int32Array | BigInt64Array;
    const large = offsets instanceof BigInt64Array;
    const counts = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) counts[i + 1] = counts[i]! + Number(offsets[sel[i]! + 1]!) - Number(offsets[sel[i]!]!);
    const elements = new Int32Array(counts[n]!);
    for (let i = 0, k = 0; i < n; i++) for (let e = Number(offsets[sel[i]!]!), end = Number(offsets[sel[i]! + 1]!); e < end; e++) elements[k++] = e;
    const valueOffsets = large ? BigInt64Array.from(counts, (c) => BigInt(c)) : Int32Array.from(counts);
    const child = gatherData(data.children[0]!, elements);
    return makeData({ type: type as List, length: n, nullCount, nullBitmap, valueOffsets: valueOffsets as Int32Array, child });
  }
  if (typeId === Type.FixedSizeList) {
    // The child is sliced with the list: row r holds child rows r * size to (r + 1) * size.
    const size = (type as FixedSizeList).listSize;
    const elements = new Int32Array(n * size);
    for (let i = 0; i < n; i++) for (let j = 0; j < size; j++) elements[i * size + j] = sel[i]! * size + j;
    return makeData({ type: type as FixedSizeList, length: n, nullCount, nullBitmap, child: gatherData(data.children[0]!, elements) });
  }
  if (typeId === Type.Struct) {
    return makeData({ type: type as Struct, length: n, nullCount, nullBitmap, children: data.children.map((c) => gatherData(c, sel)) });
  }
  return slowGather(data, sel);
}

/** Any other layout (dictionaries, unions): rebuilt from values through Arrow's builders. */
function slowGather(data: Data, sel: Int32Array): Data {
  const vector = makeVector(data);
  return vectorFromArray(Array.from(sel, (r) => vector.get(r)), data.type as DataType).data[0]!;
}
