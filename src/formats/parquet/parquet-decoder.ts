import { type RecordBatch, type Schema, tableFromIPC } from 'apache-arrow';
import { TidewayError } from '../../api/errors.js';
import type { DecodeInput } from '../text/line-blocks.js';
import { wasm, wasmMessage } from './wasm.js';

interface WasmBatch {
  intoIPCStream(): Uint8Array;
}

/**
 * Parquet through parquet-wasm. The file must be in memory (its footer is at the end), held as a Blob
 * from which the reader fetches one row group at a time, so decoded memory is one batch, not the file.
 */
export async function* decodeParquet(
  input: DecodeInput,
  settings: { batchRows: number; name: string; signal: AbortSignal | undefined },
): AsyncGenerator<RecordBatch> {
  const { name } = settings;
  const fail = (error: unknown, what: string): TidewayError =>
    new TidewayError('FORMAT_PARQUET_READ', `${name}: ${what} (${wasmMessage(error)}); check that the object is a complete Parquet file`, {
      cause: error,
      context: { path: name },
    });
  const blob = new Blob(await collect(input));
  let file: wasm.ParquetFile;
  try {
    file = await wasm.ParquetFile.fromFile(blob);
  } catch (error) {
    throw fail(error, 'not a readable Parquet file');
  }
  try {
    let stream: ReadableStream<WasmBatch>;
    try {
      stream = (await file.stream({ batchSize: settings.batchRows })) as ReadableStream<WasmBatch>;
    } catch (error) {
      throw fail(error, 'cannot read the row groups');
    }
    const reader = stream.getReader();
    try {
      for (;;) {
        settings.signal?.throwIfAborted();
        let next: Awaited<ReturnType<typeof reader.read>>;
        try {
          next = await reader.read();
        } catch (error) {
          throw fail(error, 'a row group cannot be decoded');
        }
        if (next.done) return;
        for (const batch of tableFromIPC(next.value.intoIPCStream()).batches) yield batch;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  } finally {
    file.free();
  }
}

async function collect(input: DecodeInput): Promise<Uint8Array[]> {
  if (input instanceof Uint8Array) return [input];
  const parts: Uint8Array[] = [];
  for await (const chunk of input) parts.push(chunk);
  return parts;
}

/** The Arrow schema of a Parquet file (from the ARROW:schema metadata parquet-wasm writes, else mapped). */
export async function readParquetSchema(input: DecodeInput, name: string): Promise<Schema> {
  const parts = await collect(input);
  const bytes = parts.length === 1 ? parts[0]! : new Uint8Array(Buffer.concat(parts));
  try {
    return tableFromIPC(wasm.readSchema(bytes).intoIPCStream()).schema;
  } catch (error) {
    throw new TidewayError('FORMAT_PARQUET_READ', `${name}: not a readable Parquet file (${wasmMessage(error)}); check that the object is a complete Parquet file`, {
      cause: error,
      context: { path: name },
    });
  }
}
