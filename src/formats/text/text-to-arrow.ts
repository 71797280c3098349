import { Buffer } from 'node:buffer';
import {
  type Data,
  type DataType,
  type Date_,
  DateUnit,
  type Decimal,
  type Field,
  type FixedSizeBinary,
  type FixedSizeList,
  type Float,
  type Int,
  makeBuilder,
  makeData,
  type Map_,
  type Struct,
  type Time,
  type Timestamp,
  TimeUnit,
  Type,
} from 'apache-arrow';
import {
  fieldText,
  LITTLE_ENDIAN,
  parseBoolBytes,
  parseDateBytes,
  parseFloatBytes,
  parseIntBytes,
  parseTimestampBytes,
  setInt64,
} from './field-bytes.js';
import { parseDate, parseTime, parseTimestamp, unitDigits } from './temporal.js';

/**
 * Column builders that turn text-format values into Arrow columns: JSON values from JSON Lines, field
 * strings from CSV. They accept what the encoders write (see arrow-to-text.ts) plus the obvious
 * variants: numeric strings for numbers, integers (in the column's unit) for timestamps, `[key, value]`
 * pairs for maps.
 */

/** A value does not fit its column; the decoder adds the file, line and column to the message. */
export class ValueError extends Error {}

export interface ColumnBuilder {
  readonly length: number;
  /** A value from a JSON document; undefined (a missing key) and null are null. */
  appendJson(value: unknown): void;
  /** A CSV field; null is an empty unquoted field. */
  appendText(text: string | null): void;
  /**
   * A CSV field as UTF-8 bytes `bytes[start, end)` (already validated): `quoted` is 0 for a plain field
   * (empty means null), 1 for a quoted one, 2 for a quoted one holding doubled quotes (`""`). The common
   * types parse the bytes without making a string; anything unusual goes through `appendText`, so both
   * paths accept and refuse the same values.
   */
  appendField(bytes: Uint8Array, start: number, end: number, quoted: number): void;
  /**
   * `count` CSV fields of one column: field r is at index `column + r * stride` of `starts`, `ends` and
   * `quoted` (a matrix of records). On a bad value it throws, and `length` tells how many went in before it.
   */
  appendColumn(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, quoted: Uint8Array, stride: number, column: number, count: number): void;
  /** The column built so far; the builder starts again empty. */
  finish(): Data;
}

type MakeDataProps = Parameters<typeof makeData>[0];

