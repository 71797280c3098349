import { openAsBlob } from 'node:fs';
import { type RecordBatch, type Schema, tableFromIPC } from 'apache-arrow';
import { TidewayError } from '../../api/errors.js';
import { type DecodeInput, isLocalFile } from '../text/line-blocks.js';
import { type ParquetWasm, wasm, wasmMessage } from './wasm.js';

interface WasmBatch {
  intoIPCStream(): Uint8Array;
}

export interface ParquetReadSettings {
  batchRows: number;
  name: string;
  signal: AbortSignal | undefined;
  /** Only these row groups (0-based). */
  rowGroups?: readonly number[] | undefined;
  /** Rows of the selection to skip before the first one returned. */
  offset?: number | undefined;
}

function readError(name: string, error: unknown, what: string): TidewayError {
  return new TidewayError('FORMAT_PARQUET_READ', `${name}: ${what} (${wasmMessage(error)}); check that the object is a complete Parquet file`, {
    cause: error,
    context: { path: name },
  });
}

/**
 * The file as a Blob parquet-wasm reads by range: a local file stays on disk (only the footer and the row
 * groups read are loaded), other input is collected into memory first (Parquet's footer is at the end).
 */
async function blobOf(input: DecodeInput): Promise<Blob> {
  if (isLocalFile(input)) return openAsBlob(input.path);
  if (input instanceof Uint8Array) return new Blob([input]);
  const parts: Uint8Array[] = [];
  for await (const chunk of input) parts.push(chunk);
  return new Blob(parts);
}

async function open(input: DecodeInput, name: string): Promise<ParquetWasm.ParquetFile> {
  let blob: Blob;
  try {
    blob = await blobOf(input);
  } catch (error) {
    if (error instanceof TidewayError) throw error;
    throw new TidewayError('FORMAT_PARQUET_READ', `${name}: cannot be opened (${wasmMessage(error)})`, { cause: error, context: { path: name } });
  }
  try {
    return await wasm().ParquetFile.fromFile(blob);
  } catch (error) {
    throw readError(name, error, 'not a readable Parquet file');
  }
}

/**
 * Parquet through parquet-wasm, one row group at a time, so decoded memory is a batch, not the file.
 */
export async function* decodeParquet(input: DecodeInput, settings: ParquetReadSettings): AsyncGenerator<RecordBatch> {
  const { name } = settings;
  const file = await open(input, name);
  try {
    for (const segment of settings.offset ? skipPlan(file, settings) : [{ rowGroups: settings.rowGroups, offset: 0 }]) {
      yield* streamRowGroups(file, settings, segment);
    }
  } finally {
    file.free();
  }
}

interface Segment {
  rowGroups: readonly number[] | undefined;
  offset: number;
}

/**
 * The reads that leave out the first `settings.offset` rows of the selection. parquet-wasm applies a
 * stream's `offset` to every row group it reads, not once to the selection, so a selection of several
 * row groups read with one offset loses rows: the row groups skipped whole are left out of the selection,
 * the one the offset falls in is read alone with the rest of the offset, and the groups after it without.
 */
function skipPlan(file: ParquetWasm.ParquetFile, settings: ParquetReadSettings): Segment[] {
  let groups: number[];
  let rows: number[];
  try {
    const metadata = file.metadata();
    groups = settings.rowGroups ? [...settings.rowGroups] : Array.from({ length: metadata.numRowGroups() }, (_, i) => i);
    rows = groups.map((g) => Number(metadata.rowGroup(g).numRows()));
  } catch (error) {
    throw readError(settings.name, error, 'the footer cannot be read');
  }
  let left = settings.offset ?? 0;
  let first = 0;
  while (first < groups.length && left >= rows[first]!) left -= rows[first++]!;
  if (first === groups.length) return [];
  const rest = groups.slice(first + 1);
  return [{ rowGroups: [groups[first]!], offset: left }, ...(rest.length > 0 ? [{ rowGroups: rest, offset: 0 }] : [])];
}

async function* streamRowGroups(file: ParquetWasm.ParquetFile, settings: ParquetReadSettings, segment: Segment): AsyncGenerator<RecordBatch> {
  const { name } = settings;
  let stream: ReadableStream<WasmBatch>;
  try {
    stream = (await file.stream({
      batchSize: settings.batchRows,
      ...(segment.rowGroups ? { rowGroups: [...segment.rowGroups] } : {}),
      ...(segment.offset ? { offset: segment.offset } : {}),
    })) as ReadableStream<WasmBatch>;
  } catch (error) {
    throw readError(name, error, 'cannot read the row groups');
  }
  const reader = stream.getReader();
  try {
    for (;;) {
      settings.signal?.throwIfAborted();
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (error) {
        throw readError(name, error, 'a row group cannot be decoded');
      }
      if (next.done) return;
      for (const batch of tableFromIPC(next.value.intoIPCStream()).batches) yield batch;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** The Arrow schema of a Parquet file (from the ARROW:schema metadata parquet-wasm writes, else mapped). */
export async function readParquetSchema(input: DecodeInput, name: string): Promise<Schema> {
  const file = await open(input, name);
  try {
    return tableFromIPC(file.schema().intoIPCStream()).schema;
  } catch (error) {
    throw readError(name, error, 'the schema cannot be read');
  } finally {
    file.free();
  }
}

/** Rows and compressed bytes of each row group of a Parquet file, from its footer. */
export async function readParquetRowGroups(input: DecodeInput, name: string): Promise<{ rows: number; bytes: number }[]> {
  const file = await open(input, name);
  try {
    const metadata = file.metadata();
    const groups: { rows: number; bytes: number }[] = [];
    for (let i = 0; i < metadata.numRowGroups(); i++) {
      const group = metadata.rowGroup(i);
      groups.push({ rows: Number(group.numRows()), bytes: Number(group.compressedSize()) });
    }
    return groups;
  } catch (error) {
    throw readError(name, error, 'the footer cannot be read');
  } finally {
    file.free();
  }
}
