/**
 * An RFC 4180 CSV parser fed with blocks of text that end at line ends. Records may span blocks only
 * inside a quoted field; the parser carries that state over.
 *
 * Rules: fields are separated by the delimiter, records by LF or CRLF; a field that starts with a quote
 * runs to the next lone quote, with `""` standing for one quote, and may hold delimiters and line breaks;
 * a quote anywhere else is an error (RFC 4180 does not allow it, and guessing loses data silently).
 * An unquoted empty field is null; a quoted empty field (`""`) is the empty string.
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

const enum Mode {
  FieldStart,
  Unquoted,
  Quoted,
  AfterQuote,
}

export class CsvParser {
  /** Physical lines consumed so far. */
  line = 0;
  private partial: { fields: CsvFields; field: string; mode: Mode; startLine: number } | undefined;

  /**
   * @param multiline whether quoted fields may hold line breaks (not when reading a byte range, where a
   *   line break is taken as a record boundary by whoever split the file).
   */
  constructor(
    private readonly delimiter: string,
    private readonly multiline: boolean,
  ) {}

  /**
   * Parses `text` (complete lines, except possibly at the end of input when `final`), calling `emit` for
   * each record with the line it starts on. A blank line is emitted as `[null]`.
   */
  parse(text: string, final: boolean, emit: (fields: CsvFields, line: number) => void): void {
    const delimiter = this.delimiter;
    const length = text.length;
    let pos = 0;
    if (this.partial) {
      pos = this.slow(text, 0, final, emit);
      if (this.partial) return;
    }
    let nextQuote = text.indexOf('"', pos);
    while (pos < length) {
      let lineEnd = text.indexOf('\n', pos);
      if (lineEnd < 0) lineEnd = length;
      if (nextQuote >= 0 && nextQuote < pos) nextQuote = text.indexOf('"', pos);
      if (nextQuote < 0 || nextQuote > lineEnd) {
        // Fast path: no quote on this line, so it is one record split at the delimiters.
        const line = ++this.line;
        let end = lineEnd;
        if (end > pos && text.charCodeAt(end - 1) === 13) end--;
        const fields: CsvFields = end === pos ? [null] : text.slice(pos, end).split(delimiter);
        for (let i = 0; i < fields.length; i++) if (fields[i] === '') fields[i] = null;
        pos = lineEnd + 1;
        emit(fields, line);
        continue;
      }
      pos = this.slow(text, pos, final, emit);
      if (this.partial) return;
    }
  }

  /** Character-level parse of one record starting (or resuming) at `pos`; returns where the next record starts. */
  private slow(text: string, start: number, final: boolean, emit: (fields: CsvFields, line: number) => void): number {
    const delimiter = this.delimiter;
    const length = text.length;
    let fields: CsvFields;
    let field: string;
    let mode: Mode;
    let startLine: number;
    let quoted: boolean;
    if (this.partial) {
      ({ fields, field, mode, startLine } = this.partial);
      quoted = true;
      this.partial = undefined;
    } else {
      fields = [];
      field = '';
      mode = Mode.FieldStart;
      startLine = ++this.line;
      quoted = false;
    }
    let pos = start;
    for (;;) {
      if (mode === Mode.Quoted) {
        const q = text.indexOf('"', pos);
        const chunk = text.slice(pos, q < 0 ? length : q);
        const breaks = countLineBreaks(chunk);
        if (breaks > 0) {
          if (!this.multiline) {
            throw new CsvSyntaxError(
              'a quoted field holds a line break; a CSV file with line breaks inside fields cannot be read in byte ranges, so read it whole (one split per file)',
              startLine,
            );
          }
          this.line += breaks;
        }
        field += chunk;
        if (q < 0) {
          if (!final) {
            this.partial = { fields, field, mode, startLine };
            return length;
          }
          throw new CsvSyntaxError('a quoted field never closes: a quote is missing, or a quote inside a field is not doubled ("")', startLine);
        }
        pos = q + 1;
        mode = Mode.AfterQuote;
        continue;
      }
      if (pos >= length) {
        // End of input without a line break.
        fields.push(quoted ? field : field === '' ? null : field);
        emit(fields, startLine);
        return pos;
      }
      const c = text[pos]!;
      if (mode === Mode.AfterQuote) {
        if (c === '"') {
          field += '"';
          mode = Mode.Quoted;
          pos++;
          continue;
        }
        if (c !== delimiter && c !== '\n' && !(c === '\r' && (pos + 1 === length || text[pos + 1] === '\n'))) {
          throw new CsvSyntaxError(`unexpected ${JSON.stringify(c)} after the closing quote of field ${fields.length + 1}; a quote inside a quoted field must be doubled ("")`, this.line);
        }
        mode = Mode.Unquoted;
        // Falls through to the delimiter / line-end handling below with the quoted value.
      }
      if (c === delimiter) {
        fields.push(quoted ? field : field === '' ? null : field);
        field = '';
        quoted = false;
        mode = Mode.FieldStart;
        pos++;
        continue;
      }
      if (c === '\n' || (c === '\r' && (pos + 1 === length || text[pos + 1] === '\n'))) {
        fields.push(quoted ? field : field === '' ? null : field);
        emit(fields, startLine);
        return c === '\r' ? pos + 2 : pos + 1;
      }
      if (c === '"') {
        if (mode !== Mode.FieldStart) {
          throw new CsvSyntaxError(`a quote inside unquoted field ${fields.length + 1}; quote the whole field and double the quote ("") as RFC 4180 requires`, this.line);
        }
        quoted = true;
        mode = Mode.Quoted;
        pos++;
        continue;
      }
      // Plain characters: take the run up to the next special character at once.
      const delimiterCode = delimiter.charCodeAt(0);
      let end = pos + 1;
      while (end < length) {
        const d = text.charCodeAt(end);
        if (d === delimiterCode || d === 10 || d === 13 || d === 34) break;
        end++;
      }
      field += text.slice(pos, end);
      mode = Mode.Unquoted;
      pos = end;
    }
  }

  /** Whether a record is still open (a quoted field with a line break awaits more input). */
  get pending(): boolean {
    return this.partial !== undefined;
  }
}

function countLineBreaks(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