function build(props: Record<string, unknown>): Data {
  return makeData(props as unknown as MakeDataProps) as Data;
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A bitmap that grows as bits are appended (Bool values). */
class Bits {
  private bits = new Uint8Array(64);
  length = 0;
  nulls = 0;

  push(valid: boolean): void {
    const i = this.length++;
    if (i >> 3 >= this.bits.length) {
      const next = new Uint8Array(this.bits.length * 2);
      next.set(this.bits);
      this.bits = next;
    }
    if (valid) this.bits[i >> 3]! |= 1 << (i & 7);
    else this.nulls++;
  }

  finish(): { nullBitmap: Uint8Array | undefined; nullCount: number; length: number } {
    const out = {
      nullBitmap: this.nulls > 0 ? this.bits.slice(0, (this.length + 7) >> 3) : undefined,
      nullCount: this.nulls,
      length: this.length,
    };
    this.bits = new Uint8Array(64);
    this.length = 0;
    this.nulls = 0;
    return out;
  }
}

/**
 * A validity bitmap kept as the positions of the nulls, so that appending a valid value is a counter
 * increment; the bitmap is built at `finish`, and only when there are nulls.
 */
class Validity {
  private nullAt = new Int32Array(64);
  length = 0;
  nulls = 0;

  push(valid: boolean): void {
    if (valid) this.length++;
    else this.pushNull();
  }

  pushValid(): void {
    this.length++;
  }

  private pushNull(): void {
    if (this.nulls === this.nullAt.length) {
      const next = new Int32Array(this.nullAt.length * 2);
      next.set(this.nullAt);
      this.nullAt = next;
    }
    this.nullAt[this.nulls++] = this.length++;
  }

  finish(): { nullBitmap: Uint8Array | undefined; nullCount: number; length: number } {
    let nullBitmap: Uint8Array | undefined;
    if (this.nulls > 0) {
      nullBitmap = new Uint8Array((this.length + 7) >> 3).fill(0xff);
      for (let k = 0; k < this.nulls; k++) {
        const i = this.nullAt[k]!;
        nullBitmap[i >> 3]! &= ~(1 << (i & 7));
      }
    }
    const out = { nullBitmap, nullCount: this.nulls, length: this.length };
    if (this.nullAt.length > 64) this.nullAt = new Int32Array(64);
    this.length = 0;
    this.nulls = 0;
    return out;
  }
}

type NumericArray = Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array;
type NumericCtor = new (length: number) => NumericArray;
type BigArray = BigInt64Array | BigUint64Array;
type BigCtor = new (length: number) => BigArray;

/**
 * The first `length` values of a builder's array for a finished column: the array itself when it is
 * exactly full (no copy), else a copy of that part.
 */
function settle<T extends NumericArray | BigArray>(array: T, length: number): T {
  return (length === array.length ? array : array.slice(0, length)) as T;
}

/** A new batch's arrays start as large as the last batch was, so a steady stream of batches never grows or copies them. */
function nextCapacity(lastLength: number): number {
  return Math.max(1024, lastLength);
}

/** A copy of `array` with room for `needed` values (callers check first, so that the hot path allocates nothing). */
function grow<T extends NumericArray | BigArray>(array: T, needed: number, ctor: new (length: number) => NumericArray | BigArray): T {
  const next = new ctor(Math.max(needed, array.length * 2)) as T;
  (next as unknown as { set(a: T): void }).set(array);
  return next;
}

/** The shared null handling: nulls go to `validity`, values to `push`. */
abstract class Base implements ColumnBuilder {
  protected readonly validity = new Validity();

  constructor(protected readonly field: Field) {}

  get length(): number {
    return this.validity.length;
  }

  appendJson(value: unknown): void {
    if (value === null || value === undefined) return this.appendNull();
    this.pushJson(value);
    this.validity.push(true);
  }

  appendText(text: string | null): void {
    if (text === null) return this.appendNull();
    this.pushText(text);
    this.validity.push(true);
  }

  appendField(bytes: Uint8Array, start: number, end: number, quoted: number): void {
    if (quoted === 0 && start === end) return this.appendNull();
    this.appendText(fieldText(bytes, start, end, quoted));
  }

  // The builders with a fast appendField repeat this loop word for word: V8 keeps type feedback per
  // function, so a copy per class lets it inline that class's appendField, where one shared loop would
  // see every class and call through a megamorphic site.
  appendColumn(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, quoted: Uint8Array, stride: number, column: number, count: number): void {
    for (let r = 0, i = column; r < count; r++, i += stride) this.appendField(bytes, starts[i]!, ends[i]!, quoted[i]!);
  }

  protected appendNull(): void {
    if (!this.field.nullable) throw new ValueError(`a null for column "${this.field.name}", which is not nullable`);
    this.pushNull();
    this.validity.push(false);
  }

  protected abstract pushJson(value: unknown): void;
  protected pushText(text: string): void {
    this.pushJson(text);
  }
  protected abstract pushNull(): void;
  abstract finish(): Data;
}

const INT_TEXT = /^[+-]?\d+$/;
const FLOAT_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function intRange(bitWidth: number, signed: boolean): [number, number] {
  return signed ? [-(2 ** (bitWidth - 1)), 2 ** (bitWidth - 1) - 1] : [0, 2 ** bitWidth - 1];
}

class IntBuilder extends Base {
  private values: NumericArray;
  private readonly ctor: NumericCtor;
  private readonly min: number;
  private readonly max: number;

  constructor(field: Field, private readonly type: Int) {
    super(field);
    this.ctor = type.ArrayType as unknown as NumericCtor;
    this.values = new this.ctor(1024);
    [this.min, this.max] = intRange(type.bitWidth, type.isSigned);
  }

  protected pushJson(value: unknown): void {
    let n: number;
    if (typeof value === 'number') n = value;
    else if (typeof value === 'string' && INT_TEXT.test(value.trim())) n = Number(value);
    else throw new ValueError(`expected an integer for ${String(this.type)}, got ${describe(value)}`);
    if (!Number.isInteger(n) || n < this.min || n > this.max) {
      throw new ValueError(`${describe(value)} is not an integer in the range of ${String(this.type)} (${this.min}..${this.max})`);
    }
    this.push(n);
  }

  protected override pushText(text: string): void {
    if (!INT_TEXT.test(text)) throw new ValueError(`expected an integer for ${String(this.type)}, got ${describe(text)}`);
    this.pushJson(Number(text));
  }

  protected pushNull(): void {
    this.push(0);
  }

  override appendField(bytes: Uint8Array, start: number, end: number, quoted: number): void {
    if (quoted === 0 && start < end) {
      const n = parseIntBytes(bytes, start, end);
      // NaN fails both comparisons.
      if (n >= this.min && n <= this.max) {
        this.push(n);
        this.validity.pushValid();
        return;
      }
    }
    super.appendField(bytes, start, end, quoted);
  }

  override appendColumn(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, quoted: Uint8Array, stride: number, column: number, count: number): void {
    for (let r = 0, i = column; r < count; r++, i += stride) this.appendField(bytes, starts[i]!, ends[i]!, quoted[i]!);
  }

  private push(n: number): void {
    const i = this.length;
    if (i >= this.values.length) this.values = grow(this.values, i + 1, this.ctor);
    this.values[i] = n;
  }

  finish(): Data {
    const validity = this.validity.finish();
    const values = settle(this.values, validity.length);
    this.values = new this.ctor(nextCapacity(validity.length));
    return build({ type: this.type, ...validity, data: values });
  }
}

/** Int64, UInt64, Duration, Timestamp, Time64, Date64: 64-bit values from parsed text. */
class BigBuilder extends Base {
  private values: BigArray;
  /** The same memory as 32-bit words, so that safe integers are stored without making a bigint. */
  private words: Int32Array;
  private readonly ctor: BigCtor;

  /**
   * @param fast parses a CSV field's bytes to a safe integer in the column's unit, NaN for any other form
   *   (which then goes through `parse`).
   */
  constructor(
    field: Field,
    private readonly type: DataType,
    private readonly parse: (value: unknown) => bigint,
    private readonly fast?: (bytes: Uint8Array, start: number, end: number) => number,
  ) {
    super(field);
    this.ctor = (type.ArrayType as unknown as BigCtor) ?? BigInt64Array;
    this.values = new this.ctor(1024);
    this.words = new Int32Array(this.values.buffer);
  }

  private ensure(needed: number): void {
    if (needed <= this.values.length) return;
    this.values = grow(this.values, needed, this.ctor);
    this.words = new Int32Array(this.values.buffer);
  }

  protected pushJson(value: unknown): void {
    const v = this.parse(value);
    const i = this.length;
    this.ensure(i + 1);
    this.values[i] = v;
  }

  override appendField(bytes: Uint8Array, start: number, end: number, quoted: number): void {
    if (quoted === 0 && start < end && this.fast !== undefined && LITTLE_ENDIAN) {
      const n = this.fast(bytes, start, end);
      if (n === n) {
        const i = this.length;
        this.ensure(i + 1);
        setInt64(this.words, i, n);
        this.validity.pushValid();
        return;
      }
    }
    super.appendField(bytes, start, end, quoted);
  }

  override appendColumn(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, quoted: Uint8Array, stride: number, column: number, count: number): void {
    for (let r = 0, i = column; r < count; r++, i += stride) this.appendField(bytes, starts[i]!, ends[i]!, quoted[i]!);
  }

  protected pushNull(): void {
    this.ensure(this.length + 1);
    this.values[this.length] = 0n;
  }

  finish(): Data {
    const validity = this.validity.finish();
    const values = settle(this.values, validity.length);
    this.values = new this.ctor(nextCapacity(validity.length));
    this.words = new Int32Array(this.values.buffer);
    return build({ type: this.type, ...validity, data: values });
  }
}

function bigintParser(type: DataType, signed: boolean): (value: unknown) => bigint {
  const min = signed ? -(2n ** 63n) : 0n;
  const max = signed ? 2n ** 63n - 1n : 2n ** 64n - 1n;
  return (value) => {
    let v: bigint;
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value)) {
        throw new ValueError(`${describe(value)} is not a safe integer for ${String(type)}; write large integers as JSON strings so that no digit is lost`);
      }
      v = BigInt(value);
    } else if (typeof value === 'bigint') v = value;
    else if (typeof value === 'string' && INT_TEXT.test(value)) v = BigInt(value);
    else throw new ValueError(`expected an integer for ${String(type)}, got ${describe(value)}`);
    if (v < min || v > max) throw new ValueError(`${describe(value)} is out of range for ${String(type)}`);
    return v;
  };
}

