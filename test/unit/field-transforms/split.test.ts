import { Int64, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { splitConnector } from '../../../connectors/split/index.js';
import { splitter } from '../../../connectors/split/splitter.js';
import { batchFrom, collectingContext, failingContext, optionIssues, rowsOf, schemaError, transformOf } from './kit.js';

const input = (values: (string | null)[]) =>
  batchFrom({
    id: { type: new Int64(), values: values.map((_, i) => BigInt(i)) },
    s: { type: new Utf8(), values },
  });

describe('split', () => {
  it('splits into text columns after the existing ones; missing parts NULL, the rest kept in the last part', async () => {
    const batch = input(['a,b,c', 'a', null, 'a,b,c,d', ',', '']);
    const t = await transformOf(splitConnector, { split_field: 's', separator: ',', output_fields: ['x', 'y', 'z'] });
    expect(t.outputSchema(batch.schema).fields.map((f) => `${f.name}:${f.type}:${f.nullable}`)).toEqual(['id:Int64:true', 's:Utf8:true', 'x:Utf8:true', 'y:Utf8:true', 'z:Utf8:true']);
    const out = await t.apply(batch, failingContext);
    expect(rowsOf(out).map(({ x, y, z }) => [x, y, z])).toEqual([
      ['a', 'b', 'c'],
      ['a', null, null],
      [null, null, null],
      ['a', 'b', 'c,d'],
      ['', '', null],
      ['', null, null],
    ]);
  });

  it('a multi-character, unicode separator; keep_split_field: false drops the source and may reuse its name', async () => {
    const batch = input(['日本→東京→😀', 'x→→y']);
    const t = await transformOf(splitConnector, { split_field: 's', separator: '→', output_fields: ['s', 'b', 'c'], keep_split_field: false });
    expect(t.outputSchema(batch.schema).fields.map((f) => f.name)).toEqual(['id', 's', 'b', 'c']);
    expect(rowsOf(await t.apply(batch, failingContext))).toEqual([
      { id: 0n, s: '日本', b: '東京', c: '😀' },
      { id: 1n, s: 'x', b: '', c: 'y' },
    ]);
  });

  it('a literal separator with regex characters is literal; is_regex makes it a regular expression', async () => {
    const literal = await transformOf(splitConnector, { split_field: 's', separator: '.', output_fields: ['a', 'b'] });
    const batch = input(['1.5', 'x|y']);
    literal.outputSchema(batch.schema);
    expect(rowsOf(await literal.apply(batch, failingContext)).map((r) => [r.a, r.b])).toEqual([['1', '5'], ['x|y', null]]);
    const regex = await transformOf(splitConnector, { split_field: 's', separator: '[.|]', is_regex: true, output_fields: ['a', 'b'] });
    regex.outputSchema(batch.schema);
    expect(rowsOf(await regex.apply(batch, failingContext)).map((r) => [r.a, r.b])).toEqual([['1', '5'], ['x', 'y']]);
  });

  it('the splitter: limits, empty regex matches do not cut, surrogate pairs stay whole', () => {
    expect(splitter(',', false, 1)('a,b')).toEqual(['a,b']);
    expect(splitter('\\s*', true, 3)('a b')).toEqual(['a', 'b']);
    expect(splitter('x*', true, 4)('😀😀')).toEqual(['😀😀']);
    expect(splitter('\\s+', true, 2)(' a b ')).toEqual(['', 'a b ']);
    expect(splitter('ab', false, 5)('xabyabab')).toEqual(['x', 'y', '', '']);
  });

  it('typed outputs: parts convert, empty parts are NULL, and a part that does not convert rejects its row', async () => {
    const batch = input(['7|2026-01-02|true|1.25', '8||false|x', 'nine|2026-01-03|yes|2', '10', '300|2026-13-40|1|3', null]);
    const t = await transformOf(splitConnector, { split_field: 's', separator: '|', output_fields: ['n', 'd', 'b', 'f'], output_types: ['int8', 'date', 'boolean', 'decimal(6,2)'] });
    expect(t.outputSchema(batch.schema).fields.slice(2).map((f) => `${f.name}:${f.type}`)).toEqual(['n:Int8', 'd:Date32<DAY>', 'b:Bool', 'f:Decimal[6e+2]']);
    const context = collectingContext();
    const out = await t.apply(batch, context);
    expect(context.rejected.map((r) => [r.row, r.code, r.column])).toEqual([
      [1, 'SPLIT_TYPE', 's'],
      [2, 'SPLIT_TYPE', 's'],
      [4, 'SPLIT_TYPE', 's'],
    ]);
    expect(context.rejected[0]!.message).toContain('part 4 of "s", for output field "f"');
    expect(context.rejected[1]!.message).toContain('part 1 of "s", for output field "n"');
    expect(context.rejected[1]!.message).toContain('"nine"');
    const rows = rowsOf(out);
    expect(rows.map((r) => r.id)).toEqual([0n, 3n, 5n]);
    expect(rows[0]!.n).toBe(7);
    expect(new Date(rows[0]!.d as number).toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(rows[0]!.b).toBe(true);
    expect(String(rows[0]!.f)).toBe('125');
    expect(rows[1]).toMatchObject({ n: 10, d: null, b: null, f: null });
    expect(rows[2]).toMatchObject({ n: null, d: null, b: null, f: null });
  });

  it('with the default policy the first bad part fails, naming the row', async () => {
    const batch = input(['1', 'x']);
    const t = await transformOf(splitConnector, { split_field: 's', separator: ',', output_fields: ['n'], output_types: ['int64'] });
    t.outputSchema(batch.schema);
    await expect(async () => t.apply(batch, failingContext)).rejects.toThrow(/rejected row 1: SPLIT_TYPE: part 1 of "s", for output field "n": expected an integer/);
  });

  it('check time: unknown column, non-text column, output name clash', async () => {
    const batch = input(['a']);
    const unknown = await transformOf(splitConnector, { split_field: 'ss', separator: ',', output_fields: ['a'] });
    expect(schemaError(unknown, batch.schema)).toMatchObject({ code: 'SPLIT_UNKNOWN_COLUMN', option: 'split_field', message: expect.stringContaining('did you mean "s"?') });
    const notText = await transformOf(splitConnector, { split_field: 'id', separator: ',', output_fields: ['a'] });
    expect(schemaError(notText, batch.schema)).toMatchObject({ code: 'SPLIT_NOT_TEXT', option: 'split_field', message: expect.stringContaining('"id" is of type Int64') });
    const clash = await transformOf(splitConnector, { split_field: 's', separator: ',', output_fields: ['a', 'id'] });
    expect(schemaError(clash, batch.schema)).toMatchObject({ code: 'SPLIT_DUPLICATE_COLUMN', option: 'output_fields[1]' });
    const keep = await transformOf(splitConnector, { split_field: 's', separator: ',', output_fields: ['s'] });
    expect(schemaError(keep, batch.schema)).toMatchObject({ code: 'SPLIT_DUPLICATE_COLUMN', option: 'output_fields[0]', message: expect.stringContaining('(the input column "s" and output_fields[0])') });
  });

  it('validates its options', () => {
    expect(optionIssues(splitConnector, { split_field: 's', separator: ',', output_fields: ['a', 'b'], output_types: ['int64'] })).toEqual([
      'transform[0].output_types: 1 types for 2 output_fields; give one type per output field',
    ]);
    expect(optionIssues(splitConnector, { split_field: 's', separator: ',', output_fields: ['a'], output_types: ['integr'] })[0]).toMatch(/^transform\[0\]\.output_types\[0\]: unknown column type "integr"; use one of boolean, int8/);
    expect(optionIssues(splitConnector, { split_field: 's', separator: '', output_fields: ['a'] })[0]).toMatch(/^transform\[0\]\.separator: /);
    expect(optionIssues(splitConnector, { split_field: 's', separator: '(', is_regex: true, output_fields: ['a'] })[0]).toMatch(/^transform\[0\]\.separator: separator is not a JavaScript regular expression/);
    expect(optionIssues(splitConnector, { split_field: 's', separator: ',', output_fields: [] })[0]).toMatch(/^transform\[0\]\.output_fields: /);
    expect(optionIssues(splitConnector, { separator: ',', output_fields: ['a'] })).toEqual(['transform[0].split_field: required option "split_field" is missing']);
  });
});
