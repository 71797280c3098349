import { TimeUnit } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { formatTimestamp, parseDate, parseTime, parseTimestamp, formatDate, formatTime } from '../../../src/formats/text/temporal.js';
import { parseTimestampBytes } from '../../../src/formats/text/field-bytes.js';
import { prng } from './helpers.js';

describe('ISO 8601 text of temporal values', () => {
  it('round-trips random timestamps of every unit, before and after 1970, with and without Z', () => {
    const rand = prng(42);
    const units = [TimeUnit.SECOND, TimeUnit.MILLISECOND, TimeUnit.MICROSECOND, TimeUnit.NANOSECOND];
    for (let i = 0; i < 2000; i++) {
      const unit = units[i % 4]!;
      const scale = [1n, 1000n, 1_000_000n, 1_000_000_000n][i % 4]!;
      const seconds = BigInt(Math.floor((rand() - 0.5) * 2 * 9e9));
      const value = seconds * scale + BigInt(Math.floor(rand() * Number(scale)));
      const utc = i % 2 === 0;
      const text = formatTimestamp(value, unit, utc);
      expect(text.endsWith('Z')).toBe(utc);
      expect(parseTimestamp(text, unit), text).toBe(value);
    }
  });

  it('reads offsets, a space separator, dates alone and lower precision, and refuses lost digits', () => {
    expect(parseTimestamp('2024-01-01T08:00:00+08:00', TimeUnit.MILLISECOND)).toBe(1704067200000n);
    expect(parseTimestamp('2024-01-01 00:00:00.5', TimeUnit.MICROSECOND)).toBe(1704067200500000n);
    expect(parseTimestamp('2024-01-01', TimeUnit.SECOND)).toBe(1704067200n);
    expect(parseTimestamp('2024-01-01T00:00:00.1234Z', TimeUnit.MILLISECOND)).toBeUndefined();
    expect(parseTimestamp('2024-01-01T00:00:00.1230Z', TimeUnit.MILLISECOND)).toBe(1704067200123n);
    expect(parseTimestamp('2024-02-30T00:00:00Z', TimeUnit.MILLISECOND)).toBeUndefined();
    expect(parseTimestamp('2024-01-01T24:00:00Z', TimeUnit.MILLISECOND)).toBeUndefined();
    expect(parseTimestamp('yesterday', TimeUnit.MILLISECOND)).toBeUndefined();
  });

  it('reads a space instead of T on the fast byte path too (PostgreSQL and MySQL write it so), as the text parser does', () => {
    const rand = prng(7);
    for (let i = 0; i < 500; i++) {
      const value = BigInt(Math.floor((rand() - 0.3) * 4e15));
      const iso = formatTimestamp(value, TimeUnit.MICROSECOND, false);
      const spaced = `${iso.slice(0, 10)} ${iso.slice(11)}`;
      expect(parseTimestamp(spaced, TimeUnit.MICROSECOND), spaced).toBe(value);
      if (iso.startsWith('+') || iso.startsWith('-')) continue;
      const bytes = new TextEncoder().encode(spaced);
      expect(parseTimestampBytes(bytes, 0, bytes.length, 6, 1_000_000), spaced).toBe(Number(value));
    }
    const bad = new TextEncoder().encode('2024-01-01 24:00:00');
    expect(parseTimestampBytes(bad, 0, bad.length, 6, 1_000_000)).toBeNaN();
    expect(parseTimestamp('2024-01-01 24:00:00', TimeUnit.MICROSECOND)).toBeUndefined();
  });

  it('formats and parses dates and times of day', () => {
    expect(formatDate(-1)).toBe('1969-12-31');
    expect(parseDate('1969-12-31')).toBe(-1);
    expect(parseDate('2023-02-29')).toBeUndefined();
    expect(formatTime(3_723_004_005n, TimeUnit.MICROSECOND)).toBe('01:02:03.004005');
    expect(parseTime('01:02:03.004005', TimeUnit.MICROSECOND)).toBe(3_723_004_005n);
    expect(parseTime('25:00', TimeUnit.SECOND)).toBeUndefined();
  });
});
