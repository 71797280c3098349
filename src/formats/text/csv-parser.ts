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
  /** 1 for the bytes that end a plain field: the delimiter, LF, CR and the quote. */
  private readonly special = new Uint8Array(256);

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
    for (const c of [this.delimiter, LF, CR, QUOTE]) this.special[c] = 1;
  }

  /**
   * Scans the record starting at `pos` in `bytes[0, length)`. Returns the position after its line break
   * (or `length` at the end of the input), or INCOMPLETE when a quoted field runs past `length` and more
   * input may follow (`final` false); then nothing is consumed, and the caller scans again from `pos`
   * with more bytes. A blank line is one plain empty field. The fields go to `starts`, `ends` and `quoted`
   * from index `base` on, so that a caller can collect many records in one matrix (`base` = row x width).
   */
  scan(bytes: Uint8Array, pos: number, length: number, final: boolean, base = 0): number {
    const delimiter = this.delimiter;
    const special = this.special;
    let starts = this.starts;
    let ends = this.ends;
    let quoted = this.quoted;
    const startLine = this.line + 1;
    this.extraLines = 0;
    let count = 0;
    let p = pos;
    for (;;) {
      const at = base + count;
      if (at >= starts.length) {
        this.grow();
        starts = this.starts;
        ends = this.ends;
        quoted = this.quoted;
      }
      count++;
      if (p < length && bytes[p] === QUOTE) {
        p = this.quotedField(bytes, p, length, final, at, startLine);
        if (p === INCOMPLETE) return INCOMPLETE;
        if (p >= length) break;
        const c = bytes[p]!;
        p++;
        if (c === delimiter) continue;
        if (c === LF) break;
        if (c === CR && (p === length || bytes[p] === LF)) {
          if (p < length) p++;
          break;
        }
        throw new CsvSyntaxError(
          `unexpected ${JSON.stringify(String.fromCharCode(c))} after the closing quote of field ${count}; a quote inside a quoted field must be doubled ("")`,
          startLine + this.extraLines,
        );
      }
      // The hot loop: a plain field runs to the next special byte (a CR only counts before LF or at the end).
      const start = p;
      for (;;) {
        while (p < length && special[bytes[p]!] === 0) p++;
        // A CR that does not end the line is an ordinary character (rare): keep going.
        if (p + 1 < length && bytes[p] === CR && bytes[p + 1] !== LF) {
          p++;
          continue;
        }
        break;
      }
      const c = p < length ? bytes[p]! : 0;
      starts[at] = start;
      ends[at] = p;
      quoted[at] = 0;
      if (p >= length) break;
      p++;
      if (c === delimiter) continue;
      if (c === LF) break;
      if (c === CR) {
        if (p < length) p++;
        break;
      }
      throw new CsvSyntaxError(`a quote inside unquoted field ${count}; quote the whole field and double the quote ("") as RFC 4180 requires`, startLine + this.extraLines);
    }
    this.count = count;
    this.recordLine = startLine;
    this.line = startLine + this.extraLines;
    return p;
  }

  /** Line breaks inside the quoted fields of the record being scanned. */
  private extraLines = 0;

  /**
   * The quoted field starting at `p` (its opening quote) into slot `at`; returns the position after its
   * closing quote, or INCOMPLETE.
   */
  private quotedField(bytes: Uint8Array, p: number, length: number, final: boolean, at: number, startLine: number): number {
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
          this.extraLines++;
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
    this.starts[at] = start;
    this.ends[at] = q;
    this.quoted[at] = kind;
    return q + 1;
  }

  /** The fields of the last record scanned at `base` as strings (null for an empty plain field). */
  fields(bytes: Uint8Array, text: (bytes: Uint8Array, start: number, end: number, quoted: number) => string, base = 0): CsvFields {
    const out: CsvFields = new Array(this.count);
    for (let k = 0; k < this.count; k++) {
      const start = this.starts[base + k]!;
      const end = this.ends[base + k]!;
      const quoted = this.quoted[base + k]!;
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
