import { open } from 'node:fs/promises';
import { type RecordBatch, RecordBatchReader, type Schema } from 'apache-arrow';
import { TidewayError } from '../../api/errors.js';
import { type DecodeInput, isLocalFile, type StreamInput } from '../text/line-blocks.js';

/**
 * Opens `input` for arrow-js: a local file through a file handle (read by position: a file-format input
 * batch by batch, not into memory), closed by the returned `close`.
 */
async function readerOf(input: DecodeInput): Promise<{ reader: RecordBatchReader | AsyncIterable<RecordBatch>; close: () => Promise<void> }> {
  if (isLocalFile(input)) {
    const handle = await open(input.path, 'r');
    try {
      return { reader: await RecordBatchReader.from(handle), close: () => handle.close() };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
  const stream = input as StreamInput;
  return { reader: stream instanceof Uint8Array ? RecordBatchReader.from(stream) : await RecordBatchReader.from(stream), close: async () => {} };
}

/**
 * Arrow IPC, file or stream format (told apart by the `ARROW1` magic). A stream is read batch by batch as
 * bytes arrive; arrow-js reads a file-format input given as chunks into memory first, since its footer is
 * at the end.
 */
export async function* decodeArrow(
  input: DecodeInput,
  settings: { batchRows: number; name: string; signal: AbortSignal | undefined },
): AsyncGenerator<RecordBatch> {
  const { name } = settings;
  const fail = (error: unknown): TidewayError => readError(error, name);
  let batches: AsyncIterable<RecordBatch> | Iterable<RecordBatch>;
  let close: () => Promise<void>;
  try {
    ({ reader: batches, close } = await readerOf(input));
  } catch (error) {
    throw fail(error);
  }
  const iterator = (Symbol.asyncIterator in batches ? batches[Symbol.asyncIterator]() : batches[Symbol.iterator]()) as
    | AsyncIterator<RecordBatch>
    | Iterator<RecordBatch>;
  try {
    for (;;) {
      settings.signal?.throwIfAborted();
      let next: IteratorResult<RecordBatch>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw fail(error);
      }
      if (next.done) return;
      const batch = next.value;
      for (let at = 0; at < batch.numRows; at += settings.batchRows) {
        yield at === 0 && batch.numRows <= settings.batchRows ? batch : batch.slice(at, Math.min(batch.numRows, at + settings.batchRows));
      }
    }
  } finally {
    await iterator.return?.();
    await close();
  }
}

function readError(error: unknown, name: string): TidewayError {
  const message = error instanceof Error ? error.message : String(error);
  return new TidewayError('FORMAT_ARROW_READ', `${name}: not a readable Arrow IPC file or stream (${message}); check that the object was written as Arrow IPC and uploaded completely`, {
    cause: error,
    context: { path: name },
  });
}

/** The schema at the head of an Arrow IPC file or stream. */
export async function readArrowSchema(input: DecodeInput, name: string): Promise<Schema> {
  let close = async () => {};
  try {
    const opened = await readerOf(input);
    close = opened.close;
    const reader = opened.reader as RecordBatchReader;
    const open = await reader.open();
    const schema = open.schema;
    await open.cancel();
    return schema;
  } catch (error) {
    throw readError(error, name);
  } finally {
    await close();
  }
}
