import { Bool, Dictionary, Field, Float64, Int32, Int64, LargeUtf8, List, makeVector, Struct, TimestampMillisecond, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { RowMask } from '../../../connectors/field-kit/rows.js';
import { seededRandom } from '../../../src/testing/random.js';
import { TextColumn, textReader } from '../../../connectors/field-kit/text.js';
import { batchFrom, rowsOf } from './kit.js';

describe('RowMask', () => {
  const seed = Number(process.env.TIDEWAY_SEED ?? 20261130);

  it(`leaves out exactly the dropped rows, for every column type, from whole and sliced batches (seed ${seed})`, () => {
    console.log(`RowMask seed ${seed} (TIDEWAY_SEED=${seed} replays it)`);
    const next = seededRandom(seed);
    for (let round = 0; round < 40; round++) {
      const n = 1 + Math.floor(next() * 40);
      const pick = <T>(make: (i: number) => T): (T | null)[] => Array.from({ length: n }, (_, i) => (next() < 0.2 ? null : make(i)));
      const batch = batchFrom({
        i: { type: new Int64(), values: Array.from({ length: n }, (_, i) => BigInt(i)) },
        s: { type: new Utf8(), values: pick((i) => `é${i}😀`.repeat(i % 3)) },
        b: { type: new Bool(), values: pick((i) => i % 2 === 0) },
        f: { type: new Float64(), values: pick((i) => i / 3) },
        t: { type: new TimestampMillisecond(), values: pick((i) => i * 1000) },
        d: { type: new Dictionary(new Utf8(), new Int32()), values: pick((i) => ['x', 'y', 'z'][i % 3]!) },
        st: { type: new Struct([new Field('a', new Int32(), true)]), values: pick((i) => ({ a: i })) },
        l: { type: new List(new Field('item', new Int32(), true)), values: pick((i) => [i, i + 1]) },
      });
      const from = Math.floor(next() * n);
      const sliced = next() < 0.5 ? batch.slice(from, n) : batch;
      const mask = new RowMask(sliced.numRows);
      for (let r = 0; r < sliced.numRows; r++) if (next() < 0.4) mask.drop(r);
      const expected = rowsOf(sliced).filter((_, r) => !mask.has(r));
      const out = mask.without(sliced);
      const plain = (rows: Record<string, unknown>[]) => JSON.stringify(rows, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v && typeof v === 'object' && 'toJSON' in v ? (v as { toJSON(): unknown }).toJSON() : v));
      expect(plain(rowsOf(out)), `seed ${seed} round ${round}`).toBe(plain(expected));
      if (out) expect(out.schema.fields.map(String)).toEqual(sliced.schema.fields.map(String));
    }
  });

  it('counts a row dropped twice once', () => {
    const mask = new RowMask(3);
    mask.drop(1);
    mask.drop(1);
    expect(mask.size).toBe(1);
  });
});

describe('textReader', () => {
  it('reads utf8 from sliced columns with nulls, and dictionary text', () => {
    const batch = batchFrom({ s: { type: new Utf8(), values: ['a', null, 'ü😀', ''] }, d: { type: new Dictionary(new Utf8(), new Int32()), values: ['x', null, 'y', 'x'] } }).slice(1, 4);
    const s = textReader(batch.data.children[0]!);
    const d = textReader(batch.data.children[1]!);
    expect([0, 1, 2].map(s)).toEqual([null, 'ü😀', '']);
    expect([0, 1, 2].map(d)).toEqual([null, 'y', 'x']);
  });
});

describe('TextColumn', () => {
  it.each([
    ['ASCII with nulls and empty strings', ['a', null, '', 'bc', null]],
    ['multi-byte text and emoji', ['é', '日本', null, '😀x', '', 'Zoë']],
    ['a lone surrogate (encoded as U+FFFD, as any UTF-8 encoder does)', ['a\ud800b', 'c']],
    ['only nulls', [null, null]],
    ['nothing', []],
  ] as [string, (string | null)[]][])('%s', (_, values) => {
    for (const type of [new Utf8(), new LargeUtf8()]) {
      const column = new TextColumn(type);
      for (const v of values) column.appendText(v);
      const data = column.finish();
      expect(String(data.type)).toBe(String(type));
      expect(data.nullCount).toBe(values.filter((v) => v === null).length);
      expect([...makeVector(data)]).toEqual(values.map((v) => (v === null ? null : v.replace('\ud800', '\ufffd'))));
      // The column owns its buffer (small strings are encoded into Node's shared pool).
      expect(data.values.byteOffset).toBe(0);
      expect(data.values.buffer.byteLength).toBe(data.values.byteLength);
    }
  });

  it('starts again empty after finish', () => {
    const column = new TextColumn(new Utf8());
    column.appendText('a');
    column.finish();
    column.appendNull();
    const data = column.finish();
    expect([...makeVector(data)]).toEqual([null]);
  });
});
