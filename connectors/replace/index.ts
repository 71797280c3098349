import { Data, DataType, Field, type RecordBatch, Schema, Vector } from 'apache-arrow';
import { type ConnectorDefinition, defineTransform } from '../../src/api/connector.js';
import { z } from '../../src/api/options.js';
import type { Transform } from '../../src/api/transform.js';
import { ColumnCheck } from '../field-kit/columns.js';
import { batchOf } from '../field-kit/rows.js';
import { TextColumn, textReader } from '../field-kit/text.js';

const REGEX_HELP = 'a JavaScript regular expression, compiled with the u (Unicode) flag';

/** The error of compiling `pattern`, or undefined when it compiles. */
function regexError(pattern: string): string | undefined {
  try {
    new RegExp(pattern, 'u');
    return undefined;
  } catch (error) {
    return `pattern is not ${REGEX_HELP}: ${(error as Error).message}`;
  }
}

const rule = z
  .object({
    replace_field: z.string().meta({ description: 'The text (utf8) column to change.' }),
    pattern: z.string().min(1).meta({ description: `What to replace: literal text, or ${REGEX_HELP} when is_regex is true.` }),
    replacement: z.string().default('').meta({ description: 'What to put instead. With is_regex, $1, $<name> and $& insert groups and $$ a dollar sign; literal otherwise.' }),
    is_regex: z.boolean().default(false).meta({ description: 'Whether pattern is a regular expression.' }),
    replace_first: z.boolean().default(false).meta({ description: 'Replace only the first match in each value (every match otherwise).' }),
  })
  .strict()
  .superRefine((r, ctx) => {
    const error = r.is_regex ? regexError(r.pattern) : undefined;
    if (error) ctx.addIssue({ code: 'custom', path: ['pattern'], message: error });
  });

export const replaceOptions = z
  .object({
    replace_field: z.string().optional().meta({ description: 'One rule written inline, as in SeaTunnel: the text (utf8) column to change. Use rules for several.' }),
    pattern: z.string().min(1).optional().meta({ description: `Inline rule: literal text to replace, or ${REGEX_HELP} when is_regex is true.` }),
    replacement: z.string().optional().meta({ description: 'Inline rule: what to put instead (empty when unset). With is_regex, $1, $<name> and $& insert groups and $$ a dollar sign.' }),
    is_regex: z.boolean().optional().meta({ description: 'Inline rule: whether pattern is a regular expression (false when unset).' }),
    replace_first: z.boolean().optional().meta({ description: 'Inline rule: replace only the first match in each value (false when unset: every match).' }),
    rules: z.array(rule).min(1).optional().meta({ description: 'Rules, applied in this order: [{replace_field, pattern, replacement, is_regex, replace_first}]. Several may change one column.' }),
  })
  .superRefine((o, ctx) => {
    const inline = (['replace_field', 'pattern', 'replacement', 'is_regex', 'replace_first'] as const).filter((k) => o[k] !== undefined);
    if (o.rules !== undefined) {
      for (const key of inline) ctx.addIssue({ code: 'custom', path: [key], message: `${key} belongs to an inline rule, but rules is set too; move it into one of the rules` });
      return;
    }
    if (o.replace_field === undefined) ctx.addIssue({ code: 'custom', path: ['replace_field'], message: 'required option "replace_field" is missing (or give a list of rules)' });
    if (o.pattern === undefined) ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'required option "pattern" is missing (or give a list of rules)' });
    const error = o.is_regex && o.pattern !== undefined ? regexError(o.pattern) : undefined;
    if (error) ctx.addIssue({ code: 'custom', path: ['pattern'], message: error });
  });

type ReplaceOptions = z.output<typeof replaceOptions>;
type Rule = z.output<typeof rule>;

/** The rules as a job wrote them, inline or listed, with the option path of each. */
function rulesOf(options: ReplaceOptions): { rule: Rule; option: string }[] {
  if (options.rules) return options.rules.map((r, i) => ({ rule: r, option: `rules[${i}]` }));
  const inline: Rule = {
    replace_field: options.replace_field!,
    pattern: options.pattern!,
    replacement: options.replacement ?? '',
    is_regex: options.is_regex ?? false,
    replace_first: options.replace_first ?? false,
  };
  return [{ rule: inline, option: '' }];
}

/** One rule as a function of a value. */
function compile(r: Rule): (text: string) => string {
  const { pattern, replacement } = r;
  if (r.is_regex) {
    const regex = new RegExp(pattern, r.replace_first ? 'u' : 'gu');
    return (text) => text.replace(regex, replacement);
  }
  // A function as replacement keeps `$` literal.
  const literal = () => replacement;
  return r.replace_first ? (text) => text.replace(pattern, literal) : (text) => text.replaceAll(pattern, literal);
}

interface ColumnRules {
  readonly index: number;
  readonly field: Field;
  readonly edit: (text: string) => string;
}

/** Replaces literal text or regular-expression matches in text columns, one or more rules per column. */
class ReplaceTransform implements Transform {
  private columns: ColumnRules[] = [];
  private schema!: Schema;
  /** Dictionaries already rewritten: a source often sends one dictionary with many batches. */
  private readonly dictionaries = new WeakMap<Vector, Vector>();

  constructor(private readonly options: ReplaceOptions) {}

  outputSchema(input: Schema): Schema {
    const check = new ColumnCheck('replace', 'REPLACE', input);
    const byColumn = new Map<number, ColumnRules>();
    for (const { rule: r, option } of rulesOf(this.options)) {
      const { index, field } = check.textColumn(r.replace_field, option ? `${option}.replace_field` : 'replace_field');
      const edit = compile(r);
      const before = byColumn.get(index)?.edit;
      byColumn.set(index, { index, field, edit: before ? (text) => edit(before(text)) : edit });
    }
    this.columns = [...byColumn.values()];
    this.schema = new Schema(input.fields, input.metadata);
    return this.schema;
  }

  apply(batch: RecordBatch): RecordBatch {
    const children = [...batch.data.children];
    for (const column of this.columns) children[column.index] = this.replaced(children[column.index]!, column);
    return batchOf(this.schema, children, batch.numRows);
  }

  private replaced(data: Data, column: ColumnRules): Data {
    if (DataType.isDictionary(data.type)) {
      // Only the dictionary's values change; the indices are shared.
      const dictionary = data.dictionary!;
      let edited = this.dictionaries.get(dictionary);
      if (!edited) {
        edited = new Vector(dictionary.data.map((chunk) => this.edit(chunk, column.edit)));
        this.dictionaries.set(dictionary, edited);
      }
      return new Data(data.type, data.offset, data.length, data.nullCount, data, data.children, edited);
    }
    return this.edit(data, column.edit);
  }

  private edit(data: Data, edit: (text: string) => string): Data {
    const read = textReader(data);
    const out = new TextColumn(data.type);
    for (let row = 0; row < data.length; row++) {
      const text = read(row);
      out.appendText(text === null ? null : edit(text));
    }
    return out.finish();
  }
}

/** The replace transform's options as a job writes them. */
export type ReplaceConfig = z.input<typeof replaceOptions>;

export const replaceConnector: ConnectorDefinition = {
  name: 'replace',
  description: 'Replaces literal text or regular-expression matches in text columns, one or more rules per column.',
  transform: defineTransform({ options: replaceOptions, create: (o) => new ReplaceTransform(o) }),
  example: `transform:\n  - type: replace\n    rules:\n      - { replace_field: name, pattern: customer-, replacement: 'c#' }\n      - { replace_field: category, pattern: '^(\\w)(\\w*)$', replacement: '$2-$1', is_regex: true, replace_first: true }`,
};
