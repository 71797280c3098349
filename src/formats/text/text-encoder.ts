import { gzipSync } from 'node:zlib';
import type { RecordBatch, Schema } from 'apache-arrow';
import { BaseEncoder } from '../encoder-base.js';
import type { ResolvedFormatOptions } from '../options.js';
import { appendColumn, csvStyle, JSON_STYLE, type TextStyle } from './arrow-to-text.js';

const utf8 = new TextEncoder();

/**
 * JSON Lines and CSV. Each batch becomes one string built column by column, encoded to UTF-8 once, and
 * returned at once, so nothing is buffered between calls (`bufferedBytes` is always 0).
 *
 * With gzip, each batch is one gzip member; concatenated members are a valid gzip file (RFC 1952) that
 * gunzip, zcat, Python, Spark and Node read as one stream. Batches of a few thousand rows compress within
 * a percent or two of a single member.
 */
export class TextFileEncoder extends BaseEncoder {
  private readonly style: TextStyle;
  /** JSON: `{"name":`; CSV: the delimiter (none before the first column). */
  private readonly separators: string[];
  private readonly rowStart: string;
  private readonly rowJoin: string;
  private readonly rowEnd: string;
  private header: string | undefined;

  constructor(schema: Schema, options: ResolvedFormatOptions, name: string) {
    super(options.format, options.compression, schema, name);
    const json = options.format === 'jsonl';
    this.style = json ? JSON_STYLE : csvStyle(options.csvDelimiter);
    const names = schema.fields.map((f) => f.name);
    if (json) {
      this.separators = names.map((n, i) => `${i === 0 ? '' : ','}${JSON.stringify(n)}:`);
      this.rowStart = '{';
      this.rowJoin = '}\n';
      this.rowEnd = '}\n';
    } else {
      this.separators = names.map((_, i) => (i === 0 ? '' : options.csvDelimiter));
      this.rowStart = '';
      this.rowJoin = '\n';
      this.rowEnd = '\n';
      if (options.csvHeader) this.header = `${names.map((n) => this.style.text(n)).join(options.csvDelimiter)}\n`;
    }
  }

  get bufferedBytes(): number {
    return 0;
  }

  protected encodeBatch(batch: RecordBatch): Uint8Array[] {
    const n = batch.numRows;
    const acc = new Array<string>(n).fill(this.rowStart);
    const columns = batch.data.children;
    for (let c = 0; c < columns.length; c++) appendColumn(columns[c]!, acc, this.separators[c]!, this.style);
    let text = acc.join(this.rowJoin) + this.rowEnd;
    if (this.header !== undefined) {
      text = this.header + text;
      this.header = undefined;
    }
    return [this.bytes(text)];
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