class FloatBuilder extends Base {
  private values: Float32Array | Float64Array;
  private readonly ctor: new (n: number) => Float32Array | Float64Array;

  constructor(field: Field, private readonly type: Float) {
    super(field);
    if (type.precision === 0) throw new ValueError(`${String(type)} (half float) columns cannot be read from text; declare the column as float32`);
    this.ctor = type.precision === 1 ? Float32Array : Float64Array;
    this.values = new this.ctor(1024);
  }

  protected pushJson(value: unknown): void {
    let n: number;
    if (typeof value === 'number') n = value;
    else if (typeof value === 'string') n = parseFloatText(value, this.type);
    else throw new ValueError(`expected a number for ${String(this.type)}, got ${describe(value)}`);
    this.push(n);
  }

  protected pushNull(): void {
    this.push(0);
  }

  override appendField(bytes: Uint8Array, start: number, end: number, quoted: number): void {
    if (quoted === 0 && start < end) {
      const n = parseFloatBytes(bytes, start, end);
      if (n === n) {
        this.push(n);
        this.validity.pushValid();
        return;
      }
    }
    super.appendField(bytes, start, end, quoted);
  }

  override appendColumn(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, quoted: Uint8Array, stride: number, column: number, count: number): void {
    for (let r = 0, i = column; r < count; r++, i += stride) this.appendField(bytes, starts[i]!, ends[i]!, quoted[i]!);
  }

