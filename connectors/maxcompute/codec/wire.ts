/** Protobuf framing constants of the Tunnel record format. */

/** Tag (field number) that ends a record; its varint value is the record's CRC32C. */
export const END_RECORD = 33553408;
/** Tag of the stream's record count (sint64). */
export const META_COUNT = 33554430;
/** Tag of the stream's crc-of-crcs (varint). */
export const META_CHECKSUM = 33554431;

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;
