import { type Data, type DataType, type Field, makeData, type Struct } from 'apache-arrow';
import { maxComputeError } from '../errors.js';
import { type OdpsType, toArrowType, toArrowWireType } from './types.js';
import {
  type CellValue,
  decimalToUnscaled,
  mapEntries,
  toBinary,
  toDecimalText,
  toEpochDays,
  toEpochMillis,
  toSecondsNanos,
} from './values.js';

/** Physical layouts the builders know. Numbers, not strings, so the decoder's switch stays cheap. */
export const K_INT8 = 1;
export const K_INT16 = 2;
export const K_INT32 = 3;
export const K_INT64 = 4;
export const K_FLOAT32 = 5;
export const K_FLOAT64 = 6;
export const K_BOOL = 7;
export const K_UTF8 = 8;
export const K_BINARY = 9;
export const K_DATE = 10;
export const K_DATETIME = 11;
export const K_TIMESTAMP = 12;
export const K_LIST = 13;
export const K_MAP = 14;
export const K_STRUCT = 15;
/** Decimal128 (only on the Arrow wire; the record format carries decimals as text). */
export const K_DECIMAL128 = 16;

const WIDTH: Record<number, number> = {
  [K_INT8]: 1,
  [K_INT16]: 2,
  [K_INT32]: 4,
  [K_INT64]: 8,
  [K_FLOAT32]: 4,
  [K_FLOAT64]: 8,
  [K_DATE]: 4,
  [K_DATETIME]: 8,
  [K_TIMESTAMP]: 8,
  [K_DECIMAL128]: 16,
};

const EMPTY_I32 = new Int32Array(0);
const EMPTY_I64 = new BigInt64Array(0);
const EMPTY_CHILDREN: ColumnBuilder[] = [];
const encoder = new TextEncoder();

function kindOf(type: OdpsType, wire: boolean): number {
  switch (type.kind) {
    case 'tinyint':
      return K_INT8;
    case 'smallint':
      return K_INT16;
    case 'int':
      return K_INT32;
    case 'bigint':
      return K_INT64;
    case 'float':
      return K_FLOAT32;
    case 'double':
      return K_FLOAT64;
    case 'boolean':
      return K_BOOL;
    case 'string':
    case 'varchar':
    case 'char':
    case 'json':
      return K_UTF8;
    case 'decimal':
      return wire ? K_DECIMAL128 : K_UTF8;
    case 'binary':
      return K_BINARY;
    case 'date':
      return K_DATE;
    case 'datetime':
      return K_DATETIME;
    case 'timestamp':
    case 'timestamp_ntz':
      return K_TIMESTAMP;
    case 'array':
      return K_LIST;
    case 'map':
      return K_MAP;
    case 'struct':
      return K_STRUCT;
  }
}

/**
 * A column under construction, written straight into typed arrays and handed to Arrow without copying.
 * One class for every layout (selected by `kind`) keeps property access monomorphic in the decoder's hot
 * loop. Fields are public for the decoder; other code appends through `appendNull` / `appendValue`.
 *
 * Validity bits start at 0 (null); appending a value sets its bit. `truncate` undoes a partly decoded
 * record when a network chunk ends in the middle of it.
 */
export class ColumnBuilder {
  readonly kind: number;
  readonly type: DataType;
  readonly odpsType: OdpsType;
  readonly children: ColumnBuilder[];
  readonly width: number;
  length = 0;
  capacity = 0;
  validity: Uint8Array = new Uint8Array(0);
  /** Fixed-width values (as bytes), or the value bytes of a var-length column. */
  bytes: Uint8Array = new Uint8Array(0);
  i32: Int32Array = EMPTY_I32;
  i64: BigInt64Array = EMPTY_I64;
  offsets: Int32Array = EMPTY_I32;
  dataPos = 0;
  private scale = 0;