  private push(n: number): void {
    const i = this.length;
    if (i >= this.values.length) this.values = grow(this.values, i + 1, this.ctor);
    this.values[i] = n;
  }

  finish(): Data {
    const validity = this.validity.finish();
    const values = settle(this.values, validity.length);
    this.values = new this.ctor(nextCapacity(validity.length));
    return build({ type: this.type, ...validity, data: values });
  }
}

function parseFloatText(text: string, type: DataType): number {
  if (FLOAT_TEXT.test(text)) return Number(text);
  switch (text) {
    case 'NaN':
      return Number.NaN;
    case 'Infinity':
    case '+Infinity':
      return Number.POSITIVE_INFINITY;
    case '-Infinity':
      return Number.NEGATIVE_INFINITY;
  }
  throw new ValueError(`expected a number for ${String(type)}, got ${describe(text)}`);
}

class BoolBuilder extends Base {
  private values = new Bits();

  protected pushJson(value: unknown): void {
    if (typeof value === 'boolean') return this.values.push(value);
    if (typeof value === 'string') return this.pushText(value);
    throw new ValueError(`expected true or false, got ${describe(value)}`);
  }

  protected override pushText(text: string): void {
    const lower = text.toLowerCase();
    if (lower === 'true' || lower === '1') this.values.push(true);
    else if (lower === 'false' || lower === '0') this.values.push(false);
    else throw new ValueError(`expected true or false, got ${describe(text)}`);
  }

  protected pushNull(): void {
    this.values.push(false);
  }

  override appendField(bytes: Uint8Array, start: number, end: number, quoted: number): void {
    if (quoted === 0) {
      const b = parseBoolBytes(bytes, start, end);
      if (b >= 0) {
        this.values.push(b === 1);
        this.validity.pushValid();
        return;
      }
    }
    super.appendField(bytes, start, end, quoted);
  }

  override appendColumn(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, quoted: Uint8Array, stride: number, column: number, count: number): void {
    for (let r = 0, i = column; r < count; r++, i += stride) this.appendField(bytes, starts[i]!, ends[i]!, quoted[i]!);
  }

  finish(): Data {
    const validity = this.validity.finish();
    const bits = this.values.finish();
    return build({
      type: this.field.type,
      ...validity,
      data: bits.nullBitmap ?? new Uint8Array((validity.length + 7) >> 3).fill(0xff),
    });
  }
}

/** Utf8, LargeUtf8, Binary, LargeBinary: variable-width bytes with offsets. */
class BytesBuilder extends Base {
  private bytes = new Uint8Array(4096);
  private used = 0;
  /** `offsets[0..count]`; offsets[0] is 0. */
  private offsets = new Int32Array(1025);
  private count = 0;
  private static readonly encoder = new TextEncoder();

  constructor(
    field: Field,
    private readonly type: DataType,
    private readonly binary: boolean,
  ) {
    super(field);
  }

  protected pushJson(value: unknown): void {
    if (this.binary) {
      if (typeof value !== 'string') throw new ValueError(`expected base64 text for ${String(this.type)}, got ${describe(value)}`);
      this.pushBytes(decodeBase64(value));
      return;
    }
    // Text columns take any scalar as its text, and nested values as JSON, so that an inferred utf8 column loses nothing.
    const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
    this.pushString(text);
  }

  private pushString(text: string): void {
    const need = this.used + text.length * 3;
    if (need > this.bytes.length) this.resize(need);
    const { written } = BytesBuilder.encoder.encodeInto(text, this.bytes.subarray(this.used));
    this.used += written;
    this.pushOffset();
  }

  private pushBytes(bytes: Uint8Array): void {
    if (this.used + bytes.length > this.bytes.length) this.resize(this.used + bytes.length);
    this.bytes.set(bytes, this.used);
    this.used += bytes.length;
    this.pushOffset();
  }

