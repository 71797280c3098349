import {
  type Data,
  type DataType,
  makeData,
  RecordBatch,
  RecordBatchReader,
  RecordBatchStreamWriter,
  type Schema,
  Struct,
  Table,
  tableToIPC,
  Type,
} from 'apache-arrow';
import { maxComputeError } from '../errors.js';
import { ColumnBuilder } from './column-builder.js';
import { type OdpsColumn, parseOdpsType, toArrowSchema } from './types.js';
import { type RowValues, unscaledToDecimal } from './values.js';

const schemaMessages = new WeakMap<Schema, Uint8Array>();

/** The IPC stream prefix (the Schema message) for `schema`: what the client prepends to a Tunnel body. */
export function arrowSchemaMessage(schema: Schema): Uint8Array {
  let bytes = schemaMessages.get(schema);
  if (!bytes) {
    const stream = tableToIPC(new Table(schema), 'stream');
    // The stream is the schema message followed by the 8-byte end-of-stream marker.
    bytes = stream.subarray(0, stream.length - 8);
    schemaMessages.set(schema, bytes);
  }
  return bytes;
}

/** Serializes batches as IPC RecordBatch messages without the Schema message or end marker (the Tunnel body). */
export function encodeArrowBatches(schema: Schema, batches: readonly RecordBatch[]): Uint8Array {
  const writer = new RecordBatchStreamWriter();
  for (const batch of batches) writer.write(batch);
  writer.finish();
  const stream = writer.toUint8Array(true);
  const prefix = arrowSchemaMessage(schema).length;
  return stream.subarray(prefix, stream.length - 8);
}

/** Builds one batch of rows in the Arrow variant's wire types (the emulator's encoder). */
export function buildWireBatch(columns: readonly OdpsColumn[], rows: readonly RowValues[]): RecordBatch {
  const schema = toArrowSchema(columns, { wire: true });
  const builders = columns.map((c) => new ColumnBuilder(parseOdpsType(c.type), { wire: true, capacity: rows.length }));
  const names = columns.map((c) => c.name);
  for (const row of rows) {
    const positional = Array.isArray(row);
    for (let i = 0; i < builders.length; i++) {
      builders[i]!.appendValue(positional ? (row as readonly unknown[])[i] : (row as Record<string, unknown>)[names[i]!]);
    }
  }
  const children = builders.map((b) => b.finish(8));
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
}

/**
 * Converts a batch read in wire types to the output schema. Only DECIMAL differs (Decimal128 on the wire,
 * text in Tideway); every other column is passed through without copying.
 */
export function wireToOutput(batch: RecordBatch, output: Schema, needsConversion: boolean): RecordBatch {
  if (!needsConversion) return new RecordBatch(output, batch.data.clone(new Struct(output.fields)));
  const children = output.fields.map((field, i) => convertData(batch.data.children[i]!, field.type));
  return new RecordBatch(output, makeData({ type: new Struct(output.fields), length: batch.numRows, nullCount: 0, children }));
}

const encoder = new TextEncoder();

function convertData(data: Data, target: DataType): Data {
  if (data.type.typeId === Type.Decimal && target.typeId === Type.Utf8) return decimalToText(data, target);
  switch (target.typeId) {
    case Type.List:
    case Type.Map:
      return data.clone(target, data.offset, data.length, data.nullCount, data.buffers, [convertData(data.children[0]!, target.children[0]!.type)]);
    case Type.Struct:
      return data.clone(
        target,
        data.offset,
        data.length,
        data.nullCount,
        data.buffers,
        target.children.map((f, i) => convertData(data.children[i]!, f.type)),
      );
    default:
      return data.clone(target);
  }
}

function decimalToText(data: Data, target: DataType): Data {
  const scale = (data.type as unknown as { scale: number }).scale;
  const words = data.values as Uint32Array;
  const offsets = new Int32Array(data.length + 1);
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let i = 0; i < data.length; i++) {
    if (data.getValid(i)) {
      const at = (data.offset + i) * 4;
      let v = 0n;
      for (let w = 3; w >= 0; w--) v = (v << 32n) | BigInt(words[at + w]!);
      const text = encoder.encode(unscaledToDecimal(BigInt.asIntN(128, v), scale));
      parts.push(text);
      size += text.length;
    }
    offsets[i + 1] = size;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  const nullBitmap = data.nullCount > 0 ? copyBitmap(data) : undefined;
  return makeData({ type: target as never, length: data.length, nullCount: data.nullCount, nullBitmap, valueOffsets: offsets, data: bytes });
}

function copyBitmap(data: Data): Uint8Array {
  const out = new Uint8Array((data.length + 7) >>> 3);
  for (let i = 0; i < data.length; i++) if (data.getValid(i)) out[i >>> 3]! |= 1 << (i & 7);
  return out;
}

/**
 * Reads Tunnel Arrow payload bytes (already unframed and verified) as RecordBatches in the output schema.
 * The payload carries no Schema message: the one built from the session's schema goes first.
 */