  constructor(type: OdpsType, options: { wire?: boolean; capacity?: number } = {}) {
    const wire = options.wire ?? false;
    this.odpsType = type;
    this.kind = kindOf(type, wire);
    this.type = wire ? toArrowWireType(type) : toArrowType(type);
    this.width = WIDTH[this.kind] ?? 0;
    if (type.kind === 'decimal') this.scale = type.scale;
    switch (type.kind) {
      case 'array':
        this.children = [new ColumnBuilder(type.element, { wire })];
        break;
      case 'map':
        this.children = [new ColumnBuilder(type.key, { wire }), new ColumnBuilder(type.value, { wire })];
        break;
      case 'struct':
        this.children = type.fields.map((f) => new ColumnBuilder(f.type, { wire }));
        break;
      default:
        this.children = EMPTY_CHILDREN;
    }
    this.reset(options.capacity ?? 1024);
  }

  /** Starts a new, empty column (after `finish` handed the arrays to Arrow). */
  reset(capacity: number): void {
    // The previous arrays now belong to an emitted batch: never write into them again.
    const lastBytes = this.dataPos;
    this.length = 0;
    this.dataPos = 0;
    this.validity = new Uint8Array(0);
    this.offsets = EMPTY_I32;
    this.bytes = new Uint8Array(0);
    if (this.kind === K_UTF8 || this.kind === K_BINARY) this.bytes = new Uint8Array(Math.max(64, lastBytes + (lastBytes >>> 3), capacity * 8));
    this.allocate(Math.max(8, capacity), 0);
    for (const child of this.children) child.reset(capacity);
  }

  private allocate(capacity: number, keep: number): void {
    const validity = new Uint8Array((capacity + 7) >>> 3);
    validity.set(this.validity.subarray(0, (keep + 7) >>> 3));
    this.validity = validity;
    if (this.width > 0 || this.kind === K_BOOL) {
      const size = this.kind === K_BOOL ? (capacity + 7) >>> 3 : capacity * this.width;
      // Eight-byte aligned so 64-bit views are legal.
      const buffer = new ArrayBuffer((size + 7) & ~7);
      const bytes = new Uint8Array(buffer, 0, size);
      bytes.set(this.bytes.subarray(0, this.kind === K_BOOL ? (keep + 7) >>> 3 : keep * this.width));
      this.bytes = bytes;
      this.i32 = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
      if (this.width === 8) this.i64 = new BigInt64Array(buffer, 0, buffer.byteLength >>> 3);
    } else {
      const offsets = new Int32Array(capacity + 1);
      offsets.set(this.offsets.subarray(0, keep + 1));
      this.offsets = offsets;
    }
    this.capacity = capacity;
  }

  /** Makes room for one more value. */
  grow(): void {
    this.allocate(this.capacity * 2, this.length);
  }

  /** Makes room for `n` more value bytes of a var-length column. */
  reserveBytes(n: number): void {
    const need = this.dataPos + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const bytes = new Uint8Array(size);
    bytes.set(this.bytes.subarray(0, this.dataPos));
    this.bytes = bytes;
  }

  appendNull(): void {
    if (this.length === this.capacity) this.grow();
    const i = this.length;
    switch (this.kind) {
      case K_UTF8:
      case K_BINARY:
        this.offsets[i + 1] = this.dataPos;
        break;
      case K_LIST:
      case K_MAP:
        this.offsets[i + 1] = this.children[0]!.length;
        break;
      case K_STRUCT:
        for (const child of this.children) child.appendNull();
        break;
    }
    this.length = i + 1;
  }

  /** Marks the value at the current length as present and advances (after the caller stored it). */
  commitValue(): void {
    const i = this.length;
    this.validity[i >>> 3]! |= 1 << (i & 7);
    this.length = i + 1;
  }

  /** Appends raw value bytes of a var-length column. */
  appendBytes(src: Uint8Array, start: number, end: number): void {
    if (this.length === this.capacity) this.grow();
    const n = end - start;
    this.reserveBytes(n);
    this.bytes.set(src.subarray(start, end), this.dataPos);
    this.dataPos += n;
    this.offsets[this.length + 1] = this.dataPos;
    this.commitValue();
  }

