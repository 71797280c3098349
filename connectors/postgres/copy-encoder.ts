import { type Data, type DateUnit, type Decimal, type Field, type RecordBatch, type Time, type Timestamp, TimeUnit, Type } from 'apache-arrow';
import { decimalText, jsonValue } from '../../src/formats/text/arrow-to-text.js';
import { ByteSink } from '../../src/formats/text/row-writer.js';

/**
 * Encodes Arrow batches as PostgreSQL COPY text (tab-separated, `\N` for NULL, backslash escapes), column by
 * column from Arrow's buffers: integers and timestamps are written as digits without a string per value, and
 * strings are copied from Arrow's UTF-8 bytes unless they hold a character that must be escaped. Text COPY
 * lets the server parse each value with the target column's own input function, so an Arrow utf8 column
 * can fill a uuid, json, enum or numeric column.
 */

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const TWO32 = 4_294_967_296;
const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;

type Cell = (row: number, out: ByteSink) => void;

export class CopyTextEncoder {
  private readonly fields: Field[];

  constructor(fields: readonly Field[]) {
    this.fields = [...fields];
  }

  /** Rows [start, end) of `batch` as COPY text. */
  encode(batch: RecordBatch, start = 0, end = batch.numRows): Buffer {
    const out = new ByteSink((end - start) * 16 * Math.max(1, this.fields.length));
    const cells = this.fields.map((f) => {
      const column = batch.getChild(f.name);
      if (!column) return (_row: number, o: ByteSink) => o.string('\\N');
      return chunkedCell(column.data);
    });
    const last = cells.length - 1;
    for (let row = start; row < end; row++) {
      for (let c = 0; c <= last; c++) {
        cells[c]!(row, out);
        out.ensure(1);
        out.buf[out.pos++] = c === last ? NEWLINE : TAB;
      }
    }
    return Buffer.from(out.buf.buffer, out.buf.byteOffset, out.pos);
  }
}

/** A column may be several Data chunks; rows index across them. */
function chunkedCell(chunks: readonly Data[]): Cell {
  if (chunks.length === 1) return cellFor(chunks[0]!);
  const starts: number[] = [];
  let total = 0;
  const cells = chunks.map((d) => {
    starts.push(total);
    total += d.length;
    return cellFor(d);
  });
  return (row, out) => {
    let k = starts.length - 1;
    while (starts[k]! > row) k--;
    cells[k]!(row - starts[k]!, out);
  };
}

function validity(data: Data): (row: number) => boolean {
  const bitmap = data.nullBitmap;
  if (!bitmap || bitmap.length === 0 || data.nullCount === 0) return () => true;
  const offset = data.offset;
  return (row) => {
    const bit = offset + row;
    return ((bitmap[bit >> 3]! >> (bit & 7)) & 1) === 1;
  };
}

function cellFor(data: Data): Cell {
  const value = valueWriter(data);
  // Most columns of a batch hold no NULL: one call per cell instead of two.
  if (!data.nullBitmap || data.nullBitmap.length === 0 || data.nullCount === 0) return value;
  const valid = validity(data);
  return (row, out) => {
    if (!valid(row)) {
      out.ensure(2);
      out.buf[out.pos++] = BACKSLASH;
      out.buf[out.pos++] = 78; // N
      return;
    }
    value(row, out);
  };
}

