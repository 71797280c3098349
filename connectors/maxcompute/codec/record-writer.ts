import { crc32cUpdate, crc32cUpdateByte, crc32cUpdateInt32, crc32cUpdateInt64 } from './crc32c.js';
import { type OdpsColumn, type OdpsType, parseOdpsType } from './types.js';
import {
  type CellValue,
  type RowValues,
  mapEntries,
  toBinary,
  toDecimalText,
  toEpochDays,
  toEpochMillis,
  toSecondsNanos,
} from './values.js';
import { END_RECORD, META_CHECKSUM, META_COUNT, WIRE_BYTES, WIRE_FIXED32, WIRE_FIXED64, WIRE_VARINT } from './wire.js';
import { maxComputeError } from '../errors.js';

const TWO_32 = 4294967296;

/**
 * Growable output buffer with the running record CRC. Fields are public to the codec's encoders (which are
 * plain functions for speed), not to users of the writer.
 * @internal
 */
export class ProtoBuffer {
  buf: Buffer;
  view: DataView;
  pos = 0;
  crc = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** Hands out the bytes written so far and continues in a fresh buffer of the same size. */
  detach(): Buffer {
    const bytes = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
    return bytes;
  }

  varint32(value: number): void {
    this.ensure(5);
    let v = value >>> 0;
    const b = this.buf;
    while (v >= 0x80) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.pos++] = v;
  }

  varint64(lo: number, hi: number): void {
    this.ensure(10);
    let l = lo >>> 0;
    let h = hi >>> 0;
    const b = this.buf;
    while (h !== 0 || l >= 0x80) {
      b[this.pos++] = (l & 0x7f) | 0x80;
      l = ((l >>> 7) | (h << 25)) >>> 0;
      h >>>= 7;
    }
    b[this.pos++] = l;
  }

  tag(field: number, wireType: number): void {
    this.varint32(((field << 3) | wireType) >>> 0);
  }

  /** Zig-zag sint64 from the two's-complement words of a value. */
  sint64Words(lo: number, hi: number): void {
    const sign = hi >> 31;
    this.varint64((lo << 1) ^ sign, ((hi << 1) | (lo >>> 31)) ^ sign);
  }

  /** Writes `value` as sint64 and feeds its eight little-endian bytes to the CRC. */
  sint64(value: number | bigint): void {
    let lo: number;
    let hi: number;
    if (typeof value === 'bigint') {
      const v = BigInt.asIntN(64, value);
      lo = Number(v & 0xffffffffn) | 0;
      hi = Number((v >> 32n) & 0xffffffffn) | 0;
    } else if (value >= -2147483648 && value <= 2147483647 && (value | 0) === value) {
      lo = value;
      hi = value < 0 ? -1 : 0;
    } else {
      if (!Number.isSafeInteger(value)) throw maxComputeError('MAXCOMPUTE_VALUE_OUT_OF_RANGE', `${value} is not an integer that fits a MaxCompute BIGINT exactly; pass a bigint`);
      const h = Math.floor(value / TWO_32);
      lo = (value - h * TWO_32) | 0;
      hi = h | 0;
    }
    this.crc = crc32cUpdateInt64(this.crc, lo, hi);
    this.sint64Words(lo, hi);
  }

  bytes(bytes: Uint8Array): void {
    this.varint32(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.crc = crc32cUpdate(this.crc, this.buf, this.pos, this.pos + bytes.length);
    this.pos += bytes.length;
  }

  string(text: string): void {
    const length = Buffer.byteLength(text, 'utf8');
    this.varint32(length);
    this.ensure(length);
    this.buf.write(text, this.pos, length, 'utf8');
    this.crc = crc32cUpdate(this.crc, this.buf, this.pos, this.pos + length);
    this.pos += length;
  }
}

type Encoder = (out: ProtoBuffer, value: CellValue) => void;

function wireTypeOf(type: OdpsType): number {
  switch (type.kind) {
    case 'double':
      return WIRE_FIXED64;
    case 'float':
      return WIRE_FIXED32;
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint':
    case 'boolean':
    case 'date':
    case 'datetime':
      return WIRE_VARINT;
    default:
      return WIRE_BYTES;
  }
}

