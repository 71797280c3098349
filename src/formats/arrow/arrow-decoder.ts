import { type RecordBatch, RecordBatchReader, type Schema } from 'apache-arrow';
import { TidewayError } from '../../api/errors.js';
import type { DecodeInput } from '../text/line-blocks.js';

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
  try {
    batches = input instanceof Uint8Array ? RecordBatchReader.from(input) : await RecordBatchReader.from(input);
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
  try {
    const reader = input instanceof Uint8Array ? RecordBatchReader.from(input) : await RecordBatchReader.from(input);
    const opened = await reader.open();
    const schema = opened.schema;
    await opened.cancel();
    return schema;
  } catch (error) {
    throw readError(error, name);
  }
}
