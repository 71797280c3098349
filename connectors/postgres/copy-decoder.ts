import { type Data, type DataType, type Field, makeData, RecordBatch, type Schema, Struct, type TypeMap } from 'apache-arrow';
import { TidewayError } from '../../src/api/errors.js';
import type { ColumnKind, ScalarKind } from './types.js';

/**
 * Decodes PostgreSQL's binary COPY format straight into Arrow column buffers: no row objects, no strings for
 * numbers or timestamps. Input arrives as arbitrary chunks; a row split across chunks waits for the rest.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Microseconds and days between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
const PG_EPOCH_US = 946_684_800_000_000;
const PG_EPOCH_DAYS = 10_957;
const INT32_MAX = 2_147_483_647;
const INT32_MIN = -2_147_483_648;
const TWO32 = 4_294_967_296;
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

abstract class Builder {
  length = 0;
  nullCount = 0;
  validity: Uint8Array;

  constructor(protected capacity: number) {
    this.validity = new Uint8Array(Math.ceil(capacity / 8) + 1).fill(0xff);
  }

  protected grow(): void {
    const next = this.capacity * 2;
    const validity = new Uint8Array(Math.ceil(next / 8) + 1).fill(0xff);
    validity.set(this.validity);
    this.validity = validity;
    this.capacity = next;
    this.growValues(next);
  }

  protected abstract growValues(capacity: number): void;
  abstract value(buf: Buffer, pos: number, len: number): void;
  protected abstract nullValue(): void;
  abstract finish(type: DataType): Data;

  appendNull(): void {
    if (this.length === this.capacity) this.grow();
    const i = this.length;
    this.validity[i >> 3]! &= ~(1 << (i & 7));
    this.nullCount++;
    this.nullValue();
    this.length++;
  }

  append(buf: Buffer, pos: number, len: number): void {
    if (this.length === this.capacity) this.grow();
    this.value(buf, pos, len);
    this.length++;
  }

  protected bitmap(): Uint8Array | undefined {
    return this.nullCount === 0 ? undefined : this.validity.subarray(0, Math.ceil(this.length / 8));
  }
}

type FixedArray = Int16Array | Int32Array | Float32Array | Float64Array | BigInt64Array;

class FixedBuilder extends Builder {
  values: FixedArray;
  words: Int32Array | undefined;

  constructor(
    capacity: number,
    private readonly kind: ScalarKind,
  ) {
    super(capacity);
    this.values = this.allocate(capacity);
    this.words = this.values instanceof BigInt64Array ? new Int32Array(this.values.buffer) : undefined;
  }

  private allocate(capacity: number): FixedArray {
    switch (this.kind) {
      case 'int2':
        return new Int16Array(capacity);
      case 'int4':
      case 'date':
        return new Int32Array(capacity);
      case 'float4':
        return new Float32Array(capacity);
      case 'float8':
        return new Float64Array(capacity);
      default:
        return new BigInt64Array(capacity);
    }
  }

  protected growValues(capacity: number): void {
    const next = this.allocate(capacity);
    (next as Int32Array).set(this.values as Int32Array);
    this.values = next;
    this.words = next instanceof BigInt64Array ? new Int32Array(next.buffer) : undefined;
  }

  protected nullValue(): void {}

  value(buf: Buffer, pos: number, len: number): void {
    const i = this.length;
    switch (this.kind) {
      case 'int2':
        (this.values as Int16Array)[i] = buf.readInt16BE(pos);
        return;
      case 'int4':
        (this.values as Int32Array)[i] = buf.readInt32BE(pos);
        return;
      case 'date': {
        const days = buf.readInt32BE(pos);
        // ±infinity keep their sentinels so that they can be written back as such.
        (this.values as Int32Array)[i] = days === INT32_MAX || days === INT32_MIN ? days : days + PG_EPOCH_DAYS;
        return;
      }
      case 'float4':
        (this.values as Float32Array)[i] = buf.readFloatBE(pos);
        return;
      case 'float8':
        (this.values as Float64Array)[i] = buf.readDoubleBE(pos);
        return;
      case 'oid': {
        const words = this.words!;
        words[2 * i] = buf.readInt32BE(pos);
        words[2 * i + 1] = 0;
        return;
      }
      case 'timestamp':
      case 'timestamptz': {
        const hi = buf.readInt32BE(pos);
        const lo = buf.readUInt32BE(pos + 4);
        const words = this.words!;
        if ((hi === 0x7fffffff && lo === 0xffffffff) || (hi === -0x80000000 && lo === 0)) {
          words[2 * i] = lo | 0;
          words[2 * i + 1] = hi;
          return;
        }
        if (hi >= 0x100000 || hi < -0x100000) {
          // Beyond about ±140 years of 2000 a double would round: the exact (slower) way.
          const exact = ((BigInt(hi) << 32n) | BigInt(lo)) + BigInt(PG_EPOCH_US);
          (this.values as BigInt64Array)[i] = exact;
          return;
        }
        // Within ±2^52 µs: exact in a double, no BigInt per value.
        const us = hi * TWO32 + lo + PG_EPOCH_US;
        const high = Math.floor(us / TWO32);
        words[2 * i] = (us - high * TWO32) | 0;
        words[2 * i + 1] = high;
        return;
      }
      default: {
        // int8, time: eight big-endian bytes into a little-endian int64.
        void len;
        const words = this.words!;
        words[2 * i] = buf.readInt32BE(pos + 4);
        words[2 * i + 1] = buf.readInt32BE(pos);
      }
    }
  }

  finish(type: DataType): Data {
    const nullBitmap = this.bitmap();
    return makeData({ type, length: this.length, nullCount: this.nullCount, nullBitmap, data: this.values.subarray(0, this.length) } as never);
  }
}

class BoolBuilder extends Builder {
  bits: Uint8Array;
  constructor(capacity: number) {
    super(capacity);
    this.bits = new Uint8Array(Math.ceil(capacity / 8) + 1);
  }
  protected growValues(capacity: number): void {
    const next = new Uint8Array(Math.ceil(capacity / 8) + 1);
    next.set(this.bits);
    this.bits = next;
  }
  protected nullValue(): void {}
  value(buf: Buffer, pos: number): void {
    if (buf[pos] !== 0) this.bits[this.length >> 3]! |= 1 << (this.length & 7);
  }
  finish(type: DataType): Data {
    return makeData({ type, length: this.length, nullCount: this.nullCount, nullBitmap: this.bitmap(), data: this.bits.subarray(0, Math.ceil(this.length / 8)) } as never);
  }
}

/** Utf8 and Binary: offsets plus bytes. Text, enums, json and bytea are copied as they are; the rest formatted. */
class BytesBuilder extends Builder {
  offsets: Int32Array;
  bytes: Uint8Array;
  end = 0;

