/**
 * Byte-range splits of line-oriented files (JSON Lines, CSV), so that several readers can share one large
 * file and read every record exactly once.
 *
 * The rule (Hadoop's LineRecordReader rule): a record belongs to the range in which its first byte lies.
 * A reader of `[start, end)`:
 * - skips everything up to and including the first line break at or after byte `start - 1` (so a record
 *   that begins exactly at `start` is kept, because the byte before it is a line break);
 * - reads records while they begin before `end`, finishing the last one even past `end`.
 * Ranges that tile the file (each `end` is the next `start`) therefore cover every record once.
 */

/** A half-open byte range `[start, end)` of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Cuts a file of `size` bytes into consecutive ranges of about `splitBytes` each (the last may be shorter).
 * An empty file gives one empty range, so that a reader still opens it.
 */
export function splitByteRanges(size: number, splitBytes: number): ByteRange[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`file size must be a non-negative integer, got ${size}`);
  if (!Number.isSafeInteger(splitBytes) || splitBytes < 1) throw new RangeError(`split size must be a positive integer, got ${splitBytes}`);
  if (size === 0) return [{ start: 0, end: 0 }];
  const ranges: ByteRange[] = [];
  for (let start = 0; start < size; start += splitBytes) ranges.push({ start, end: Math.min(size, start + splitBytes) });
  return ranges;
}

/**
 * The first byte a reader of `range` must fetch: one before `start`, to see whether a record begins
 * exactly at `start`. Fetch from here to the end of the object (the decoder stops reading, and so the
 * download, once it has the range's last record).
 */
export function rangeReadStart(range: ByteRange): number {
  return Math.max(0, range.start - 1);
}

/**
 * Trims a byte stream that starts at object offset `inputOffset` to the records `range` owns. With
 * `fromBoundary`, `range.start` is known to be where a record begins (a resume point), and the input
 * starts there.
 * Stops pulling from `input` (which ends a download) as soon as the last owned record is complete.
 */
export async function* trimToRange(
  input: AsyncIterable<Uint8Array>,
  range: ByteRange,
  inputOffset: number,
  fromBoundary = false,
): AsyncGenerator<{ bytes: Uint8Array; offset: number }> {
  if (range.end <= range.start) return;
  if (fromBoundary && inputOffset !== range.start) {
    throw new RangeError(`a reader resuming at byte ${range.start} needs the input from that byte, but it starts at ${inputOffset}`);
  }
  // From a known record boundary (a resume point) there is nothing to skip.
  let skipping = range.start > 0 && !fromBoundary;
  if (skipping && inputOffset > range.start - 1) {
    throw new RangeError(`a reader of bytes ${range.start}-${range.end} needs the input from byte ${range.start - 1}, but it starts at ${inputOffset}`);
  }
  if (!skipping && !fromBoundary && inputOffset !== 0) {
    throw new RangeError(`a reader of bytes 0-${range.end} needs the input from byte 0, but it starts at ${inputOffset}`);
  }
  let position = inputOffset;
  for await (const chunk of input) {
    let bytes = chunk;
    let offset = position;
    position += chunk.length;
    if (skipping) {
      const from = range.start - 1 - offset;
      if (from >= bytes.length) continue;
      const newline = bytes.indexOf(10, Math.max(0, from));
      if (newline < 0) continue;
      bytes = bytes.subarray(newline + 1);
      offset += newline + 1;
      skipping = false;
      if (offset >= range.end) return;
    }
    const from = range.end - 1 - offset;
    if (from < bytes.length) {
      const newline = bytes.indexOf(10, Math.max(0, from));
      if (newline >= 0) {
        yield { bytes: bytes.subarray(0, newline + 1), offset };
        return;
      }
    }
    if (bytes.length > 0) yield { bytes, offset };
  }
}
