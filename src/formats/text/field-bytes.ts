/**
 * Parsers for CSV fields straight from their UTF-8 bytes, for the forms Tideway's encoders (and most
 * tools) write. Each returns NaN when the field is in any other form; the caller then goes through the
 * text parser, which accepts the remaining valid forms and words the error. So a fast path can only
 * ever accept a subset of what the text path accepts, with the same value.
 */

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** The field as a string: quotes already stripped by the scanner, doubled quotes (`quoted` 2) undone. */
export function fieldText(bytes: Uint8Array, start: number, end: number, quoted: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  const text = (ascii ? latin1 : utf8).decode(bytes.subarray(start, end));
  return quoted === 2 ? text.replaceAll('""', '"') : text;
}

/** Optionally signed decimal digits, at most 15 of them (so the value is exact), else NaN. */
export function parseIntBytes(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  const first = bytes[i];
  if (first === 45 || first === 43) {
    negative = first === 45;
    i++;
  }
  const digits = end - i;
  if (digits < 1 || digits > 15) return Number.NaN;
  let n = 0;
  for (; i < end; i++) {
    const d = bytes[i]! - 48;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * `[-+]digits[.digits]` with at most 15 significant digits, else NaN. Exact: the digits form an integer
 * below 2^53 and 10^k (k ≤ 22) is exact, so one IEEE division rounds correctly (Clinger's fast path),
 * giving the same double as `Number(text)`.
 */
export function parseFloatBytes(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  const first = bytes[i];
  if (first === 45 || first === 43) {
    negative = first === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let fraction = -1;
  for (; i < end; i++) {
    const c = bytes[i]!;
    const d = c - 48;
    if (d >= 0 && d <= 9) {
      mantissa = mantissa * 10 + d;
      digits++;
      if (fraction >= 0) fraction++;
    } else if (c === 46 && fraction < 0) {
      fraction = 0;
    } else {
      return Number.NaN;
    }
  }
  if (digits === 0 || digits > 15) return Number.NaN;
  const value = fraction > 0 ? mantissa / POW10[fraction]! : mantissa;
  return negative ? -value : value;
}

/** `true`/`false` in any case, `1`, `0`: 1, 0, or -1 for anything else. */
export function parseBoolBytes(bytes: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n === 1) {
    const c = bytes[start];
    return c === 49 ? 1 : c === 48 ? 0 : -1;
  }
  if (n === 4) {
    return (bytes[start]! | 0x20) === 116 && (bytes[start + 1]! | 0x20) === 114 && (bytes[start + 2]! | 0x20) === 117 && (bytes[start + 3]! | 0x20) === 101 ? 1 : -1;
  }
  if (n === 5) {
    return (bytes[start]! | 0x20) === 102 &&
      (bytes[start + 1]! | 0x20) === 97 &&
      (bytes[start + 2]! | 0x20) === 108 &&
      (bytes[start + 3]! | 0x20) === 115 &&
      (bytes[start + 4]! | 0x20) === 101
      ? 0
      : -1;
  }
  return -1;
}

function digit2(bytes: Uint8Array, at: number): number {
  const a = bytes[at]! - 48;
  const b = bytes[at + 1]! - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** `YYYY-MM-DD` at `start` (four-digit years only) as days since the epoch, else NaN. */
export function parseDateBytes(bytes: Uint8Array, start: number): number {
  if (bytes[start + 4] !== 45 || bytes[start + 7] !== 45) return Number.NaN;
  const hi = digit2(bytes, start);
  const lo = digit2(bytes, start + 2);
  const month = digit2(bytes, start + 5);
  const day = digit2(bytes, start + 8);
  if (hi < 0 || lo < 0 || month < 1 || month > 12 || day < 1) return Number.NaN;
  const year = hi * 100 + lo;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return Number.NaN;
  return daysFromCivil(year, month, day);
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction][Z]` (or a space instead of `T`) as a value in units of `1/perSecond` s (`digits` fraction digits),
 * else NaN: other forms (offsets, expanded years), fraction digits the unit cannot hold, and
 * values beyond 2^53 go through the text parser.
 */
export function parseTimestampBytes(bytes: Uint8Array, start: number, end: number, digits: number, perSecond: number): number {
  const separator = bytes[start + 10];
  if (end - start < 19 || (separator !== 84 && separator !== 32) || bytes[start + 13] !== 58 || bytes[start + 16] !== 58) return Number.NaN;
  const days = parseDateBytes(bytes, start);
  const h = digit2(bytes, start + 11);
  const m = digit2(bytes, start + 14);
  const s = digit2(bytes, start + 17);
  if (Number.isNaN(days) || h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59) return Number.NaN;
  let at = start + 19;
  let fraction = 0;
  let fractionDigits = 0;
  if (at < end && bytes[at] === 46) {
    at++;
    const from = at;
    for (; at < end; at++) {
      const d = bytes[at]! - 48;
      if (d < 0 || d > 9) break;
      if (at - from === 9) return Number.NaN;
      if (fractionDigits === digits) {
        if (d !== 0) return Number.NaN;
        continue;
      }
      fraction = fraction * 10 + d;
      fractionDigits++;
    }
    if (at === from) return Number.NaN;
  }
  if (at < end && bytes[at] === 90) at++;
  if (at !== end) return Number.NaN;
  const value = (days * 86_400 + h * 3600 + m * 60 + s) * perSecond + fraction * POW10[digits - fractionDigits]!;
  return Number.isSafeInteger(value) ? value : Number.NaN;
}

/** Whether typed arrays are little-endian here, as setInt64 assumes (true on every platform Node supports in practice). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes a safe integer into slot `i` of a 64-bit array seen as pairs of 32-bit words (little-endian). */
export function setInt64(words: Int32Array, i: number, n: number): void {
  const hi = Math.floor(n / 4_294_967_296);
  words[2 * i] = (n - hi * 4_294_967_296) | 0;
  words[2 * i + 1] = hi;
}
