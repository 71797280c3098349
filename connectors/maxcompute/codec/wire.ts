/** Protobuf framing constants of the Tunnel record format. */

/** Tag (field number) that ends a record; its varint value is the record's CRC32C. */
export const END_RECORD = 33553408;
/** Tag of the stream's record count (sint64). */
export const META_COUNT = 33554430;
/** Tag of the stream's crc-of-crcs (varint). */
export const META_CHECKSUM = 33554431;
/**
 * Tunnel version 6 may put a metrics section between the record count and the crc-of-crcs: this tag with
 * a length-delimited string (the service's metrics, JSON text) ...
 */
export const METRICS_TEXT = 1;
/** ... then this tag (2^25-256) with a varint CRC32C over the int32 `METRICS_TEXT` and the string's bytes. */
export const METRICS_END = 33554176;

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;
