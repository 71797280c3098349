import { isUtf8 } from 'node:buffer';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TidewayError } from '../../api/errors.js';
import { type ByteRange, rangeReadStart, trimToRange } from '../byte-range.js';

/** Bytes in memory, or as they arrive (a file or HTTP stream). */
export type StreamInput = Uint8Array | AsyncIterable<Uint8Array>;

/**
 * A file on the local disk, which decoders read by position: Parquet only the row groups asked for, Arrow
 * IPC files batch by batch, JSON Lines and CSV from the first byte they need. Make one with `localFile`.
 */
export interface LocalFile {
  readonly kind: 'local-file';
  readonly path: string;
}

/** Decoder input: a whole object in memory, its bytes as they arrive (a file or HTTP stream), or a local file. */
export type DecodeInput = StreamInput | LocalFile;

/** A local file as decoder input. */
export function localFile(path: string): LocalFile {
  return { kind: 'local-file', path };
}

export function isLocalFile(input: DecodeInput): input is LocalFile {
  return !(input instanceof Uint8Array) && (input as LocalFile).kind === 'local-file';
}

/** Complete lines as bytes, with where they came from (for error positions and resume points). */
export interface ByteBlock {
  bytes: Uint8Array;
  /** Offset in the (uncompressed) object of `bytes[0]`. */
  offset: number;
  /** Whether this is the last block of the input. */
  final: boolean;
  /** Whether the input was gzip, so that offsets are in the uncompressed bytes and cannot be sought to. */
  gzip?: boolean;
}

/** Complete lines of text, with where their bytes came from (for error positions). */
export interface TextBlock extends ByteBlock {
  text: string;
}

export interface BlockOptions {
  name: string;
  compression: 'none' | 'gzip' | undefined;
  range: ByteRange | undefined;
  inputOffset: number | undefined;
  /** The input starts at this offset, where a record is known to begin (a resume point). */
  resumeAt: number | undefined;
  signal: AbortSignal | undefined;
}

/** Blocks are cut at line breaks once this much input has arrived: large enough to amortise the per-block work. */
const BLOCK_BYTES = 1 << 20;
/** A line longer than this is refused rather than buffered without limit. */
const MAX_LINE_BYTES = 256 << 20;

/**
 * The input as blocks of complete lines: gunzipped (when asked, or when it starts with the gzip magic
 * and compression is not set), trimmed to a byte range (or started at a resume point), and checked to be
 * UTF-8 (invalid UTF-8 is an error, never silently replaced). A UTF-8 byte order mark at the start of the
 * object is left in the block; see `bomLength`.
 */
export async function* byteBlocks(input: StreamInput, options: BlockOptions): AsyncGenerator<ByteBlock> {
  const { name, range, resumeAt } = options;
  let source: AsyncIterable<Uint8Array> = input instanceof Uint8Array ? once(input) : input;
  const first = await peek(source);
  source = first.rest;
  const gzip = options.compression === 'gzip' || (options.compression === undefined && first.head[0] === 0x1f && first.head[1] === 0x8b);
  if (gzip) {
    if (range || resumeAt !== undefined) {
      throw new TidewayError('FORMAT_RANGE_UNSUPPORTED', `${name}: a gzip file cannot be read in byte ranges or from a byte position; read it whole (one split per file)`, {
        context: { path: name },
      });
    }
    source = gunzip(source, name);
  }
  let pieces: AsyncIterable<{ bytes: Uint8Array; offset: number }>;
  if (resumeAt !== undefined) {
    pieces = trimToRange(source, { start: resumeAt, end: range?.end ?? Number.MAX_SAFE_INTEGER }, options.inputOffset ?? resumeAt, true);
  } else if (range) pieces = trimToRange(source, range, options.inputOffset ?? rangeReadStart(range));
  else pieces = withOffsets(source, options.inputOffset ?? 0);

  const check = (bytes: Uint8Array, offset: number): void => {
    if (isUtf8(bytes)) return;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (error) {
      throw new TidewayError('FORMAT_ENCODING', `${name}: bytes ${offset}..${offset + bytes.length} are not valid UTF-8; convert the file to UTF-8`, {
        cause: error,
        context: { path: name },
      });
    }
  };

  let held: Uint8Array[] = [];
  let heldBytes = 0;
  let heldOffset = 0;
  for await (const piece of pieces) {
    options.signal?.throwIfAborted();
    if (heldBytes === 0) heldOffset = piece.offset;
    held.push(piece.bytes);
    heldBytes += piece.bytes.length;
    if (heldBytes < BLOCK_BYTES) continue;
    const all = concat(held, heldBytes);
    const cut = all.lastIndexOf(10) + 1;
    if (cut === 0) {
      if (heldBytes > MAX_LINE_BYTES) {
        throw new TidewayError('FORMAT_LINE_TOO_LONG', `${name}: the line at byte ${heldOffset} is longer than ${MAX_LINE_BYTES >> 20} MiB; is this really a line-oriented file?`, {
          context: { path: name },
        });
      }
      held = [all];
      continue;
    }
    const bytes = all.subarray(0, cut);
    check(bytes, heldOffset);
    yield { bytes, offset: heldOffset, final: false, gzip };
    const rest = all.subarray(cut);
    held = rest.length > 0 ? [rest] : [];
    heldBytes = rest.length;
    heldOffset += cut;
  }
  const bytes = concat(held, heldBytes);
  check(bytes, heldOffset);
  yield { bytes, offset: heldOffset, final: true, gzip };
}

