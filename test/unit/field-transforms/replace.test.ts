import { Dictionary, Int32, Int64, LargeUtf8, Utf8, vectorFromArray } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { batchOf } from '../../../connectors/field-kit/rows.js';
import { replaceConnector } from '../../../connectors/replace/index.js';
import { batchFrom, optionIssues, rowsOf, schemaError, transformOf } from './kit.js';

const ok = { reject: () => undefined };

async function replaced(raw: Record<string, unknown>, values: (string | null)[]): Promise<unknown[]> {
  const batch = batchFrom({ s: { type: new Utf8(), values } });
  const t = await transformOf(replaceConnector, raw);
  t.outputSchema(batch.schema);
  return rowsOf(await t.apply(batch, ok)).map((r) => r.s);
}

describe('replace', () => {
  it('SeaTunnel inline form: literal, every occurrence, NULL stays NULL', async () => {
    expect(await replaced({ replace_field: 's', pattern: 'a', replacement: 'b' }, ['banana', null, ''])).toEqual(['bbnbnb', null, '']);
  });

  it('a literal pattern and replacement keep regex and $ characters as written', async () => {
    expect(await replaced({ replace_field: 's', pattern: '.*', replacement: '$&$1' }, ['a.*b', 'ab'])).toEqual(['a$&$1b', 'ab']);
    expect(await replaced({ replace_field: 's', pattern: '(', replacement: '[', replace_first: true }, ['f(x(y))'])).toEqual(['f[x(y))']);
  });

  it('regex: groups, named groups, $$, first match only', async () => {
    expect(await replaced({ replace_field: 's', pattern: '(\\d+)-(\\d+)', replacement: '$2/$1', is_regex: true }, ['10-20 and 3-4'])).toEqual(['20/10 and 4/3']);
    expect(await replaced({ replace_field: 's', pattern: '(?<w>\\w+)', replacement: '<$<w>>$$', is_regex: true, replace_first: true }, ['ab cd'])).toEqual(['<ab>$ cd']);
  });

  it('unicode: the u flag matches whole characters, emoji and accents included', async () => {
    expect(await replaced({ replace_field: 's', pattern: '^.', replacement: '*', is_regex: true }, ['😀x', 'éa', '日本'])).toEqual(['*x', '*a', '*本']);
    expect(await replaced({ replace_field: 's', pattern: '\\p{Script=Han}', replacement: 'H', is_regex: true }, ['日本go'])).toEqual(['HHgo']);
    expect(await replaced({ replace_field: 's', pattern: 'ß', replacement: 'ss' }, ['Straße'])).toEqual(['Strasse']);
  });

  it('rules: several columns, and several rules on one column in order', async () => {
    const batch = batchFrom({ a: { type: new Utf8(), values: ['x-y', 'q'] }, n: { type: new Int32(), values: [1, 2] }, b: { type: new Utf8(), values: ['  hi  there ', null] } });
    const t = await transformOf(replaceConnector, {
      rules: [
        { replace_field: 'b', pattern: '\\s+', replacement: ' ', is_regex: true },
        { replace_field: 'a', pattern: '-', replacement: '_' },
        { replace_field: 'b', pattern: '^ | $', replacement: '', is_regex: true },
      ],
    });
    expect(t.outputSchema(batch.schema).fields.map((f) => `${f.name}:${f.type}`)).toEqual(['a:Utf8', 'n:Int32', 'b:Utf8']);
    const out = (await t.apply(batch, ok))!;
    expect(rowsOf(out)).toEqual([
      { a: 'x_y', n: 1, b: 'hi there' },
      { a: 'q', n: 2, b: null },
    ]);
    expect(out.data.children[1]).toBe(batch.data.children[1]);
  });

  it('keeps a large utf8 column large, and rewrites only the dictionary of a dictionary column', async () => {
    const large = batchFrom({ s: { type: new LargeUtf8(), values: ['a-b', null] } });
    const t = await transformOf(replaceConnector, { replace_field: 's', pattern: '-', replacement: '+' });
    expect(String(t.outputSchema(large.schema).fields[0]!.type)).toBe('LargeUtf8');
    expect(rowsOf(await t.apply(large, ok))).toEqual([{ s: 'a+b' }, { s: null }]);

    const dictType = new Dictionary(new Utf8(), new Int32());
    const dict = batchFrom({ s: { type: dictType, values: ['a-b', 'c', 'a-b', null] } });
    const d = await transformOf(replaceConnector, { replace_field: 's', pattern: '-', replacement: '+' });
    d.outputSchema(dict.schema);
    const out = (await d.apply(dict, ok))!;
    expect(rowsOf(out).map((r) => r.s)).toEqual(['a+b', 'c', 'a+b', null]);
    expect(out.data.children[0]!.values).toBe(dict.data.children[0]!.values);
    expect(rowsOf(dict).map((r) => r.s)).toEqual(['a-b', 'c', 'a-b', null]);
  });

  it('check time: an unknown column with a did-you-mean, a non-text column named with its type, at the rule path', async () => {
    const batch = batchFrom({ name: { type: new Utf8(), values: ['x'] }, id: { type: new Int64(), values: [1n] } });
    const unknown = await transformOf(replaceConnector, { replace_field: 'nmae', pattern: 'x' });
    expect(schemaError(unknown, batch.schema)).toMatchObject({ code: 'REPLACE_UNKNOWN_COLUMN', option: 'replace_field', message: expect.stringContaining('did you mean "name"?') });
    const notText = await transformOf(replaceConnector, { rules: [{ replace_field: 'name', pattern: 'x' }, { replace_field: 'id', pattern: '1' }] });
    const error = schemaError(notText, batch.schema);
    expect(error).toMatchObject({ code: 'REPLACE_NOT_TEXT', option: 'rules[1].replace_field' });
    expect(error.message).toContain('"id" is of type Int64');
  });

  it('validates its options: a bad regex at its path, one form only, required fields', () => {
    expect(optionIssues(replaceConnector, { replace_field: 's', pattern: '(a', is_regex: true })).toEqual([
      expect.stringMatching(/^transform\[0\]\.pattern: pattern is not a JavaScript regular expression, compiled with the u \(Unicode\) flag: .*(Unterminated group|unterminated)/i),
    ]);
    expect(optionIssues(replaceConnector, { rules: [{ replace_field: 's', pattern: '[', is_regex: true }] })[0]).toMatch(/^transform\[0\]\.rules\[0\]\.pattern: /);
    // A literal pattern is never compiled, so any text is fine.
    expect(optionIssues(replaceConnector, { replace_field: 's', pattern: '(a' })).toEqual([]);
    expect(optionIssues(replaceConnector, { replace_field: 's', pattern: 'a', rules: [{ replace_field: 's', pattern: 'b' }] })).toEqual([
      'transform[0].replace_field: replace_field belongs to an inline rule, but rules is set too; move it into one of the rules',
      'transform[0].pattern: pattern belongs to an inline rule, but rules is set too; move it into one of the rules',
    ]);
    expect(optionIssues(replaceConnector, { pattern: 'a' })).toEqual(['transform[0].replace_field: required option "replace_field" is missing (or give a list of rules)']);
    expect(optionIssues(replaceConnector, { replace_field: 's', pattern: '' })[0]).toMatch(/^transform\[0\]\.pattern: /);
    expect(optionIssues(replaceConnector, { rules: [{ replace_field: 's', pattern: 'a', regex: true }] })[0]).toMatch(/^transform\[0\]\.rules\[0\]/);
    expect(optionIssues(replaceConnector, { rules: [] })[0]).toMatch(/^transform\[0\]\.rules: /);
  });

  it('a dictionary is rewritten once for the batches that share it', async () => {
    const dictType = new Dictionary(new Utf8(), new Int32());
    const vector = vectorFromArray(['x', 'y', 'x'], dictType);
    const batch = batchFrom({ s: { type: dictType, values: ['x'] } });
    const t = await transformOf(replaceConnector, { replace_field: 's', pattern: 'x', replacement: 'z' });
    t.outputSchema(batch.schema);
    const shared = vector.data[0]!;
    const b1 = batchOf(batch.schema, [shared.slice(0, 2)], 2);
    const b2 = batchOf(batch.schema, [shared.slice(1, 2)], 2);
    const o1 = (await t.apply(b1, ok))!;
    const o2 = (await t.apply(b2, ok))!;
    expect(o1.data.children[0]!.dictionary).toBe(o2.data.children[0]!.dictionary);
    expect(rowsOf(o1).map((r) => r.s)).toEqual(['z', 'y']);
    expect(rowsOf(o2).map((r) => r.s)).toEqual(['y', 'z']);
  });
});
