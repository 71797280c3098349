import { gzipSync } from 'node:zlib';
import type { RecordBatch, Schema } from 'apache-arrow';
import { BaseEncoder } from '../encoder-base.js';
import type { ResolvedFormatOptions } from '../options.js';
import { csvStyle, JSON_STYLE, type TextStyle } from './arrow-to-text.js';
import { RowWriter } from './row-writer.js';

const utf8 = new TextEncoder();

/**
 * JSON Lines and CSV. Each batch is written straight to UTF-8 bytes (row-writer.ts) and returned at once,
 * so nothing is buffered between calls (`bufferedBytes` is always 0).
 *
 * With gzip, each batch is one gzip member; concatenated members are a valid gzip file (RFC 1952) that
 * gunzip, zcat, Python, Spark and Node read as one stream. Batches of a few thousand rows compress within
 * a percent or two of a single member.
 */
export class TextFileEncoder extends BaseEncoder {
  private readonly style: TextStyle;
  private readonly rows: RowWriter;
  private header: string | undefined;

  constructor(schema: Schema, options: ResolvedFormatOptions, name: string) {
    super(options.format, options.compression, schema, name);
    const json = options.format === 'jsonl';
    this.style = json ? JSON_STYLE : csvStyle(options.csvDelimiter);
    this.rows = new RowWriter(schema.fields, this.style, options.csvDelimiter);
    if (!json && options.csvHeader) this.header = `${schema.fields.map((f) => this.style.text(f.name)).join(options.csvDelimiter)}\n`;
  }

  get bufferedBytes(): number {
    return 0;
  }

  protected encodeBatch(batch: RecordBatch): Uint8Array[] {
    const raw = this.rows.write(batch.data.children, batch.numRows, this.header ?? '');
    this.header = undefined;
    return [this.compression === 'gzip' ? gzipSync(raw) : raw];
  }

  protected finishFile(): Uint8Array[] {
    // A CSV file with no rows still gets its header, so that a reader learns the columns.
    const text = this.header ?? '';
    this.header = undefined;
    if (text === '' && (this.compression !== 'gzip' || this.bytesOut > 0)) return [];
    // An empty .gz file is not valid gzip: write an empty member instead.
    return [this.bytes(text)];
  }

  private bytes(text: string): Uint8Array {
    const raw = utf8.encode(text);
    return this.compression === 'gzip' ? gzipSync(raw) : raw;
  }
}
