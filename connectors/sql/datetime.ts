import { TimeUnit } from 'apache-arrow';
import { parseTimestamp as parseIsoText } from '../../src/formats/text/temporal.js';
import { RowFailure } from './errors.js';
import { MS_PER_DAY } from './types.js';

/**
 * Date and time arithmetic for the sql transform. Timestamps are epoch milliseconds and are read and written
 * in UTC: a timestamp without an offset is taken as UTC, one with an offset is converted to UTC.
 */

/**
 * Epoch milliseconds of an ISO date or timestamp text (`2024-05-01`, `2024-05-01 12:00:00.123456`, with `T`
 * and an offset such as `+08:00` or `Z`), or undefined when it is not one. Text without an offset is UTC.
 */
export function parseIsoTimestamp(text: string): number | undefined {
  const nanos = parseIsoText(text.trim(), TimeUnit.NANOSECOND);
  return nanos === undefined ? undefined : Number(nanos) / 1e6;
}

function withYear(ms: number, year: number): number {
  const date = new Date(ms);
  date.setUTCFullYear(year);
  return date.getTime();
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
export const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

const pad = (value: number, width: number): string => String(Math.abs(value)).padStart(width, '0');

/** ISO 8601 week number and week-numbering year. */
function isoWeek(ms: number): { week: number; year: number } {
  // The Thursday of the week decides its year; weeks are counted from that year's first Thursday.
  const d = new Date(Math.floor(ms / MS_PER_DAY) * MS_PER_DAY);
  d.setUTCDate(d.getUTCDate() + 4 - (d.getUTCDay() || 7));
  const year = d.getUTCFullYear();
  return { week: Math.ceil(((d.getTime() - Date.UTC(year, 0, 1)) / MS_PER_DAY + 1) / 7), year };
}

function dayOfYear(d: Date): number {
  return Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / MS_PER_DAY) + 1;
}

/** EXTRACT(field FROM value) and the HOUR(), YEAR() ... functions. */
export function extractField(field: string, ms: number): number {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  switch (field.toUpperCase()) {
    case 'YEAR':
      return year;
    case 'MONTH':
      return d.getUTCMonth() + 1;
    case 'DAY':
    case 'DAY_OF_MONTH':
    case 'DAYOFMONTH':
      return d.getUTCDate();
    case 'HOUR':
      return d.getUTCHours();
    case 'MINUTE':
      return d.getUTCMinutes();
    case 'SECOND':
      return d.getUTCSeconds() + (((ms % 1000) + 1000) % 1000) / 1000;
    case 'MILLISECOND':
    case 'MILLISECONDS':
      return d.getUTCSeconds() * 1000 + d.getUTCMilliseconds();
    case 'MICROSECOND':
    case 'MICROSECONDS':
      return (d.getUTCSeconds() * 1000 + d.getUTCMilliseconds()) * 1000;
    case 'QUARTER':
      return Math.floor(d.getUTCMonth() / 3) + 1;
    case 'WEEK':
      return isoWeek(ms).week;
    case 'ISOYEAR':
      return isoWeek(ms).year;
    case 'DOW':
    case 'DAYOFWEEK':
      return d.getUTCDay();
    case 'ISODOW':
      return ((d.getUTCDay() + 6) % 7) + 1;
    case 'DOY':
    case 'DAYOFYEAR':
    case 'DAY_OF_YEAR':
      return dayOfYear(d);
    case 'EPOCH':
      return ms / 1000;
    case 'DECADE':
      return Math.floor(year / 10);
    case 'CENTURY':
      return year > 0 ? Math.floor((year - 1) / 100) + 1 : -Math.floor(-year / 100) - 1;
    case 'MILLENNIUM':
      return year > 0 ? Math.floor((year - 1) / 1000) + 1 : -Math.floor(-year / 1000) - 1;
    default:
      throw new RowFailure('SQL_BAD_ARGUMENT', `unknown date part "${field}"`);
  }
}

export const DATE_UNITS = ['YEAR', 'QUARTER', 'MONTH', 'WEEK', 'DAY', 'HOUR', 'MINUTE', 'SECOND', 'MILLISECOND', 'MICROSECOND'] as const;

/** Unit names as written (plural, abbreviations, SQL Server's dd/mm/yy) to one of DATE_UNITS. */
export function normaliseUnit(text: string): (typeof DATE_UNITS)[number] | undefined {
  const u = text.toUpperCase().replace(/S$/, '');
  const aliases: Record<string, (typeof DATE_UNITS)[number]> = { YY: 'YEAR', YYYY: 'YEAR', QQ: 'QUARTER', Q: 'QUARTER', MM: 'MONTH', M: 'MONTH', WK: 'WEEK', WW: 'WEEK', DD: 'DAY', D: 'DAY', HH: 'HOUR', MI: 'MINUTE', N: 'MINUTE', SS: 'SECOND', MS: 'MILLISECOND', MC: 'MICROSECOND', US: 'MICROSECOND' };
  if ((DATE_UNITS as readonly string[]).includes(u)) return u as (typeof DATE_UNITS)[number];
  return aliases[text.toUpperCase()];
}

