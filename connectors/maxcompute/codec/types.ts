import {
  Binary,
  Bool,
  type DataType,
  DateDay,
  Decimal,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  List,
  Map_,
  Schema,
  Struct,
  TimestampMillisecond,
  TimestampNanosecond,
  Utf8,
} from 'apache-arrow';
import { maxComputeError } from '../errors.js';

/** A parsed MaxCompute (ODPS 2.0) column type. */
export type OdpsType =
  | {
      kind:
        | 'tinyint'
        | 'smallint'
        | 'int'
        | 'bigint'
        | 'float'
        | 'double'
        | 'boolean'
        | 'string'
        | 'binary'
        | 'date'
        | 'datetime'
        | 'timestamp'
        | 'timestamp_ntz'
        | 'json';
    }
  | { kind: 'varchar' | 'char'; length: number }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'array'; element: OdpsType }
  | { kind: 'map'; key: OdpsType; value: OdpsType }
  | { kind: 'struct'; fields: { name: string; type: OdpsType }[] };

/** A column as the Tunnel service describes it in a session's `Schema`. */
export interface OdpsColumn {
  name: string;
  type: string;
  nullable?: boolean;
  comment?: string;
}

const SIMPLE = new Set([
  'tinyint',
  'smallint',
  'int',
  'bigint',
  'float',
  'double',
  'boolean',
  'string',
  'binary',
  'date',
  'datetime',
  'timestamp',
  'timestamp_ntz',
  'json',
]);

/** Legacy `decimal` without arguments: the widest decimal Arrow's Decimal128 can carry. */
const DEFAULT_DECIMAL = { precision: 38, scale: 18 };

/** Parses `bigint`, `decimal(38,18)`, `array<int>`, `map<string,bigint>`, `struct<a:int,b:string>`. */
export function parseOdpsType(text: string): OdpsType {
  const parser = new TypeParser(text);
  const type = parser.parseType();
  parser.skipSpace();
  if (!parser.atEnd()) throw parser.fail('unexpected text after the type');
  return type;
}

class TypeParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  fail(why: string) {
    return maxComputeError(
      'MAXCOMPUTE_UNSUPPORTED_TYPE',
      `cannot read the MaxCompute type "${this.text}": ${why} at character ${this.pos + 1}. ` +
        'Supported: tinyint, smallint, int, bigint, float, double, boolean, string, varchar(n), char(n), binary, ' +
        'decimal(p,s), date, datetime, timestamp, timestamp_ntz, json, array<T>, map<K,V>, struct<name:T,...>.',
      { context: { type: this.text } },
    );
  }

  private expect(ch: string): void {
    this.skipSpace();
    if (this.text[this.pos] !== ch) throw this.fail(`expected "${ch}"`);
    this.pos++;
  }

  private peek(): string | undefined {
    this.skipSpace();
    return this.text[this.pos];
  }

  private word(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.text.length && /[A-Za-z0-9_]/.test(this.text[this.pos]!)) this.pos++;
    if (start === this.pos) throw this.fail('expected a name');
    return this.text.slice(start, this.pos);
  }

  private fieldName(): string {
    this.skipSpace();
    if (this.text[this.pos] === '`') {
      const end = this.text.indexOf('`', this.pos + 1);
      if (end < 0) throw this.fail('unterminated `name`');
      const name = this.text.slice(this.pos + 1, end);
      this.pos = end + 1;
      return name;
    }
    return this.word();
  }

  private integer(): number {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.text.length && /[0-9]/.test(this.text[this.pos]!)) this.pos++;
    if (start === this.pos) throw this.fail('expected a number');
    return Number(this.text.slice(start, this.pos));
  }

  parseType(): OdpsType {
    const name = this.word().toLowerCase();
    if (SIMPLE.has(name)) return { kind: name } as OdpsType;
    switch (name) {
      case 'varchar':
      case 'char': {
        this.expect('(');
        const length = this.integer();
        this.expect(')');
        return { kind: name, length };
      }
      case 'decimal': {
        if (this.peek() !== '(') return { kind: 'decimal', ...DEFAULT_DECIMAL };
        this.expect('(');
        const precision = this.integer();
        let scale = 0;
        if (this.peek() === ',') {
          this.pos++;
          scale = this.integer();
        }
        this.expect(')');
        if (precision < 1 || precision > 38 || scale > precision) throw this.fail('decimal precision must be 1..38 and scale at most the precision');
        return { kind: 'decimal', precision, scale };
      }
      case 'array': {
        this.expect('<');
        const element = this.parseType();
        this.expect('>');
        return { kind: 'array', element };
      }
      case 'map': {
        this.expect('<');
        const key = this.parseType();
        this.expect(',');
        const value = this.parseType();
        this.expect('>');
        return { kind: 'map', key, value };
      }
      case 'struct': {
        this.expect('<');
        const fields: { name: string; type: OdpsType }[] = [];
        for (;;) {
          const fieldName = this.fieldName();
          this.expect(':');
          fields.push({ name: fieldName, type: this.parseType() });
          if (this.peek() === ',') {
            this.pos++;
            continue;
          }
          break;
        }
        this.expect('>');
        return { kind: 'struct', fields };
      }
      default:
        throw this.fail(`unknown type "${name}"`);
    }
  }
}