function valueWriter(data: Data): Cell {
  const type = data.type;
  switch (data.typeId) {
    case Type.Int: {
      const bitWidth = (type as unknown as { bitWidth: number }).bitWidth;
      const values = data.values as Int32Array;
      if (bitWidth < 64) return (row, out) => out.int(values[row]!);
      const words = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
      const signed = (type as unknown as { isSigned: boolean }).isSigned;
      return (row, out) => {
        const hi = words[2 * row + 1]!;
        const lo = words[2 * row]! >>> 0;
        if (signed && hi >= -0x200000 && hi < 0x200000) out.int(hi * TWO32 + lo);
        else out.string(String((data.values as BigInt64Array | BigUint64Array)[row]));
      };
    }
    case Type.Float: {
      const values = data.values as Float64Array;
      return (row, out) => writeFloat(values[row]!, out);
    }
    case Type.Bool: {
      const bits = data.values as Uint8Array;
      const offset = data.offset;
      return (row, out) => {
        const bit = offset + row;
        out.ensure(1);
        out.buf[out.pos++] = (bits[bit >> 3]! >> (bit & 7)) & 1 ? 116 : 102; // t / f
      };
    }
    case Type.Utf8:
    case Type.LargeUtf8: {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      return (row, out) => escapedRange(bytes, Number(offsets[row]), Number(offsets[row + 1]), out);
    }
    case Type.Binary:
    case Type.LargeBinary: {
      const offsets = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      return (row, out) => out.string(`\\\\x${Buffer.from(bytes.buffer, bytes.byteOffset + Number(offsets[row]), Number(offsets[row + 1]) - Number(offsets[row])).toString('hex')}`);
    }
    case Type.Date: {
      if ((type as unknown as { unit: DateUnit }).unit === 0) {
        const days = data.values as Int32Array;
        return (row, out) => writeDate(days[row]!, out);
      }
      const ms = data.values as BigInt64Array;
      return (row, out) => writeDate(Math.floor(Number(ms[row]!) / 86_400_000), out);
    }
    case Type.Timestamp: {
      const values = data.values as BigInt64Array;
      const words = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
      const unit = (type as Timestamp).unit;
      const zoned = Boolean((type as Timestamp).timezone);
      return (row, out) => {
        const hi = words[2 * row + 1]!;
        if (hi >= -0x200000 && hi < 0x200000) writeTimestamp(hi * TWO32 + (words[2 * row]! >>> 0), unit, zoned, out);
        else writeBigTimestamp(values[row]!, unit, zoned, out);
      };
    }
    case Type.Time: {
      const unit = (type as Time).unit as unknown as TimeUnit;
      const values = data.values as ArrayLike<number | bigint>;
      return (row, out) => writeTime(Number(values[row]!), unit, out);
    }
    case Type.Decimal: {
      const words = data.values as Uint32Array;
      const stride = (type as Decimal).bitWidth / 32;
      const scale = (type as Decimal).scale;
      return (row, out) => out.string(decimalText(words, row * stride, stride, scale));
    }
    case Type.List:
    case Type.FixedSizeList:
      return (row, out) => escapedString(arrayLiteral(jsonValue(data, row)), out);
    default:
      return (row, out) => escapedString(JSON.stringify(jsonValue(data, row)), out);
  }
}

/** Copies UTF-8 bytes, escaping backslash, tab, newline and carriage return as COPY text requires. */
function escapedRange(bytes: Uint8Array, start: number, end: number, out: ByteSink): void {
  let from = start;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b !== BACKSLASH && b !== TAB && b !== NEWLINE && b !== 13) continue;
    out.range(bytes, from, i);
    out.ensure(2);
    out.buf[out.pos++] = BACKSLASH;
    out.buf[out.pos++] = b === BACKSLASH ? BACKSLASH : b === TAB ? 116 : b === NEWLINE ? 110 : 114;
    from = i + 1;
  }
  out.range(bytes, from, end);
}

const encoder = new TextEncoder();
function escapedString(text: string, out: ByteSink): void {
  const bytes = encoder.encode(text);
  escapedRange(bytes, 0, bytes.length, out);
}