const FIXED_MS: Record<string, number> = { WEEK: 7 * MS_PER_DAY, DAY: MS_PER_DAY, HOUR: 3_600_000, MINUTE: 60_000, SECOND: 1000, MILLISECOND: 1, MICROSECOND: 0.001 };

/** DATEADD: months and years keep the day of the month where it exists (Jan 31 + 1 month = Feb 28/29). */
export function addUnits(unit: string, amount: number, ms: number): number {
  const fixed = FIXED_MS[unit];
  if (fixed !== undefined) return ms + amount * fixed;
  const months = unit === 'YEAR' ? amount * 12 : unit === 'QUARTER' ? amount * 3 : amount;
  const d = new Date(ms);
  const day = d.getUTCDate();
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()));
  target.setUTCDate(Math.min(day, daysInMonth(target.getUTCFullYear(), target.getUTCMonth() + 1)));
  return target.getTime() + (ms - Math.floor(ms));
}

/** DATE_TRUNC: the start of the unit that holds `ms` (weeks start on Monday, as in ISO 8601). */
export function truncate(unit: string, ms: number): number {
  const d = new Date(ms);
  switch (unit) {
    case 'YEAR':
      return Date.UTC(d.getUTCFullYear(), 0, 1);
    case 'QUARTER':
      return Date.UTC(d.getUTCFullYear(), Math.floor(d.getUTCMonth() / 3) * 3, 1);
    case 'MONTH':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'WEEK': {
      const day = Math.floor(ms / MS_PER_DAY) * MS_PER_DAY;
      return day - ((d.getUTCDay() + 6) % 7) * MS_PER_DAY;
    }
    default: {
      const size = FIXED_MS[unit] ?? 1;
      return Math.floor(ms / size) * size;
    }
  }
}

/** DATEDIFF: the number of unit boundaries crossed going from `a` to `b`. */
export function diffUnits(unit: string, a: number, b: number): number {
  if (unit === 'YEAR' || unit === 'QUARTER' || unit === 'MONTH') {
    const da = new Date(a);
    const db = new Date(b);
    const months = (db.getUTCFullYear() - da.getUTCFullYear()) * 12 + (db.getUTCMonth() - da.getUTCMonth());
    if (unit === 'MONTH') return months;
    if (unit === 'YEAR') return db.getUTCFullYear() - da.getUTCFullYear();
    return Math.floor(db.getUTCMonth() / 3) - Math.floor(da.getUTCMonth() / 3) + (db.getUTCFullYear() - da.getUTCFullYear()) * 4;
  }
  return Math.round((truncate(unit, b) - truncate(unit, a)) / (FIXED_MS[unit] ?? 1));
}

type Token = { text: string } | { field: string };

/** Splits a java.time pattern (yyyy-MM-dd HH:mm:ss, 'quoted text') into fields and literal text. */
function tokenize(pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === "'") {
      const end = pattern.indexOf("'", i + 1);
      const text = end < 0 ? pattern.slice(i + 1) : pattern.slice(i + 1, end);
      tokens.push({ text: text === '' ? "'" : text });
      i = end < 0 ? pattern.length : end + 1;
    } else if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (pattern[j] === c) j++;
      tokens.push({ field: pattern.slice(i, j) });
      i = j;
    } else {
      tokens.push({ text: c });
      i++;
    }
  }
  return tokens;
}

/** Formats epoch milliseconds with a java.time pattern (FORMATDATETIME, TO_CHAR) or a strftime one (%Y-%m-%d). */
export function formatTimestamp(ms: number, pattern: string): string {
  if (pattern.includes('%')) return strftime(ms, pattern);
  const d = new Date(ms);
  return tokenize(pattern)
    .map((t) => ('text' in t ? t.text : formatField(d, ms, t.field)))
    .join('');
}

function formatField(d: Date, ms: number, field: string): string {
  const n = field.length;
  switch (field[0]) {
    case 'y':
    case 'u':
      return n === 2 ? pad(d.getUTCFullYear() % 100, 2) : pad(d.getUTCFullYear(), Math.max(n, 4));
    case 'M':
      return n >= 4 ? MONTH_NAMES[d.getUTCMonth()]! : n === 3 ? MONTH_NAMES[d.getUTCMonth()]!.slice(0, 3) : pad(d.getUTCMonth() + 1, n);
    case 'd':
      return pad(d.getUTCDate(), n);
    case 'D':
      return pad(dayOfYear(d), n);
    case 'H':
      return pad(d.getUTCHours(), n);
    case 'h':
      return pad(d.getUTCHours() % 12 || 12, n);
    case 'm':
      return pad(d.getUTCMinutes(), n);
    case 's':
      return pad(d.getUTCSeconds(), n);
    case 'S':
      return pad(d.getUTCMilliseconds(), 3).padEnd(n, '0').slice(0, n);
    case 'a':
      return d.getUTCHours() < 12 ? 'AM' : 'PM';
    case 'E':
      return n >= 4 ? DAY_NAMES[d.getUTCDay()]! : DAY_NAMES[d.getUTCDay()]!.slice(0, 3);
    case 'X':
    case 'Z':
    case 'x':
      return field[0] === 'X' ? 'Z' : '+0000';
    default:
      void ms;
      return field;
  }
}