/** The canonical type text, as the service prints it in a session schema. */
export function formatOdpsType(type: OdpsType): string {
  switch (type.kind) {
    case 'varchar':
    case 'char':
      return `${type.kind}(${type.length})`;
    case 'decimal':
      return `decimal(${type.precision},${type.scale})`;
    case 'array':
      return `array<${formatOdpsType(type.element)}>`;
    case 'map':
      return `map<${formatOdpsType(type.key)},${formatOdpsType(type.value)}>`;
    case 'struct':
      return `struct<${type.fields.map((f) => `${f.name}:${formatOdpsType(f.type)}`).join(',')}>`;
    default:
      return type.kind;
  }
}

/**
 * The Arrow type Tideway emits for a MaxCompute type. DECIMAL becomes Utf8 text: the record format carries
 * decimals as text and sinks handle exact text better than Arrow JS handles Decimal128.
 */
export function toArrowType(type: OdpsType): DataType {
  return arrowType(type, false);
}

/**
 * The Arrow type the Tunnel Arrow variant puts on the wire (no schema travels; the client must know it).
 * Only DECIMAL differs from {@link toArrowType}: the service sends Decimal128(p, s). STRING and BINARY share
 * one layout, so the service sending STRING as Binary needs no conversion.
 */
export function toArrowWireType(type: OdpsType): DataType {
  return arrowType(type, true);
}

function arrowType(type: OdpsType, wire: boolean): DataType {
  switch (type.kind) {
    case 'tinyint':
      return new Int8();
    case 'smallint':
      return new Int16();
    case 'int':
      return new Int32();
    case 'bigint':
      return new Int64();
    case 'float':
      return new Float32();
    case 'double':
      return new Float64();
    case 'boolean':
      return new Bool();
    case 'string':
    case 'varchar':
    case 'char':
    case 'json':
      return new Utf8();
    case 'binary':
      return new Binary();
    case 'decimal':
      return wire ? new Decimal(type.scale, type.precision, 128) : new Utf8();
    case 'date':
      return new DateDay();
    case 'datetime':
      return new TimestampMillisecond();
    case 'timestamp':
    case 'timestamp_ntz':
      return new TimestampNanosecond();
    case 'array':
      return new List(new Field('element', arrowType(type.element, wire), true));
    case 'map':
      return new Map_(
        new Field(
          'entries',
          new Struct<{ key: DataType; value: DataType }>([
            new Field('key', arrowType(type.key, wire), false),
            new Field('value', arrowType(type.value, wire), true),
          ]),
          false,
        ),
      );
    case 'struct':
      return new Struct(type.fields.map((f) => new Field(f.name, arrowType(f.type, wire), true)));
  }
}

/** Field metadata key holding the original MaxCompute type text. */
export const MAXCOMPUTE_TYPE_METADATA = 'maxcompute.type';

/** The Arrow schema of a list of columns (output types, or wire types for the Arrow variant). */
export function toArrowSchema(columns: readonly OdpsColumn[], options: { wire?: boolean } = {}): Schema {
  return new Schema(
    columns.map((c) => {
      const type = parseOdpsType(c.type);
      return new Field(c.name, arrowType(type, options.wire ?? false), true, new Map([[MAXCOMPUTE_TYPE_METADATA, formatOdpsType(type)]]));
    }),
  );
}
