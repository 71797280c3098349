import { maxComputeError } from '../errors.js';
import { crc32cCombine, crc32cCombiner, crc32cUpdate } from './crc32c.js';

/** The service frames Arrow payloads in 64 KiB chunks. */
export const DEFAULT_ARROW_CHUNK_SIZE = 65536;

function uint32be(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, false);
  return out;
}

/**
 * Frames a payload the way the Tunnel service frames Arrow bodies: a big-endian uint32 chunk size, then
 * `[chunk][BE CRC32C(chunk)]` for every full chunk, then the last partial chunk followed by the BE CRC32C
 * of the whole payload.
 */
export class ArrowFrameWriter {
  private started = false;
  private inChunk = 0;
  private chunkCrc = 0;
  /** CRC of the payload up to the last full chunk (the current chunk is combined in at the end). */
  private totalCrc = 0;
  private readonly appendChunk: (total: number, chunk: number) => number;

  constructor(private readonly chunkSize = DEFAULT_ARROW_CHUNK_SIZE) {
    this.appendChunk = crc32cCombiner(chunkSize);
  }

  /** Frames the next payload bytes; returns the pieces to send, in order. */
  write(payload: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!this.started) {
      this.started = true;
      out.push(uint32be(this.chunkSize));
    }
    let at = 0;
    while (at < payload.length) {
      const n = Math.min(this.chunkSize - this.inChunk, payload.length - at);
      const piece = payload.subarray(at, at + n);
      this.chunkCrc = crc32cUpdate(this.chunkCrc, piece);
      out.push(piece);
      at += n;
      this.inChunk += n;
      if (this.inChunk === this.chunkSize) {
        out.push(uint32be(this.chunkCrc));
        this.totalCrc = this.appendChunk(this.totalCrc, this.chunkCrc);
        this.chunkCrc = 0;
        this.inChunk = 0;
      }
    }
    return out;
  }

  /** Ends the stream: the checksum of the whole payload. */
  end(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!this.started) {
      this.started = true;
      out.push(uint32be(this.chunkSize));
    }
    out.push(uint32be(crc32cCombine(this.totalCrc, this.chunkCrc, this.inChunk)));
    return out;
  }
}

/**
 * Removes the framing of an Arrow download body and checks every chunk CRC and the final whole-payload
 * CRC. Payload bytes are returned only once their chunk has been verified. A full chunk is recognisable
 * before the end of the body (the final segment is always shorter than chunk + checksum), so only the
 * last segment waits for `end()`. A chunk that arrived in several network pieces is returned as views of
 * those pieces, not copied into one array.
 */
export class ArrowFrameReader {
  private chunkSize = -1;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private totalCrc = 0;
  private finished = false;
  private appendChunk: ((total: number, chunk: number) => number) | undefined;

  constructor(readonly source = 'the download stream') {}

  /** Accepts the next body bytes; returns verified payload bytes. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.finished) throw this.corrupt('bytes after the end of the stream');
    if (chunk.length > 0) {
      // Plain Uint8Array views only: Buffers too would make the CRC loop's loads polymorphic (slower).
      this.pending.push(chunk instanceof Buffer ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length) : chunk);
      this.pendingBytes += chunk.length;
    }
    const out: Uint8Array[] = [];
    if (this.chunkSize < 0) {
      if (this.pendingBytes < 4) return out;
      const head = this.take(4);
      this.chunkSize = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, false);
      if (this.chunkSize === 0 || this.chunkSize > 64 * 1024 * 1024) throw this.corrupt(`implausible chunk size ${this.chunkSize}`);
      this.appendChunk = crc32cCombiner(this.chunkSize);
    }
    while (this.pendingBytes >= this.chunkSize + 4) {
      const data = this.takePieces(this.chunkSize);
      let actual = 0;
      for (const piece of data) actual = crc32cUpdate(actual, piece);
      const tail = this.take(4);
      const stored = new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, false);
      if (stored !== actual) throw this.corrupt(`chunk CRC32C ${stored} on the wire but the chunk gives ${actual}`);
      // One pass over the bytes: the whole-payload CRC is extended by the chunk's CRC.
      this.totalCrc = this.appendChunk!(this.totalCrc, actual);
      out.push(...data);
    }
    return out;
  }

  /** Verifies the last segment at the end of the body; returns its payload bytes. */
  end(): Uint8Array[] {
    if (this.finished) return [];
    if (this.chunkSize < 0 || this.pendingBytes < 4) {
      throw this.corrupt('the body ended before its final checksum (truncated stream)');
    }
    const last = this.take(this.pendingBytes);
    const data = last.subarray(0, last.length - 4);
    const stored = new DataView(last.buffer, last.byteOffset + last.length - 4, 4).getUint32(0, false);
    this.totalCrc = crc32cUpdate(this.totalCrc, data);
    if (stored !== this.totalCrc) {
      throw this.corrupt(`the final checksum is ${stored} but the payload gives ${this.totalCrc} (corrupt or truncated stream)`);
    }
    this.finished = true;
    return data.length > 0 ? [data] : [];
  }

  /** The next `n` pending bytes as views of the pieces they arrived in. */
  private takePieces(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let left = n;
    while (left > 0) {
      const head = this.pending[0]!;
      if (head.length <= left) {
        this.pending.shift();
        out.push(head);
        left -= head.length;
      } else {
        out.push(head.subarray(0, left));
        this.pending[0] = head.subarray(left);
        left = 0;
      }
    }
    this.pendingBytes -= n;
    return out;
  }

  /** The next `n` pending bytes in one array (copied only when they span pieces). */
  private take(n: number): Uint8Array {
    const first = this.pending[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
      this.pendingBytes -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const head = this.pending[0]!;
      const k = Math.min(head.length, n - at);
      out.set(head.subarray(0, k), at);
      at += k;
      if (k === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(k);
    }
    this.pendingBytes -= n;
    return out;
  }

  private corrupt(what: string) {
    return maxComputeError('MAXCOMPUTE_CORRUPT_STREAM', `corrupt MaxCompute Arrow stream from ${this.source}: ${what}`, { retryable: true });
  }
}
