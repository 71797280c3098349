import type { OdpsColumn } from '../codec/types.js';
import { type CellValue, type RowValues, toEpochDays, toEpochMillis } from '../codec/values.js';

/**
 * What the service sends a client that did not ask for `odps-tunnel-date-transform: v1`: DATE and
 * DATETIME values before 1582-10-15 counted on the Julian calendar (java.util's hybrid calendar), so the
 * same year-month-day lands on a different day number. Written apart from the client's conversion (with
 * another algorithm) so that the two check each other.
 */

const MS_PER_DAY = 86_400_000;
/** 1582-10-15 in days since 1970-01-01. */
const CUTOVER_DAY = Math.floor(Date.UTC(1582, 9, 15) / MS_PER_DAY);
/** Julian day number of 1970-01-01. */
const UNIX_EPOCH_JDN = 2_440_588;

/** Julian day number of a date on the Julian calendar (Fliegel-Van Flandern, truncating divisions). */
function julianCalendarJdn(year: number, month: number, day: number): number {
  return (
    367 * year -
    Math.trunc((7 * (year + 5001 + Math.trunc((month - 9) / 7))) / 4) +
    Math.trunc((275 * month) / 9) +
    day +
    1_729_777
  );
}

/** The legacy day number of a proleptic Gregorian day. */
export function toLegacyDays(days: number): number {
  if (days >= CUTOVER_DAY) return days;
  const date = new Date(days * MS_PER_DAY);
  return julianCalendarJdn(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()) - UNIX_EPOCH_JDN;
}

/** The legacy milliseconds of a proleptic Gregorian DATETIME (UTC). */
export function toLegacyMillis(ms: number): number {
  const days = Math.floor(ms / MS_PER_DAY);
  if (days >= CUTOVER_DAY) return ms;
  return toLegacyDays(days) * MS_PER_DAY + (ms - days * MS_PER_DAY);
}

/**
 * A function that rewrites the top-level DATE and DATETIME cells of a row into their legacy values, or
 * undefined when the columns have none. (Dates nested in ARRAY, MAP or STRUCT values are left as they are.)
 */
export function legacyRowMapper(columns: readonly OdpsColumn[]): ((row: RowValues) => RowValues) | undefined {
  const kinds = columns.map((c) => {
    const type = c.type.trim().toLowerCase();
    return type === 'date' ? 'date' : type === 'datetime' ? 'datetime' : undefined;
  });
  if (kinds.every((k) => k === undefined)) return undefined;
  const convert = (kind: 'date' | 'datetime' | undefined, value: CellValue): CellValue => {
    if (kind === undefined || value === null || value === undefined) return value;
    return kind === 'date' ? toLegacyDays(toEpochDays(value)) : toLegacyMillis(toEpochMillis(value));
  };
  return (row) => {
    if (Array.isArray(row)) return (row as readonly CellValue[]).map((v, i) => convert(kinds[i], v));
    const named = { ...(row as Record<string, CellValue>) };
    columns.forEach((c, i) => {
      if (c.name in named) named[c.name] = convert(kinds[i], named[c.name]);
    });
    return named;
  };
}