  constructor(
    capacity: number,
    private readonly kind: ScalarKind,
  ) {
    super(capacity);
    this.offsets = new Int32Array(capacity + 1);
    this.bytes = new Uint8Array(Math.max(1024, capacity * 16));
  }

  protected growValues(capacity: number): void {
    const next = new Int32Array(capacity + 1);
    next.set(this.offsets);
    this.offsets = next;
  }

  private reserve(n: number): void {
    if (this.end + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.end + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.end));
    this.bytes = next;
  }

  protected nullValue(): void {
    this.offsets[this.length + 1] = this.end;
  }

  private ascii(text: string): void {
    const n = text.length;
    this.reserve(n);
    for (let i = 0; i < n; i++) this.bytes[this.end++] = text.charCodeAt(i);
  }

  value(buf: Buffer, pos: number, len: number): void {
    switch (this.kind) {
      case 'jsonb':
        // Version byte 1, then the JSON text.
        this.copy(buf, pos + 1, len - 1);
        break;
      case 'uuid': {
        let text = '';
        for (let i = 0; i < 16; i++) {
          text += hex[buf[pos + i]!]!;
          if (i === 3 || i === 5 || i === 7 || i === 9) text += '-';
        }
        this.ascii(text);
        break;
      }
      case 'numeric':
        this.numeric(buf, pos);
        break;
      case 'tid':
        this.ascii(`(${buf.readUInt32BE(pos)},${buf.readUInt16BE(pos + 4)})`);
        break;
      default:
        this.copy(buf, pos, len);
    }
    this.offsets[this.length + 1] = this.end;
  }

  /**
   * PostgreSQL's binary numeric (base-10000 digits) as its exact decimal text, written as bytes: no string
   * per value (a million numerics cost a million strings and closures otherwise).
   */
  private numeric(buf: Buffer, pos: number): void {
    const ndigits = buf.readInt16BE(pos);
    const weight = buf.readInt16BE(pos + 2);
    const sign = buf.readUInt16BE(pos + 4);
    const dscale = buf.readInt16BE(pos + 6);
    if (sign === 0xc000) return this.ascii('NaN');
    if (sign === 0xd000) return this.ascii('Infinity');
    if (sign === 0xf000) return this.ascii('-Infinity');
    this.reserve(2 + 4 * Math.max(weight + 1, 1) + 1 + dscale + 4);
    const bytes = this.bytes;
    let end = this.end;
    if (sign === 0x4000) bytes[end++] = 45; // -
    if (weight < 0) bytes[end++] = 48;
    for (let k = 0; k <= weight; k++) {
      const d = k < ndigits ? buf.readInt16BE(pos + 8 + 2 * k) : 0;
      if (k > 0 || d >= 1000) bytes[end++] = 48 + ((d / 1000) | 0);
      if (k > 0 || d >= 100) bytes[end++] = 48 + (((d / 100) | 0) % 10);
      if (k > 0 || d >= 10) bytes[end++] = 48 + (((d / 10) | 0) % 10);
      bytes[end++] = 48 + (d % 10);
    }
    if (dscale > 0) {
      bytes[end++] = 46; // .
      let left = dscale;
      for (let k = weight + 1; left > 0; k++) {
        const d = k >= 0 && k < ndigits ? buf.readInt16BE(pos + 8 + 2 * k) : 0;
        for (let div = 1000; div >= 1 && left > 0; div /= 10, left--) bytes[end++] = 48 + (((d / div) | 0) % 10);
      }
    }
    this.end = end;
  }

  private copy(buf: Buffer, pos: number, len: number): void {
    this.reserve(len);
    if (len < 48) for (let i = 0; i < len; i++) this.bytes[this.end++] = buf[pos + i]!;
    else {
      this.bytes.set(buf.subarray(pos, pos + len), this.end);
      this.end += len;
    }
  }

  finish(type: DataType): Data {
    return makeData({
      type,
      length: this.length,
      nullCount: this.nullCount,
      nullBitmap: this.bitmap(),
      valueOffsets: this.offsets.subarray(0, this.length + 1),
      data: this.bytes.subarray(0, this.end),
    } as never);
  }
}

