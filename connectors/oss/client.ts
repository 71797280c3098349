import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import OSS from 'ali-oss';
import { TidewayError } from '../../src/api/errors.js';
import type { Logger } from '../../src/api/logger.js';
import { isTransient, type RetryPolicy, withRetry } from './retry.js';

/** What a client needs to reach a bucket. Never logged: it holds the secret. */
export interface OssConnection {
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export interface OssClientOptions {
  retry: RetryPolicy;
  /** Per-request timeout in milliseconds. */
  timeoutMs: number;
  logger: Logger;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** Quoted, as OSS sends it. */
  etag: string;
}

/** What HEAD says about an object: its size and ETag, and its user metadata (`x-oss-meta-*`, names lower-cased). */
export interface ObjectHead extends ObjectInfo {
  meta: Record<string, string>;
}

export interface UploadRef {
  key: string;
  uploadId: string;
}

export interface CompletedPart {
  number: number;
  etag: string;
}

/** Options ali-oss 6.23 honours that @types/ali-oss does not declare. */
interface UndeclaredOptions {
  sldEnable?: boolean;
  retryMax?: number;
}

interface AliOssError {
  name?: string;
  code?: string;
  status?: number;
  requestId?: string;
  message?: string;
}

/**
 * The few OSS calls the connector makes, each through our retry policy, with errors turned into
 * TidewayErrors that name the operation, the object and (for a missing bucket) the endpoint. Uses the real
 * ali-oss client underneath.
 */
export class OssClient {
  readonly bucket: string;
  readonly endpoint: string;
  private readonly oss: OSS;

  constructor(
    connection: OssConnection,
    private readonly options: OssClientOptions,
  ) {
    this.bucket = connection.bucket;
    this.endpoint = connection.endpoint;
    const host = safeHostname(connection.endpoint);
    const clientOptions: OSS.Options & UndeclaredOptions = {
      endpoint: connection.endpoint,
      region: connection.region,
      bucket: connection.bucket,
      accessKeyId: connection.accessKeyId,
      accessKeySecret: connection.accessKeySecret,
      timeout: options.timeoutMs,
      // Our retry policy covers everything; ali-oss's own (sockets only, fixed pause) would double it.
      retryMax: 0,
      // ali-oss would ask DNS for <bucket>.localhost, which does not resolve: use path-style there.
      ...(host === 'localhost' ? { sldEnable: true } : {}),
    };
    this.oss = new OSS(clientOptions);
  }

  /** `oss://bucket/key`, for messages. */
  url(key = ''): string {
    return `oss://${this.bucket}/${key}`;
  }

  private async call<T>(op: string, key: string | undefined, fn: () => Promise<T>, signal?: AbortSignal, retryable?: (error: unknown) => boolean): Promise<T> {
    let attempts = 0;
    try {
      return await withRetry(
        this.options.retry,
        () => {
          attempts++;
          return fn();
        },
        {
          signal,
          retryable: retryable ?? isTransient,
          onRetry: (attempt, error, delayMs) =>
            this.options.logger.debug('retrying an OSS request', { op, object: key === undefined ? undefined : this.url(key), attempt, delayMs: Math.round(delayMs), error: describe(error) }),
        },
      );
    } catch (error) {
      throw this.wrap(op, key, error, attempts);
    }
  }

  /** Turns an ali-oss failure into a TidewayError; passes our own errors through. */
  wrap(op: string, key: string | undefined, error: unknown, attempts: number): unknown {
    if (error instanceof TidewayError) return error;
    const e = (error ?? {}) as AliOssError;
    const where = key === undefined ? this.url() : this.url(key);
    const context = { connector: 'oss', object: where, ossCode: e.code, requestId: e.requestId };
    if (e.code === 'NoSuchBucket') {
      return new TidewayError('OSS_NO_SUCH_BUCKET', `bucket "${this.bucket}" does not exist at ${this.endpoint}; create it, or check the bucket, endpoint and region options`, {
        cause: error,
        context,
      });
    }
    if (e.code === 'InvalidAccessKeyId' || e.code === 'SignatureDoesNotMatch' || e.code === 'AccessDenied' || e.status === 403) {
      return new TidewayError(
        'OSS_ACCESS_DENIED',
        `OSS refused ${op} on ${where} (${e.code ?? `status ${e.status}`}): check access_key_id and access_key_secret, and that the key may use bucket "${this.bucket}" at ${this.endpoint}`,
        { cause: error, context },
      );
    }
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const transient = isTransient(error);
    return new TidewayError('OSS_REQUEST_FAILED', `OSS ${op} on ${where} failed${tries}: ${describe(error)}${transient ? '; raise max_retries or check the endpoint' : ''}`, {
      cause: error,
      context,
      retryable: transient,
    });
  }

