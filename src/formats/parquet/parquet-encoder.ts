import { type Data, type RecordBatch, type Schema, Table, tableToIPC, Type } from 'apache-arrow';
import { TidewayError } from '../../api/errors.js';
import { BaseEncoder } from '../encoder-base.js';
import type { Compression, ResolvedFormatOptions } from '../options.js';
import { ParquetStitcher } from './stitcher.js';
import { type ParquetWasm, wasm, wasmMessage } from './wasm.js';

function codec(compression: Compression): ParquetWasm.Compression {
  const { Compression: codecs } = wasm();
  return { none: codecs.UNCOMPRESSED, snappy: codecs.SNAPPY, gzip: codecs.GZIP, zstd: codecs.ZSTD }[compression];
}

/**
 * A column's dictionary is abandoned for plain encoding once it outgrows this. The Rust writer's default
 * (1 MiB) holds a whole 131,072-row group of unique 8-byte values, so an id or timestamp column was
 * hashed into a useless dictionary; with 128 KiB such columns fall back after about 16,000 values while
 * low-cardinality columns keep theirs. Measured on 1M 7-column rows: 2.4x faster writes, and files 20%
 * smaller (dictionary pages no longer duplicate unique values).
 */
export const DICTIONARY_PAGE_LIMIT = 128 * 1024;

/**
 * Parquet through parquet-wasm (the Rust `parquet` crate). Batches are buffered until a row group is full
 * (`parquet_row_group_rows` rows or `parquet_row_group_bytes` of Arrow data), then that row group is
 * encoded and its bytes returned at once; only footer metadata and page indexes (a few hundred bytes
 * per column per row group) stay behind until `finish`. Memory is therefore bounded by one row group of
 * Arrow data plus its encoded copy, not by the file size.
 */
export class ParquetEncoder extends BaseEncoder {
  private readonly stitcher = new ParquetStitcher();
  private pending: RecordBatch[] = [];
  private pendingRows = 0;
  private pendingBytes = 0;
  private readonly rowGroupRows: number;
  private readonly rowGroupBytes: number;

  constructor(schema: Schema, options: ResolvedFormatOptions, name: string) {
    super(options.format, options.compression, schema, name);
    this.rowGroupRows = options.parquetRowGroupRows;
    this.rowGroupBytes = options.parquetRowGroupBytes;
  }

  get bufferedBytes(): number {
    return this.pendingBytes + this.stitcher.heldBytes;
  }

  protected encodeBatch(batch: RecordBatch): Uint8Array[] {
    const out: Uint8Array[] = [];
    // Large batches are cut by bytes too, so that one huge batch cannot make one huge row group.
    const perRow = estimateBytes(batch.data) / batch.numRows;
    let rest = batch;
    while (rest.numRows > 0) {
      const byBytes = Math.max(1, Math.floor((this.rowGroupBytes - this.pendingBytes) / Math.max(perRow, 1)));
      const take = Math.min(this.rowGroupRows - this.pendingRows, rest.numRows, byBytes);
      const part = take === rest.numRows ? rest : rest.slice(0, take);
      rest = take === rest.numRows ? rest.slice(0, 0) : rest.slice(take);
      this.pending.push(part);
      this.pendingRows += take;
      this.pendingBytes += estimateBytes(part.data);
      if (this.pendingRows >= this.rowGroupRows || this.pendingBytes >= this.rowGroupBytes) out.push(...this.flushRowGroup());
    }
    return out;
  }

  protected finishFile(): Uint8Array[] {
    const out = this.pending.length > 0 ? this.flushRowGroup() : [];
    out.push(...this.stitcher.finish(() => this.writeFile([])));
    return out;
  }

  private flushRowGroup(): Uint8Array[] {
    const file = this.writeFile(this.pending);
    this.pending = [];
    this.pendingRows = 0;
    this.pendingBytes = 0;
    return this.stitcher.addPart(file);
  }

  /** A complete Parquet file of `batches` (one row group). */
  private writeFile(batches: RecordBatch[]): Uint8Array {
    const ipc = tableToIPC(batches.length > 0 ? new Table(batches) : new Table(this.schema), 'stream');
    try {
      // Both the table and the properties are consumed by writeParquet (moved into Rust).
      const parquet = wasm();
      const table = parquet.Table.fromIPCStream(ipc);
      const properties = new parquet.WriterPropertiesBuilder()
        .setCompression(codec(this.compression))
        .setMaxRowGroupSize(Math.max(this.rowGroupRows, 1))
        .setDictionaryPageSizeLimit(DICTIONARY_PAGE_LIMIT)
        .setCreatedBy('tideway (parquet-wasm)')
        .build();
      return parquet.writeParquet(table, properties);
    } catch (error) {
      throw new TidewayError(
        'FORMAT_PARQUET_WRITE',
        `${this.name}: parquet-wasm could not write a row group: ${wasmMessage(error)}; check that every column type of the schema (${this.schema.fields.map((f) => `${f.name}: ${String(f.type)}`).join(', ')}) is supported by Parquet`,
        { cause: error, context: { path: this.name } },
      );
    }
  }
}

/**
 * The Arrow bytes a batch slice really holds. `Data.byteLength` counts whole shared buffers, so a slice of
 * a big batch would look as large as the batch and close row groups far too early.
 */
export function estimateBytes(data: Data): number {
  const n = data.length;
  let bytes = data.nullCount > 0 ? Math.ceil(n / 8) : 0;
  switch (data.typeId) {
    case Type.Null:
      return 0;
    case Type.Bool:
      return bytes + Math.ceil(n / 8);
    case Type.Utf8:
    case Type.Binary:
    case Type.LargeUtf8:
    case Type.LargeBinary: {
      const offsets = data.valueOffsets;
      return bytes + offsets.byteLength + Number(offsets[n]) - Number(offsets[0]);
    }
    case Type.List:
    case Type.LargeList:
    case Type.Map: {
      const offsets = data.valueOffsets;
      const child = data.children[0]!;
      const share = child.length > 0 ? (Number(offsets[n]) - Number(offsets[0])) / child.length : 0;
      return bytes + offsets.byteLength + Math.ceil(estimateBytes(child) * share);
    }
    default:
      bytes += data.values?.byteLength ?? 0;
      for (const child of data.children) bytes += estimateBytes(child);
      return bytes;
  }
}