export async function* readArrowPayload(
  columns: readonly OdpsColumn[],
  payload: AsyncIterable<Uint8Array>,
  output: Schema = toArrowSchema(columns),
): AsyncGenerator<RecordBatch> {
  const wire = toArrowSchema(columns, { wire: true });
  const needsConversion = wire.fields.some((f, i) => !sameType(f.type, output.fields[i]!.type));
  async function* withSchema(): AsyncGenerator<Uint8Array> {
    yield arrowSchemaMessage(wire);
    yield* checkMessageFraming(payload);
  }
  let reader: Awaited<ReturnType<typeof RecordBatchReader.from>>;
  try {
    reader = await RecordBatchReader.from(withSchema());
  } catch (error) {
    throw wrapIpcError(error);
  }
  try {
    for await (const batch of reader as AsyncIterable<RecordBatch>) yield wireToOutput(batch, output, needsConversion);
  } catch (error) {
    throw wrapIpcError(error);
  }
}

function sameType(a: DataType, b: DataType): boolean {
  return a.toString() === b.toString();
}

function wrapIpcError(error: unknown): unknown {
  if (error instanceof Error && 'code' in error) return error;
  return maxComputeError('MAXCOMPUTE_CORRUPT_STREAM', `the Arrow payload of a MaxCompute download is not a valid Arrow IPC stream: ${(error as Error)?.message ?? error}`, {
    cause: error,
    retryable: true,
  });
}

/** Flatbuffer `MessageHeader` union tag of a RecordBatch. */
const HEADER_RECORD_BATCH = 3;

/**
 * Passes the payload through unchanged while walking its IPC message framing (continuation marker,
 * metadata length, flatbuffer `Message.bodyLength`), so that a payload that does not end exactly after a
 * complete RecordBatch message, or holds anything but RecordBatch messages, is an error. apache-arrow's
 * reader alone would stop quietly at bytes it cannot read.
 */
export async function* checkMessageFraming(payload: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let head = new Uint8Array(0);
  /** Bytes of the current message still to pass before the next header (metadata + body). */
  let skip = 0;
  let ended = false;
  for await (const chunk of payload) {
    let at = 0;
    while (at < chunk.length) {
      if (ended) throw framingError('bytes follow the end-of-stream marker');
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        skip -= n;
        at += n;
        continue;
      }
      const need = headerBytesNeeded(head);
      const take = Math.min(need - head.length, chunk.length - at);
      const joined = new Uint8Array(head.length + take);
      joined.set(head);
      joined.set(chunk.subarray(at, at + take), head.length);
      head = joined;
      at += take;
      if (head.length < headerBytesNeeded(head)) continue;
      const parsed = parseMessageHeader(head);
      if (parsed === 'eos') ended = true;
      else skip = parsed.bodyLength;
      head = new Uint8Array(0);
    }
    yield chunk;
  }
  if (head.length > 0 || skip > 0) throw framingError('the payload ends inside a message (truncated)');
}

/** Prefix length needed to know the metadata size, then the whole metadata. */
function headerBytesNeeded(head: Uint8Array): number {
  if (head.length < 4) return 4;
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  const first = view.getInt32(0, true);
  if (first !== -1) return 4 + Math.max(0, first);
  if (head.length < 8) return 8;
  return 8 + Math.max(0, view.getInt32(4, true));
}

/** Parses a complete header (prefix and metadata, as `headerBytesNeeded` measured). */
function parseMessageHeader(head: Uint8Array): 'eos' | { bodyLength: number } {
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  const continuation = view.getInt32(0, true) === -1;
  const prefix = continuation ? 8 : 4;
  const metadataLength = view.getInt32(prefix - 4, true);
  if (metadataLength === 0) return 'eos';
  if (metadataLength < 0 || metadataLength > 64 * 1024 * 1024) throw framingError(`implausible metadata length ${metadataLength}`);
  const m = new DataView(head.buffer, head.byteOffset + prefix, metadataLength);
  try {
    const table = m.getUint32(0, true);
    const vtable = table - m.getInt32(table, true);
    const vtableLength = m.getUint16(vtable, true);
    const field = (index: number) => (4 + 2 * index < vtableLength ? m.getUint16(vtable + 4 + 2 * index, true) : 0);
    const headerType = field(1) ? m.getUint8(table + field(1)) : 0;
    if (headerType !== HEADER_RECORD_BATCH) throw framingError(`a message of type ${headerType} where only RecordBatch messages (3) may appear`);
    const bodyLength = field(3) ? Number(m.getBigInt64(table + field(3), true)) : 0;
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) throw framingError(`implausible body length ${bodyLength}`);
    return { bodyLength };
  } catch (error) {
    if (error instanceof RangeError) throw framingError('unreadable message metadata');
    throw error;
  }
}

function framingError(what: string) {
  return maxComputeError('MAXCOMPUTE_CORRUPT_STREAM', `the Arrow payload of a MaxCompute download is not a valid sequence of record batches: ${what}`, {
    retryable: true,
  });
}
