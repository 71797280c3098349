import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Bool, Dictionary, Field, Float64, Int32, Schema, TimestampMicrosecond, Utf8, vectorFromArray, makeData, RecordBatch, Struct } from 'apache-arrow';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/api/logger.js';
import { describeOptions, parseOptions } from '../../../src/api/options.js';
import { batchToRows } from '../../../src/api/rows.js';
import { ossConnector } from '../../../connectors/oss/index.js';
import { dataFileName, isHiddenKey, isJobDataKey, maxDataFileNameBytes } from '../../../connectors/oss/layout.js';
import { escapeValue, MAX_KEY_BYTES, MAX_VALUE_BYTES, Partitioner, sliceOf, valueBudget } from '../../../connectors/oss/partitioner.js';
import { takeRows } from '../../../connectors/oss/take.js';
import { runJob } from '../../../src/index.js';
import { tempDir } from '../../helpers/jobs.js';
import { committedIds as fileIds, expectExactlyOnce } from '../../helpers/output.js';

const dirs: { remove(): void }[] = [];
afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
function dir(): string {
  const d = tempDir('tideway-oss-opt-');
  dirs.push(d);
  return d.path;
}

const base = { endpoint: 'https://oss-cn-hangzhou.aliyuncs.com', bucket: 'my-bucket', access_key_id: 'id', access_key_secret: 'secret', path: 'warehouse/orders' };

function sinkIssues(options: Record<string, unknown>): string[] {
  const parsed = parseOptions(ossConnector.sink!.options, options, 'sink[0]');
  return parsed.ok ? [] : parsed.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('options', () => {
  it('accepts a complete block and applies the defaults', () => {
    const parsed = parseOptions(ossConnector.sink!.options, base, 'sink[0]');
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value).toMatchObject({ part_size: 8 * 1024 * 1024, late_data: 'redirect', allow_non_empty_target: false, max_retries: 5, format: 'jsonl' });
  });

  it('refuses what OSS or the sink cannot do, naming the key', () => {
    expect(sinkIssues({ ...base, part_size: '50KiB' })).toEqual(['sink[0].part_size: part_size must be at least 100KiB (the OSS minimum for a multipart part)']);
    expect(sinkIssues({ ...base, access_key_id: undefined, access_key_secret: undefined })).toEqual([
      'sink[0].access_key_id: access_key_id is required for endpoint https://oss-cn-hangzhou.aliyuncs.com (only endpoint: embedded works without keys)',
      'sink[0].access_key_secret: access_key_secret is required for endpoint https://oss-cn-hangzhou.aliyuncs.com (only endpoint: embedded works without keys)',
    ]);
    expect(sinkIssues({ ...base, endpoint: 'oss-cn-hangzhou.aliyuncs.com' })[0]).toContain('endpoint must be an http(s) URL');
    expect(sinkIssues({ ...base, bucket: 'My_Bucket' })[0]).toContain('a bucket name is 3 to 63 lower-case letters');
    expect(sinkIssues({ ...base, path: '/' })).toEqual(['sink[0].path: path must name a prefix inside the bucket, such as warehouse/orders']);
    expect(sinkIssues({ ...base, partition_by: {} })[0]).toContain('partition_by needs a time_column, columns, or both');
    expect(sinkIssues({ ...base, max_file_size: '100GiB', part_size: '100KiB' })[0]).toContain("within OSS's 10000 parts per object");
    expect(sinkIssues({ ...base, format: 'arrow', compression: 'gzip' })[0]).toContain('compression "gzip" is not available for format "arrow"');
    expect(sinkIssues({ endpoint: 'embedded', bucket: 'demo', path: 'x' })).toEqual([]);
  });

  it('marks the secret as secret for logs, check output and reports', () => {
    const secrets = describeOptions(ossConnector.sink!.options).filter((o) => o.secret).map((o) => o.name);
    expect(secrets).toEqual(['access_key_secret']);
    expect(describeOptions(ossConnector.source!.options).filter((o) => o.secret).map((o) => o.name)).toEqual(['access_key_secret']);
  });
});

