import { describe, expect, it } from 'vitest';
import { ArrowFrameReader, ArrowFrameWriter } from '../../../connectors/maxcompute/codec/arrow-frame.js';
import { buildWireBatch, encodeArrowBatches, readArrowPayload } from '../../../connectors/maxcompute/codec/arrow-ipc.js';
import { crc32c } from '../../../connectors/maxcompute/codec/crc32c.js';
import { decodeRecords } from '../../../connectors/maxcompute/codec/record-reader.js';
import { encodeRecords } from '../../../connectors/maxcompute/codec/record-writer.js';
import { toArrowSchema } from '../../../connectors/maxcompute/codec/types.js';
import { TidewayError } from '../../../src/api/errors.js';
import { batchToRows } from '../../../src/api/rows.js';
import { ALL_TYPES, ALL_TYPES_ROWS, plain } from './helpers.js';

function frame(payload: Uint8Array, chunkSize: number): Uint8Array {
  const writer = new ArrowFrameWriter(chunkSize);
  const pieces = [...writer.write(payload.subarray(0, 3)), ...writer.write(payload.subarray(3)), ...writer.end()];
  return Buffer.concat(pieces);
}

function unframe(body: Uint8Array, step: number): Uint8Array {
  const reader = new ArrowFrameReader();
  const out: Uint8Array[] = [];
  for (let i = 0; i < body.length; i += step) out.push(...reader.push(body.subarray(i, i + step)));
  out.push(...reader.end());
  return Buffer.concat(out);
}

describe('Arrow CRC framing', () => {
  const payload = new Uint8Array(1000).map((_, i) => (i * 37) & 0xff);

  it('lays out chunk size, chunk CRCs and the whole-payload CRC as the service does', () => {
    const body = frame(payload, 256);
    const view = new DataView(body.buffer, body.byteOffset);
    expect(view.getUint32(0, false)).toBe(256);
    expect(view.getUint32(4 + 256, false)).toBe(crc32c(payload, 0, 256));
    expect(view.getUint32(4 + 260 + 256, false)).toBe(crc32c(payload, 256, 512));
    expect(view.getUint32(body.length - 4, false)).toBe(crc32c(payload));
    expect(body.length).toBe(4 + 3 * 260 + (1000 - 768) + 4);
  });

  it.each([
    [256, 1],
    [256, 97],
    [250, 4096],
    [100, 33],
    [1000, 10],
  ])('round-trips with chunk size %i fed %i bytes at a time', (chunkSize, step) => {
    expect(Buffer.from(unframe(frame(payload, chunkSize), step)).equals(Buffer.from(payload))).toBe(true);
  });

  it('handles an empty payload', () => {
    expect(unframe(frame(new Uint8Array(0), 64), 3)).toHaveLength(0);
  });

  it('rejects a flipped byte in any chunk, a truncated body and trailing bytes', () => {
    const body = frame(payload, 256);
    for (const at of [10, 300, 900, body.length - 2]) {
      const bad = Uint8Array.from(body);
      bad[at]! ^= 0x10;
      expect(() => unframe(bad, 64)).toThrow(TidewayError);
    }
    for (const cut of [0, 2, 260, 264, body.length - 1]) {
      expect(() => unframe(body.subarray(0, cut), 64)).toThrow(/truncated|checksum/);
    }
    const reader = new ArrowFrameReader();
    reader.push(body);
    reader.end();
    expect(() => reader.push(Uint8Array.of(1))).toThrow(/after the end/);
  });
});

async function* chunks(bytes: Uint8Array, step: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += step) yield bytes.subarray(i, i + step);
}

describe('Arrow payload (record batches without a schema message)', () => {
  it('reads every type as the same rows the record format gives', async () => {
    const wire = toArrowSchema(ALL_TYPES, { wire: true });
    const payload = encodeArrowBatches(wire, [buildWireBatch(ALL_TYPES, ALL_TYPES_ROWS), buildWireBatch(ALL_TYPES, ALL_TYPES_ROWS.slice(1))]);
    const batches = [];
    for await (const batch of readArrowPayload(ALL_TYPES, chunks(payload, 333))) batches.push(batch);
    expect(batches.map((b) => b.numRows)).toEqual([3, 2]);
    const fromArrow = batches.flatMap((b) => batchToRows(b));
    const fromRecords = batchToRows(decodeRecords(ALL_TYPES, encodeRecords(ALL_TYPES, [...ALL_TYPES_ROWS, ...ALL_TYPES_ROWS.slice(1)])));
    expect(plain(fromArrow)).toEqual(plain(fromRecords));
    expect(batches[0]!.schema.fields.map((f) => String(f.type))).toEqual(toArrowSchema(ALL_TYPES).fields.map((f) => String(f.type)));
  });

  it('carries decimals as Decimal128 on the wire and yields canonical text', async () => {
    const columns = [{ name: 'd', type: 'decimal(12,3)' }];
    const wire = toArrowSchema(columns, { wire: true });
    expect(wire.fields[0]!.type).toMatchObject({ precision: 12, scale: 3, bitWidth: 128 });
    const payload = encodeArrowBatches(wire, [buildWireBatch(columns, [['1.5'], ['-0.001'], [null], ['123456789.999']])]);
    const rows = [];
    for await (const batch of readArrowPayload(columns, chunks(payload, 50))) rows.push(...batchToRows(batch));
    expect(rows.map((r) => r.d)).toEqual(['1.5', '-0.001', null, '123456789.999']);
  });

  it('reports a payload that is not Arrow IPC as a corrupt stream', async () => {
    const columns = [{ name: 'a', type: 'int' }];
    const junk = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, ...new Uint8Array(16).fill(0xab));
    const read = async () => {
      for await (const _ of readArrowPayload(columns, chunks(junk, 8))) void _;
    };
    await expect(read()).rejects.toMatchObject({ code: 'MAXCOMPUTE_CORRUPT_STREAM' });
  });
});
