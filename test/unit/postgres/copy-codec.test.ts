import { Field, Schema } from 'apache-arrow';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { describe, expect, it } from 'vitest';
import { CopyBinaryDecoder } from '../../../connectors/postgres/copy-decoder.js';
import { CopyTextEncoder, writeFloat } from '../../../connectors/postgres/copy-encoder.js';
import { arrowType, type ColumnKind } from '../../../connectors/postgres/types.js';
import { ByteSink } from '../../../src/formats/text/row-writer.js';
import { PG_URL, pgAvailable } from './helpers.js';

/** A query's result as binary COPY bytes, straight from the server. */
async function binaryCopy(sql: string): Promise<Buffer> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    const chunks: Buffer[] = [];
    const stream = client.query(copyTo(`COPY (${sql}) TO STDOUT (FORMAT binary)`));
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    await client.end();
  }
}

async function textOf(sql: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<{ t: string }>(`SELECT t FROM (${sql}) q`)).rows.map((r) => r.t);
  } finally {
    await client.end();
  }
}

function decoderFor(kinds: ColumnKind[]): CopyBinaryDecoder {
  const schema = new Schema(kinds.map((k, i) => new Field(`c${i}`, arrowType(k), true)));
  return new CopyBinaryDecoder(schema, kinds);
}

function floatText(v: number): string {
  const out = new ByteSink(64);
  writeFloat(v, out);
  return Buffer.from(out.buf.subarray(0, out.pos)).toString('latin1');
}

describe('postgres COPY text encoding of doubles', () => {
  it('writes text that reads back as the same double, for every magnitude and for values with few decimals', () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const values = [0, 1, -1, 0.1, 0.37, 4567.65, -190363.52, 1e-7, 123456789.12345678, 2 ** 53, -(2 ** 53) + 1, 1e21, 5e-324, Number.MAX_VALUE, 0.1 + 0.2];
    for (let i = 0; i < 20_000; i++) {
      values.push((random() - 0.5) * 10 ** Math.floor(random() * 40 - 20));
      values.push(Math.round(random() * 1e8) / 10 ** Math.floor(random() * 9));
      values.push(Math.floor(random() * 1e6) * 0.37);
    }
    for (const v of values) {
      const text = floatText(v);
      expect(Number(text), `${v} written as ${text}`).toBe(v);
      // Shortest: never longer than JavaScript's own shortest round-trip text, when that has no exponent.
      if (!String(v).includes('e')) expect(text, `${v}`).toBe(String(v));
    }
    expect([Number.NaN, Infinity, -Infinity, -0].map(floatText)).toEqual(['NaN', 'Infinity', '-Infinity', '0']);
  });
});

describe.skipIf(!pgAvailable)('postgres binary COPY decoding', () => {
  it('decodes numerics to the text PostgreSQL itself prints, at any weight and scale', async () => {
    const values = `SELECT v FROM (VALUES ('0'::numeric), ('-0.5'), ('1e10'), ('0.000001'), ('-12345678901234.123456'), ('123456789012345678901234567890.123456789'),
      ('NaN'), ('Infinity'), ('-Infinity'), ('10000'), ('9999.9999'), ('0.00010000'), ('100000000.00000001'), ('-1'), ('1.10'), ('0.0000000000000000001'),
      ('12.000'), ('99999999999999999999')) x(v)
      UNION ALL SELECT round((random() * 10 ^ (random() * 30 - 10))::numeric, (random() * 12)::int) * (CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) FROM generate_series(1, 2000)`;
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(`CREATE TEMP TABLE n AS ${values}`);
      const expected = (await client.query<{ t: string }>('SELECT v::text AS t FROM n ORDER BY ctid')).rows.map((r) => r.t);
      const chunks: Buffer[] = [];
      for await (const chunk of client.query(copyTo('COPY (SELECT v FROM n ORDER BY ctid) TO STDOUT (FORMAT binary)'))) chunks.push(chunk as Buffer);
      const decoder = decoderFor([{ kind: 'numeric' }]);
      decoder.push(Buffer.concat(chunks));
      const batch = decoder.take(100_000)!;
      expect(decoder.ended).toBe(true);
      const column = batch.getChildAt(0)!;
      expect(Array.from({ length: batch.numRows }, (_, i) => column.get(i))).toEqual(expected);
    } finally {
      await client.end();
    }
  });

  it('builds one batch across many small chunks: full batches of maxRows, then the rest at the trailer', async () => {
    const sql = `SELECT g::int8, CASE WHEN g % 7 = 0 THEN NULL ELSE 'row-' || g END, (g / 100.0)::numeric(12,2), (g * 0.37)::float8 FROM generate_series(1, 2500) g`;
    const bytes = await binaryCopy(sql);
    const decoder = decoderFor([{ kind: 'int8' }, { kind: 'text' }, { kind: 'numeric' }, { kind: 'float8' }]);
    const sizes: number[] = [];
    const ids: bigint[] = [];
    const texts: (string | null)[] = [];
    // 97-byte chunks: most rows arrive split in two.
    for (let at = 0; at < bytes.length; at += 97) {
      decoder.push(bytes.subarray(at, at + 97));
      for (let batch = decoder.take(1000); batch; batch = decoder.take(1000)) {
        sizes.push(batch.numRows);
        for (let i = 0; i < batch.numRows; i++) {
          ids.push(batch.getChildAt(0)!.get(i) as bigint);
          texts.push(batch.getChildAt(1)!.get(i) as string | null);
        }
      }
    }
    expect(decoder.ended).toBe(true);
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(ids).toEqual(Array.from({ length: 2500 }, (_, i) => BigInt(i + 1)));
    expect(texts.filter((t) => t === null).length).toBe(Math.floor(2500 / 7));
    expect(texts[0]).toBe('row-1');
  });

  it('flush hands out the rows of a batch that is not full; re-encoded as COPY text they equal the server text output', async () => {
    const sql = `SELECT g::int8, 'n-' || g, (g % 1000 / 100.0)::numeric(12,2), (g * 0.37)::float8, g % 3 = 0, TIMESTAMP '2024-01-01' + g * INTERVAL '1 second', DATE '2024-01-01' + g % 365,
      CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END FROM generate_series(1, 300) g`;
    const decoder = decoderFor(['int8', 'text', 'numeric', 'float8', 'bool', 'timestamp', 'date', 'text'].map((kind) => ({ kind }) as ColumnKind));
    const bytes = await binaryCopy(sql);
    decoder.push(bytes.subarray(0, bytes.length - 2)); // everything but the trailer
    expect(decoder.take(1000)).toBeUndefined();
    const batch = decoder.flush()!;
    expect(batch.numRows).toBe(300);
    expect(decoder.flush()).toBeUndefined();
    const text = new CopyTextEncoder(batch.schema.fields).encode(batch).toString('utf8');
    const expected = await textOf(`SELECT concat_ws(E'\\t', ${['g::int8', "'n-' || g", '(g % 1000 / 100.0)::numeric(12,2)', '(g * 0.37)::float8', "CASE WHEN g % 3 = 0 THEN 't' ELSE 'f' END", "TIMESTAMP '2024-01-01' + g * INTERVAL '1 second'", "DATE '2024-01-01' + g % 365", "coalesce(CASE WHEN g % 10 = 0 THEN NULL ELSE md5(g::text) END, '\\N')"]
      .map((e) => `(${e})::text`)
      .join(', ')}) AS t FROM generate_series(1, 300) g`);
    expect(text).toBe(`${expected.join('\n')}\n`);
  });
});