function integerEncoder(min: number, max: number, name: string): Encoder {
  return (out, value) => {
    if (typeof value === 'number' && (value < min || value > max || !Number.isInteger(value))) {
      throw maxComputeError('MAXCOMPUTE_VALUE_OUT_OF_RANGE', `${value} does not fit a MaxCompute ${name}`);
    }
    out.sint64(value as number | bigint);
  };
}

/** Builds the encoder of one value of `type` (without its tag). */
export function encoderFor(type: OdpsType): Encoder {
  switch (type.kind) {
    case 'tinyint':
      return integerEncoder(-128, 127, 'TINYINT');
    case 'smallint':
      return integerEncoder(-32768, 32767, 'SMALLINT');
    case 'int':
      return integerEncoder(-2147483648, 2147483647, 'INT');
    case 'bigint':
      return (out, value) => out.sint64(typeof value === 'string' ? BigInt(value) : (value as number | bigint));
    case 'double':
      return (out, value) => {
        out.ensure(8);
        out.view.setFloat64(out.pos, Number(value), true);
        out.crc = crc32cUpdate(out.crc, out.buf, out.pos, out.pos + 8);
        out.pos += 8;
      };
    case 'float':
      return (out, value) => {
        out.ensure(4);
        out.view.setFloat32(out.pos, Number(value), true);
        out.crc = crc32cUpdate(out.crc, out.buf, out.pos, out.pos + 4);
        out.pos += 4;
      };
    case 'boolean':
      return (out, value) => {
        const b = value ? 1 : 0;
        out.varint32(b);
        out.crc = crc32cUpdateByte(out.crc, b);
      };
    case 'string':
    case 'varchar':
      return (out, value) => out.string(typeof value === 'string' ? value : String(value));
    case 'json':
      return (out, value) => out.string(typeof value === 'string' ? value : JSON.stringify(value));
    case 'char': {
      const length = type.length;
      // The service stores CHAR(n) padded to n characters and sends the padding.
      return (out, value) => out.string(String(value).padEnd(length, ' '));
    }
    case 'binary':
      return (out, value) => out.bytes(toBinary(value));
    case 'decimal':
      return (out, value) => out.string(toDecimalText(value));
    case 'date':
      return (out, value) => out.sint64(toEpochDays(value));
    case 'datetime':
      return (out, value) => out.sint64(typeof value === 'bigint' ? value : toEpochMillis(value));
    case 'timestamp':
    case 'timestamp_ntz':
      return (out, value) => {
        const [seconds, nanos] = toSecondsNanos(value);
        out.sint64(seconds);
        out.crc = crc32cUpdateInt32(out.crc, nanos);
        out.varint32((nanos << 1) ^ (nanos >> 31));
      };
    case 'array': {
      const element = encoderFor(type.element);
      return (out, value) => {
        if (!Array.isArray(value)) throw maxComputeError('MAXCOMPUTE_VALUE_OUT_OF_RANGE', 'an ARRAY value must be a JavaScript array');
        writeArray(out, value, element);
      };
    }
    case 'map': {
      const key = encoderFor(type.key);
      const val = encoderFor(type.value);
      return (out, value) => {
        const entries = mapEntries(value);
        writeArray(out, entries.map((e) => e[0]), key);
        writeArray(out, entries.map((e) => e[1]), val);
      };
    }
    case 'struct': {
      const fields = type.fields.map((f) => ({ name: f.name, encode: encoderFor(f.type) }));
      return (out, value) => {
        const record = value as Record<string, CellValue>;
        for (const field of fields) {
          const v = record[field.name];
          if (v === null || v === undefined) out.varint32(1);
          else {
            out.varint32(0);
            field.encode(out, v);
          }
        }
      };
    }
  }
}

function writeArray(out: ProtoBuffer, items: readonly CellValue[], encode: Encoder): void {
  out.varint32(items.length);
  for (const item of items) {
    if (item === null || item === undefined) out.varint32(1);
    else {
      out.varint32(0);
      encode(out, item);
    }
  }
}

export interface RecordWriterOptions {
  /** Initial buffer size in bytes. */
  capacity?: number;
}