describe('layout', () => {
  it('names data objects per job, attempt, writer, checkpoint and sequence, and tells jobs apart', () => {
    const name = dataFileName({ job: 'orders-a', attemptId: 'mwr1-3fa9c2', writer: 2, checkpoint: 14, sequence: 7, extension: '.parquet' });
    expect(name).toBe('part-orders-a-mwr13fa9c2-w2-c14-00007.parquet');
    expect(isJobDataKey('orders-a', `x/dt=2026-11-22/${name}`)).toBe(true);
    expect(isJobDataKey('orders', `x/${name}`)).toBe(false);
    expect(isJobDataKey('orders-a-mwr13fa9c2', `x/${name}`)).toBe(false);
    expect(isHiddenKey('_late/dt=1/part.jsonl')).toBe(true);
    expect(isHiddenKey('dt=1/_SUCCESS')).toBe(true);
    expect(isHiddenKey('dt=1/.tmp')).toBe(true);
    expect(isHiddenKey('dt=1/region=eu/part.jsonl')).toBe(false);
  });

  it('cuts time into UTC slices and escapes column values', () => {
    const at = Date.parse('2026-11-22T03:59:59.999Z');
    expect(sliceOf(at, 'hour')).toEqual({ path: 'dt=2026-11-22/hour=03/', start: Date.parse('2026-11-22T03:00:00Z'), end: Date.parse('2026-11-22T04:00:00Z') });
    expect(sliceOf(at, 'day').path).toBe('dt=2026-11-22/');
    expect(sliceOf(Date.parse('2026-12-31T23:00:00Z'), 'month')).toEqual({ path: 'dt=2026-12/', start: Date.parse('2026-12-01T00:00:00Z'), end: Date.parse('2027-01-01T00:00:00Z') });
    expect(escapeValue('eu/west=1%')).toBe('eu%2Fwest%3D1%25');
    expect(escapeValue(null)).toBe('__null__');
    expect(escapeValue('_x')).toBe('%5Fx');
  });

  it('gives the empty string its own folder name, apart from NUL, null and any real value', () => {
    expect(escapeValue('')).toBe('__empty__');
    expect(escapeValue('\u0000')).toBe('%00');
    expect(escapeValue('__empty__')).toBe('%5F_empty__');
    expect(escapeValue('__null__')).toBe('%5F_null__');
    expect(escapeValue('a~b')).toBe('a%7Eb');
  });

  it('shortens a long value to a readable start plus a hash, never cutting an escape or a character', () => {
    const long = `${'x'.repeat(300)}/${'y'.repeat(300)}`;
    const name = escapeValue(long);
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_VALUE_BYTES);
    expect(name).toMatch(/^x{111}~[0-9a-f]{16}$/);
    // Same start, different value: different folders.
    expect(escapeValue(`${'x'.repeat(300)}/${'z'.repeat(300)}`)).not.toBe(name);
    const wide = escapeValue('中'.repeat(400), 60);
    expect(Buffer.byteLength(wide)).toBeLessThanOrEqual(60);
    expect(wide).toMatch(/^(中)+~[0-9a-f]{16}$/u);
    expect(escapeValue('%'.repeat(100), 40)).toMatch(/^(%25){7}~[0-9a-f]{16}$/);
  });

  it('sizes values so that every key fits in 1,023 bytes, and refuses a layout that cannot', () => {
    const spec = { granularity: 'day' as const, time_column: 'ts', columns: ['region', 'customer'] };
    expect(valueBudget(spec, 'warehouse/orders/', '_late/', maxDataFileNameBytes('orders'))).toBe(MAX_VALUE_BYTES);
    const deep = `${'p'.repeat(700)}/`;
    const perValue = valueBudget(spec, deep, '_late/', maxDataFileNameBytes('orders'));
    expect(Buffer.byteLength(deep) + 6 + 24 + maxDataFileNameBytes('orders') + 'region=/customer=/'.length + 2 * perValue).toBeLessThanOrEqual(MAX_KEY_BYTES);
    expect(() => valueBudget(spec, `${'p'.repeat(900)}/`, '_late/', maxDataFileNameBytes('orders'))).toThrow(
      expect.objectContaining({ code: 'OSS_KEY_TOO_LONG', message: expect.stringContaining('Shorten path or the job name, or partition by fewer columns') }),
    );
  });
});