/** 3 when a block at object offset 0 starts with a UTF-8 byte order mark, else 0. */
export function bomLength(block: ByteBlock): number {
  const b = block.bytes;
  return block.offset === 0 && b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
}

/** The blocks of `byteBlocks` with their text (without a byte order mark). */
export async function* textBlocks(input: StreamInput, options: BlockOptions): AsyncGenerator<TextBlock> {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  for await (const block of byteBlocks(input, options)) {
    let text = decoder.decode(block.bytes);
    if (bomLength(block) > 0) text = text.slice(1);
    yield { ...block, text };
  }
}

/** The offset in the object of the start of line `index` (0-based) of a block. */
export function lineOffset(block: TextBlock, index: number): number {
  let at = 0;
  for (let i = 0; i < index; i++) {
    const next = block.bytes.indexOf(10, at);
    if (next < 0) break;
    at = next + 1;
  }
  return block.offset + at;
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function* withOffsets(source: AsyncIterable<Uint8Array>, start: number): AsyncGenerator<{ bytes: Uint8Array; offset: number }> {
  let offset = start;
  for await (const bytes of source) {
    yield { bytes, offset };
    offset += bytes.length;
  }
}

/** Reads the first non-empty chunk (to sniff for gzip) and returns an iterable that still yields it. */
async function peek(source: AsyncIterable<Uint8Array>): Promise<{ head: Uint8Array; rest: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  let head: Uint8Array = new Uint8Array(0);
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    if (next.value.length > 0) {
      head = next.value;
      break;
    }
  }
  const rest = (async function* () {
    try {
      if (head.length > 0) yield head;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Ends the underlying stream (a download) when the reader stops early.
      await iterator.return?.();
    }
  })();
  return { head, rest };
}

async function* gunzip(source: AsyncIterable<Uint8Array>, name: string): AsyncGenerator<Uint8Array> {
  const stream = createGunzip();
  // pipeline (unlike pipe) passes a failure of the source on to the gunzip stream instead of hanging it.
  pipeline(Readable.from(source, { objectMode: false }), stream, () => {});
  try {
    for await (const chunk of stream) yield chunk as Uint8Array;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('Z_')) throw error;
    throw new TidewayError('FORMAT_GZIP', `${name}: the gzip data is corrupt or truncated (${(error as Error).message}); check that the object was uploaded completely`, {
      cause: error,
      context: { path: name },
    });
  } finally {
    stream.destroy();
  }
}

/** One plain Uint8Array (never a Buffer, so that the scanners' element loads see one array kind). */
function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) {
    const only = chunks[0]!;
    return only.constructor === Uint8Array ? only : new Uint8Array(only.buffer, only.byteOffset, only.byteLength);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
