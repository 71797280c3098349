import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TidewayError } from '../../../src/api/errors.js';
import { globPattern } from '../../../connectors/file/source.js';
import { useTempDirs } from '../../helpers/jobs.js';
import { fileSource, ids, planSplits, range, readToEnd, splitReader, writeRows, writeText } from './helpers.js';

const tempDir = useTempDirs('tideway-file-source-');

async function failure(promise: Promise<unknown>): Promise<TidewayError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TidewayError);
    return error as TidewayError;
  }
  throw new Error('expected a failure');
}

describe('file source: listing and splitting', () => {
  it('lists a directory recursively in path order, skipping names that start with . or _ (the sink staging area, markers)', async () => {
    const dir = tempDir();
    writeRows(join(dir, 'b.csv'), 'csv', 10, { first: 10 });
    writeRows(join(dir, 'a.csv'), 'csv', 10, { first: 0 });
    writeRows(join(dir, 'dt=1', 'c.csv'), 'csv', 10, { first: 20 });
    writeRows(join(dir, '.tideway-staging', 'job', 'x.csv'), 'csv', 10, { first: 100 });
    writeRows(join(dir, '_late', 'y.csv'), 'csv', 10, { first: 200 });
    writeText(join(dir, '_SUCCESS'), '');
    writeText(join(dir, 'notes.txt'), 'not data');
    const splits = await planSplits(fileSource({ path: dir }, dir));
    expect(splits.map((s) => s.splitId)).toEqual(['a.csv', 'b.csv', 'dt=1/c.csv']);
  });

  it('cuts uncompressed text files into byte ranges that tile the file, but never a gzip file', async () => {
    const dir = tempDir();
    writeRows(join(dir, 'big.jsonl'), 'jsonl', 2000);
    writeRows(join(dir, 'big.csv.gz'), 'csv', 2000, { compression: 'gzip', first: 2000 });
    const splits = await planSplits(fileSource({ path: dir, split_size: '20KiB' }, dir));
    const ranges = splits.filter((s) => s.unit === 'bytes');
    expect(ranges.length).toBeGreaterThan(3);
    ranges.forEach((s, i) => {
      expect(s.start).toBe(i === 0 ? 0 : ranges[i - 1]!.end);
      expect(s.end - s.start).toBeLessThanOrEqual(20 * 1024);
    });
    expect(ranges.at(-1)!.end).toBe(ranges[0]!.size);
    const gzip = splits.filter((s) => s.gzip);
    expect(gzip).toHaveLength(1);
    expect(gzip[0]!.unit).toBe('file');
  });

  it('groups Parquet row groups into splits of about split_size compressed bytes', async () => {
    const dir = tempDir();
    writeRows(join(dir, 'rows.parquet'), 'parquet', 10_000, { parquet_row_group_rows: 1000 });
    const one = await planSplits(fileSource({ path: dir }, dir));
    expect(one.map((s) => [s.unit, s.start, s.end])).toEqual([['row_groups', 0, 10]]);
    const many = await planSplits(fileSource({ path: dir, split_size: 1 }, dir));
    expect(many.map((s) => s.start)).toEqual(range(0, 10));
    expect(many.every((s) => s.end === s.start + 1)).toBe(true);
  });

  it('every row is read once across all splits of every format', async () => {
    const dir = tempDir();
    writeRows(join(dir, 'a.csv'), 'csv', 3000, { first: 0 });
    writeRows(join(dir, 'b.jsonl'), 'jsonl', 3000, { first: 3000 });
    writeRows(join(dir, 'c.arrow'), 'arrow', 3000, { first: 6000 });
    writeRows(join(dir, 'd.parquet'), 'parquet', 3000, { first: 9000, parquet_row_group_rows: 500 });
    writeRows(join(dir, 'e.jsonl.gz'), 'jsonl', 3000, { first: 12000, compression: 'gzip' });
    // One schema per job: read the text files with the schema the binary formats carry.
    for (const [pattern, count] of [['*.csv', 3000], ['*.jsonl', 3000], ['*.arrow', 3000], ['*.parquet', 3000], ['*.gz', 3000]] as const) {
      const options = { path: join(dir, pattern), split_size: '16KiB', chunk_rows: 700 };
      const source = fileSource(options, dir);
      const reader = await splitReader(source, options);
      const splits = await planSplits(source);
      const read: number[] = [];
      for (const split of splits) read.push(...ids((await readToEnd(reader, split, 700)).batches));
      expect(read.length).toBe(count);
      expect(new Set(read).size).toBe(count);
      await reader.close();
    }
  });

  it('matches globs: * and ? inside a name, ** across folders, {a,b} and [..]', () => {
    expect(globPattern('/d/*.csv').test('/d/a.csv')).toBe(true);
    expect(globPattern('/d/*.csv').test('/d/x/a.csv')).toBe(false);
    expect(globPattern('/d/**/*.csv').test('/d/a.csv')).toBe(true);
    expect(globPattern('/d/**/*.csv').test('/d/x/y/a.csv')).toBe(true);
    expect(globPattern('/d/part-?.{csv,jsonl}').test('/d/part-1.jsonl')).toBe(true);
    expect(globPattern('/d/part-?.{csv,jsonl}').test('/d/part-12.csv')).toBe(false);
    expect(globPattern('/d/[ab].csv').test('/d/b.csv')).toBe(true);
    expect(globPattern('/d/[!ab].csv').test('/d/b.csv')).toBe(false);
    expect(globPattern('/d/a+b.csv').test('/d/a+b.csv')).toBe(true);
  });

  it('reads the files a glob matches, across folders and symbolic links', async () => {
    const dir = tempDir();
    writeRows(join(dir, 'x', 'p-1.csv'), 'csv', 5, { first: 0 });
    writeRows(join(dir, 'y', 'z', 'p-2.csv'), 'csv', 5, { first: 5 });
    writeRows(join(dir, 'y', 'q-3.csv'), 'csv', 5, { first: 10 });
    symlinkSync(join(dir, 'y'), join(dir, 'linked'));
    symlinkSync(dir, join(dir, 'y', 'loop'));
    const splits = await planSplits(fileSource({ path: 'data/**/p-*.csv'.replace('data', dir) }, dir));
    // y is reached twice (as linked/ and y/) and once more through the loop: its files are read once.
    expect(splits.map((s) => s.path)).toEqual([join(dir, 'linked', 'z', 'p-2.csv'), join(dir, 'x', 'p-1.csv')]);
    expect(splits.map((s) => s.splitId)).toEqual(['linked/z/p-2.csv', 'x/p-1.csv']);
  });
});