/** One-dimensional arrays as Arrow lists. */
class ListBuilder extends Builder {
  offsets: Int32Array;
  readonly child: Builder;

  constructor(
    capacity: number,
    element: ScalarKind,
    private readonly column: string,
  ) {
    super(capacity);
    this.offsets = new Int32Array(capacity + 1);
    this.child = scalarBuilder(element, capacity * 4);
  }

  protected growValues(capacity: number): void {
    const next = new Int32Array(capacity + 1);
    next.set(this.offsets);
    this.offsets = next;
  }

  protected nullValue(): void {
    this.offsets[this.length + 1] = this.child.length;
  }

  value(buf: Buffer, pos: number): void {
    const ndim = buf.readInt32BE(pos);
    if (ndim > 1) {
      throw new TidewayError(
        'POSTGRES_UNSUPPORTED_VALUE',
        `column "${this.column}" holds a ${ndim}-dimensional array; Tideway reads one-dimensional arrays as lists. Read it as text with query: SELECT ..., "${this.column}"::text AS "${this.column}" FROM ...`,
        { context: { connector: 'postgres', column: this.column } },
      );
    }
    if (ndim === 1) {
      const count = buf.readInt32BE(pos + 12);
      let p = pos + 20;
      for (let k = 0; k < count; k++) {
        const len = buf.readInt32BE(p);
        p += 4;
        if (len < 0) this.child.appendNull();
        else {
          this.child.append(buf, p, len);
          p += len;
        }
      }
    }
    this.offsets[this.length + 1] = this.child.length;
  }

  finish(type: DataType): Data {
    const childType = (type as unknown as { children: Field[] }).children[0]!.type;
    return makeData({
      type,
      length: this.length,
      nullCount: this.nullCount,
      nullBitmap: this.bitmap(),
      valueOffsets: this.offsets.subarray(0, this.length + 1),
      child: this.child.finish(childType),
    } as never);
  }
}

