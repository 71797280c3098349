/**
 * CRC32C (Castagnoli), table-driven with slice-by-16 (measured ~15% faster than slice-by-8 in V8 on
 * 900-byte fields). Tunnel checksums every record and every Arrow chunk with it, so the decoder runs it
 * over every payload byte. All functions take and return the finished CRC value (as Go's `crc32.Update` and Java's
 * `PureJavaCrc32C` do), so a running checksum can be fed in pieces.
 */

const POLY = 0x82f63b78;

/** Sixteen 256-entry tables laid end to end: table k at [k*256, k*256+256). */
const T = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 16; k++) {
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
  // Byte-wise loads: as fast in V8 as a DataView, and no alignment to care about.
  const stop16 = end - 16;
  while (i <= stop16) {
    const lo = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) ^ c;
    c =
      t[3840 + (lo & 0xff)]! ^
      t[3584 + ((lo >>> 8) & 0xff)]! ^
      t[3328 + ((lo >>> 16) & 0xff)]! ^
      t[3072 + (lo >>> 24)]! ^
      t[2816 + bytes[i + 4]!]! ^
      t[2560 + bytes[i + 5]!]! ^
      t[2304 + bytes[i + 6]!]! ^
      t[2048 + bytes[i + 7]!]! ^
      t[1792 + bytes[i + 8]!]! ^
      t[1536 + bytes[i + 9]!]! ^
      t[1280 + bytes[i + 10]!]! ^
      t[1024 + bytes[i + 11]!]! ^
      t[768 + bytes[i + 12]!]! ^
      t[512 + bytes[i + 13]!]! ^
      t[256 + bytes[i + 14]!]! ^
      t[bytes[i + 15]!]!;
    i += 16;
  }
  if (i <= end - 8) {
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

/** 32x32 GF(2) matrix times vector (matrix as 32 column words). */
function gf2Times(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  for (let i = 0; vector !== 0; i++, vector >>>= 1) if (vector & 1) sum ^= matrix[i]!;
  return sum >>> 0;
}

function gf2Square(out: Uint32Array, matrix: Uint32Array): void {
  for (let n = 0; n < 32; n++) out[n] = gf2Times(matrix, matrix[n]!);
}

/**
 * The CRC of `A || B` from `crc(A)`, `crc(B)` and the length of B (zlib's crc32_combine, for Castagnoli).
 * Lets the Arrow framing check each chunk and the whole payload with one pass over the bytes.
 */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = POLY;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row;
  gf2Square(even, odd);
  gf2Square(odd, even);
  let a = crcA >>> 0;
  let len = lengthB;
  do {
    gf2Square(even, odd);
    if (len & 1) a = gf2Times(even, a);
    len = Math.floor(len / 2);
    if (len === 0) break;
    gf2Square(odd, even);
    if (len & 1) a = gf2Times(odd, a);
    len = Math.floor(len / 2);
  } while (len !== 0);
  return (a ^ crcB) >>> 0;
}

/**
 * `combine(crcA, crcB)` for a fixed length of B, with the GF(2) operator computed once: 32 steps per call
 * instead of a logarithmic number of matrix squarings.
 */
export function crc32cCombiner(lengthB: number): (crcA: number, crcB: number) => number {
  const columns = new Uint32Array(32);
  for (let i = 0; i < 32; i++) columns[i] = crc32cCombine((1 << i) >>> 0, 0, lengthB);
  return (crcA, crcB) => (gf2Times(columns, crcA >>> 0) ^ crcB) >>> 0;
}
