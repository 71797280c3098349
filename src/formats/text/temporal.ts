import { TimeUnit } from 'apache-arrow';

/**
 * Text forms of Arrow temporal values (ISO 8601), both ways. Timestamps keep every digit their unit
 * has (seconds: none, ms: 3, µs: 6, ns: 9) so that text round-trips exactly; a timestamp type with a
 * time zone is an instant and is written in UTC with `Z`, one without is wall-clock time and has no suffix.
 */

const DAY_MS = 86_400_000;
const PER_SECOND: Record<TimeUnit, bigint> = {
  [TimeUnit.SECOND]: 1n,
  [TimeUnit.MILLISECOND]: 1_000n,
  [TimeUnit.MICROSECOND]: 1_000_000n,
  [TimeUnit.NANOSECOND]: 1_000_000_000n,
};
const DIGITS: Record<TimeUnit, number> = {
  [TimeUnit.SECOND]: 0,
  [TimeUnit.MILLISECOND]: 3,
  [TimeUnit.MICROSECOND]: 6,
  [TimeUnit.NANOSECOND]: 9,
};

export function unitDigits(unit: TimeUnit): number {
  return DIGITS[unit];
}

/** `YYYY-MM-DDTHH:MM:SS` (years beyond 9999 in the expanded `+YYYYYY` form) for whole seconds since the epoch. */
function secondsToIso(seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString();
  return iso.slice(0, iso.length - 5);
}

/** ISO 8601 text of a timestamp value in `unit`; `utc` adds the `Z` suffix. */
export function formatTimestamp(value: bigint, unit: TimeUnit, utc: boolean): string {
  const zone = utc ? 'Z' : '';
  if (unit === TimeUnit.MILLISECOND) {
    const ms = Number(value);
    const seconds = Math.floor(ms / 1000);
    return `${secondsToIso(seconds)}.${String(ms - seconds * 1000).padStart(3, '0')}${zone}`;
  }
  if (unit === TimeUnit.SECOND) return `${secondsToIso(Number(value))}${zone}`;
  const per = PER_SECOND[unit];
  let seconds = value / per;
  let fraction = value - seconds * per;
  if (fraction < 0n) {
    seconds -= 1n;
    fraction += per;
  }
  return `${secondsToIso(Number(seconds))}.${fraction.toString().padStart(DIGITS[unit], '0')}${zone}`;
}

/** `YYYY-MM-DD` for days since the epoch. */
export function formatDate(days: number): string {
  const iso = new Date(days * DAY_MS).toISOString();
  return iso.slice(0, iso.indexOf('T'));
}