  /** Drops values from index `length` on (a partly decoded record). */
  truncate(length: number): void {
    if (length > this.length) return;
    // No early return when nothing of this column is past `length`: a nested value that failed half-way
    // left elements in the children although this column's own length never moved.
    for (let i = length; i < this.length; i++) this.validity[i >>> 3]! &= ~(1 << (i & 7));
    switch (this.kind) {
      case K_UTF8:
      case K_BINARY:
        this.dataPos = this.offsets[length]!;
        break;
      case K_LIST:
        this.children[0]!.truncate(this.offsets[length]!);
        break;
      case K_MAP:
        this.children[0]!.truncate(this.offsets[length]!);
        this.children[1]!.truncate(this.offsets[length]!);
        break;
      case K_STRUCT:
        for (const child of this.children) child.truncate(length);
        break;
      case K_BOOL:
        for (let i = length; i < this.length; i++) this.bytes[i >>> 3]! &= ~(1 << (i & 7));
        break;
    }
    this.length = length;
  }

  /** Appends a JavaScript value (the emulator's Arrow path and tests; the decoder writes directly). */
  appendValue(value: CellValue): void {
    if (value === null || value === undefined) {
      this.appendNull();
      return;
    }
    if (this.length === this.capacity) this.grow();
    const i = this.length;
    switch (this.kind) {
      case K_INT8:
        this.bytes[i] = Number(value) & 0xff;
        break;
      case K_INT16: {
        const v = Number(value);
        this.bytes[2 * i] = v & 0xff;
        this.bytes[2 * i + 1] = (v >> 8) & 0xff;
        break;
      }
      case K_INT32:
        this.i32[i] = Number(value);
        break;
      case K_DATE:
        this.i32[i] = toEpochDays(value);
        break;
      case K_INT64:
        this.i64[i] = BigInt.asIntN(64, BigInt(value as number | bigint | string));
        break;
      case K_DATETIME:
        this.i64[i] = BigInt(typeof value === 'bigint' ? value : toEpochMillis(value));
        break;
      case K_TIMESTAMP: {
        const [seconds, nanos] = toSecondsNanos(value);
        this.i64[i] = checkedNanos(BigInt(seconds) * 1_000_000_000n + BigInt(nanos));
        break;
      }
      case K_FLOAT32:
        new DataView(this.bytes.buffer).setFloat32(4 * i, Number(value), true);
        break;
      case K_FLOAT64:
        new DataView(this.bytes.buffer).setFloat64(8 * i, Number(value), true);
        break;
      case K_BOOL:
        if (value) this.bytes[i >>> 3]! |= 1 << (i & 7);
        break;
      case K_DECIMAL128: {
        let v = BigInt.asUintN(128, decimalToUnscaled(toDecimalText(value), this.scale));
        for (let w = 0; w < 4; w++) {
          this.i32[4 * i + w] = Number(v & 0xffffffffn) | 0;
          v >>= 32n;
        }
        break;
      }
      case K_UTF8:
      case K_BINARY: {
        const bytes =
          this.kind === K_BINARY
            ? toBinary(value)
            : encoder.encode(this.odpsType.kind === 'decimal' ? toDecimalText(value) : typeof value === 'string' ? padChar(this.odpsType, value) : this.odpsType.kind === 'json' ? JSON.stringify(value) : String(value));
        this.appendBytes(bytes, 0, bytes.length);
        return;
      }
      case K_LIST: {
        const child = this.children[0]!;
        for (const item of value as CellValue[]) child.appendValue(item);
        this.offsets[i + 1] = child.length;
        break;
      }
      case K_MAP: {
        const [keys, values] = this.children as [ColumnBuilder, ColumnBuilder];
        for (const [k, v] of mapEntries(value)) {
          keys.appendValue(k);
          values.appendValue(v);
        }
        this.offsets[i + 1] = keys.length;
        break;
      }
      case K_STRUCT: {
        const record = value as Record<string, CellValue>;
        const fields = (this.odpsType as { fields: { name: string }[] }).fields;
        this.children.forEach((child, k) => child.appendValue(record[fields[k]!.name]));
        break;
      }
    }
    this.commitValue();
  }

