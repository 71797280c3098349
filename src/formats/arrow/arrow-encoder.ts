import {
  AsyncByteQueue,
  type Data,
  type Dictionary,
  makeData,
  makeVector,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  Type,
  vectorFromArray,
} from 'apache-arrow';
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
 *
 * Dictionary-encoded columns are written decoded (as their value type): the IPC file format cannot
 * replace a dictionary, and batches from different sources (or Parquet row groups) each bring their own.
 */
export class ArrowEncoder extends BaseEncoder {
  private readonly sink = new ChunkCollector();
  private readonly writer: RecordBatchFileWriter;
  /** The schema written to the file: `schema` with dictionary columns replaced by their value types. */
  private readonly fileSchema: Schema;

  constructor(schema: Schema, options: ResolvedFormatOptions, name: string) {
    super(options.format, options.compression, schema, name);
    const plain = schema.fields.map((f) => (f.typeId === Type.Dictionary ? f.clone({ type: (f.type as Dictionary).dictionary }) : f));
    this.fileSchema = plain.some((f, i) => f !== schema.fields[i]) ? new Schema(plain, schema.metadata) : schema;
    this.writer = new RecordBatchFileWriter();
    this.writer.reset(this.sink, this.fileSchema);
  }

  get bufferedBytes(): number {
    return 0;
  }

  protected encodeBatch(batch: RecordBatch): Uint8Array[] {
    this.writer.write(this.fileSchema === this.schema ? batch : this.decodeDictionaries(batch));
    return this.sink.take();
  }

  private decodeDictionaries(batch: RecordBatch): RecordBatch {
    const children: Data[] = batch.data.children.map((data, i) => {
      if (data.typeId !== Type.Dictionary) return data;
      const vector = makeVector(data);
      const values = Array.from({ length: data.length }, (_, row) => vector.get(row));
      return vectorFromArray(values, this.fileSchema.fields[i]!.type).data[0]!;
    });
    return new RecordBatch(this.fileSchema, makeData({ type: new Struct(this.fileSchema.fields), length: batch.numRows, nullCount: 0, children }));
  }

  protected finishFile(): Uint8Array[] {
    this.writer.finish();
    return this.sink.take();
  }
}