  /** Starts a multipart upload; `meta` (@types/ali-oss wrongly requires uid and pid in it) becomes the object's `x-oss-meta-*` metadata once it is completed. */
  async initUpload(key: string, contentType: string, meta: Record<string, string> = {}, signal?: AbortSignal): Promise<string> {
    const result = await this.call('InitiateMultipartUpload', key, () => this.oss.initMultipartUpload(key, { mime: contentType, meta: meta as unknown as OSS.UserMeta }), signal);
    return result.uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, signal?: AbortSignal): Promise<string> {
    const result = await this.call('UploadPart', key, () => this.oss.uploadPart(key, uploadId, partNumber, body, 0, body.length), signal);
    return result.etag;
  }

  /**
   * Completes an upload. Returns 'completed', or 'gone' when OSS no longer knows the upload (it was
   * completed or aborted before: the caller decides which by looking at the object).
   */
  async completeUpload(key: string, uploadId: string, parts: readonly CompletedPart[], signal?: AbortSignal): Promise<'completed' | 'gone'> {
    try {
      await this.call('CompleteMultipartUpload', key, () => this.oss.completeMultipartUpload(key, uploadId, parts.map((p) => ({ number: p.number, etag: p.etag }))), signal);
      return 'completed';
    } catch (error) {
      if (ossCode(error) === 'NoSuchUpload') return 'gone';
      throw error;
    }
  }

  /** Aborts an upload; false when it no longer existed. */
  async abortUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.call('AbortMultipartUpload', key, () => this.oss.abortMultipartUpload(key, uploadId), signal);
      return true;
    } catch (error) {
      if (ossCode(error) === 'NoSuchUpload') return false;
      throw error;
    }
  }

  /** Size, ETag and user metadata of an object, or undefined when it does not exist. */
  async head(key: string, signal?: AbortSignal): Promise<ObjectHead | undefined> {
    try {
      const result = await this.call('HeadObject', key, () => this.oss.head(key), signal);
      const headers = result.res.headers as Record<string, string | undefined>;
      const meta = (result as { meta?: Record<string, string> | null }).meta ?? {};
      return { key, size: Number(headers['content-length'] ?? 0), etag: headers['etag'] ?? '', meta };
    } catch (error) {
      if (ossCode(error) === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async put(key: string, body: Buffer, contentType: string, signal?: AbortSignal): Promise<void> {
    await this.call('PutObject', key, () => this.oss.put(key, body, { mime: contentType }), signal);
  }

  /**
   * Creates the object only if no object has its key (`x-oss-forbid-overwrite: true`; OSS answers 409
   * FileAlreadyExists otherwise). Returns 'exists' when another writer was first. A retried request whose
   * first attempt did create the object also meets 409: the object is then read back, and it is ours when it
   * holds exactly `body` (callers put something unique to them in it, a run id).
   */
  async putIfAbsent(key: string, body: Buffer, contentType: string, signal?: AbortSignal): Promise<'created' | 'exists'> {
    let attempts = 0;
    try {
      await this.call(
        'PutObject',
        key,
        () => {
          attempts++;
          return this.oss.put(key, body, { mime: contentType, headers: { 'x-oss-forbid-overwrite': 'true' } });
        },
        signal,
      );
      return 'created';
    } catch (error) {
      if (ossCode(error) !== 'FileAlreadyExists') throw error;
      if (attempts > 1 && (await this.getBytes(key, signal))?.equals(body)) return 'created';
      return 'exists';
    }
  }

  /**
   * The bucket's versioning state: 'Enabled', 'Suspended', or undefined when versioning was never turned on
   * (GetBucketVersioning answers without Status then). ali-oss 6.23 has the call; @types/ali-oss omits it.
   */
  async versioning(signal?: AbortSignal): Promise<string | undefined> {
    const oss = this.oss as unknown as { getBucketVersioning(bucket: string): Promise<{ versionStatus?: string }> };
    const result = await this.call('GetBucketVersioning', undefined, () => oss.getBucketVersioning(this.bucket), signal);
    return result.versionStatus || undefined;
  }

  async deleteObject(key: string, signal?: AbortSignal): Promise<void> {
    await this.call('DeleteObject', key, () => this.oss.delete(key), signal);
  }

  /** The whole object, or undefined when it does not exist. */
  async getBytes(key: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    try {
      const result = await this.call('GetObject', key, () => this.oss.get(key), signal);
      return result.content as Buffer;
    } catch (error) {
      if (ossCode(error) === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async deleteObjects(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.call('DeleteMultipleObjects', batch[0], () => this.oss.deleteMulti(batch, { quiet: true }), signal);
    }
  }

  /** One page of objects under `prefix` (ListObjectsV2). */
  async listPage(prefix: string, options: { maxKeys?: number; continuationToken?: string | undefined; delimiter?: string } = {}, signal?: AbortSignal) {
    const query: OSS.ListV2ObjectsQuery = { prefix, 'max-keys': String(options.maxKeys ?? 1000) };
    if (options.continuationToken) query['continuation-token'] = options.continuationToken;
    if (options.delimiter) query.delimiter = options.delimiter;
    const result = await this.call('ListObjectsV2', prefix, () => this.oss.listV2(query), signal);
    const objects: ObjectInfo[] = (result.objects ?? []).map((o) => ({ key: o.name, size: Number(o.size), etag: o.etag }));
    return { objects, next: result.isTruncated ? result.nextContinuationToken : undefined };
  }

  /** Every object under `prefix`, page by page. */
  async *listAll(prefix: string, signal?: AbortSignal): AsyncGenerator<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.listPage(prefix, { continuationToken: token }, signal);
      yield* page.objects;
      token = page.next;
    } while (token);
  }

  /** Every multipart upload in progress under `prefix` (ListMultipartUploads, all pages). */
  async *listUploads(prefix: string, signal?: AbortSignal): AsyncGenerator<UploadRef> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const query: Record<string, string> = { prefix, 'max-uploads': '1000' };
      if (keyMarker !== undefined) query['key-marker'] = keyMarker;
      if (uploadIdMarker !== undefined) query['upload-id-marker'] = uploadIdMarker;
      const result = await this.call('ListMultipartUploads', prefix, () => this.oss.listUploads(query as OSS.ListUploadsQuery), signal);
      const page = result as unknown as { uploads: { name: string; uploadId: string }[]; isTruncated: boolean; nextKeyMarker?: string; nextUploadIdMarker?: string };
      for (const upload of page.uploads) yield { key: upload.name, uploadId: upload.uploadId };
      if (!page.isTruncated || !page.nextKeyMarker) return;
      keyMarker = page.nextKeyMarker;
      uploadIdMarker = page.nextUploadIdMarker;
    }
  }

  /**
   * The object's bytes from `start` to its end as a stream. A 200 instead of 206 for a ranged read would
   * mean OSS ignored the range; that is an error rather than a silent re-read from byte 0.
   */
  async openStream(key: string, start: number, signal?: AbortSignal): Promise<{ stream: Readable; etag: string }> {
    return this.call(
      'GetObject',
      key,
      async () => {
        const headers: Record<string, string> = start > 0 ? { Range: `bytes=${start}-`, 'x-oss-range-behavior': 'standard' } : {};
        const result = await this.oss.getStream(key, { headers } as OSS.GetStreamOptions);
        const stream = result.stream as Readable;
        if (start > 0 && result.res.status !== 206) {
          stream.destroy();
          throw new TidewayError('OSS_RANGE_IGNORED', `OSS answered a read of ${this.url(key)} from byte ${start} with status ${result.res.status} instead of 206`, {
            context: { connector: 'oss', object: this.url(key) },
          });
        }
        return { stream, etag: String((result.res.headers as Record<string, unknown>)['etag'] ?? '') };
      },
      signal,
    );
  }
}

