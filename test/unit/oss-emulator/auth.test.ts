import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OSS from 'ali-oss';
import { startOssEmulator, type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { clientFor, randomBucket, rejectionOf } from './helpers.js';

let emulator: OssEmulator;
let bucket: string;

const SECOND = { accessKeyId: 'second-ak', accessKeySecret: 'second-secret' };

beforeAll(async () => {
  bucket = randomBucket();
  emulator = await startOssEmulator({
    accessKeyId: 'test-ak',
    accessKeySecret: 'test-secret',
    credentials: [SECOND],
    buckets: [bucket],
    defaultBucket: bucket,
  });
});
afterAll(async () => {
  await emulator.close();
});

function xmlField(document: string, name: string): string | undefined {
  return new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(document)?.[1];
}

describe('signatures', () => {
  it('accepts V1 and V4 signatures from ali-oss and records which key signed', async () => {
    const v1 = clientFor(emulator, bucket);
    const v4 = clientFor(emulator, bucket, { authorizationV4: true });
    await v1.put('auth/v1.txt', Buffer.from('one'));
    await v4.put('auth/v4.txt', Buffer.from('four'));
    expect(((await v4.get('auth/v1.txt')).content as Buffer).toString()).toBe('one');
    expect(((await v1.get('auth/v4.txt')).content as Buffer).toString()).toBe('four');
    // V4 signs every query parameter, V1 only sub-resources: listV2 exercises both rules.
    expect((await v4.listV2({ prefix: 'auth/', 'max-keys': '10' }, {})).objects).toHaveLength(2);
    expect((await v1.listV2({ prefix: 'auth/', 'max-keys': '1' }, {})).nextContinuationToken).toBeTruthy();
    expect(emulator.journal.last({ op: 'PutObject', key: 'auth/v4.txt' })?.accessKeyId).toBe('test-ak');
  });

  it('verifies V4 AdditionalHeaders, so a tampered extra header is refused', async () => {
    const v4 = clientFor(emulator, bucket, { authorizationV4: true });
    const options = { headers: { 'Content-Disposition': 'attachment' }, additionalHeaders: ['content-disposition'] };
    await v4.put('auth/extra.txt', Buffer.from('extra'), options as OSS.PutObjectOptions);
    expect((await v4.head('auth/extra.txt')).res.headers).toMatchObject({ 'content-disposition': 'attachment' });

    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const tampered = await fetch(`${emulator.endpoint}/${bucket}/auth/extra.txt`, {
      headers: {
        'x-oss-date': date,
        'x-oss-content-sha256': 'UNSIGNED-PAYLOAD',
        'content-disposition': 'inline',
        authorization: `OSS4-HMAC-SHA256 Credential=test-ak/${date.slice(0, 8)}/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=content-disposition,Signature=${'0'.repeat(64)}`,
      },
    });
    const body = await tampered.text();
    expect(xmlField(body, 'Code')).toBe('SignatureDoesNotMatch');
    expect(xmlField(body, 'CanonicalRequest')).toContain('content-disposition:inline');
  });

  it('accepts every configured credential pair', async () => {
    const other = clientFor(emulator, bucket, SECOND);
    await other.put('auth/second.txt', Buffer.from('2'));
    expect(emulator.journal.last({ op: 'PutObject', key: 'auth/second.txt' })?.accessKeyId).toBe('second-ak');
  });

  it('refuses a wrong secret with SignatureDoesNotMatch, in V1 and V4', async () => {
    for (const authorizationV4 of [false, true]) {
      const wrong = clientFor(emulator, bucket, { accessKeySecret: 'not-the-secret', authorizationV4 });
      const error = await rejectionOf(wrong.put('auth/never.txt', Buffer.from('x')));
      expect(error.name).toBe('SignatureDoesNotMatchError');
      expect(error.status).toBe(403);
    }
    expect(emulator.storage.head(bucket, 'auth/never.txt')).toBeUndefined();
  });

  it('returns the StringToSign it computed, so a client author can diff it', async () => {
    const date = new Date().toUTCString();
    const response = await fetch(`${emulator.endpoint}/${bucket}/dir/a%20b.json?uploadId=U1&prefix=ignored`, {
      headers: { 'x-oss-date': date, 'x-oss-meta-b': ' two ', 'x-oss-meta-a': 'one', authorization: 'OSS test-ak:AAAA' },
    });
    expect(response.status).toBe(403);
    const body = await response.text();
    expect(xmlField(body, 'Code')).toBe('SignatureDoesNotMatch');
    expect(xmlField(body, 'StringToSign')).toBe(`GET\n\n\n${date}\nx-oss-date:${date}\nx-oss-meta-a:one\nx-oss-meta-b:two\n/${bucket}/dir/a b.json?uploadId=U1`);
    expect(response.headers.get('x-oss-request-id')).toBe(xmlField(body, 'RequestId'));
  });

  it('refuses an unknown access key id, an anonymous request, and a skewed clock', async () => {
    const unknown = await rejectionOf(clientFor(emulator, bucket, { accessKeyId: 'who' }).get('x'));
    expect(unknown.name).toBe('InvalidAccessKeyIdError');

    const anonymous = await fetch(`${emulator.endpoint}/${bucket}/x`);
    expect(anonymous.status).toBe(403);
    expect(xmlField(await anonymous.text(), 'Code')).toBe('AccessDenied');

    const ahead = await startOssEmulator({ buckets: [bucket], clock: () => Date.now() + 20 * 60 * 1000 });
    try {
      for (const authorizationV4 of [false, true]) {
        const skewed = await rejectionOf(clientFor(ahead, bucket, { authorizationV4 }).get('x'));
        expect(skewed.name).toBe('RequestTimeTooSkewedError');
        expect(skewed.status).toBe(403);
      }
    } finally {
      await ahead.close();
    }
  });

  it('honours V1 signed URLs until they expire', async () => {
    // signatureUrl refuses an IP endpoint ("can not get the object URL when endpoint is IP").
    const client = clientFor(emulator, bucket, { endpoint: `http://localhost:${emulator.port}`, sldEnable: true });
    await client.put('auth/url.txt', Buffer.from('by url'));
    const valid = await fetch(client.signatureUrl('auth/url.txt', { expires: 60 }));
    expect(await valid.text()).toBe('by url');
    const expired = await fetch(client.signatureUrl('auth/url.txt', { expires: -10 }));
    expect(expired.status).toBe(403);
    expect(xmlField(await expired.text(), 'Message')).toBe('Request has expired.');
  });
});

describe('routing', () => {
  it('serves path-style requests from localhost with sldEnable, in V1 and V4', async () => {
    for (const authorizationV4 of [false, true]) {
      const client = clientFor(emulator, bucket, { endpoint: `http://localhost:${emulator.port}`, sldEnable: true, authorizationV4 });
      await client.put(`route/sld-${authorizationV4}.txt`, Buffer.from('sld'));
      expect(((await client.get(`route/sld-${authorizationV4}.txt`)).content as Buffer).toString()).toBe('sld');
    }
    expect(emulator.storage.keys(bucket, 'route/sld-')).toEqual(['route/sld-false.txt', 'route/sld-true.txt']);
  });

  it('resolves an IP endpoint with sldEnable, where the bucket is both in Host and path', async () => {
    const client = clientFor(emulator, bucket, { sldEnable: true });
    await client.put('route/ip-sld.txt', Buffer.from('both'));
    expect(emulator.storage.keys(bucket, 'route/ip-sld')).toEqual(['route/ip-sld.txt']);
  });

  it('uses the default bucket for cname requests that name no bucket', async () => {
    const client = clientFor(emulator, bucket, { endpoint: `http://localhost:${emulator.port}`, cname: true });
    await client.put('route/cname.txt', Buffer.from('cname'));
    expect((await emulator.storage.read(bucket, 'route/cname.txt'))?.toString()).toBe('cname');
    expect((await client.list({ prefix: 'route/cname', 'max-keys': 10 }, {})).objects.map((o) => o.name)).toEqual(['route/cname.txt']);
  });

  it('accepts unsigned requests when auth is off', async () => {
    const open = await startOssEmulator({ auth: false, buckets: ['open-bucket'] });
    try {
      const put = await fetch(`${open.endpoint}/open-bucket/plain.txt`, { method: 'PUT', body: 'no signature' });
      expect(put.status).toBe(200);
      expect((await open.storage.read('open-bucket', 'plain.txt'))?.toString()).toBe('no signature');
    } finally {
      await open.close();
    }
  });
});
