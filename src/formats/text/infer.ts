import { Bool, type DataType, DateDay, Field, Float64, Int64, Schema, Timestamp, TimeUnit, Utf8 } from 'apache-arrow';
import { parseDate, timestampShape } from './temporal.js';

/**
 * Schema inference for JSON Lines and CSV, from the first rows of a file (1000 by default).
 *
 * Each column gets the narrowest of these types that fits every non-null value seen:
 * - bool: JSON booleans; in CSV `true`/`false` in any case.
 * - int64: JSON integers (and integer strings among them, the form of Int64 values beyond 2^53); in CSV optionally signed digits that fit 64 bits, without leading zeros
 *   (so that `007` stays text).
 * - float64: JSON numbers; in CSV decimal or exponent notation, `NaN`, `Infinity`, `-Infinity`.
 *   Integers mixed with floats make float64.
 * - date (day): `YYYY-MM-DD` strings.
 * - timestamp: ISO 8601 date-time strings; the unit is the finest their fractions need (ms, us or ns) and
 *   the time zone is UTC when every value has an offset or `Z`, none when no value has one.
 * - utf8: everything else, including JSON objects and arrays (kept as JSON text), mixed kinds, and
 *   columns whose sampled values are all null.
 * Every inferred column is nullable. Columns are ordered as first seen.
 */

/** `digits`: a JSON string of an integer, which is how large Int64 values are written (see arrow-to-text.ts). */
type Kind = 'none' | 'bool' | 'int' | 'digits' | 'float' | 'date' | 'timestamp' | 'utf8';

class ColumnGuess {
  kind: Kind = 'none';
  fraction = 0;
  zoned = 0;
  naive = 0;

  add(kind: Kind, fraction = 0, zoned = false): void {
    if (kind === 'timestamp') {
      this.fraction = Math.max(this.fraction, fraction);
      if (zoned) this.zoned++;
      else this.naive++;
    }
    this.kind = merge(this.kind, kind);
  }

  type(): DataType {
    switch (this.kind) {
      case 'bool':
        return new Bool();
      case 'int':
        return new Int64();
      case 'float':
        return new Float64();
      case 'date':
        return new DateDay();
      case 'timestamp': {
        if (this.zoned > 0 && this.naive > 0) return new Utf8();
        const unit = this.fraction <= 3 ? TimeUnit.MILLISECOND : this.fraction <= 6 ? TimeUnit.MICROSECOND : TimeUnit.NANOSECOND;
        return new Timestamp(unit, this.zoned > 0 ? 'UTC' : null);
      }
      default:
        return new Utf8();
    }
  }
}

function merge(a: Kind, b: Kind): Kind {
  if (a === 'none' || a === b) return b;
  if (b === 'none') return a;
  if ((a === 'int' && b === 'float') || (a === 'float' && b === 'int')) return 'float';
  if ((a === 'int' && b === 'digits') || (a === 'digits' && b === 'int')) return 'int';
  return 'utf8';
}

function stringKind(text: string, guess: ColumnGuess): void {
  if (parseDate(text) !== undefined) return guess.add('date');
  const shape = timestampShape(text);
  if (shape) return guess.add('timestamp', shape.fractionDigits, shape.hasZone);
  guess.add('utf8');
}

/** Infers a schema from parsed JSON objects. */
export function inferJsonSchema(rows: readonly Record<string, unknown>[]): Schema {
  const guesses = new Map<string, ColumnGuess>();
  for (const row of rows) {
    for (const key of Object.keys(row)) {
      let guess = guesses.get(key);
      if (!guess) guesses.set(key, (guess = new ColumnGuess()));
      const value = row[key];
      if (value === null || value === undefined) continue;
      if (typeof value === 'boolean') guess.add('bool');
      else if (typeof value === 'number') guess.add(Number.isInteger(value) ? 'int' : 'float');
      else if (typeof value === 'string') {
        if (CSV_INT.test(value)) guess.add('digits');
        else stringKind(value, guess);
      }
      else guess.add('utf8');
    }
  }
  return new Schema([...guesses].map(([name, guess]) => new Field(name, guess.type(), true)));
}

const CSV_INT = /^[+-]?(?:0|[1-9]\d*)$/;
const CSV_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^(?:NaN|-?Infinity)$/;
/** `007`, `-0123`: codes rather than numbers; reading them as numbers would drop the zeros. */
const LEADING_ZERO = /^[+-]?0\d/;
const INT64_MAX = 2n ** 63n - 1n;

/** Infers a schema from CSV records; `names` are the header's (or generated) column names. */
export function inferCsvSchema(names: readonly string[], rows: readonly (string | null)[][]): Schema {
  const guesses = names.map(() => new ColumnGuess());
  for (const row of rows) {
    for (let c = 0; c < guesses.length; c++) {
      const text = row[c];
      if (text === null || text === undefined) continue;
      const guess = guesses[c]!;
      if (LEADING_ZERO.test(text)) guess.add('utf8');
      else if (CSV_INT.test(text)) {
        const v = BigInt(text);
        guess.add(v <= INT64_MAX && v >= -INT64_MAX - 1n ? 'int' : 'utf8');
      } else if (CSV_FLOAT.test(text)) guess.add('float');
      else if (/^(?:true|false)$/i.test(text)) guess.add('bool');
      else stringKind(text, guess);
    }
  }
  return new Schema(names.map((name, c) => new Field(name, guesses[c]!.type(), true)));
}