/**
 * Writes rows in the Tunnel protobuf record format: tagged fields, a per-record CRC32C, and a footer with
 * the record count and the crc-of-crcs. Output accumulates until `take()`, so a server can stream it.
 */
export class RecordWriter {
  private readonly out: ProtoBuffer;
  private readonly encoders: Encoder[];
  private readonly wireTypes: number[];
  private readonly names: string[];
  private crcOfCrcs = 0;
  private count = 0;
  private finished = false;

  constructor(columns: readonly OdpsColumn[], options: RecordWriterOptions = {}) {
    const types = columns.map((c) => parseOdpsType(c.type));
    this.encoders = types.map(encoderFor);
    this.wireTypes = types.map(wireTypeOf);
    this.names = columns.map((c) => c.name);
    this.out = new ProtoBuffer(options.capacity ?? 64 * 1024);
  }

  /** Records written so far. */
  get recordCount(): number {
    return this.count;
  }

  /** Bytes written and not yet taken. */
  get pendingBytes(): number {
    return this.out.pos;
  }

  /**
   * Appends one record. `corruptCrc` stores a wrong record CRC (for fault injection in the emulator).
   */
  write(row: RowValues, options: { corruptCrc?: boolean } = {}): void {
    const out = this.out;
    out.crc = 0;
    const positional = Array.isArray(row);
    const n = this.encoders.length;
    for (let i = 0; i < n; i++) {
      const value = positional ? (row as readonly CellValue[])[i] : (row as Record<string, CellValue>)[this.names[i]!];
      if (value === null || value === undefined) continue;
      out.tag(i + 1, this.wireTypes[i]!);
      out.crc = crc32cUpdateInt32(out.crc, i + 1);
      this.encoders[i]!(out, value);
    }
    const crc = options.corruptCrc ? (out.crc ^ 0x5a5a5a5a) >>> 0 : out.crc;
    out.tag(END_RECORD, WIRE_VARINT);
    out.varint32(crc);
    this.crcOfCrcs = crc32cUpdateInt32(this.crcOfCrcs, out.crc);
    this.count++;
  }

  /** The CRC of the record written last. */
  get lastRecordCrc(): number {
    return this.out.crc;
  }

  /**
   * Appends a record encoded earlier by a writer with the same columns (`take()` after one `write`), with
   * that record's CRC: lets a server keep rows encoded instead of encoding them on every read.
   */
  writeEncoded(record: Uint8Array, crc: number): void {
    this.out.ensure(record.length);
    this.out.buf.set(record, this.out.pos);
    this.out.pos += record.length;
    this.out.crc = crc;
    this.crcOfCrcs = crc32cUpdateInt32(this.crcOfCrcs, crc);
    this.count++;
  }

  /** Appends raw bytes (fault injection: a malformed record). */
  writeRaw(bytes: Uint8Array): void {
    this.out.ensure(bytes.length);
    this.out.buf.set(bytes, this.out.pos);
    this.out.pos += bytes.length;
  }

  /**
   * Writes the footer: the record count and the crc-of-crcs, with `beforeChecksum` (already encoded, e.g.
   * a version-6 metrics section) between them.
   */
  finish(options: { count?: number; beforeChecksum?: Uint8Array } = {}): void {
    if (this.finished) return;
    this.finished = true;
    const out = this.out;
    out.tag(META_COUNT, WIRE_VARINT);
    const count = options.count ?? this.count;
    out.sint64Words(count | 0, Math.floor(count / TWO_32));
    if (options.beforeChecksum) this.writeRaw(options.beforeChecksum);
    out.tag(META_CHECKSUM, WIRE_VARINT);
    out.varint32(this.crcOfCrcs);
  }

  /** Returns the bytes written since the last call and starts a new buffer. */
  take(): Buffer {
    return this.out.detach();
  }
}

/** Encodes rows into one complete record stream (tests and fixtures). */
export function encodeRecords(columns: readonly OdpsColumn[], rows: readonly RowValues[]): Uint8Array {
  const writer = new RecordWriter(columns);
  for (const row of rows) writer.write(row);
  writer.finish();
  return writer.take();
}
