/**
 * An RFC 4180 CSV scanner over UTF-8 bytes. It finds the fields of one record at a time and reports them
 * as byte ranges, so that column builders parse values straight from the bytes (no string per field).
 *
 * Rules: fields are separated by the delimiter, records by LF or CRLF; a field that starts with a quote
 * runs to the next lone quote, with `""` standing for one quote, and may hold delimiters and line breaks;
 * a quote anywhere else is an error (RFC 4180 does not allow it, and guessing loses data silently).
 * An unquoted empty field is null; a quoted empty field (`""`) is the empty string. A CR not followed by
 * LF inside an unquoted field is an ordinary character.
 */

export type CsvFields = (string | null)[];

/** A syntax error at a (1-based) physical line. */
export class CsvSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

/** `scan` returns this when the record continues past the end of the input given (a quoted line break). */
export const INCOMPLETE = -1;

export class CsvScanner {
  /** Physical lines of the records scanned so far. */
  line = 0;
  /** The line on which the last scanned record starts. */
  recordLine = 0;
  /** Fields of the last scanned record: `bytes[starts[k], ends[k])`, quotes excluded. */
  starts = new Int32Array(64);
  ends = new Int32Array(64);
  /** 0 plain, 1 quoted, 2 quoted with doubled quotes to undo. */
  quoted = new Uint8Array(64);
  count = 0;
  private readonly delimiter: number;

  /**
   * @param delimiter one ASCII character.
   * @param multiline whether quoted fields may hold line breaks (not when reading a byte range, where a
   *   line break is taken as a record boundary by whoever split the file).
   */
  constructor(
    delimiter: string,
    private readonly multiline: boolean,
  ) {
    this.delimiter = delimiter.charCodeAt(0);
  }

  /**
   * Scans the record starting at `pos` in `bytes[0, length)`. Returns the position after its line break
   * (or `length` at the end of the input), or INCOMPLETE when a quoted field runs past `length` and more
   * input may follow (`final` false); then nothing is consumed, and the caller scans again from `pos`
   * with more bytes. A blank line is one plain empty field.
   */
  scan(bytes: Uint8Array, pos: number, length: number, final: boolean): number {
    const delimiter = this.delimiter;
    const startLine = this.line + 1;
    let lines = 1;
    let count = 0;
    let p = pos;
    for (;;) {
      if (count === this.starts.length) this.grow();
      if (p < length && bytes[p] === QUOTE) {
        const start = p + 1;
        let kind = 1;
        let q = start;
        for (;;) {
          while (q < length) {
            const c = bytes[q]!;
            if (c === QUOTE) break;
            if (c === LF) {
              if (!this.multiline) {
                throw new CsvSyntaxError(
                  'a quoted field holds a line break; a CSV file with line breaks inside fields cannot be read in byte ranges, so read it whole (one split per file)',
                  startLine,
                );
              }
              lines++;
            }
            q++;
          }
          if (q >= length) {
            if (!final) return INCOMPLETE;
            throw new CsvSyntaxError('a quoted field never closes: a quote is missing, or a quote inside a field is not doubled ("")', startLine);
          }
          if (q + 1 < length && bytes[q + 1] === QUOTE) {
            kind = 2;
            q += 2;
            continue;
          }
          break;
        }
        this.starts[count] = start;
        this.ends[count] = q;
        this.quoted[count] = kind;
        count++;
        p = q + 1;
        if (p >= length) break;
        const c = bytes[p]!;
        if (c === delimiter) {
          p++;
          continue;
        }
        if (c === LF) {
          p++;
          break;
        }
        if (c === CR && (p + 1 === length || bytes[p + 1] === LF)) {
          p = p + 1 === length ? p + 1 : p + 2;
          break;
        }
        throw new CsvSyntaxError(
          `unexpected ${JSON.stringify(String.fromCharCode(c))} after the closing quote of field ${count}; a quote inside a quoted field must be doubled ("")`,
          startLine + lines - 1,
        );
      }
      const start = p;
      let c = 0;
      while (p < length) {
        c = bytes[p]!;
        if (c === delimiter || c === LF || c === QUOTE) break;
        if (c === CR && (p + 1 === length || bytes[p + 1] === LF)) break;
        p++;
      }
      this.starts[count] = start;
      this.ends[count] = p;
      this.quoted[count] = 0;
      count++;
      if (p >= length) break;
      if (c === delimiter) {
        p++;
        continue;
      }
      if (c === LF) {
        p++;
        break;
      }
      if (c === CR) {
        p = p + 1 === length ? p + 1 : p + 2;
        break;
      }
      throw new CsvSyntaxError(`a quote inside unquoted field ${count}; quote the whole field and double the quote ("") as RFC 4180 requires`, startLine + lines - 1);
    }
    this.count = count;
    this.recordLine = startLine;
    this.line = startLine + lines - 1;
    return p;
  }

  /** The fields of the last scanned record as strings (null for an empty plain field). */
  fields(bytes: Uint8Array, text: (bytes: Uint8Array, start: number, end: number, quoted: number) => string): CsvFields {
    const out: CsvFields = new Array(this.count);
    for (let k = 0; k < this.count; k++) {
      const start = this.starts[k]!;
      const end = this.ends[k]!;
      const quoted = this.quoted[k]!;
      out[k] = quoted === 0 && start === end ? null : text(bytes, start, end, quoted);
    }
    return out;
  }

  private grow(): void {
    const size = this.starts.length * 2;
    const starts = new Int32Array(size);
    starts.set(this.starts);
    const ends = new Int32Array(size);
    ends.set(this.ends);
    const quoted = new Uint8Array(size);
    quoted.set(this.quoted);
    this.starts = starts;
    this.ends = ends;
    this.quoted = quoted;
  }
}
