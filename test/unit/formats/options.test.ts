import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/api/errors.js';
import { parseOptions, z } from '../../../src/api/options.js';
import { Field, Int32, Schema } from 'apache-arrow';
import { checkFormatOptions, createEncoder, fileExtension, formatOptionsSchema, refineFormatOptions } from '../../../src/formats/index.js';

const sinkSchema = z.object({ ...formatOptionsSchema.shape, path: z.string().meta({ description: 'where' }) }).superRefine(refineFormatOptions);
const schema = new Schema([new Field('a', new Int32(), true)]);

describe('format options', () => {
  it('fills defaults when spread into a sink schema', () => {
    const result = parseOptions(sinkSchema, { path: '/tmp/out' }, 'sink[0]');
    expect(result).toEqual({
      ok: true,
      value: { format: 'jsonl', csv_delimiter: ',', csv_header: true, parquet_row_group_rows: 131072, parquet_row_group_bytes: 64 * 1024 * 1024, path: '/tmp/out' },
    });
    const sized = parseOptions(sinkSchema, { path: 'x', format: 'parquet', parquet_row_group_bytes: '16MiB' }, 'sink[0]');
    expect(sized.ok && sized.value.parquet_row_group_bytes).toBe(16 * 1024 * 1024);
  });

  it('reports a compression the format does not have on the compression key, with the choices', () => {
    const result = parseOptions(sinkSchema, { path: 'x', format: 'arrow', compression: 'gzip' }, 'sink[0]');
    expect(result).toEqual({
      ok: false,
      issues: [{ path: 'sink[0].compression', message: 'compression "gzip" is not available for format "arrow"; use "none"' }],
    });
    expect(checkFormatOptions('jsonl', { compression: 'zstd' })[0]?.message).toBe('compression "zstd" is not available for format "jsonl"; use "none" or "gzip"');
    expect(checkFormatOptions('parquet', { compression: 'zstd' })).toEqual([]);
  });

  it('refuses a delimiter that cannot work', () => {
    expect(checkFormatOptions('csv', { csv_delimiter: '"' })[0]?.path).toBe('csv_delimiter');
    expect(checkFormatOptions('csv', { csv_delimiter: ';;' })[0]?.path).toBe('csv_delimiter');
    expect(checkFormatOptions('csv', { csv_delimiter: '\t' })).toEqual([]);
    expect(() => createEncoder('csv', schema, { csv_delimiter: '\n' })).toThrow(ConfigError);
  });

  it('names files by format and compression', () => {
    expect(fileExtension('jsonl')).toBe('.jsonl');
    expect(fileExtension('jsonl', 'gzip')).toBe('.jsonl.gz');
    expect(fileExtension('csv', 'gzip')).toBe('.csv.gz');
    expect(fileExtension('arrow', 'none')).toBe('.arrow');
    expect(fileExtension('parquet', 'zstd')).toBe('.parquet');
    expect(createEncoder('parquet', schema).compression).toBe('snappy');
    expect(createEncoder('csv', schema, { compression: 'gzip' }).extension).toBe('.csv.gz');
  });

  it('refuses use after finish', () => {
    const encoder = createEncoder('jsonl', schema);
    encoder.finish();
    expect(() => encoder.finish()).toThrow(/finish\(\) called twice/);
  });
});