describe('partitioning', () => {
  const schema = new Schema([
    new Field('id', new Int32(), false),
    new Field('ts', new TimestampMicrosecond(), true),
    new Field('name', new Utf8(), true),
    new Field('score', new Float64(), true),
    new Field('ok', new Bool(), true),
    new Field('tag', new Dictionary(new Utf8(), new Int32()), true),
  ]);
  const micros = (iso: string) => BigInt(Date.parse(iso)) * 1000n + 7n;
  const batch = () => {
    const ts = [micros('2026-11-22T03:10:00Z'), micros('2026-11-22T05:00:00Z'), null, micros('2026-11-22T03:20:00Z'), micros('2026-11-22T05:30:00Z')];
    const tsData = makeData({ type: new TimestampMicrosecond(), length: 5, nullCount: 1, nullBitmap: Uint8Array.of(0b11011), data: BigInt64Array.from(ts.map((t) => t ?? 0n)) });
    const children = [
      vectorFromArray([0, 1, 2, 3, 4], new Int32()).data[0]!,
      tsData,
      vectorFromArray(['a', null, 'ccc', 'dd', ''], new Utf8()).data[0]!,
      vectorFromArray([0.5, 1.5, null, 3.5, 4.5], new Float64()).data[0]!,
      vectorFromArray([true, false, null, true, false], new Bool()).data[0]!,
      vectorFromArray(['x', 'y', 'x', null, 'y'], new Dictionary(new Utf8(), new Int32())).data[0]!,
    ];
    return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 5, nullCount: 0, children }));
  };

  it('routes scattered rows to their slices, copying every column exactly (microseconds, nulls, strings, dictionaries)', () => {
    const groups = new Partitioner({ time_column: 'ts', granularity: 'hour', columns: [] }, schema).split(batch());
    const byPath = Object.fromEntries(groups.map((g) => [g.path, g]));
    expect(Object.keys(byPath).sort()).toEqual(['dt=2026-11-22/hour=03/', 'dt=2026-11-22/hour=05/', 'dt=__null__/']);
    const three = byPath['dt=2026-11-22/hour=03/']!;
    expect(three.slice?.end).toBe(Date.parse('2026-11-22T04:00:00Z'));
    expect(three.maxTime).toBe(Date.parse('2026-11-22T03:20:00Z'));
    expect(batchToRows(three.batch).map((r) => [r.id, r.name, r.score, r.ok, r.tag])).toEqual([
      [0, 'a', 0.5, true, 'x'],
      [3, 'dd', 3.5, true, null],
    ]);
    expect((three.batch.getChild('ts')!.data[0]!.values as BigInt64Array)[1]).toBe(micros('2026-11-22T03:20:00Z'));
    expect(batchToRows(byPath['dt=2026-11-22/hour=05/']!.batch).map((r) => [r.id, r.name, r.ok])).toEqual([
      [1, null, false],
      [4, '', false],
    ]);
    expect(batchToRows(byPath['dt=__null__/']!.batch).map((r) => [r.id, r.ts, r.score])).toEqual([[2, null, null]]);
  });

  it('takes rows from a sliced batch', () => {
    const sliced = batch().slice(1, 5);
    const taken = takeRows(sliced, Uint32Array.of(3, 0));
    expect(batchToRows(taken).map((r) => [r.id, r.name, r.ok, r.tag])).toEqual([
      [4, '', false, 'y'],
      [1, null, false, 'y'],
    ]);
  });

  it('names a missing or unusable time column', () => {
    expect(() => new Partitioner({ time_column: 'when', granularity: 'day', columns: [] }, schema)).toThrow(/partition_by.time_column names column "when", which the stream does not have/);
    expect(() => new Partitioner({ time_column: 'name', granularity: 'day', columns: [] }, schema)).toThrow(/"name" is Utf8; it must be a timestamp or date column/);
  });
});

describe('endpoint: embedded', () => {
  it('runs with no service: a job writes, another reads back, both sharing one emulator in a job that does both', async () => {
    const work = dir();
    const write = await runJob(
      {
        env: { name: 'emb-write', checkpoint: { dir: join(work, 'ckpt') } },
        source: [{ type: 'fake', rows: 500 }],
        sink: [{ type: 'oss', endpoint: 'embedded', bucket: 'demo', path: 'a', format: 'parquet', partition_by: { time_column: 'created_at', granularity: 'month' } }],
      },
      { logger: silentLogger, baseDir: work },
    );
    expect(write.error).toBeNull();
    expect(existsSync(join(work, '.tideway', 'oss'))).toBe(true);
    // Source and sink both embedded in one job: one emulator serves both.
    const copy = await runJob(
      {
        env: { name: 'emb-copy', checkpoint: { dir: join(work, 'ckpt') } },
        source: [{ type: 'oss', endpoint: 'embedded', bucket: 'demo', path: 'a' }],
        sink: [{ type: 'oss', endpoint: 'embedded', bucket: 'demo', path: 'b', format: 'jsonl' }],
      },
      { logger: silentLogger, baseDir: work },
    );
    expect(copy.error).toBeNull();
    const out = join(work, 'out');
    const read = await runJob(
      {
        env: { name: 'emb-read', checkpoint: { dir: join(work, 'ckpt') } },
        source: [{ type: 'oss', endpoint: 'embedded', bucket: 'demo', path: 'b' }],
        sink: [{ type: 'file', path: out, format: 'jsonl' }],
      },
      { logger: silentLogger, baseDir: work },
    );
    expect(read.error).toBeNull();
    expect(expectExactlyOnce(fileIds(out), 500)).toBeUndefined();
  });
});
