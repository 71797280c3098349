import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type OSS from 'ali-oss';
import { startOssEmulator, type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { clientFor, pattern, rejectionOf, useEmulatorBed } from './helpers.js';

const KiB = 1024;

let emulator: OssEmulator;
let client: OSS;
let bucket: string;
useEmulatorBed((e, b, c) => {
  emulator = e;
  bucket = b;
  client = c;
});

function multipartEtag(parts: readonly Buffer[]): string {
  const md5s = parts.map((p) => createHash('md5').update(p).digest());
  return `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex').toUpperCase()}-${parts.length}"`;
}

describe('multipart upload', () => {
  it('assembles a managed multipartUpload byte for byte with the OSS multipart ETag', async () => {
    const data = pattern(250 * KiB, 7);
    const result = await client.multipartUpload('big/file.bin', data, { partSize: 100 * KiB, parallel: 2 });
    const parts = [data.subarray(0, 100 * KiB), data.subarray(100 * KiB, 200 * KiB), data.subarray(200 * KiB)];
    const expectedEtag = multipartEtag(parts);
    expect(result.res.headers).toMatchObject({ etag: expectedEtag });

    const stored = await emulator.storage.read(bucket, 'big/file.bin');
    expect(stored && Buffer.compare(stored, data)).toBe(0);
    const head = await client.head('big/file.bin');
    expect(head.res.headers).toMatchObject({ etag: expectedEtag, 'x-oss-object-type': 'Multipart', 'content-length': String(data.length) });
    expect(emulator.journal.count({ op: 'UploadPart', bucket })).toBe(3);
    expect(emulator.journal.entries({ op: 'UploadPart', bucket }).every((e) => e.bytesIn <= 100 * KiB)).toBe(true);
    expect(emulator.storage.uploads(bucket)).toEqual([]);
  });

  it('uploads parts by hand, lists them, and completes with the returned ETags', async () => {
    const init = await client.initMultipartUpload('manual.bin', { mime: 'application/x-test' });
    expect(init.uploadId).toMatch(/^[0-9A-F]{32}$/);
    const p1 = pattern(100 * KiB, 1);
    const p2 = pattern(10, 2);
    const r1 = await client.uploadPart('manual.bin', init.uploadId, 1, p1, 0, p1.length);
    const r2 = await client.uploadPart('manual.bin', init.uploadId, 2, p2, 0, p2.length);
    expect(r1.etag).toBe(`"${createHash('md5').update(p1).digest('hex').toUpperCase()}"`);

    const listed = await client.listParts('manual.bin', init.uploadId, {} as OSS.ListPartsQuery, {});
    const parts = listed.parts as unknown as Array<{ PartNumber: string; ETag: string; Size: string }>;
    expect(parts.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([
      ['1', r1.etag, String(p1.length)],
      ['2', r2.etag, String(p2.length)],
    ]);
    const firstPage = await client.listParts('manual.bin', init.uploadId, { 'max-parts': 1 } as OSS.ListPartsQuery, {});
    expect([firstPage.isTruncated, firstPage.nextPartNumberMarker]).toEqual(['true', '1']);

    const done = await client.completeMultipartUpload('manual.bin', init.uploadId, [
      { number: 1, etag: r1.etag },
      { number: 2, etag: r2.etag },
    ]);
    expect(done.etag).toBe(multipartEtag([p1, p2]));
    expect(emulator.storage.head(bucket, 'manual.bin')?.contentType).toBe('application/x-test');
    const missing = await rejectionOf(client.completeMultipartUpload('manual.bin', init.uploadId, [{ number: 1, etag: r1.etag }]));
    expect(missing.name).toBe('NoSuchUploadError');
  });

  it('refuses parts below 100 KiB except the last with EntityTooSmall, keeping the upload', async () => {
    const init = await client.initMultipartUpload('small.bin');
    const small = pattern(50 * KiB, 3);
    const r1 = await client.uploadPart('small.bin', init.uploadId, 1, small, 0, small.length);
    const r2 = await client.uploadPart('small.bin', init.uploadId, 2, small, 0, small.length);
    const error = await rejectionOf(
      client.completeMultipartUpload('small.bin', init.uploadId, [
        { number: 1, etag: r1.etag },
        { number: 2, etag: r2.etag },
      ]),
    );
    expect(error.name).toBe('EntityTooSmallError');
    expect(error.status).toBe(400);
    expect(emulator.storage.head(bucket, 'small.bin')).toBeUndefined();
    expect(emulator.storage.uploads(bucket).map((u) => u.uploadId)).toEqual([init.uploadId]);
    // A single small part is also the last one, which is allowed.
    const single = await client.completeMultipartUpload('small.bin', init.uploadId, [{ number: 1, etag: r1.etag }]);
    expect(single.etag).toBe(multipartEtag([small]));
  });

  it('refuses a wrong ETag or an unknown part with InvalidPart', async () => {
    const init = await client.initMultipartUpload('invalid.bin');
    const data = pattern(1000, 4);
    const r1 = await client.uploadPart('invalid.bin', init.uploadId, 1, data, 0, data.length);
    const wrongEtag = await rejectionOf(client.completeMultipartUpload('invalid.bin', init.uploadId, [{ number: 1, etag: '"00000000000000000000000000000000"' }]));
    expect(wrongEtag.name).toBe('InvalidPartError');
    const unknownPart = await rejectionOf(
      client.completeMultipartUpload('invalid.bin', init.uploadId, [
        { number: 1, etag: r1.etag },
        { number: 3, etag: r1.etag },
      ]),
    );
    expect(unknownPart.name).toBe('InvalidPartError');
    expect(emulator.storage.head(bucket, 'invalid.bin')).toBeUndefined();
  });

  it('refuses parts out of order with InvalidPartOrder (ali-oss sorts, so this goes around it)', async () => {
    const open = await startOssEmulator({ auth: false, buckets: ['order-bucket'] });
    try {
      const unsigned = clientFor(open, 'order-bucket');
      const init = await unsigned.initMultipartUpload('o.bin');
      const data = pattern(100 * 1024, 8);
      const r1 = await unsigned.uploadPart('o.bin', init.uploadId, 1, data, 0, data.length);
      const r2 = await unsigned.uploadPart('o.bin', init.uploadId, 2, data, 0, data.length);
      const body = `<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>${r2.etag}</ETag></Part><Part><PartNumber>1</PartNumber><ETag>${r1.etag}</ETag></Part></CompleteMultipartUpload>`;
      const response = await fetch(`${open.endpoint}/order-bucket/o.bin?uploadId=${init.uploadId}`, { method: 'POST', body });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain('<Code>InvalidPartOrder</Code>');
    } finally {
      await open.close();
    }
  });

  it('aborts with 204 and then answers NoSuchUpload', async () => {
    const init = await client.initMultipartUpload('aborted.bin');
    const data = pattern(10, 5);
    await client.uploadPart('aborted.bin', init.uploadId, 1, data, 0, data.length);
    const aborted = (await client.abortMultipartUpload('aborted.bin', init.uploadId)) as unknown as { res: { status: number } };
    expect(aborted.res.status).toBe(204);
    expect(emulator.storage.uploads(bucket)).toEqual([]);
    const again = await rejectionOf(client.abortMultipartUpload('aborted.bin', init.uploadId));
    expect(again.name).toBe('NoSuchUploadError');
    const part = await rejectionOf(client.uploadPart('aborted.bin', init.uploadId, 2, data, 0, data.length));
    expect(part.name).toBe('NoSuchUploadError');
  });

  it('lists uploads in progress under a prefix', async () => {
    const a = await client.initMultipartUpload('stage/a.bin');
    const b = await client.initMultipartUpload('stage/b.bin');
    await client.initMultipartUpload('elsewhere/c.bin');
    const listed = await client.listUploads({ prefix: 'stage/' }, {});
    expect(listed.uploads.map((u) => [u.name, u.uploadId])).toEqual([
      ['stage/a.bin', a.uploadId],
      ['stage/b.bin', b.uploadId],
    ]);
    const all = await client.listUploads({}, {});
    expect(all.uploads).toHaveLength(3);
    const paged = await client.listUploads({ 'max-uploads': 1 }, {});
    expect(paged.isTruncated).toBe(true);
    expect(paged.nextKeyMarker).toBe('elsewhere/c.bin');
  });

  it('rejects an out-of-range part number', async () => {
    const init = await client.initMultipartUpload('n.bin');
    const data = pattern(10, 6);
    const error = await rejectionOf(client.uploadPart('n.bin', init.uploadId, 10_001, data, 0, data.length));
    expect(error.name).toBe('InvalidArgumentError');
  });
});