/** The error code ali-oss put on a failure (also through our wrapping). */
export function ossCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && typeof current === 'object' && depth < 4; depth++) {
    const e = current as AliOssError & { cause?: unknown; context?: { ossCode?: unknown } };
    if (typeof e.code === 'string' && !e.code.startsWith('OSS_')) return e.code;
    if (typeof e.context?.ossCode === 'string') return e.context.ossCode;
    current = e.cause;
  }
  return undefined;
}

function describe(error: unknown): string {
  const e = (error ?? {}) as AliOssError;
  const name = e.name && e.name !== 'Error' ? `${e.name}: ` : '';
  const message = (e.message ?? String(error)).split('\nraw xml')[0];
  const request = e.requestId ? ` (request id ${e.requestId})` : '';
  return `${name}${message}${request}`;
}

function safeHostname(endpoint: string): string | undefined {
  try {
    return new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * The ETag OSS gives an object completed from `parts`: the MD5 of the parts' binary MD5s, then `-N`,
 * upper-case hex in quotes. Lets a repeated commit recognise the object its first attempt completed.
 */
export function multipartEtag(parts: readonly CompletedPart[]): string {
  const hash = createHash('md5');
  for (const part of [...parts].sort((a, b) => a.number - b.number)) hash.update(Buffer.from(part.etag.replace(/"/g, ''), 'hex'));
  return `"${hash.digest('hex').toUpperCase()}-${parts.length}"`;
}

/** ETags compare without quotes and case. */
export function sameEtag(a: string, b: string): boolean {
  return a.replace(/"/g, '').toUpperCase() === b.replace(/"/g, '').toUpperCase();
}
