import { describe, expect, it } from 'vitest';
import { decodeRecords, RecordStreamDecoder } from '../../../connectors/maxcompute/codec/record-reader.js';
import { TidewayError } from '../../../src/api/errors.js';
import { batchToRows } from '../../../src/api/rows.js';
import { loadGolden } from './golden.js';

/*
 * Conformance of the record decoder with the layouts the official SDKs read, built here byte by byte from
 * their readers (not with Tideway's writer, so a bug shared by writer and reader cannot hide):
 * - the Go SDK's test vector simpleTypeProtocData (shared/conformance/maxcompute, copied to test/fixtures/maxcompute), version-5 layout:
 *   records, then tag 33554430 + sint64 count, then tag 33554431 + varint crc-of-crcs;
 * - the version-6 layout of the Java SDK's com.aliyun.odps.commons.proto.ProtobufRecordStreamReader
 *   (ProtoWireConstant.METRICS_TAG = 1, METRICS_END_TAG = 33554176): after the count, tag 1 with a
 *   length-delimited string, then tag 33554176 with the CRC32C of the int32 1 and the string's bytes,
 *   then the crc-of-crcs.
 */

const { golden, bytes: goldenBytes } = loadGolden();

/** Bit-at-a-time CRC32C, independent of the codec's table-driven one. */
function refCrc32c(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

const tag = (field: number, wireType: number) => varint(field * 8 + wireType);
const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** Splits the golden stream into its records and its footer fields (located by their tag bytes). */
function splitGolden() {
  const countTag = Buffer.from(tag(33554430, 0));
  const at = Buffer.from(goldenBytes).lastIndexOf(countTag);
  const records = goldenBytes.subarray(0, at);
  const afterCount = at + countTag.length + 1; // sint64 count 1 is one byte (0x02)
  const checksumTag = Buffer.from(tag(33554431, 0));
  expect(Buffer.from(goldenBytes.subarray(afterCount, afterCount + checksumTag.length)).equals(checksumTag)).toBe(true);
  const crcOfCrcs = [...goldenBytes.subarray(afterCount + checksumTag.length)];
  return { records: [...records], count: [...countTag, 0x02], crcOfCrcs };
}

function v6Stream(text: string, options: { metricsCrc?: number; omitEnd?: boolean } = {}): Uint8Array {
  const { records, count, crcOfCrcs } = splitGolden();
  const textBytes = new TextEncoder().encode(text);
  const crc = refCrc32c(refCrc32c(0, Uint8Array.from(le32(1))), textBytes);
  const metrics = [...tag(1, 2), ...varint(textBytes.length), ...textBytes];
  const end = options.omitEnd ? [] : [...tag(33554176, 0), ...varint(options.metricsCrc ?? crc)];
  return Uint8Array.from([...records, ...count, ...metrics, ...end, ...tag(33554431, 0), ...crcOfCrcs]);
}

function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof TidewayError) return { code: error.code, message: error.message };
    return { code: 'not a TidewayError', message: String(error) };
  }
  return { code: 'no error', message: '' };
}

const METRICS = '{"NetworkWallCost":12,"ServerTotalCost":7,"StorageCost":3}';

