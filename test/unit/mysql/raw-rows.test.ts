import { describe, expect, it } from 'vitest';
import { buildRawBatch, RawRows } from '../../../connectors/mysql/raw-rows.js';
import { arrowSchema, type ColumnInfo, type ColumnKind } from '../../../connectors/mysql/types.js';

/** A text-protocol row packet body: each value as a length-encoded string, NULL as 0xfb. */
function packet(values: (Buffer | string | null)[]): Buffer {
  const parts: Buffer[] = [];
  for (const value of values) {
    if (value === null) {
      parts.push(Buffer.from([0xfb]));
      continue;
    }
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    const n = bytes.length;
    if (n < 0xfb) parts.push(Buffer.from([n]));
    else if (n < 0x10000) parts.push(Buffer.from([0xfc, n & 0xff, n >> 8]));
    else if (n < 0x1000000) parts.push(Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]));
    else throw new Error('too long for this test');
    parts.push(bytes);
  }
  // A 4-byte packet header in front, as the driver's buffers have, and some unrelated bytes after.
  return Buffer.concat([Buffer.from([0, 0, 0, 0]), ...parts, Buffer.from([0xaa, 0xbb])]);
}

const column = (name: string, kind: ColumnKind): ColumnInfo => ({ name, kind, nullable: true, sqlType: kind, partitionable: false, selectExpr: name });

describe('mysql raw rows: text-protocol row packets straight into Arrow', () => {
  it('reads every length encoding, NULL and empty values, and every column kind as the driver strings would', () => {
    const columns = [
      column('i64', 'int64'), column('u64', 'uint64'), column('i8', 'int8'), column('u32', 'uint32'), column('f64', 'float64'),
      column('d', 'date'), column('dt', 'datetime'), column('txt', 'text'), column('bin', 'binary'), column('bit1', 'bool'), column('bits', 'bits'),
    ];
    const long = 'é'.repeat(40_000); // 80,000 bytes: a 3-byte length
    const mid = 'x'.repeat(300); // a 2-byte length
    const rows = [
      ['-9223372036854775808', '18446744073709551615', '-128', '4294967295', '-1.7976931348623157e308', '1000-01-01', '9999-12-31 23:59:59.999999', long, Buffer.from([0, 255, 10]), Buffer.from([1]), Buffer.from([0x0a, 0xaa])],
      ['42', '7', '0', '0', '0.37', '2024-02-29', '1970-01-01 00:00:00.5', '', Buffer.alloc(0), Buffer.from([0]), Buffer.from([0])],
      [null, null, null, null, null, null, null, null, null, null, null],
      ['123456789012345', '1', '127', '1', '2.5', '1969-12-31', '2024-06-30 12:34:56', mid, Buffer.from('héllo'), null, Buffer.from([1, 0, 0])],
    ];
    const raw = new RawRows(columns.length);
    for (const row of rows) {
      const buf = packet(row);
      raw.add(buf, 4, buf.length - 2);
    }
    const batch = buildRawBatch(arrowSchema(columns), columns, raw);
    const at = (name: string) => batch.getChild(name)!.toArray() as ArrayLike<unknown>;
    expect(batch.numRows).toBe(4);
    expect(Array.from(batch.getChild('i64')!.toArray() as BigInt64Array)).toEqual([-9223372036854775808n, 42n, 0n, 123456789012345n]);
    expect(batch.getChild('i64')!.get(2)).toBeNull();
    expect(Array.from(batch.getChild('u64')!.toArray() as BigUint64Array)).toEqual([18446744073709551615n, 7n, 0n, 1n]);
    expect([0, 1, 3].map((i) => batch.getChild('i8')!.get(i))).toEqual([-128, 0, 127]);
    expect([0, 1, 3].map((i) => batch.getChild('u32')!.get(i))).toEqual([4294967295, 0, 1]);
    expect([0, 1, 3].map((i) => batch.getChild('f64')!.get(i))).toEqual([-1.7976931348623157e308, 0.37, 2.5]);
    expect([0, 1, 3].map((i) => batch.getChild('d')!.get(i))).toEqual([Date.UTC(1000, 0, 1), Date.UTC(2024, 1, 29), Date.UTC(1969, 11, 31)]);
    expect([0, 1, 3].map((i) => (at('dt') as BigInt64Array)[i])).toEqual([253402300799999999n, 500000n, 1719750896000000n]);
    expect([0, 1, 2, 3].map((i) => batch.getChild('txt')!.get(i))).toEqual([long, '', null, mid]);
    expect([0, 1, 3].map((i) => Buffer.from(batch.getChild('bin')!.get(i) as Uint8Array))).toEqual([Buffer.from([0, 255, 10]), Buffer.alloc(0), Buffer.from('héllo')]);
    expect([0, 1, 2, 3].map((i) => batch.getChild('bit1')!.get(i))).toEqual([true, false, null, null]);
    expect([0, 1, 3].map((i) => (at('bits') as BigUint64Array)[i])).toEqual([0x0aaan, 0n, 0x010000n]);
    // The values the keyset reader keeps for the next page's WHERE, as the driver gave them.
    expect(raw.value(3, 0, false)).toBe('123456789012345');
    expect(raw.value(0, 8, true)).toEqual(Buffer.from([0, 255, 10]));
    expect(raw.value(2, 7, false)).toBeNull();
  });

  it('decodes text the server sends in another character set, and takes binary and utf8 columns as they are', () => {
    const columns = [column('l', 'text'), column('u', 'text'), column('b', 'binary')];
    const raw = new RawRows(columns.length);
    raw.setEncodings([{ name: 'l', encoding: 'latin1' }, { name: 'u', encoding: 'utf8' }, { name: 'b', encoding: 'binary' }]);
    const buf = packet([Buffer.from([0x68, 0xe9, 0x80]), 'hé世', Buffer.from([0xe9])]);
    raw.add(buf, 4, buf.length - 2);
    const batch = buildRawBatch(arrowSchema(columns), columns, raw);
    // Decoded as the driver decodes latin1 (Node's own latin1), so keyset and stream reads agree.
    expect(batch.getChild('l')!.get(0)).toBe(Buffer.from([0x68, 0xe9, 0x80]).toString('latin1'));
    expect(raw.value(0, 0, false)).toBe(Buffer.from([0x68, 0xe9, 0x80]).toString('latin1'));
    expect(batch.getChild('u')!.get(0)).toBe('hé世');
    expect(Buffer.from(batch.getChild('b')!.get(0) as Uint8Array)).toEqual(Buffer.from([0xe9]));
    expect(() => new RawRows(1).setEncodings([{ name: 'legacy', encoding: 'no-such-charset' }])).toThrow(/column "legacy" .*character_set_results/);
  });

  it('refuses a packet that holds fewer values than the result has columns, and a zero date by name', () => {
    const raw = new RawRows(3);
    const short = packet(['1', '2']);
    expect(() => raw.add(short, 4, short.length - 2)).toThrow(RangeError);
    const columns = [column('d', 'date')];
    const zero = new RawRows(1);
    const buf = packet(['0000-00-00']);
    zero.add(buf, 4, buf.length - 2);
    expect(() => buildRawBatch(arrowSchema(columns), columns, zero)).toThrow(/0000-00-00/);
  });
});
