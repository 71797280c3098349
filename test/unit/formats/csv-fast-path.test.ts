import { Bool, DateDay, Field, Float32, Float64, Int8, Int32, Int64, TimestampMicrosecond, TimestampMillisecond, TimestampNanosecond, TimestampSecond, type DataType } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { makeColumnBuilder } from '../../../src/formats/text/text-to-arrow.js';
import { prng, seedFromEnv } from './helpers.js';

/**
 * The CSV decoder parses common values straight from bytes (appendField) and everything else as text
 * (appendText). Both paths must accept the same values with the same result and refuse the same values.
 */
const utf8 = new TextEncoder();

function viaBoth(type: DataType, values: string[]): { fast: unknown[]; text: unknown[]; fastErrors: boolean[]; textErrors: boolean[] } {
  const run = (useBytes: boolean) => {
    const out: unknown[] = [];
    const errors: boolean[] = [];
    for (const value of values) {
      const builder = makeColumnBuilder(new Field('c', type, true));
      try {
        if (useBytes) {
          const bytes = utf8.encode(`x${value}y`);
          builder.appendField(bytes, 1, bytes.length - 1, 0);
        } else builder.appendText(value === '' ? null : value);
        const data = builder.finish();
        const raw = (data.values as ArrayLike<unknown>)[0];
        out.push(data.nullCount > 0 ? null : typeof raw === 'bigint' ? raw : raw);
        errors.push(false);
      } catch {
        out.push('error');
        errors.push(true);
      }
    }
    return { out, errors };
  };
  const fast = run(true);
  const text = run(false);
  return { fast: fast.out, text: text.out, fastErrors: fast.errors, textErrors: text.errors };
}

describe('CSV fast path agrees with the text path', () => {
  const seed = seedFromEnv();
  const rand = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(rand() * 10))).join('');

  it(`integers, floats, booleans (seed ${seed})`, () => {
    const ints = Array.from({ length: 400 }, () => `${pick(['', '-', '+'])}${digits(1 + Math.floor(rand() * 20))}`);
    ints.push('', '-', '+', '1e3', ' 1', '2147483648', '-2147483649', '9007199254740993', '-9223372036854775808', '9223372036854775808', '00012', '-0');
    for (const type of [new Int8(), new Int32(), new Int64()]) {
      const r = viaBoth(type, ints);
      expect(r.fast, String(type)).toEqual(r.text);
    }
    const floats = Array.from({ length: 400 }, () => `${pick(['', '-'])}${digits(1 + Math.floor(rand() * 18))}${pick(['', '.'])}${digits(Math.floor(rand() * 25))}`);
    floats.push('.5', '5.', '1e10', '-1.5E-3', 'NaN', 'Infinity', '-Infinity', '0.1', '123456789012345.6', 'abc', '1.2.3', '--1');
    for (const type of [new Float64(), new Float32()]) {
      const r = viaBoth(type, floats);
      expect(r.fast, String(type)).toEqual(r.text);
    }
    const bools = ['true', 'TRUE', 'False', '1', '0', 'yes', 't', 'truee', ''];
    const r = viaBoth(new Bool(), bools);
    expect(r.fastErrors).toEqual(r.textErrors);
  });

  it(`dates and timestamps of every unit (seed ${seed})`, () => {
    const stamps: string[] = [];
    for (let i = 0; i < 300; i++) {
      const y = 1600 + Math.floor(rand() * 900);
      const mo = 1 + Math.floor(rand() * 13);
      const d = 1 + Math.floor(rand() * 31);
      const base = `${y}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
      const time = `${String(Math.floor(rand() * 25)).padStart(2, '0')}:${String(Math.floor(rand() * 60)).padStart(2, '0')}:${String(Math.floor(rand() * 61)).padStart(2, '0')}`;
      stamps.push(`${base}T${time}${pick(['', `.${digits(1 + Math.floor(rand() * 10))}`, '.000', '.123000000'])}${pick(['', 'Z', '+08:00'])}`);
      stamps.push(base);
    }
    stamps.push('2024-02-29T00:00:00', '2023-02-29T00:00:00', '1900-02-29', '2000-02-29', '1969-12-31T23:59:59.999Z', '2026-01-01 10:00:00', '2026-01-01T10:00');
    for (const type of [new TimestampSecond(), new TimestampMillisecond('UTC'), new TimestampMicrosecond(), new TimestampNanosecond(), new DateDay()]) {
      const r = viaBoth(type, stamps);
      expect(r.fast, String(type)).toEqual(r.text);
    }
  });
});