  private pushOffset(): void {
    const i = ++this.count;
    if (i >= this.offsets.length) {
      const next = new Int32Array(this.offsets.length * 2);
      next.set(this.offsets);
      this.offsets = next;
    }
    this.offsets[i] = this.used;
  }

  override appendField(bytes: Uint8Array, start: number, end: number, quoted: number): void {
    if (this.binary || (quoted === 0 && start === end)) return super.appendField(bytes, start, end, quoted);
    const length = end - start;
    if (this.used + length > this.bytes.length) this.resize(this.used + length);
    const out = this.bytes;
    let at = this.used;
    if (quoted === 2) {
      // Undo doubled quotes while copying.
      for (let i = start; i < end; i++) {
        const c = bytes[i]!;
        out[at++] = c;
        if (c === 34) i++;
      }
    } else if (length < 32) {
      for (let i = start; i < end; i++) out[at++] = bytes[i]!;
    } else {
      out.set(bytes.subarray(start, end), at);
      at += length;
    }
    if (at > 2 ** 31 - 1 && this.type.typeId !== Type.LargeUtf8) throw new ValueError(`more than 2 GiB of text in one batch of column "${this.field.name}"; read with a smaller batch size`);
    this.used = at;
    this.pushOffset();
    this.validity.pushValid();
  }

  override appendColumn(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, quoted: Uint8Array, stride: number, column: number, count: number): void {
    for (let r = 0, i = column; r < count; r++, i += stride) this.appendField(bytes, starts[i]!, ends[i]!, quoted[i]!);
  }

  private resize(need: number): void {
    const next = new Uint8Array(Math.max(need, this.bytes.length * 2));
    next.set(this.bytes.subarray(0, this.used));
    this.bytes = next;
  }

  protected pushNull(): void {
    this.pushOffset();
  }

  finish(): Data {
    const validity = this.validity.finish();
    const large = this.type.typeId === Type.LargeUtf8 || this.type.typeId === Type.LargeBinary;
    const offsets = settle(this.offsets, this.count + 1);
    const valueOffsets = large ? BigInt64Array.from(offsets, (o) => BigInt(o)) : offsets;
    // Text sizes vary: the next batch gets an eighth more room than this one used, and a buffer at least
    // three quarters full is handed out as it is rather than copied.
    const data = this.used >= this.bytes.length * 0.75 ? this.bytes.subarray(0, this.used) : this.bytes.slice(0, this.used);
    this.bytes = new Uint8Array(Math.max(4096, this.used + (this.used >> 3)));
    this.used = 0;
    this.offsets = new Int32Array(nextCapacity(this.count) + 1);
    this.count = 0;
    return build({ type: this.type, ...validity, valueOffsets, data });
  }
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeBase64(text: string): Uint8Array {
  if (!BASE64.test(text)) throw new ValueError(`expected base64 text, got ${describe(text)}`);
  return Buffer.from(text, 'base64');
}

class FixedBinaryBuilder extends Base {
  private bytes: number[] = [];

  constructor(field: Field, private readonly type: FixedSizeBinary) {
    super(field);
  }

  protected pushJson(value: unknown): void {
    if (typeof value !== 'string') throw new ValueError(`expected base64 text for ${String(this.type)}, got ${describe(value)}`);
    const bytes = decodeBase64(value);
    if (bytes.length !== this.type.byteWidth) {
      throw new ValueError(`expected ${this.type.byteWidth} bytes for ${String(this.type)}, got ${bytes.length}`);
    }
    for (const b of bytes) this.bytes.push(b);
  }

  protected pushNull(): void {
    for (let i = 0; i < this.type.byteWidth; i++) this.bytes.push(0);
  }

  finish(): Data {
    const validity = this.validity.finish();
    const data = Uint8Array.from(this.bytes);
    this.bytes = [];
    return build({ type: this.type, ...validity, data });
  }
}

class DecimalBuilder extends Base {
  private words: number[] = [];
  private readonly stride: number;

  constructor(field: Field, private readonly type: Decimal) {
    super(field);
    this.stride = type.bitWidth / 32;
  }

