import { AsyncByteQueue, type RecordBatch, RecordBatchFileWriter, type Schema } from 'apache-arrow';
import { BaseEncoder } from '../encoder-base.js';
import type { ResolvedFormatOptions } from '../options.js';

/** An arrow-js byte sink that hands chunks over synchronously instead of queueing them for a reader. */
class ChunkCollector extends AsyncByteQueue<Uint8Array> {
  chunks: Uint8Array[] = [];

  override write(value: Uint8Array): void {
    if (value.byteLength > 0) this.chunks.push(value);
  }

  /** The chunks written so far; views of the batches' own buffers where arrow-js wrote them zero-copy. */
  take(): Uint8Array[] {
    const out = this.chunks;
    this.chunks = [];
    return out;
  }
}

/**
 * Arrow IPC file format (Feather v2, the `.arrow` media type `application/vnd.apache.arrow.file`): the
 * schema goes out first, each batch as soon as it is written, and the footer (the schema again plus one
 * small block entry per batch) at `finish`. Nothing but that block list is held between calls.
 */
export class ArrowEncoder extends BaseEncoder {
  private readonly sink = new ChunkCollector();
  private readonly writer: RecordBatchFileWriter;

  constructor(schema: Schema, options: ResolvedFormatOptions, name: string) {
    super(options.format, options.compression, schema, name);
    this.writer = new RecordBatchFileWriter();
    this.writer.reset(this.sink, schema);
  }

  get bufferedBytes(): number {
    return 0;
  }

  protected encodeBatch(batch: RecordBatch): Uint8Array[] {
    this.writer.write(batch);
    return this.sink.take();
  }

  protected finishFile(): Uint8Array[] {
    this.writer.finish();
    return this.sink.take();
  }
}
