import { crc32cUpdate } from '../codec/crc32c.js';

/** Field number of the metrics text and of the metrics section's end (2^25-256). */
const METRICS_TEXT_FIELD = 1;
const METRICS_END_FIELD = 33554176;

/** The tunnel version from which the service may send a metrics section (what the Java SDK and pyodps send). */
export const METRICS_MIN_TUNNEL_VERSION = 6;

/**
 * Encodes the service's version-6 metrics section: field 1 with the metrics as JSON text, then field
 * 33554176 with the CRC32C of the int32 1 (little-endian) followed by the text's bytes. Written here, apart
 * from the client's decoder, so the two are checked against each other rather than sharing a mistake.
 */
export function encodeMetricsSection(metrics: Readonly<Record<string, number>>): Uint8Array {
  const text = Buffer.from(JSON.stringify(metrics), 'utf8');
  const fieldNumber = Buffer.alloc(4);
  fieldNumber.writeInt32LE(METRICS_TEXT_FIELD);
  const crc = crc32cUpdate(crc32cUpdate(0, fieldNumber), text);
  return Buffer.concat([
    varint(METRICS_TEXT_FIELD * 8 + 2),
    varint(text.length),
    text,
    varint(METRICS_END_FIELD * 8),
    varint(crc),
  ]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}
