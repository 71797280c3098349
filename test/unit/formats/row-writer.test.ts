import { Field, Float64, Int32, Int64, Schema, TimestampMicrosecond, TimestampMillisecond, TimestampSecond } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { createEncoder } from '../../../src/formats/index.js';
import { formatTimestamp } from '../../../src/formats/text/temporal.js';
import { batchOf, bigColumn, column, encodeAll, prng } from './helpers.js';

/** The byte writers must spell numbers and timestamps exactly as String() and formatTimestamp do. */
describe('byte-level row writer', () => {
  it('writes random integers, doubles and timestamps as the reference text', () => {
    const rand = prng(99);
    const n = 3000;
    const ints = Array.from({ length: n }, (_, i) => [0, -1, 9, 10, 99, 100, -2147483648, 2147483647][i] ?? Math.floor((rand() - 0.5) * 2 ** (1 + (i % 32))));
    const bigs = Array.from({ length: n }, (_, i) => [2n ** 53n - 1n, -(2n ** 53n) + 1n, 2n ** 53n, 2n ** 31n, -(2n ** 31n)][i] ?? BigInt(Math.floor((rand() - 0.5) * 2 ** (1 + (i % 60)))));
    const doubles = Array.from({ length: n }, (_, i) => [0, -0, 1e21, -1e-7, 2 ** 53, 0.1][i] ?? (rand() - 0.5) * 10 ** ((i % 40) - 20));
    const seconds = Array.from({ length: n }, (_, i) => BigInt(Math.floor((rand() - 0.5) * 2 * 9e9)) + BigInt(i % 2));
    const schema = new Schema([
      new Field('i', new Int32(), false),
      new Field('b', new Int64(), false),
      new Field('d', new Float64(), false),
      new Field('s', new TimestampSecond('UTC'), false),
      new Field('ms', new TimestampMillisecond(), false),
      new Field('us', new TimestampMicrosecond('UTC'), false),
    ]);
    const ms = seconds.map((s, i) => s * 1000n + BigInt(i % 1000));
    const us = seconds.map((s, i) => s * 1_000_000n + BigInt((i * 7919) % 1_000_000));
    const batch = batchOf(schema, [
      column(ints, new Int32()),
      bigColumn(bigs, new Int64()),
      column(doubles, new Float64()),
      bigColumn(seconds, new TimestampSecond('UTC')),
      bigColumn(ms, new TimestampMillisecond()),
      bigColumn(us, new TimestampMicrosecond('UTC')),
    ]);
    for (const format of ['jsonl', 'csv'] as const) {
      const out = Buffer.from(encodeAll(createEncoder(format, schema, { csv_header: false }), [batch])).toString();
      const expected = ints.map((v, i) => {
        const b = bigs[i]!;
        const big = b <= 2n ** 53n - 1n && b >= -(2n ** 53n) + 1n ? String(b) : format === 'jsonl' ? `"${b}"` : String(b);
        const texts = [String(v), big, String(doubles[i]), formatTimestamp(seconds[i]!, 0, true), formatTimestamp(ms[i]!, 1, false), formatTimestamp(us[i]!, 2, true)];
        if (format === 'csv') return texts.join(',');
        const [a, c, d, s, m, u] = texts;
        return `{"i":${a},"b":${c},"d":${d},"s":"${s}","ms":"${m}","us":"${u}"}`;
      });
      expect(out.split('\n').slice(0, -1)).toEqual(expected);
    }
  });
});