/** A PostgreSQL array literal: {1,2,NULL} / {"a b","c\"d"}; nested lists become nested braces. */
export function arrayLiteral(value: unknown): string {
  if (!Array.isArray(value)) return value === null || value === undefined ? 'NULL' : JSON.stringify(value);
  return `{${value
    .map((v) => {
      if (v === null || v === undefined) return 'NULL';
      if (Array.isArray(v)) return arrayLiteral(v);
      const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
      return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    })
    .join(',')}}`;
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
const TWO53 = 9_007_199_254_740_992;

/**
 * A double as decimal text that PostgreSQL reads back as the same double. Values with at most 8 decimals
 * (prices, amounts, measurements) are written as digits without a string per value: `r / 10^k === v`
 * means the decimal r·10^-k rounds to v (IEEE division is correctly rounded), so the text round-trips,
 * and the smallest such k gives the shortest fixed-point text. Others go through `String(v)`, the shortest
 * round-trip text. Negative zero is written `0`, as `String` writes it.
 */
export function writeFloat(v: number, out: ByteSink): void {
  if (v === Math.trunc(v) && v < TWO53 && v > -TWO53) return out.int(v === 0 ? 0 : v);
  if (Number.isNaN(v)) return out.string('NaN');
  if (v === Infinity || v === -Infinity) return out.string(v > 0 ? 'Infinity' : '-Infinity');
  const a = v < 0 ? -v : v;
  for (let k = 1; k <= 8; k++) {
    const p = POW10[k]!;
    const m = a * p;
    if (m >= TWO53) break;
    const r = Math.round(m);
    if (r / p !== a) continue;
    let whole = Math.floor(r / p);
    let fraction = r - whole * p;
    if (fraction < 0) {
      whole--;
      fraction += p;
    } else if (fraction >= p) {
      whole++;
      fraction -= p;
    }
    if (v < 0) out.string('-');
    out.int(whole);
    out.ensure(1);
    out.buf[out.pos++] = 46; // .
    out.fixed(fraction, k);
    return;
  }
  out.string(String(v));
}

/** "YYYY-MM-DD" of recently written days, direct-mapped by day number: a date column repeats its days. */
const DATE_CACHE_SIZE = 1024;
const dateCacheKeys = new Float64Array(DATE_CACHE_SIZE).fill(Number.NaN);
const dateCacheText = new Uint8Array(DATE_CACHE_SIZE * 10);

/** Days since 1970 as YYYY-MM-DD (civil-from-days, no Date object). */
function writeDate(days: number, out: ByteSink): void {
  const slot = days & (DATE_CACHE_SIZE - 1);
  if (dateCacheKeys[slot] === days) return out.range(dateCacheText, slot * 10, slot * 10 + 10);
  const start = out.pos;
  writeDateText(days, out);
  if (out.pos - start === 10) {
    dateCacheText.set(out.buf.subarray(start, out.pos), slot * 10);
    dateCacheKeys[slot] = days;
  }
}

function writeDateText(days: number, out: ByteSink): void {
  if (days === 2_147_483_647) return out.string('infinity');
  if (days === -2_147_483_648) return out.string('-infinity');
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  if (y < 1) {
    // PostgreSQL writes years before 1 AD as N BC (year 0 is 1 BC).
    out.fixed(1 - y, 4);
    out.string('-');
    out.fixed(m, 2);
    out.string('-');
    out.fixed(d, 2);
    out.string(' BC');
    return;
  }
  if (y > 9999) out.int(y);
  else out.fixed(y, 4);
  out.ensure(6);
  out.buf[out.pos++] = 45;
  out.fixed(m, 2);
  out.buf[out.pos++] = 45;
  out.fixed(d, 2);
}

const PER_SECOND: Record<TimeUnit, number> = { [TimeUnit.SECOND]: 1, [TimeUnit.MILLISECOND]: 1e3, [TimeUnit.MICROSECOND]: 1e6, [TimeUnit.NANOSECOND]: 1e9 };
const DIGITS: Record<TimeUnit, number> = { [TimeUnit.SECOND]: 0, [TimeUnit.MILLISECOND]: 3, [TimeUnit.MICROSECOND]: 6, [TimeUnit.NANOSECOND]: 9 };

function writeTimestamp(value: number, unit: TimeUnit, zoned: boolean, out: ByteSink): void {
  const per = PER_SECOND[unit];
  const seconds = Math.floor(value / per);
  const fraction = value - seconds * per;
  const days = Math.floor(seconds / 86_400);
  const inDay = seconds - days * 86_400;
  writeDate(days, out);
  out.string(' ');
  writeClock(inDay, fraction, DIGITS[unit], out);
  if (zoned) out.string('+00');
}

function writeBigTimestamp(value: bigint, unit: TimeUnit, zoned: boolean, out: ByteSink): void {
  if (value === INT64_MAX) return out.string('infinity');
  if (value === INT64_MIN) return out.string('-infinity');
  const per = BigInt(PER_SECOND[unit]);
  let seconds = value / per;
  let fraction = value - seconds * per;
  if (fraction < 0n) {
    seconds -= 1n;
    fraction += per;
  }
  const s = Number(seconds);
  const days = Math.floor(s / 86_400);
  writeDate(days, out);
  out.string(' ');
  writeClock(s - days * 86_400, Number(fraction), DIGITS[unit], out);
  if (zoned) out.string('+00');
}

function writeTime(value: number, unit: TimeUnit, out: ByteSink): void {
  const per = PER_SECOND[unit];
  const seconds = Math.floor(value / per);
  writeClock(seconds, value - seconds * per, DIGITS[unit], out);
}

function writeClock(secondsOfDay: number, fraction: number, digits: number, out: ByteSink): void {
  out.fixed(Math.floor(secondsOfDay / 3600), 2);
  out.string(':');
  out.fixed(Math.floor((secondsOfDay % 3600) / 60), 2);
  out.string(':');
  out.fixed(secondsOfDay % 60, 2);
  if (digits > 0 && fraction > 0) {
    out.string('.');
    out.fixed(fraction, digits);
  }
}