  protected pushJson(value: unknown): void {
    const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : undefined;
    const m = text === undefined ? null : /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new ValueError(`expected a decimal number for ${String(this.type)}, got ${describe(value)}`);
    let digits = (m[2] ?? '') + (m[3] ?? '');
    let scale = (m[3] ?? '').length - Number(m[4] ?? 0);
    // Bring the value to the column's scale; trailing zeros may go, other digits may not.
    while (scale > this.type.scale) {
      if (!digits.endsWith('0')) throw new ValueError(`${describe(value)} has more decimal places than ${String(this.type)} allows (${this.type.scale})`);
      digits = digits.slice(0, -1);
      scale--;
    }
    let v = BigInt(digits || '0') * 10n ** BigInt(this.type.scale - scale);
    if (v >= 10n ** BigInt(this.type.precision)) throw new ValueError(`${describe(value)} has more digits than ${String(this.type)} allows`);
    if (m[1] === '-') v = -v;
    const bits = BigInt(this.stride * 32);
    let u = v < 0n ? (1n << bits) + v : v;
    for (let w = 0; w < this.stride; w++) {
      this.words.push(Number(u & 0xffffffffn));
      u >>= 32n;
    }
  }

  protected pushNull(): void {
    for (let w = 0; w < this.stride; w++) this.words.push(0);
  }

  finish(): Data {
    const validity = this.validity.finish();
    const data = Uint32Array.from(this.words);
    this.words = [];
    return build({ type: this.type, ...validity, data });
  }
}

class DateDayBuilder extends Base {
  private days = new Int32Array(1024);

  protected pushJson(value: unknown): void {
    const days = typeof value === 'string' ? parseDate(value) ?? dateOfTimestamp(value) : undefined;
    if (days === undefined) throw new ValueError(`expected a date (YYYY-MM-DD), got ${describe(value)}`);
    this.push(days);
  }

  override appendField(bytes: Uint8Array, start: number, end: number, quoted: number): void {
    if (quoted === 0 && end - start === 10) {
      const days = parseDateBytes(bytes, start);
      if (days === days) {
        this.push(days);
        this.validity.pushValid();
        return;
      }
    }
    super.appendField(bytes, start, end, quoted);
  }

  override appendColumn(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, quoted: Uint8Array, stride: number, column: number, count: number): void {
    for (let r = 0, i = column; r < count; r++, i += stride) this.appendField(bytes, starts[i]!, ends[i]!, quoted[i]!);
  }

  private push(days: number): void {
    const i = this.length;
    if (i >= this.days.length) this.days = grow(this.days, i + 1, Int32Array);
    this.days[i] = days;
  }

  protected pushNull(): void {
    this.push(0);
  }

  finish(): Data {
    const validity = this.validity.finish();
    const data = settle(this.days, validity.length);
    this.days = new Int32Array(nextCapacity(validity.length));
    return build({ type: this.field.type, ...validity, data });
  }
}

function dateOfTimestamp(text: string): number | undefined {
  const ms = parseTimestamp(text, TimeUnit.MILLISECOND);
  return ms === undefined ? undefined : Math.floor(Number(ms) / 86_400_000);
}

class ListBuilder extends Base {
  private offsets: number[] = [0];
  private readonly child: ColumnBuilder;

  constructor(field: Field, private readonly type: DataType) {
    super(field);
    this.child = makeColumnBuilder(type.children[0]!);
  }

  protected pushJson(value: unknown): void {
    const items = typeof value === 'string' ? parseJsonText(value) : value;
    if (!Array.isArray(items)) throw new ValueError(`expected a JSON array for ${String(this.type)}, got ${describe(value)}`);
    if (this.type.typeId === Type.FixedSizeList && items.length !== (this.type as FixedSizeList).listSize) {
      throw new ValueError(`expected ${(this.type as FixedSizeList).listSize} items for ${String(this.type)}, got ${items.length}`);
    }
    for (const item of items) this.child.appendJson(item);
    this.offsets.push(this.child.length);
  }

  protected pushNull(): void {
    if (this.type.typeId === Type.FixedSizeList) {
      for (let i = 0; i < (this.type as FixedSizeList).listSize; i++) this.child.appendJson(nullFiller(this.type.children[0]!));
    }
    this.offsets.push(this.child.length);
  }

  finish(): Data {
    const validity = this.validity.finish();
    const child = this.child.finish();
    const large = this.type.typeId === Type.LargeList;
    const valueOffsets = large ? BigInt64Array.from(this.offsets, (o) => BigInt(o)) : Int32Array.from(this.offsets);
    this.offsets = [0];
    if (this.type.typeId === Type.FixedSizeList) return build({ type: this.type, ...validity, child });
    return build({ type: this.type, ...validity, valueOffsets, child });
  }
}

/** What a null list slot holds in a fixed-size list's child: a null when the child may be null. */
function nullFiller(field: Field): unknown {
  return field.nullable ? null : undefined;
}

class StructBuilder extends Base {
  private readonly children: ColumnBuilder[];