function scalarBuilder(kind: ScalarKind, capacity: number): Builder {
  switch (kind) {
    case 'bool':
      return new BoolBuilder(capacity);
    case 'text':
    case 'jsonb':
    case 'uuid':
    case 'numeric':
    case 'bytea':
    case 'tid':
      return new BytesBuilder(capacity, kind);
    default:
      return new FixedBuilder(capacity, kind);
  }
}

function builderFor(kind: ColumnKind, capacity: number, column: string): Builder {
  if (kind.kind === 'list') return new ListBuilder(capacity, kind.element ?? 'text', column);
  return scalarBuilder(kind.kind, capacity);
}

/**
 * The decoder of one COPY stream. `push` hands it bytes; `take(maxRows)` decodes the complete rows buffered
 * into the batch being built and hands that batch out once it holds maxRows rows or the stream's trailer
 * came (the remaining bytes wait for the next call); `flush` hands out a batch that is not full. Building one
 * batch across many network chunks, rather than one small batch per chunk, allocates the column builders
 * once per maxRows rows, and every stage downstream sees fewer, larger batches.
 */
export class CopyBinaryDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private headerDone = false;
  /** The trailer (-1 field count) was seen: no more rows in this stream. */
  ended = false;
  private builders: Builder[] | undefined;
  /** Rows in `builders`, the batch being built. */
  private rows = 0;

  constructor(
    private readonly schema: Schema,
    private readonly kinds: readonly ColumnKind[],
  ) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
  }

  get buffered(): number {
    return this.pending.length;
  }

  /**
   * Decodes the complete rows buffered, up to maxRows in the batch being built; returns that batch when it
   * is full or the stream ended, undefined while it waits for more bytes.
   */
  take(maxRows: number): RecordBatch | undefined {
    const buf = this.pending;
    let pos = 0;
    if (!this.headerDone) {
      if (buf.length < 19) return undefined;
      if (!buf.subarray(0, 11).equals(SIGNATURE)) throw new TidewayError('POSTGRES_PROTOCOL', 'the server sent a COPY stream without the binary signature');
      pos = 19 + buf.readInt32BE(15);
      this.headerDone = true;
    }
    const columns = this.kinds.length;
    let rows = this.rows;
    while (rows < maxRows && pos + 2 <= buf.length) {
      const fields = buf.readInt16BE(pos);
      if (fields === -1) {
        this.ended = true;
        pos += 2;
        break;
      }
      // Find the row's end first, so that a row split across chunks is decoded whole or not at all.
      let end = pos + 2;
      let complete = true;
      for (let f = 0; f < fields; f++) {
        if (end + 4 > buf.length) {
          complete = false;
          break;
        }
        const len = buf.readInt32BE(end);
        end += 4 + (len > 0 ? len : 0);
        if (end > buf.length) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
      if (fields !== columns) throw new TidewayError('POSTGRES_PROTOCOL', `a COPY row has ${fields} fields where ${columns} were selected`);
      const builders = (this.builders ??= this.kinds.map((k, i) => builderFor(k, maxRows, this.schema.fields[i]!.name)));
      let p = pos + 2;
      for (let f = 0; f < fields; f++) {
        const len = buf.readInt32BE(p);
        p += 4;
        if (len < 0) builders[f]!.appendNull();
        else {
          builders[f]!.append(buf, p, len);
          p += len;
        }
      }
      pos = end;
      rows++;
    }
    this.rows = rows;
    this.pending = pos >= buf.length ? Buffer.alloc(0) : buf.subarray(pos);
    return rows >= maxRows || this.ended ? this.flush() : undefined;
  }

  /** The batch being built, full or not (undefined when it holds no row); the next row starts a new one. */
  flush(): RecordBatch | undefined {
    const builders = this.builders;
    const rows = this.rows;
    this.builders = undefined;
    this.rows = 0;
    if (!builders || rows === 0) return undefined;
    const children = builders.map((b, i) => b.finish(this.schema.fields[i]!.type));
    const data = makeData({ type: new Struct(this.schema.fields), length: rows, nullCount: 0, children });
    return new RecordBatch(this.schema as Schema<TypeMap>, data);
  }
}
