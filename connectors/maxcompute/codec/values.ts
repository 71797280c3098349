import { maxComputeError } from '../errors.js';

/**
 * JavaScript values for MaxCompute cells, as the emulator's fixtures and the record writer take them:
 * integers as number or bigint; DECIMAL as text; DATE as days since 1970-01-01 (or `YYYY-MM-DD`);
 * DATETIME as milliseconds since the epoch (or an ISO-like UTC string or a Date); TIMESTAMP as
 * `{ seconds, nanos }`, nanoseconds as bigint, a string or a Date; BINARY as Uint8Array; ARRAY as an array;
 * MAP as a Map, an array of `[key, value]` pairs or a plain object; STRUCT as an object by field name.
 * `null` and `undefined` are NULL.
 */
export type CellValue = unknown;

/** A row: values by column position, or an object by column name. */
export type RowValues = readonly CellValue[] | Readonly<Record<string, CellValue>>;

export interface TimestampValue {
  seconds: number | bigint;
  nanos: number;
}

const MS_PER_DAY = 86_400_000;

function badValue(what: string, value: unknown): Error {
  let shown: string;
  try {
    shown = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return maxComputeError('MAXCOMPUTE_VALUE_OUT_OF_RANGE', `cannot use ${shown.slice(0, 80)} as a MaxCompute ${what} value`);
}

/** Days since the epoch for a DATE value. */
export function toEpochDays(value: CellValue): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return Math.floor(value.getTime() / MS_PER_DAY);
  if (typeof value === 'string') {
    const m = /^(-?\d{1,6})-(\d{2})-(\d{2})$/.exec(value.trim());
    if (m) return Math.floor(utcMillis(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / MS_PER_DAY);
  }
  throw badValue('DATE', value);
}

/** Milliseconds since the epoch for a DATETIME value (UTC). */
export function toEpochMillis(value: CellValue): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    const ms = parseUtc(value);
    if (ms !== undefined) return Math.floor(ms.millis);
  }
  throw badValue('DATETIME', value);
}

/** Seconds and nanoseconds since the epoch for a TIMESTAMP value (UTC). */
export function toSecondsNanos(value: CellValue): [seconds: number, nanos: number] {
  if (typeof value === 'object' && value !== null && 'seconds' in value && 'nanos' in value) {
    const t = value as TimestampValue;
    return [Number(t.seconds), t.nanos];
  }
  if (typeof value === 'bigint') {
    let seconds = value / 1_000_000_000n;
    let nanos = value % 1_000_000_000n;
    if (nanos < 0n) {
      nanos += 1_000_000_000n;
      seconds -= 1n;
    }
    return [Number(seconds), Number(nanos)];
  }
  if (value instanceof Date) {
    const ms = value.getTime();
    const seconds = Math.floor(ms / 1000);
    return [seconds, (ms - seconds * 1000) * 1_000_000];
  }
  if (typeof value === 'string') {
    const parsed = parseUtc(value);
    if (parsed !== undefined) {
      const seconds = Math.floor(parsed.millis / 1000);
      return [seconds, parsed.nanosOfSecond];
    }
  }
  throw badValue('TIMESTAMP', value);
}

/** `YYYY-MM-DD[ T]HH:MM:SS[.fffffffff][Z]`, always read as UTC. */
/** Date.UTC without its quirk of reading years 0..99 as 1900..1999 (MaxCompute dates start at year 1). */
function utcMillis(year: number, month: number, day: number, hours = 0, minutes = 0, seconds = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hours, minutes, seconds, 0);
  return date.getTime();
}

function parseUtc(text: string): { millis: number; nanosOfSecond: number } | undefined {
  const m = /^(-?\d{1,6})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?Z?$/.exec(text.trim());
  if (!m) return undefined;
  const fraction = (m[7] ?? '').padEnd(9, '0');
  const nanosOfSecond = Number(fraction);
  const wholeSeconds = utcMillis(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  return { millis: wholeSeconds + Math.floor(nanosOfSecond / 1_000_000), nanosOfSecond };
}

/** Decimal text for a DECIMAL value. */
export function toDecimalText(value: CellValue): string {
  if (typeof value === 'string' && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value.trim())) return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  throw badValue('DECIMAL', value);
}

const TEN = 10n;

/**
 * The unscaled 128-bit integer of decimal text at `scale` (rounding half away from zero), for the Arrow
 * variant's Decimal128 wire type.
 */
export function decimalToUnscaled(text: string, scale: number): bigint {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m) throw badValue('DECIMAL', text);
  const negative = m[1] === '-';
  let digits = (m[2] ?? '') + (m[3] ?? '');
  const exponent = Number(m[4] ?? 0) - (m[3] ?? '').length + scale;
  if (digits === '') digits = '0';
  let unscaled = BigInt(digits);
  if (exponent >= 0) unscaled *= TEN ** BigInt(exponent);
  else {
    const divisor = TEN ** BigInt(-exponent);
    const remainder = unscaled % divisor;
    unscaled /= divisor;
    if (remainder * 2n >= divisor) unscaled += 1n;
  }
  return negative ? -unscaled : unscaled;
}

/** Canonical decimal text (no trailing fractional zeros) of an unscaled integer at `scale`. */
export function unscaledToDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    let integer = digits.slice(0, digits.length - scale);
    let fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
    if (integer === '') integer = '0';
    digits = fraction ? `${integer}.${fraction}` : integer;
  }
  return negative && digits !== '0' ? `-${digits}` : digits;
}

/** Canonical text of a decimal value: what the Arrow variant yields for the same number. */
export function canonicalDecimal(text: string, scale: number): string {
  return unscaledToDecimal(decimalToUnscaled(text, scale), scale);
}

/** Bytes of a BINARY value. */
export function toBinary(value: CellValue): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  throw badValue('BINARY', value);
}

/** Key/value pairs of a MAP value. */
export function mapEntries(value: CellValue): [CellValue, CellValue][] {
  if (value instanceof Map) return [...value.entries()];
  if (Array.isArray(value)) return value as [CellValue, CellValue][];
  if (typeof value === 'object' && value !== null) return Object.entries(value);
  throw badValue('MAP', value);
}