  /** Hands the column to Arrow (no copy) and starts a new one with `nextCapacity` slots. */
  finish(nextCapacity = this.capacity): Data {
    const data = this.toData();
    this.reset(nextCapacity);
    return data;
  }

  private toData(): Data {
    const length = this.length;
    const bitmapBytes = (length + 7) >>> 3;
    const nullCount = length - countBits(this.validity, length);
    const nullBitmap = nullCount > 0 ? this.validity.subarray(0, bitmapBytes) : undefined;
    const common = { type: this.type as never, length, nullCount, nullBitmap };
    const buffer = this.bytes.buffer;
    switch (this.kind) {
      case K_INT8:
        return makeData({ ...common, data: new Int8Array(buffer, 0, length) });
      case K_INT16:
        return makeData({ ...common, data: new Int16Array(buffer, 0, length) });
      case K_INT32:
      case K_DATE:
        return makeData({ ...common, data: new Int32Array(buffer, 0, length) });
      case K_INT64:
      case K_DATETIME:
      case K_TIMESTAMP:
        return makeData({ ...common, data: new BigInt64Array(buffer, 0, length) as never });
      case K_FLOAT32:
        return makeData({ ...common, data: new Float32Array(buffer, 0, length) });
      case K_FLOAT64:
        return makeData({ ...common, data: new Float64Array(buffer, 0, length) });
      case K_BOOL:
        return makeData({ ...common, data: this.bytes.subarray(0, bitmapBytes) });
      case K_DECIMAL128:
        return makeData({ ...common, data: new Uint32Array(buffer, 0, length * 4) });
      case K_UTF8:
      case K_BINARY:
        return makeData({ ...common, valueOffsets: this.offsets.subarray(0, length + 1), data: this.bytes.subarray(0, this.dataPos) });
      case K_LIST:
        return makeData({ ...common, valueOffsets: this.offsets.subarray(0, length + 1), child: this.children[0]!.toData() });
      case K_MAP: {
        const entriesType = (this.type.children[0] as Field<Struct>).type;
        const keys = this.children[0]!.toData();
        const values = this.children[1]!.toData();
        const entries = makeData({ type: entriesType, length: keys.length, nullCount: 0, children: [keys, values] });
        return makeData({ ...common, valueOffsets: this.offsets.subarray(0, length + 1), child: entries });
      }
      case K_STRUCT:
        return makeData({ ...common, children: this.children.map((c) => c.toData()) });
      default:
        throw new Error(`unknown column kind ${this.kind}`);
    }
  }
}

function padChar(type: OdpsType, value: string): string {
  return type.kind === 'char' ? value.padEnd(type.length, ' ') : value;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Nanoseconds since the epoch fit Int64 only for 1677-09-21 .. 2262-04-11. */
export function checkedNanos(nanos: bigint): bigint {
  if (nanos < INT64_MIN || nanos > INT64_MAX) {
    throw maxComputeError(
      'MAXCOMPUTE_VALUE_OUT_OF_RANGE',
      `a TIMESTAMP value (${nanos / 1_000_000_000n} seconds since 1970) is outside 1677-09-21..2262-04-11, the range of Arrow's ` +
        'nanosecond timestamps. Filter such rows out in MaxCompute (or cast the column to STRING) before reading it.',
    );
  }
  return nanos;
}

const POPCOUNT = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) t[i] = (i & 1) + t[i >>> 1]!;
  return t;
})();

function countBits(bitmap: Uint8Array, length: number): number {
  let count = 0;
  const full = length >>> 3;
  for (let i = 0; i < full; i++) count += POPCOUNT[bitmap[i]!]!;
  const rest = length & 7;
  if (rest > 0) count += POPCOUNT[bitmap[full]! & ((1 << rest) - 1)]!;
  return count;
}