describe('file source: errors', () => {
  it('a missing path names the path and says to check it', async () => {
    const dir = tempDir();
    const error = await failure(fileSource({ path: 'nowhere/orders.csv' }, dir).schema({ signal: new AbortController().signal }));
    expect(error.code).toBe('FILE_SOURCE_NOT_FOUND');
    expect(error.message).toContain(join(dir, 'nowhere/orders.csv'));
    expect(error.message).toContain(dir);
  });

  it('a glob or directory that matches nothing is an error, not an empty job', async () => {
    const dir = tempDir();
    writeText(join(dir, 'in', 'readme.txt'), 'hello');
    const glob = await failure(fileSource({ path: join(dir, 'in', '*.csv') }, dir).schema({ signal: new AbortController().signal }));
    expect(glob.code).toBe('FILE_SOURCE_EMPTY');
    expect(glob.message).toContain('*.csv');
    const folder = await failure(fileSource({ path: join(dir, 'in') }, dir).schema({ signal: new AbortController().signal }));
    expect(folder.code).toBe('FILE_SOURCE_EMPTY');
    expect(folder.message).toContain('readme.txt');
  });

  it('a file that does not parse names the file, line, column and what was expected', async () => {
    const dir = tempDir();
    const path = join(dir, 'orders.csv');
    writeText(path, 'id,amount\n1,2.5\n2,3.25\n3,lots\n');
    const options = { path, columns: [{ name: 'id', type: 'int64' }, { name: 'amount', type: 'float64' }] };
    const source = fileSource(options, dir);
    const reader = await splitReader(source, options);
    const [split] = await planSplits(source);
    const error = await failure(readToEnd(reader, split!, 100));
    expect(error.code).toBe('FORMAT_VALUE');
    expect(error.message).toContain(`${path}, line 4`);
    expect(error.message).toContain('column "amount"');
    expect(error.message).toContain('expected a number');
  });

  it('a file that changed after listing is refused rather than read half old, half new', async () => {
    const dir = tempDir();
    const path = join(dir, 'orders.csv');
    writeRows(path, 'csv', 100);
    const source = fileSource({ path }, dir);
    const reader = await splitReader(source, { path });
    const [split] = await planSplits(source);
    writeRows(path, 'csv', 150);
    const error = await failure(readToEnd(reader, { ...split!, mtimeMs: split!.mtimeMs - 1000 }, 100));
    expect(error.code).toBe('FILE_SOURCE_CHANGED');
    expect(error.message).toContain(path);
    expect(error.message).toContain('Put the original back');
  });

  it('files of another schema than the first are named with both schemas', async () => {
    const dir = tempDir();
    writeRows(join(dir, 'a.parquet'), 'parquet', 10);
    writeText(join(dir, 'b.csv'), 'x,y\n1,2\n');
    const source = fileSource({ path: dir }, dir);
    const reader = await splitReader(source, { path: dir });
    const splits = await planSplits(source);
    const error = await failure(readToEnd(reader, splits[1]!, 100));
    expect(['FILE_SOURCE_SCHEMA_MISMATCH', 'FORMAT_CSV_COLUMNS']).toContain(error.code);
    expect(error.message).toContain(join(dir, 'b.csv'));
  });

  it('a CSV byte range that meets a quoted line break says to raise split_size, and reads whole once raised', async () => {
    const dir = tempDir();
    const path = join(dir, 'notes.csv');
    const lines = ['id,note'];
    for (let i = 0; i < 400; i++) lines.push(i % 50 === 7 ? `${i},"two\nlines"` : `${i},plain note number ${i}`);
    writeText(path, `${lines.join('\n')}\n`);
    const small = { path, split_size: '2KiB' };
    const source = fileSource(small, dir);
    const splits = await planSplits(source);
    const reader = await splitReader(source, small);
    let failed: TidewayError | undefined;
    for (const split of splits) {
      try {
        await readToEnd(reader, split, 100);
      } catch (error) {
        failed = error as TidewayError;
        break;
      }
    }
    expect(failed?.code).toBe('FORMAT_CSV_PARSE');
    expect(failed?.message).toContain('set split_size above');
    const whole = { path, split_size: '1MiB' };
    const wholeSource = fileSource(whole, dir);
    const [only] = await planSplits(wholeSource);
    const read = await readToEnd(await splitReader(wholeSource, whole), only!, 100);
    expect(ids(read.batches)).toEqual(range(0, 400));
  });

  it('rejects unknown declared column types when the job is validated', () => {
    expect(() => fileSource({ path: 'x.csv', columns: [{ name: 'id', type: 'bigserial' }] }, '/')).toThrow(/unknown column type/);
  });
});
