import type { OdpsColumn } from '../codec/types.js';
import { type CellValue, type RowValues, toEpochMillis } from '../codec/values.js';

/**
 * What the service sends a client that did not ask for `odps-tunnel-date-transform: v1`: DATETIME values
 * before 1582-10-15 counted on the Julian calendar (java.util's hybrid calendar), so the same date lands
 * on a different day number. DATE values are epoch days either way. Written apart from the client's
 * conversion (with another algorithm) so that the two check each other.
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
 * A function that rewrites the top-level DATETIME cells of a row into their legacy values, or undefined
 * when the columns have none. (DATETIMEs nested in ARRAY, MAP or STRUCT values are left as they are.)
 */
export function legacyRowMapper(columns: readonly OdpsColumn[]): ((row: RowValues) => RowValues) | undefined {
  const legacy = columns.map((c) => c.type.trim().toLowerCase() === 'datetime');
  if (!legacy.includes(true)) return undefined;
  const convert = (isDatetime: boolean | undefined, value: CellValue): CellValue =>
    !isDatetime || value === null || value === undefined ? value : toLegacyMillis(toEpochMillis(value));
  return (row) => {
    if (Array.isArray(row)) return (row as readonly CellValue[]).map((v, i) => convert(legacy[i], v));
    const named = { ...(row as Record<string, CellValue>) };
    columns.forEach((c, i) => {
      if (c.name in named) named[c.name] = convert(legacy[i], named[c.name]);
    });
    return named;
  };
}