describe('reference CRC32C', () => {
  it('gives the standard check value', () => {
    expect(refCrc32c(0, new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });
});

describe('golden vector checks (version-5 layout)', () => {
  it('accepts the vector as it is', () => {
    expect(decodeRecords(golden.columns, goldenBytes).numRows).toBe(golden.record_count);
  });

  it('rejects a wrong record CRC', () => {
    const endRecord = Buffer.from(tag(33553408, 0));
    const at = Buffer.from(goldenBytes).indexOf(endRecord) + endRecord.length;
    const bad = Uint8Array.from(goldenBytes);
    bad[at]! ^= 0x04; // the low 7 bits of the record CRC varint
    const f = failure(() => decodeRecords(golden.columns, bad));
    expect(f.code).toBe('MAXCOMPUTE_CORRUPT_STREAM');
    expect(f.message).toMatch(/record 0 has CRC32C \d+ on the wire but its bytes give 4224143193/);
  });

  it('rejects a record whose data changed under an unchanged CRC', () => {
    const bad = Uint8Array.from(goldenBytes);
    const at = Buffer.from(bad).indexOf(Buffer.from('world'));
    bad[at]! ^= 0x20; // 'w' -> 'W'
    expect(failure(() => decodeRecords(golden.columns, bad)).message).toMatch(/record 0 has CRC32C 4224143193 on the wire/);
  });

  it('rejects a wrong crc-of-crcs', () => {
    const bad = Uint8Array.from(goldenBytes);
    bad[bad.length - 5]! ^= 0x01; // first byte of the five-byte crc-of-crcs varint
    const f = failure(() => decodeRecords(golden.columns, bad));
    expect(f.code).toBe('MAXCOMPUTE_CORRUPT_STREAM');
    expect(f.message).toMatch(/stream checksum is \d+ but the records give 3191769024/);
  });
});

describe('metrics section (version-6 layout, Java ProtobufRecordStreamReader)', () => {
  it('reads a stream with a metrics section, checking its CRC, and keeps the text', () => {
    const bytes = v6Stream(METRICS);
    const decoder = new RecordStreamDecoder(golden.columns);
    decoder.push(bytes);
    expect(decoder.decode(10)).toBe(1);
    decoder.end();
    expect(decoder.complete).toBe(true);
    expect(decoder.metrics).toBe(METRICS);
    expect(batchToRows(decoder.takeBatch()!)).toEqual(batchToRows(decodeRecords(golden.columns, goldenBytes)));
  });

  it('reads it fed one byte at a time (the footer may straddle chunks)', () => {
    const bytes = v6Stream(METRICS.repeat(20));
    const decoder = new RecordStreamDecoder(golden.columns);
    for (const byte of bytes) {
      decoder.push(Uint8Array.of(byte));
      decoder.decode(10);
    }
    decoder.end();
    expect(decoder.batchRows).toBe(1);
    expect(decoder.metrics).toBe(METRICS.repeat(20));
  });

  it('accepts an empty metrics text and a lone end marker with the empty checksum', () => {
    expect(decodeRecords(golden.columns, v6Stream('')).numRows).toBe(1);
    const { records, count, crcOfCrcs } = splitGolden();
    const lone = Uint8Array.from([...records, ...count, ...tag(33554176, 0), 0x00, ...tag(33554431, 0), ...crcOfCrcs]);
    expect(decodeRecords(golden.columns, lone).numRows).toBe(1);
  });

  it('rejects a wrong metrics CRC', () => {
    const crc = refCrc32c(refCrc32c(0, Uint8Array.from(le32(1))), new TextEncoder().encode(METRICS));
    const f = failure(() => decodeRecords(golden.columns, v6Stream(METRICS, { metricsCrc: (crc ^ 1) >>> 0 })));
    expect(f.code).toBe('MAXCOMPUTE_CORRUPT_STREAM');
    expect(f.message).toMatch(new RegExp(`metrics section has CRC32C ${(crc ^ 1) >>> 0} on the wire but its bytes give ${crc}`));
  });

  it('rejects metrics text changed under its CRC', () => {
    const bytes = v6Stream(METRICS);
    const at = Buffer.from(bytes).indexOf(Buffer.from('StorageCost'));
    bytes[at]! ^= 0x20;
    expect(failure(() => decodeRecords(golden.columns, bytes)).message).toMatch(/metrics section has CRC32C/);
  });

  it('rejects metrics text without its checksum, and a stream that stops after the metrics', () => {
    expect(failure(() => decodeRecords(golden.columns, v6Stream(METRICS, { omitEnd: true }))).message).toMatch(/not its end marker/);
    const bytes = v6Stream(METRICS);
    const { crcOfCrcs } = splitGolden();
    const cut = bytes.subarray(0, bytes.length - crcOfCrcs.length - tag(33554431, 0).length);
    expect(failure(() => decodeRecords(golden.columns, cut)).code).toBe('MAXCOMPUTE_CORRUPT_STREAM');
  });

  it('still checks the crc-of-crcs after the metrics section', () => {
    const bytes = v6Stream(METRICS);
    bytes[bytes.length - 5]! ^= 0x01;
    expect(failure(() => decodeRecords(golden.columns, bytes)).message).toMatch(/stream checksum is \d+ but the records give 3191769024/);
  });
});
