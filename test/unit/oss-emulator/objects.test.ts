import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type OSS from 'ali-oss';
import { startOssEmulator, type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { clientFor, randomBucket, rejectionOf, undeclared } from './helpers.js';

let emulator: OssEmulator;
let client: OSS;
let bucket: string;

beforeAll(async () => {
  emulator = await startOssEmulator();
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  bucket = randomBucket();
  client = clientFor(emulator, bucket);
  await client.putBucket(bucket);
});

function md5Upper(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex').toUpperCase();
}

describe('buckets', () => {
  it('answers GetBucketVersioning as a bucket that never had versioning (no Status), and NoSuchBucket for a missing one', async () => {
    const versioning = (c: OSS) => (c as unknown as { getBucketVersioning(b: string): Promise<{ status: number; versionStatus: unknown }> }).getBucketVersioning.bind(c);
    const result = await versioning(client)(bucket);
    expect(result.status).toBe(200);
    expect(result.versionStatus).toBeUndefined();
    expect(await rejectionOf(versioning(client)('no-such-bucket-v'))).toMatchObject({ status: 404, code: 'NoSuchBucket' });
  });

  it('creates a bucket, reports its info and location, and refuses to delete it while it holds objects', async () => {
    const info = await client.getBucketInfo(bucket);
    expect(info.bucket.Name).toBe(bucket);
    expect(info.bucket.Location).toBe('oss-cn-hangzhou');
    expect((await client.getBucketLocation(bucket)).location).toBe('oss-cn-hangzhou');

    await client.put('x.txt', Buffer.from('x'));
    const notEmpty = await rejectionOf(client.deleteBucket(bucket));
    expect(notEmpty.name).toBe('BucketNotEmptyError');
    expect(notEmpty.status).toBe(409);

    await client.delete('x.txt');
    await client.deleteBucket(bucket);
    const gone = await rejectionOf(client.getBucketInfo(bucket));
    expect(gone.name).toBe('NoSuchBucketError');
  });

  it('lists buckets with the owner and answers NoSuchBucket for objects of a missing bucket', async () => {
    const { buckets, owner } = await undeclared(client).listBuckets({});
    expect(buckets?.map((b) => b.name)).toContain(bucket);
    expect(owner.id).toBe('1000000000000000');
    const missing = clientFor(emulator, randomBucket('missing'));
    const error = await rejectionOf(missing.put('a.txt', Buffer.from('a')));
    expect(error.name).toBe('NoSuchBucketError');
    expect(error.status).toBe(404);
  });

  it('rejects an invalid bucket name', async () => {
    const error = await rejectionOf(emulator.storage.createBucket('Bad_Name'));
    expect(error).toMatchObject({ code: 'InvalidBucketName' });
  });
});

describe('put, get and head', () => {
  it('round-trips bytes, content type, ETag and user metadata', async () => {
    const body = Buffer.from('{"a":1}');
    const put = await client.put('dir/a.json', body, { meta: { run: 'r1' } as unknown as OSS.UserMeta });
    expect(put.res.headers).toMatchObject({ etag: `"${md5Upper(body)}"` });

    const got = await client.get('dir/a.json');
    expect(Buffer.compare(got.content as Buffer, body)).toBe(0);
    expect(got.res.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(body.length),
      etag: `"${md5Upper(body)}"`,
      'x-oss-object-type': 'Normal',
      'x-oss-meta-run': 'r1',
    });
    expect(got.res.headers).toHaveProperty('last-modified');
    expect(got.res.headers).toHaveProperty('x-oss-request-id');

    const head = await client.head('dir/a.json');
    expect(head.meta).toEqual({ run: 'r1' });
    expect(head.res.headers).toMatchObject({ 'content-length': String(body.length), etag: `"${md5Upper(body)}"` });
  });

  it('stores and serves an empty object', async () => {
    await client.put('empty.txt', Buffer.alloc(0));
    const got = await client.get('empty.txt');
    expect((got.content as Buffer).length).toBe(0);
    expect(got.res.headers).toMatchObject({ 'content-length': '0', etag: `"${md5Upper('')}"` });
  });

  it('stores a chunked upload of unknown length', async () => {
    const { Readable } = await import('node:stream');
    const chunks = [Buffer.from('hello '), Buffer.from('chunked '), Buffer.from('world')];
    await client.putStream('dir/s.txt', Readable.from(chunks));
    const got = await client.get('dir/s.txt');
    expect((got.content as Buffer).toString()).toBe('hello chunked world');
    expect(emulator.journal.last({ op: 'PutObject', key: 'dir/s.txt' })?.bytesIn).toBe(19);
  });

  it('refuses a body whose Content-MD5 does not match', async () => {
    const error = await rejectionOf(client.put('bad.txt', Buffer.from('actual'), { headers: { 'Content-MD5': createHash('md5').update('other').digest('base64') } }));
    expect(error.name).toBe('InvalidDigestError');
    expect(error.status).toBe(400);
    expect(emulator.storage.head(bucket, 'bad.txt')).toBeUndefined();
  });

  it('serves ranges with 206 and Content-Range, and OSS legacy and standard out-of-range behaviour', async () => {
    await client.put('r.bin', Buffer.from('0123456789'));
    const part = await client.get('r.bin', { headers: { Range: 'bytes=2-4' } });
    expect(part.res.status).toBe(206);
    expect((part.content as Buffer).toString()).toBe('234');
    expect(part.res.headers).toMatchObject({ 'content-range': 'bytes 2-4/10', 'content-length': '3' });

    const suffix = await client.get('r.bin', { headers: { Range: 'bytes=-3' } });
    expect((suffix.content as Buffer).toString()).toBe('789');

    // Without x-oss-range-behavior OSS ignores an unsatisfiable range and sends the whole object.
    const legacy = await client.get('r.bin', { headers: { Range: 'bytes=20-30' } });
    expect(legacy.res.status).toBe(200);
    expect((legacy.content as Buffer).toString()).toBe('0123456789');

    const clamped = await client.get('r.bin', { headers: { Range: 'bytes=8-30', 'x-oss-range-behavior': 'standard' } });
    expect(clamped.res.status).toBe(206);
    expect((clamped.content as Buffer).toString()).toBe('89');
    const unsatisfiable = await rejectionOf(client.get('r.bin', { headers: { Range: 'bytes=20-30', 'x-oss-range-behavior': 'standard' } }));
    expect(unsatisfiable.name).toBe('InvalidRangeError');
    expect(unsatisfiable.status).toBe(416);
  });

  it('answers conditional requests with 304 and 412', async () => {
    const put = await client.put('c.txt', Buffer.from('c'));
    const etag = (put.res.headers as Record<string, string>)['etag'] ?? '';
    const notModified = await client.get('c.txt', { headers: { 'If-None-Match': etag } });
    expect(notModified.res.status).toBe(304);
    const failed = await rejectionOf(client.get('c.txt', { headers: { 'If-Match': '"0000"' } }));
    expect(failed.name).toBe('PreconditionFailedError');
    expect(failed.status).toBe(412);
    const matched = await client.get('c.txt', { headers: { 'If-Match': etag.toLowerCase() } });
    expect((matched.content as Buffer).toString()).toBe('c');
    const headFailed = await rejectionOf(client.head('c.txt', { headers: { 'If-Match': '"0000"' } } as OSS.HeadObjectOptions));
    expect(headFailed.name).toBe('PreconditionFailedError');
  });

  it('gives HEAD errors without a body, carrying the OSS error in x-oss-err', async () => {
    const missing = await rejectionOf(client.head('missing.txt'));
    expect(missing.name).toBe('NoSuchKeyError');
    expect(missing.status).toBe(404);
    const missingBucket = await rejectionOf(undeclared(clientFor(emulator, randomBucket('nob'))).getObjectMeta('k'));
    // A bare 404 on HEAD is always NoSuchKey to ali-oss, even for a missing bucket.
    expect(missingBucket.status).toBe(404);
    const entry = emulator.journal.last({ op: 'GetObjectMeta' });
    expect(entry).toMatchObject({ status: 404, errorCode: 'NoSuchBucket', bytesOut: 0 });
  });

  it('reports object meta through GetObjectMeta', async () => {
    await client.put('m.txt', Buffer.from('meta!'));
    const meta = await undeclared(client).getObjectMeta('m.txt');
    expect(meta.status).toBe(200);
    expect(meta.res.headers).toMatchObject({ 'content-length': '5', etag: `"${md5Upper('meta!')}"` });
    expect(emulator.journal.last()?.op).toBe('GetObjectMeta');
  });

  it('keeps special-character keys intact in V1, V4 and path-style modes', async () => {
    const keys = ['a b+c/中文.txt', 'x?y#z&w=1.csv', "~tilde*(paren)!'q.json", 'dir//double.txt'];
    const clients = [
      client,
      clientFor(emulator, bucket, { authorizationV4: true }),
      clientFor(emulator, bucket, { endpoint: `http://localhost:${emulator.port}`, sldEnable: true }),
    ];
    for (const [index, c] of clients.entries()) {
      for (const key of keys) {
        const body = Buffer.from(`${index}:${key}`);
        await c.put(key, body);
        expect(((await c.get(key)).content as Buffer).toString()).toBe(body.toString());
      }
    }
    expect(emulator.storage.keys(bucket).sort()).toEqual([...keys].sort());
    const listed = await client.listV2({ 'max-keys': '100' }, {});
    expect(listed.objects.map((o) => o.name).sort()).toEqual([...keys].sort());
  });
});

