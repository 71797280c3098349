/**
 * The field transforms in jobs built in code: `defineJob` takes their options with the types of their
 * schemas. `tsc` (npm run lint) fails if a `@ts-expect-error` line below stops being an error.
 */
import { describe, expect, it } from 'vitest';
import { defineJob, validateJob } from '../../../src/index.js';

describe('field transforms in defineJob', () => {
  it('a typed job with field transforms plans', () => {
    const job = defineJob({
      env: { name: 'typed-fields' },
      source: [{ type: 'fake', rows: 10 }],
      transform: [
        { type: 'filter_row_kind', exclude_kinds: ['DELETE'] },
        { type: 'split', split_field: 'name', separator: '-', output_fields: ['prefix', 'number'], output_types: ['string', 'int64'] },
        { type: 'copy', fields: { category_raw: 'category' } },
        { type: 'replace', rules: [{ replace_field: 'category', pattern: 'o', replacement: '0' }] },
        { type: 'rename', fields: { amount: 'total' } },
        { type: 'field_mapper', field_mapper: { id: 'id', number: 'n', total: 'total', category_raw: 'c' } },
      ],
      sink: [{ type: 'blackhole' }],
    });
    const planned = validateJob(job);
    if (!planned.ok) throw new Error(planned.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
    expect(planned.plan.transforms.map((t) => t.type)).toEqual(['filter_row_kind', 'split', 'copy', 'replace', 'rename', 'field_mapper']);
  });

  it('wrong options fail tsc', () => {
    const bad = () =>
      defineJob({
        env: { name: 'typed-fields-bad' },
        source: [{ type: 'fake' }],
        transform: [
          // @ts-expect-error missing must be null, 'null' or 'reject'
          { type: 'json_path', columns: [{ src_field: 'doc', path: '$.a', dest_field: 'a' }], missing: 'skip' },
          // @ts-expect-error keep_split_field is a boolean
          { type: 'split', split_field: 'name', separator: '-', output_fields: ['a'], keep_split_field: 'no' },
          // @ts-expect-error UPSERT is not a row kind
          { type: 'filter_row_kind', include_kinds: ['UPSERT'] },
        ],
        sink: [{ type: 'blackhole' }],
      });
    expect(typeof bad).toBe('function');
  });
});
