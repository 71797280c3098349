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
    yield* payload;
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