describe('delete and copy', () => {
  it('deletes idempotently with 204', async () => {
    await client.put('d.txt', Buffer.from('d'));
    const first = await client.delete('d.txt');
    expect(first.res.status).toBe(204);
    const again = await client.delete('d.txt');
    expect(again.res.status).toBe(204);
    expect(emulator.storage.head(bucket, 'd.txt')).toBeUndefined();
  });

  it('deletes many objects, escaping XML in keys, and stays silent when quiet', async () => {
    const keys = ['m/1.txt', 'm/a&b<c>.txt', 'm/3.txt'];
    for (const key of keys) await client.put(key, Buffer.from(key));
    const loud = await client.deleteMulti(keys.slice(0, 2));
    expect(loud.deleted?.map((d) => (d as unknown as { Key: string }).Key)).toEqual(keys.slice(0, 2));
    const quiet = await client.deleteMulti([keys[2] as string, 'never-existed'], { quiet: true });
    expect(quiet.deleted).toEqual([]);
    expect(emulator.storage.keys(bucket, 'm/')).toEqual([]);
  });

  it('copies with the COPY directive keeping metadata, and REPLACE replacing it', async () => {
    await client.put('src/a.json', Buffer.from('{"v":1}'), { meta: { origin: 'src' } as unknown as OSS.UserMeta });
    const copied = await client.copy('dst/a-copy.json', 'src/a.json');
    expect(copied.data?.etag).toBe(`"${md5Upper('{"v":1}')}"`);
    const head = await client.head('dst/a-copy.json');
    expect(head.meta).toEqual({ origin: 'src' });

    await client.copy('dst/a-replaced.json', 'src/a.json', { meta: { origin: 'replaced' } as unknown as OSS.UserMeta });
    expect((await client.head('dst/a-replaced.json')).meta).toEqual({ origin: 'replaced' });
    expect(((await client.get('dst/a-replaced.json')).content as Buffer).toString()).toBe('{"v":1}');
    const lastCopy = emulator.journal.last({ op: 'CopyObject' });
    expect(lastCopy?.status).toBe(200);

    const missing = await rejectionOf(client.copy('dst/none', 'src/none'));
    expect(missing.name).toBe('NoSuchKeyError');
  });

  it('copies across buckets and keys with special characters', async () => {
    const other = randomBucket('other');
    await client.putBucket(other);
    await client.put('a b+c/中文.txt', Buffer.from('x'));
    await clientFor(emulator, other).copy('copied/中文.txt', 'a b+c/中文.txt', bucket);
    expect((await emulator.storage.read(other, 'copied/中文.txt'))?.toString()).toBe('x');
  });

  it('refuses to overwrite when x-oss-forbid-overwrite is set', async () => {
    await client.put('once.txt', Buffer.from('first'));
    const error = await rejectionOf(client.put('once.txt', Buffer.from('second'), { headers: { 'x-oss-forbid-overwrite': 'true' } }));
    expect(error.name).toBe('FileAlreadyExistsError');
    expect((await emulator.storage.read(bucket, 'once.txt'))?.toString()).toBe('first');
  });

  it('x-oss-forbid-overwrite: exactly one of many concurrent creates wins (409 FileAlreadyExists for the rest); false overwrites; other values are 400', async () => {
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.from(`writer ${i}`));
    const outcomes = await Promise.allSettled(bodies.map((body) => client.put('claim.json', body, { headers: { 'x-oss-forbid-overwrite': 'true' } })));
    const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    expect(won).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toMatchObject({ name: 'FileAlreadyExistsError', status: 409, code: 'FileAlreadyExists' });
    expect((await emulator.storage.read(bucket, 'claim.json'))?.toString()).toBe(`writer ${won[0]}`);

    await client.put('claim.json', Buffer.from('replaced'), { headers: { 'x-oss-forbid-overwrite': 'false' } });
    expect((await emulator.storage.read(bucket, 'claim.json'))?.toString()).toBe('replaced');
    const invalid = await rejectionOf(client.put('claim.json', Buffer.from('x'), { headers: { 'x-oss-forbid-overwrite': 'yes' } }));
    expect(invalid).toMatchObject({ status: 400, code: 'InvalidArgument' });
    expect((await emulator.storage.read(bucket, 'claim.json'))?.toString()).toBe('replaced');
  });

  it('x-oss-forbid-overwrite on initiate and complete: a multipart upload never replaces an object created meanwhile', async () => {
    await client.put('taken.bin', Buffer.from('first'));
    expect(await rejectionOf(client.initMultipartUpload('taken.bin', { headers: { 'x-oss-forbid-overwrite': 'true' } }))).toMatchObject({ status: 409, code: 'FileAlreadyExists' });
    const { uploadId } = await client.initMultipartUpload('late.bin', { meta: { 'tideway-commit': 'abc' } as never });
    const part = await client.uploadPart('late.bin', uploadId, 1, Buffer.from('mine'), 0, 4);
    await client.put('late.bin', Buffer.from('theirs'));
    const refused = await rejectionOf(client.completeMultipartUpload('late.bin', uploadId, [{ number: 1, etag: part.etag }], { headers: { 'x-oss-forbid-overwrite': 'true' } }));
    expect(refused).toMatchObject({ status: 409, code: 'FileAlreadyExists' });
    expect((await emulator.storage.read(bucket, 'late.bin'))?.toString()).toBe('theirs');
    // Without the header the upload completes, and the metadata given at initiate is the object's.
    await client.completeMultipartUpload('late.bin', uploadId, [{ number: 1, etag: part.etag }]);
    expect((await client.head('late.bin')).meta).toEqual({ 'tideway-commit': 'abc' });
  });
});
