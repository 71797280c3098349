import { Int64, Utf8 } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { jsonPathConnector } from '../../../connectors/json_path/index.js';
import { parsePath, valueAt } from '../../../connectors/json_path/path.js';
import { batchFrom, collectingContext, failingContext, optionIssues, rowsOf, schemaError, transformOf } from './kit.js';

const input = (values: (string | null)[]) =>
  batchFrom({
    id: { type: new Int64(), values: values.map((_, i) => BigInt(i)) },
    doc: { type: new Utf8(), values },
  });

describe('json_path paths', () => {
  it('parses the subset $ .key [n] [\'key\'] ["key"]', () => {
    expect(parsePath('$')).toEqual({ ok: true, steps: [] });
    expect(parsePath("$.a.b[0]['c d'][\"e.f\"]['it\\'s'].日本")).toEqual({
      ok: true,
      steps: [{ key: 'a' }, { key: 'b' }, { index: 0 }, { key: 'c d' }, { key: 'e.f' }, { key: "it's" }, { key: '日本' }],
    });
  });

  it.each([
    ['a.b', 'a path starts with $ at character 1'],
    ['$..a', 'recursive descent (..) is not supported at character 2'],
    ['$.*', 'wildcards (*) are not supported'],
    ['$[*]', '[*] is not supported'],
    ['$[-1]', '[-1] is not supported'],
    ['$[0:2]', '[0:2] is not supported'],
    ['$[?(@.a)]', 'is not supported'],
    ["$['a'", "a quoted key is not closed with ']"],
    ['$[1', '"[" is not closed'],
    ['$.', 'a key is missing after "."'],
    ['$a', 'unexpected "a"'],
  ])('refuses %s', (path, message) => {
    const parsed = parsePath(path);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error).toContain(message);
      expect(parsed.error).toContain("the supported JSONPath subset is $, .key, [n] and ['key']");
    }
  });

  it('walks a document; a path that leads nowhere is undefined, a JSON null is null', () => {
    const doc = { a: [{ b: 1 }, null], c: { d: null }, n: 0 };
    const at = (path: string) => {
      const parsed = parsePath(path);
      if (!parsed.ok) throw new Error(parsed.error);
      return valueAt(doc, parsed.steps);
    };
    expect(at('$.a[0].b')).toBe(1);
    expect(at('$.a[1]')).toBeNull();
    expect(at('$.c.d')).toBeNull();
    expect(at('$.a[2]')).toBeUndefined();
    expect(at('$.a.b')).toBeUndefined();
    expect(at('$.c[0]')).toBeUndefined();
    expect(at('$.n.x')).toBeUndefined();
    expect(at('$.toString')).toBeUndefined();
    expect(at('$')).toBe(doc);
  });
});

