/**
 * CRC32C (Castagnoli), table-driven with slice-by-8. Tunnel checksums every record and every Arrow chunk
 * with it, so the decoder runs it over every payload byte: slice-by-8 keeps that well under the cost of
 * parsing. All functions take and return the finished CRC value (as Go's `crc32.Update` and Java's
 * `PureJavaCrc32C` do), so a running checksum can be fed in pieces.
 */

const POLY = 0x82f63b78;

/** Eight 256-entry tables laid end to end: table k at [k*256, k*256+256). */
const T = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

/** Updates `crc` with `bytes[start, end)`. */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc;
  let i = start;
  const t = T;
  // Align nothing: byte-wise reads of eight bytes are as fast in V8 as a DataView and need no alignment.
  const stop8 = end - 8;
  while (i <= stop8) {
    const lo = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) ^ c;
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
    i += 8;
  }
  while (i < end) c = t[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC32C of `bytes[start, end)`. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}

/** Updates `crc` with the four little-endian bytes of a 32-bit integer. */
export function crc32cUpdateInt32(crc: number, value: number): number {
  const t = T;
  const c = ~crc ^ value;
  return ~(t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^ t[c >>> 24]!) >>> 0;
}

/** Updates `crc` with the eight little-endian bytes of a 64-bit integer given as its low and high words. */
export function crc32cUpdateInt64(crc: number, lo: number, hi: number): number {
  const t = T;
  const c = ~crc ^ lo;
  return (
    ~(
      t[1792 + (c & 0xff)]! ^
      t[1536 + ((c >>> 8) & 0xff)]! ^
      t[1280 + ((c >>> 16) & 0xff)]! ^
      t[1024 + (c >>> 24)]! ^
      t[768 + (hi & 0xff)]! ^
      t[512 + ((hi >>> 8) & 0xff)]! ^
      t[256 + ((hi >>> 16) & 0xff)]! ^
      t[hi >>> 24]!
    ) >>> 0
  );
}

/** Updates `crc` with one byte. */
export function crc32cUpdateByte(crc: number, byte: number): number {
  const c = ~crc;
  return ~(T[(c ^ byte) & 0xff]! ^ (c >>> 8)) >>> 0;
}