/** `HH:MM:SS` plus the fraction digits of `unit`, for a time of day since midnight. */
export function formatTime(value: bigint | number, unit: TimeUnit): string {
  const per = PER_SECOND[unit];
  const v = BigInt(value);
  const seconds = Number(v / per);
  const fraction = v % per;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const base = `${pad2(h)}:${pad2(m)}:${pad2(s)}`;
  return unit === TimeUnit.SECOND ? base : `${base}.${fraction.toString().padStart(DIGITS[unit], '0')}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

const TIMESTAMP_RE =
  /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** What a timestamp string looks like, for schema inference. */
export interface TimestampShape {
  fractionDigits: number;
  hasZone: boolean;
}

/** The shape of an ISO 8601 date-time string (a date alone does not count), or undefined. */
export function timestampShape(text: string): TimestampShape | undefined {
  const m = TIMESTAMP_RE.exec(text);
  if (!m || m[4] === undefined) return undefined;
  return { fractionDigits: m[7]?.length ?? 0, hasZone: m[8] !== undefined };
}

/**
 * Parses ISO 8601 (`2024-05-01T12:00:00.123456Z`, a space instead of `T`, an offset such as `+08:00`, or a
 * date alone) into a value in `unit`. Text with an offset is converted to UTC; text without one is taken
 * as it stands (UTC for a zoned column, wall-clock time for a naive one). Digits beyond the unit's
 * precision are refused rather than silently dropped. Returns undefined when the text is not a timestamp.
 */
export function parseTimestamp(text: string, unit: TimeUnit): bigint | undefined {
  const fast = parseCanonicalTimestamp(text, unit);
  if (fast !== undefined) return fast;
  const m = TIMESTAMP_RE.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(Number(y), month - 1, day);
  if (date.getUTCDate() !== day) return undefined;
  date.setUTCHours(hour, minute, second, 0);
  let seconds = BigInt(date.getTime() / 1000);
  if (zone && zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1n : 1n;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = BigInt(Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || 0));
    seconds -= sign * offsetMinutes * 60n;
  }
  const per = PER_SECOND[unit];
  let fraction = 0n;
  if (frac) {
    const digits = DIGITS[unit];
    if (frac.length > digits && /[1-9]/.test(frac.slice(digits))) return undefined;
    fraction = BigInt(frac.slice(0, digits).padEnd(digits, '0') || '0');
  }
  return seconds * per + fraction;
}

let cachedDate = '';
let cachedDaySeconds = 0;

function twoDigits(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * The hot path of parseTimestamp for the form the encoders write (`YYYY-MM-DDTHH:MM:SS[.f…][Z]`, or a space
 * instead of `T` as PostgreSQL and MySQL write it): no
 * regex, and the date part is converted once per distinct day. Anything else returns undefined.
 */
function parseCanonicalTimestamp(text: string, unit: TimeUnit): bigint | undefined {
  const n = text.length;
  const separator = text.charCodeAt(10);
  if (n < 19 || (separator !== 84 && separator !== 32) || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined;
  const date = text.slice(0, 10);
  if (date !== cachedDate) {
    const days = parseDate(date);
    if (days === undefined) return undefined;
    cachedDate = date;
    cachedDaySeconds = days * 86_400;
  }
  const h = twoDigits(text, 11);
  const m = twoDigits(text, 14);
  const s = twoDigits(text, 17);
  if (h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 59) return undefined;
  let at = 19;
  let fraction = 0;
  let fractionDigits = 0;
  if (at < n && text.charCodeAt(at) === 46) {
    at++;
    for (; at < n; at++) {
      const d = text.charCodeAt(at) - 48;
      if (d < 0 || d > 9) break;
      if (fractionDigits === 9) return undefined;
      fraction = fraction * 10 + d;
      fractionDigits++;
    }
    if (fractionDigits === 0) return undefined;
  }
  if (at < n && text.charCodeAt(at) === 90) at++;
  if (at !== n) return undefined;
  const digits = DIGITS[unit];
  if (fractionDigits > digits) {
    const drop = 10 ** (fractionDigits - digits);
    if (fraction % drop !== 0) return undefined;
    fraction /= drop;
  } else {
    fraction *= 10 ** (digits - fractionDigits);
  }
  const seconds = cachedDaySeconds + h * 3600 + m * 60 + s;
  const perSecond = Number(PER_SECOND[unit]);
  const value = seconds * perSecond + fraction;
  return Number.isSafeInteger(value) ? BigInt(value) : BigInt(seconds) * PER_SECOND[unit] + BigInt(fraction);
}

/** Parses `YYYY-MM-DD` into days since the epoch. */
export function parseDate(text: string): number | undefined {
  const m = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const date = new Date(0);
  const day = Number(m[3]);
  date.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, day);
  if (date.getUTCDate() !== day || Number(m[2]) > 12) return undefined;
  return Math.round(date.getTime() / DAY_MS);
}

/** Parses `HH:MM[:SS[.fraction]]` into a time of day in `unit`. */
export function parseTime(text: string, unit: TimeUnit): bigint | undefined {
  const m = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/.exec(text);
  if (!m) return undefined;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  const s = Number(m[3] ?? 0);
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const digits = DIGITS[unit];
  const frac = m[4] ?? '';
  if (frac.length > digits && /[1-9]/.test(frac.slice(digits))) return undefined;
  const fraction = BigInt(frac.slice(0, digits).padEnd(digits, '0') || '0');
  return BigInt(h * 3600 + mi * 60 + s) * PER_SECOND[unit] + fraction;
}
