/**
 * Legacy (hybrid Julian/Gregorian) DATETIME values.
 *
 * A client that sends `odps-tunnel-date-transform: v1` and gets `odps-tunnel-date-transform: true` back
 * receives DATETIME values as proleptic Gregorian milliseconds since 1970-01-01 (the Java SDK then maps
 * them to java.util dates with DateUtils.ms2date, a glibc-style proleptic calendar). Without that answer
 * the values are java.util.Date milliseconds, on a calendar that is Julian before 1582-10-15, so an old
 * date lands on another day number: 0001-01-01 00:00 arrives as day -719164 rather than -719162.
 * `rebaseLegacyMillis` maps such a value to the proleptic instant with the same date and time of day
 * (UTC); values from the cutover on are the same on both calendars. DATE values are epoch days either way:
 * the Java SDK reads and writes them with LocalDate.ofEpochDay / toEpochDay whatever the answer.
 */

/** 1582-10-15, the first Gregorian day of the hybrid calendar, in days since 1970-01-01. */
export const GREGORIAN_CUTOVER_DAY = -141427;
/** The same instant in milliseconds (midnight UTC). */
export const GREGORIAN_CUTOVER_MS = GREGORIAN_CUTOVER_DAY * 86_400_000;

/** Julian day number of 1970-01-01. */
const EPOCH_JDN = 2440588;

/** A legacy day number (Julian calendar before the cutover) as the proleptic Gregorian day of the same date. */
export function rebaseLegacyDays(days: number): number {
  if (days >= GREGORIAN_CUTOVER_DAY) return days;
  // Julian calendar date of the Julian day number (Richards' algorithm).
  const c = days + EPOCH_JDN + 32082;
  const d = Math.floor((4 * c + 3) / 1461);
  const e = c - Math.floor((1461 * d) / 4);
  const m = Math.floor((5 * e + 2) / 153);
  const day = e - Math.floor((153 * m + 2) / 5) + 1;
  const month = m + 3 - 12 * Math.floor(m / 10);
  const year = d - 4800 + Math.floor(m / 10);
  return gregorianDays(year, month, day);
}

/** A legacy DATETIME (ms since the epoch) as proleptic Gregorian ms with the same date and time of day (UTC). */
export function rebaseLegacyMillis(ms: number): number {
  if (ms >= GREGORIAN_CUTOVER_MS) return ms;
  const days = Math.floor(ms / 86_400_000);
  return rebaseLegacyDays(days) * 86_400_000 + (ms - days * 86_400_000);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (astronomical years: 1 BC is year 0). */
function gregorianDays(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