function strftime(ms: number, pattern: string): string {
  const d = new Date(ms);
  return pattern.replace(/%([a-zA-Z%])/g, (_, c: string) => {
    switch (c) {
      case 'Y':
        return pad(d.getUTCFullYear(), 4);
      case 'y':
        return pad(d.getUTCFullYear() % 100, 2);
      case 'm':
        return pad(d.getUTCMonth() + 1, 2);
      case 'd':
        return pad(d.getUTCDate(), 2);
      case 'H':
        return pad(d.getUTCHours(), 2);
      case 'I':
        return pad(d.getUTCHours() % 12 || 12, 2);
      case 'M':
        return pad(d.getUTCMinutes(), 2);
      case 'S':
        return pad(d.getUTCSeconds(), 2);
      case 'f':
        return pad(d.getUTCMilliseconds() * 1000, 6);
      case 'j':
        return pad(dayOfYear(d), 3);
      case 'a':
        return DAY_NAMES[d.getUTCDay()]!.slice(0, 3);
      case 'A':
        return DAY_NAMES[d.getUTCDay()]!;
      case 'b':
        return MONTH_NAMES[d.getUTCMonth()]!.slice(0, 3);
      case 'B':
        return MONTH_NAMES[d.getUTCMonth()]!;
      case 'p':
        return d.getUTCHours() < 12 ? 'AM' : 'PM';
      case 'F':
        return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
      case 'T':
        return `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
      case 's':
        return String(Math.floor(ms / 1000));
      case '%':
        return '%';
      default:
        return `%${c}`;
    }
  });
}

const STRFTIME_FIELDS: Record<string, string> = { Y: 'yyyy', y: 'yy', m: 'MM', d: 'dd', H: 'HH', M: 'mm', S: 'ss', f: 'SSSSSS', j: 'DDD', b: 'MMM', B: 'MMMM' };

/** PARSEDATETIME / TO_DATE / TO_TIMESTAMP: parses text with a java.time or strftime pattern into epoch ms (UTC). */
export function parseTimestamp(text: string, pattern: string): number {
  const javaPattern = pattern.includes('%') ? pattern.replace(/%([a-zA-Z%])/g, (_, c: string) => (c === '%' ? '%' : `${STRFTIME_FIELDS[c] ?? c}`)) : pattern;
  const fields: string[] = [];
  let source = '^';
  for (const token of tokenize(javaPattern)) {
    if ('text' in token) {
      source += token.text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      continue;
    }
    fields.push(token.field);
    source += token.field[0] === 'M' && token.field.length >= 3 ? '([A-Za-z]+)' : token.field[0] === 'a' ? '(AM|PM|am|pm)' : token.field[0] === 'E' ? '[A-Za-z]+' : `(\\d{1,${Math.max(token.field.length, token.field[0] === 'y' ? 4 : token.field[0] === 'S' ? 9 : 2)}})`;
    if (token.field[0] === 'E') fields.pop();
  }
  const match = new RegExp(`${source}$`).exec(text.trim());
  if (!match) throw new RowFailure('SQL_PARSE_FAILED', `"${text}" does not match the pattern "${pattern}"`);
  let year = 1970;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let millis = 0;
  let pm: boolean | undefined;
  fields.forEach((field, i) => {
    const raw = match[i + 1]!;
    const value = Number(raw);
    switch (field[0]) {
      case 'y':
      case 'u':
        year = field.length === 2 ? 2000 + value : value;
        break;
      case 'M':
        month = field.length >= 3 ? MONTH_NAMES.findIndex((m) => m.toLowerCase().startsWith(raw.toLowerCase().slice(0, 3))) + 1 : value;
        break;
      case 'd':
        day = value;
        break;
      case 'H':
      case 'h':
        hour = value;
        break;
      case 'm':
        minute = value;
        break;
      case 's':
        second = value;
        break;
      case 'S':
        millis = Number(`0.${raw}`) * 1000;
        break;
      case 'a':
        pm = raw.toUpperCase() === 'PM';
        break;
    }
  });
  if (pm !== undefined) hour = (hour % 12) + (pm ? 12 : 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw new RowFailure('SQL_PARSE_FAILED', `"${text}" is not a valid date or time for the pattern "${pattern}"`);
  }
  return withYear(Date.UTC(2000, month - 1, day, hour, minute, second, millis), year);
}