  constructor(field: Field, private readonly type: Struct) {
    super(field);
    this.children = type.children.map((f) => makeColumnBuilder(nullableCopy(f)));
  }

  protected pushJson(value: unknown): void {
    const object = typeof value === 'string' ? parseJsonText(value) : value;
    if (object === null || typeof object !== 'object' || Array.isArray(object)) {
      throw new ValueError(`expected a JSON object for ${String(this.type)}, got ${describe(value)}`);
    }
    this.type.children.forEach((f, k) => {
      try {
        this.children[k]!.appendJson((object as Record<string, unknown>)[f.name]);
      } catch (error) {
        throw nested(error, f.name);
      }
    });
  }

  protected pushNull(): void {
    for (const child of this.children) child.appendJson(null);
  }

  finish(): Data {
    const validity = this.validity.finish();
    const children = this.children.map((c) => c.finish());
    return build({ type: this.type, ...validity, children });
  }
}

/**
 * Children of a struct slot that is itself null still need a value; arrow-js wants them nullable then.
 * A non-nullable child field is checked for present values by the struct's JSON object instead.
 */
function nullableCopy(field: Field): Field {
  return field.nullable ? field : field.clone({ nullable: true });
}

function nested(error: unknown, name: string): unknown {
  return error instanceof ValueError ? new ValueError(`field "${name}": ${error.message}`) : error;
}

class MapBuilder extends Base {
  private offsets: number[] = [0];
  private readonly keys: ColumnBuilder;
  private readonly values: ColumnBuilder;
  private count = 0;

  constructor(field: Field, private readonly type: Map_) {
    super(field);
    const entries = type.children[0]!.type as Struct;
    this.keys = makeColumnBuilder(entries.children[0]!);
    this.values = makeColumnBuilder(entries.children[1]!);
  }

  protected pushJson(value: unknown): void {
    const parsed = typeof value === 'string' ? parseJsonText(value) : value;
    if (Array.isArray(parsed)) {
      for (const entry of parsed) {
        const [k, v] = Array.isArray(entry) ? entry : [(entry as { key?: unknown })?.key, (entry as { value?: unknown })?.value];
        this.keys.appendJson(k);
        this.values.appendJson(v);
        this.count++;
      }
    } else if (parsed !== null && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed)) {
        this.keys.appendText(k);
        this.values.appendJson(v);
        this.count++;
      }
    } else {
      throw new ValueError(`expected a JSON object for ${String(this.type)}, got ${describe(value)}`);
    }
    this.offsets.push(this.count);
  }

  protected pushNull(): void {
    this.offsets.push(this.count);
  }

  finish(): Data {
    const validity = this.validity.finish();
    const entriesType = this.type.children[0]!.type as Struct;
    const keys = this.keys.finish();
    const values = this.values.finish();
    const child = build({ type: entriesType, length: this.count, nullCount: 0, children: [keys, values] });
    const valueOffsets = Int32Array.from(this.offsets);
    this.offsets = [0];
    this.count = 0;
    return build({ type: this.type, ...validity, valueOffsets, child });
  }
}

/** Dictionary and any other type arrow-js can build from JS values. */
class ArrowJsBuilder extends Base {
  private builder;
  private readonly inner: ColumnBuilder | undefined;

  constructor(field: Field, private readonly type: DataType) {
    super(field);
    this.builder = makeBuilder({ type, nullValues: [null, undefined] });
    const valueType = (type as { dictionary?: DataType }).dictionary;
    // Dictionary values are parsed as their value type first, so that "42" becomes 42 for an int dictionary.
    this.inner = valueType ? makeColumnBuilder(field.clone({ type: valueType, nullable: true })) : undefined;
  }

  protected pushJson(value: unknown): void {
    this.builder.append(this.convert(value, false));
  }

  protected override pushText(text: string): void {
    this.builder.append(this.convert(text, true));
  }

  private convert(value: unknown, text: boolean): unknown {
    if (!this.inner) return value;
    if (text) this.inner.appendText(value as string);
    else this.inner.appendJson(value);
    const data = this.inner.finish();
    return jsValue(data);
  }

  protected pushNull(): void {
    this.builder.append(null);
  }

  finish(): Data {
    this.validity.finish();
    const data = this.builder.flush() as Data;
    this.builder = makeBuilder({ type: this.type, nullValues: [null, undefined] });
    return data;
  }
}