describe('json_path', () => {
  const columns = [
    { src_field: 'doc', path: '$.user.name', dest_field: 'name' },
    { src_field: 'doc', path: '$.user.age', dest_field: 'age', dest_type: 'int32' },
    { src_field: 'doc', path: "$.items[1]['unit price']", dest_field: 'price', dest_type: 'float64' },
    { src_field: 'doc', path: '$.tags', dest_field: 'tags' },
  ];

  it('extracts typed columns after the existing ones: values, NULLs, nested values as JSON text, unicode', async () => {
    const batch = input([
      JSON.stringify({ user: { name: 'Zoë 😀', age: 41 }, items: [{}, { 'unit price': 9.5 }], tags: ['a', { b: 1 }] }),
      JSON.stringify({ user: { name: null, age: '7' } }),
      null,
      JSON.stringify([1, 2]),
    ]);
    const t = await transformOf(jsonPathConnector, { columns });
    expect(t.outputSchema(batch.schema).fields.map((f) => `${f.name}:${f.type}:${f.nullable}`)).toEqual([
      'id:Int64:true',
      'doc:Utf8:true',
      'name:Utf8:true',
      'age:Int32:true',
      'price:Float64:true',
      'tags:Utf8:true',
    ]);
    const out = await t.apply(batch, failingContext);
    expect(rowsOf(out).map(({ id, name, age, price, tags }) => ({ id, name, age, price, tags }))).toEqual([
      { id: 0n, name: 'Zoë 😀', age: 41, price: 9.5, tags: '["a",{"b":1}]' },
      { id: 1n, name: null, age: 7, price: null, tags: null },
      { id: 2n, name: null, age: null, price: null, tags: null },
      { id: 3n, name: null, age: null, price: null, tags: null },
    ]);
    expect(out!.data.children[1]).toBe(batch.data.children[1]);
  });

  it('rejects invalid JSON and values of the wrong type with their row index, code and column, and leaves them out', async () => {
    const batch = input([
      '{"user":{"age":1}}',
      '{"user":',
      '{"user":{"age":"old"}}',
      '{"user":{"age":2}}',
      '{"user":{"age":2147483648}}',
      "{'user': 1}",
      '{"user":{"age":3.5}}',
    ]);
    const t = await transformOf(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$.user.age', dest_field: 'age', dest_type: 'int32' }] });
    t.outputSchema(batch.schema);
    const context = collectingContext();
    const out = await t.apply(batch, context);
    expect(context.rejected.map((r) => [r.row, r.code, r.column])).toEqual([
      [1, 'JSON_PATH_INVALID_JSON', 'doc'],
      [2, 'JSON_PATH_TYPE', 'doc'],
      [4, 'JSON_PATH_TYPE', 'doc'],
      [5, 'JSON_PATH_INVALID_JSON', 'doc'],
      [6, 'JSON_PATH_TYPE', 'doc'],
    ]);
    expect(context.rejected[0]!.message).toMatch(/^"doc" is not valid JSON: .+ \(value "\{\\"user\\":"\)$/);
    expect(context.rejected[1]!.message).toContain('$.user.age in "doc" does not convert to Int32 for "age": expected an integer for Int32, got "old"');
    expect(rowsOf(out).map((r) => [r.id, r.age])).toEqual([
      [0n, 1],
      [3n, 2],
    ]);
  });

  it('one rejection per row even when several columns fail, and the other columns stay aligned', async () => {
    const batch = input(['{"a":"x","b":"y"}', '{"a":1,"b":2}', '{"a":"z","b":3}']);
    const t = await transformOf(jsonPathConnector, {
      columns: [
        { src_field: 'doc', path: '$.a', dest_field: 'a', dest_type: 'int64' },
        { src_field: 'doc', path: '$.b', dest_field: 'b', dest_type: 'int64' },
      ],
    });
    t.outputSchema(batch.schema);
    const context = collectingContext();
    const out = await t.apply(batch, context);
    expect(context.rejected.map((r) => r.row)).toEqual([0, 2]);
    expect(rowsOf(out)).toEqual([{ id: 1n, doc: '{"a":1,"b":2}', a: 1n, b: 2n }]);
  });

  it('missing: reject rejects a path that leads nowhere, not a JSON null nor a NULL column', async () => {
    const batch = input(['{"a":1}', '{"b":1}', '{"a":null}', null, '{"a":[]}']);
    const t = await transformOf(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$.a', dest_field: 'a', dest_type: 'int64' }], missing: 'reject' });
    t.outputSchema(batch.schema);
    const context = collectingContext();
    const out = await t.apply(batch, context);
    expect(context.rejected.map((r) => [r.row, r.code])).toEqual([
      [1, 'JSON_PATH_NOT_FOUND'],
      [4, 'JSON_PATH_TYPE'],
    ]);
    expect(context.rejected[0]!.message).toBe('$.a leads to no value in "doc" (for "a"; missing: reject)');
    expect(rowsOf(out).map((r) => [r.id, r.a])).toEqual([
      [0n, 1n],
      [2n, null],
      [3n, null],
    ]);
  });

  it('a batch whose every row is rejected gives nothing', async () => {
    const batch = input(['x', 'y']);
    const t = await transformOf(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$', dest_field: 'v' }] });
    t.outputSchema(batch.schema);
    const context = collectingContext();
    expect(await t.apply(batch, context)).toBeNull();
    expect(context.rejected.map((r) => r.row)).toEqual([0, 1]);
  });

  it('an integer beyond 2^53 is rejected for int64 rather than stored wrong; as a JSON string it keeps every digit', async () => {
    const batch = input(['{"n":12345678901234567890}', '{"n":"9223372036854775807"}']);
    const t = await transformOf(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$.n', dest_field: 'n', dest_type: 'int64' }] });
    t.outputSchema(batch.schema);
    const context = collectingContext();
    const out = await t.apply(batch, context);
    expect(context.rejected.map((r) => [r.row, r.code])).toEqual([[0, 'JSON_PATH_TYPE']]);
    expect(rowsOf(out).map((r) => r.n)).toEqual([9223372036854775807n]);
  });

  it('check time: unknown and non-text source columns at columns[i].src_field, and clashing destinations', async () => {
    const batch = input(['{}']);
    const unknown = await transformOf(jsonPathConnector, { columns: [{ src_field: 'dco', path: '$', dest_field: 'v' }] });
    expect(schemaError(unknown, batch.schema)).toMatchObject({ code: 'JSON_PATH_UNKNOWN_COLUMN', option: 'columns[0].src_field', message: expect.stringContaining('did you mean "doc"?') });
    const notText = await transformOf(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$', dest_field: 'v' }, { src_field: 'id', path: '$', dest_field: 'w' }] });
    expect(schemaError(notText, batch.schema)).toMatchObject({ code: 'JSON_PATH_NOT_TEXT', option: 'columns[1].src_field' });
    const existing = await transformOf(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$', dest_field: 'id' }] });
    expect(schemaError(existing, batch.schema)).toMatchObject({ code: 'JSON_PATH_DUPLICATE_COLUMN', option: 'columns[0].dest_field' });
    const twice = await transformOf(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$.a', dest_field: 'v' }, { src_field: 'doc', path: '$.b', dest_field: 'v' }] });
    expect(schemaError(twice, batch.schema)).toMatchObject({ code: 'JSON_PATH_DUPLICATE_COLUMN', option: 'columns[1].dest_field' });
  });

  it('validates its options: the path, the type, missing (YAML null accepted)', () => {
    expect(optionIssues(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$..a', dest_field: 'v' }] })).toEqual([
      'transform[0].columns[0].path: recursive descent (..) is not supported at character 2 of "$..a"; the supported JSONPath subset is $, .key, [n] and [\'key\']',
    ]);
    expect(optionIssues(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$', dest_field: 'v', dest_type: 'int' }] })).toEqual([]);
    expect(optionIssues(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$', dest_field: 'v', dest_type: 'jsonb' }] })[0]).toMatch(/^transform\[0\]\.columns\[0\]\.dest_type: unknown column type "jsonb"/);
    expect(optionIssues(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$', dest_field: 'v', desttype: 'int' }] })[0]).toMatch(/^transform\[0\]\.columns\[0\]/);
    expect(optionIssues(jsonPathConnector, { columns: [] })[0]).toMatch(/^transform\[0\]\.columns: /);
    expect(optionIssues(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$', dest_field: 'v' }], missing: null })).toEqual([]);
    expect(optionIssues(jsonPathConnector, { columns: [{ src_field: 'doc', path: '$', dest_field: 'v' }], missing: 'skip' })[0]).toMatch(/^transform\[0\]\.missing: /);
  });
});