function jsValue(data: Data): unknown {
  // One-row column back to a JS value arrow-js builders understand.
  const values = data.values as ArrayLike<unknown> | undefined;
  if (data.typeId === Type.Utf8) return new TextDecoder().decode(data.values as Uint8Array);
  return values?.[0];
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValueError(`expected JSON text, got ${describe(text)}`);
  }
}

/** A builder for `field`; throws FORMAT-level ValueError for types that text formats cannot hold. */
export function makeColumnBuilder(field: Field): ColumnBuilder {
  const type = field.type as DataType;
  switch (type.typeId) {
    case Type.Null:
      return new NullBuilder(field);
    case Type.Int: {
      const int = type as Int;
      if (int.bitWidth === 64) return new BigBuilder(field, type, bigintParser(type, int.isSigned), int.isSigned ? parseIntBytes : undefined);
      return new IntBuilder(field, int);
    }
    case Type.Float:
      return new FloatBuilder(field, type as Float);
    case Type.Bool:
      return new BoolBuilder(field);
    case Type.Utf8:
    case Type.LargeUtf8:
      return new BytesBuilder(field, type, false);
    case Type.Binary:
    case Type.LargeBinary:
      return new BytesBuilder(field, type, true);
    case Type.FixedSizeBinary:
      return new FixedBinaryBuilder(field, type as FixedSizeBinary);
    case Type.Decimal:
      return new DecimalBuilder(field, type as Decimal);
    case Type.Date:
      if ((type as Date_).unit === DateUnit.DAY) return new DateDayBuilder(field);
      return new BigBuilder(field, type, (value) => {
        const days = typeof value === 'string' ? parseDate(value) ?? dateOfTimestamp(value) : undefined;
        if (days === undefined) throw new ValueError(`expected a date (YYYY-MM-DD), got ${describe(value)}`);
        return BigInt(days) * 86_400_000n;
      });
    case Type.Timestamp: {
      const unit = (type as Timestamp).unit;
      const asInteger = bigintParser(type, true);
      const digits = unitDigits(unit);
      const perSecond = 10 ** digits;
      return new BigBuilder(
        field,
        type,
        (value) => {
          if (typeof value === 'string') {
            const v = parseTimestamp(value.trim(), unit);
            if (v !== undefined) return v;
            if (!INT_TEXT.test(value)) throw new ValueError(`expected an ISO 8601 timestamp for ${String(type)}, got ${describe(value)}`);
          }
          return asInteger(value);
        },
        (bytes, start, end) => parseTimestampBytes(bytes, start, end, digits, perSecond),
      );
    }
    case Type.Time: {
      const time = type as Time;
      const unit = time.unit as unknown as TimeUnit;
      const parse = (value: unknown): bigint => {
        const v = typeof value === 'string' ? parseTime(value, unit) : typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : undefined;
        if (v === undefined) throw new ValueError(`expected a time of day (HH:MM:SS) for ${String(type)}, got ${describe(value)}`);
        return v;
      };
      if (time.bitWidth === 64) return new BigBuilder(field, type, parse);
      return new IntFromBigBuilder(field, type, parse);
    }
    case Type.Duration:
      return new BigBuilder(field, type, bigintParser(type, true));
    case Type.List:
    case Type.LargeList:
    case Type.FixedSizeList:
      return new ListBuilder(field, type);
    case Type.Struct:
      return new StructBuilder(field, type as Struct);
    case Type.Map:
      return new MapBuilder(field, type as Map_);
    case Type.Dictionary:
      return new ArrowJsBuilder(field, type);
    default:
      throw new ValueError(`column "${field.name}" has type ${String(type)}, which JSON Lines and CSV cannot hold; read it as utf8`);
  }
}

/** A Null column is all nulls by declaration, whatever the file holds for it. */
class NullBuilder extends Base {
  override appendJson(): void {
    this.validity.push(false);
  }
  override appendText(): void {
    this.validity.push(false);
  }
  protected pushJson(): void {}
  protected pushNull(): void {}
  finish(): Data {
    const { length } = this.validity.finish();
    return build({ type: this.field.type, length, nullCount: length });
  }
}

/** Time32: parsed as bigint like Time64, stored as int32. */
class IntFromBigBuilder extends Base {
  private values: number[] = [];

  constructor(
    field: Field,
    private readonly type: DataType,
    private readonly parse: (value: unknown) => bigint,
  ) {
    super(field);
  }

  protected pushJson(value: unknown): void {
    this.values.push(Number(this.parse(value)));
  }

  protected pushNull(): void {
    this.values.push(0);
  }

  finish(): Data {
    const validity = this.validity.finish();
    const data = Int32Array.from(this.values);
    this.values = [];
    return build({ type: this.type, ...validity, data });
  }
}
