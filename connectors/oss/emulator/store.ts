import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { OssError } from './oss-error.js';
import type { BlobRef, BucketRecord, ObjectRecord, PartRecord, UploadRecord } from './records.js';
import type { StorageBackend } from './storage-backend.js';

interface UploadState {
  record: UploadRecord;
  parts: Map<number, PartRecord>;
}

interface BucketState {
  record: BucketRecord;
  objects: Map<string, ObjectRecord>;
  uploads: Map<string, UploadState>;
  /** Objects in key order, rebuilt on the first listing after a change. */
  sorted?: ObjectRecord[] | undefined;
}

/** Fields of a new object that the caller decides; size, ETag, time and blob are the store's. */
export interface NewObject {
  contentType: string;
  storageClass: string;
  userMeta: Record<string, string>;
  headers: Record<string, string>;
}

export interface CompletedPart {
  partNumber: number;
  /** As the client sent it: quotes and case do not matter. */
  etag: string;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/** Upper-case hex, as OSS spells ETags. */
export function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex').toUpperCase();
}

/** The ETag of a multipart object: MD5 over the concatenated binary part MD5s, then `-<parts>`. */
export function multipartEtag(partEtags: readonly string[]): string {
  const digest = createHash('md5');
  for (const etag of partEtags) digest.update(Buffer.from(etag, 'hex'));
  return `${digest.digest('hex').toUpperCase()}-${partEtags.length}`;
}

/** Strips quotes and normalises case, so `"abc"`, `ABC` and `abc` compare equal. */
export function normaliseEtag(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '').toUpperCase();
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export function validateObjectKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > 1023) {
    throw new OssError('InvalidObjectName', 'The Length of Object name must be less than 1024.', { Key: key.slice(0, 64) });
  }
  if (key.startsWith('/') || key.startsWith('\\')) {
    throw new OssError('InvalidObjectName', 'The specified object is not valid: it must not start with / or \\.', { Key: key });
  }
}

function noSuchBucket(name: string): OssError {
  return new OssError('NoSuchBucket', 'The specified bucket does not exist.', { BucketName: name });
}

function noSuchUpload(uploadId: string): OssError {
  return new OssError(
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId },
  );
}

/**
 * Buckets, objects and multipart uploads with OSS's data-level rules. The index lives in memory for
 * both backends (a directory backend reloads it on start); the backend persists each change before
 * the index shows it, so a reader never sees a record whose bytes are not stored yet.
 */
export class ObjectStore {
  private readonly buckets = new Map<string, BucketState>();
  /** Per-key tails of promise chains: writes to one object (or one upload) run one at a time. */
  private readonly queues = new Map<string, Promise<unknown>>();

  private constructor(
    readonly backend: StorageBackend,
    private readonly now: () => number,
    readonly region: string,
    readonly minPartSize: number,
  ) {}

  static async open(backend: StorageBackend, now: () => number, region: string, minPartSize: number): Promise<ObjectStore> {
    const store = new ObjectStore(backend, now, region, minPartSize);
    for (const loaded of await backend.load()) {
      store.buckets.set(loaded.bucket.name, {
        record: loaded.bucket,
        objects: new Map(loaded.objects.map((o) => [o.key, o])),
        uploads: new Map(
          loaded.uploads.map(({ upload, parts }) => [upload.uploadId, { record: upload, parts: new Map(parts.map((p) => [p.partNumber, p])) }]),
        ),
      });
    }
    return store;
  }

  private serialize<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }

  listBuckets(): BucketRecord[] {
    return [...this.buckets.values()].map((b) => b.record).sort((a, b) => compareBytes(a.name, b.name));
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  bucketRecord(name: string): BucketRecord {
    return this.requireBucket(name).record;
  }

  private requireBucket(name: string): BucketState {
    const bucket = this.buckets.get(name);
    if (!bucket) throw noSuchBucket(name);
    return bucket;
  }

  /** Creates a bucket; an existing one is left as it is (OSS answers 200 to its owner). */
  async createBucket(name: string, options: { storageClass?: string; acl?: string } = {}): Promise<BucketRecord> {
    if (!BUCKET_NAME.test(name)) {
      throw new OssError('InvalidBucketName', 'The specified bucket is not valid: use 3-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit.', {
        BucketName: name,
      });
    }
    return this.serialize(`bucket:${name}`, async () => {
      const existing = this.buckets.get(name);
      if (existing) return existing.record;
      const record: BucketRecord = {
        name,
        creationDate: this.now(),
        location: this.region,
        storageClass: options.storageClass ?? 'Standard',
        acl: options.acl ?? 'private',
      };
      await this.backend.saveBucket(record);
      this.buckets.set(name, { record, objects: new Map(), uploads: new Map() });
      return record;
    });
  }

  async deleteBucket(name: string): Promise<void> {
    await this.serialize(`bucket:${name}`, async () => {
      const bucket = this.requireBucket(name);
      if (bucket.objects.size > 0 || bucket.uploads.size > 0) {
        throw new OssError('BucketNotEmpty', 'The bucket you tried to delete is not empty.', { BucketName: name });
      }
      await this.backend.removeBucket(name);
      this.buckets.delete(name);
    });
  }

  /** Objects of a bucket in byte order of their UTF-8 keys, as OSS lists them. Do not mutate. */
  sortedObjects(bucket: string): readonly ObjectRecord[] {
    const state = this.requireBucket(bucket);
    state.sorted ??= [...state.objects.values()].sort((a, b) => compareBytes(a.key, b.key));
    return state.sorted;
  }

  getObject(bucket: string, key: string): ObjectRecord | undefined {
    return this.requireBucket(bucket).objects.get(key);
  }

  requireObject(bucket: string, key: string): ObjectRecord {
    const record = this.getObject(bucket, key);
    if (!record) throw new OssError('NoSuchKey', 'The specified key does not exist.', { Key: key });
    return record;
  }

  /**
   * Opens `[start, end)` of an object. If the object is overwritten or deleted between the lookup and
   * the open, the lookup is repeated once, so the reader gets a whole version or a clean NoSuchKey.
   */
  async openObject(bucket: string, key: string, range: (record: ObjectRecord) => { start: number; end: number }): Promise<{ record: ObjectRecord; body: Readable }> {
    for (let attempt = 0; ; attempt++) {
      const record = this.requireObject(bucket, key);
      const { start, end } = range(record);
      try {
        return { record, body: await this.backend.openBlob(record.blob, start, end) };
      } catch (error) {
        if (!isMissing(error) || attempt > 0) throw error;
      }
    }
  }

  private async replaceObject(
    bucket: string,
    key: string,
    forbidOverwrite: boolean,
    build: () => { fields: Omit<ObjectRecord, 'blob'>; source: Buffer | readonly BlobRef[] },
  ): Promise<ObjectRecord> {
    validateObjectKey(key);
    return this.serialize(`object:${bucket}/${key}`, async () => {
      const state = this.requireBucket(bucket);
      if (forbidOverwrite && state.objects.has(key)) {
        throw new OssError('FileAlreadyExists', 'The object you specified already exists and can not be overwritten.', { Key: key });
      }
      const { fields, source } = build();
      const stored = await this.backend.saveObject(bucket, fields, source);
      const previous = state.objects.get(key);
      state.objects.set(key, stored);
      state.sorted = undefined;
      if (previous) await this.backend.deleteBlob(previous.blob);
      return stored;
    });
  }

  async putObject(bucket: string, key: string, fields: NewObject, data: Buffer, forbidOverwrite = false): Promise<ObjectRecord> {
    return this.replaceObject(bucket, key, forbidOverwrite, () => ({
      fields: { ...fields, key, size: data.length, etag: md5Hex(data), lastModified: this.now(), objectType: 'Normal' },
      source: data,
    }));
  }

  /** Copies an object; `fields` replaces the source's metadata (REPLACE directive) when given. */
  async copyObject(
    source: { bucket: string; key: string },
    target: { bucket: string; key: string },
    fields: NewObject | undefined,
    forbidOverwrite = false,
  ): Promise<ObjectRecord> {
    for (let attempt = 0; ; attempt++) {
      const from = this.requireObject(source.bucket, source.key);
      try {
        return await this.replaceObject(target.bucket, target.key, forbidOverwrite, () => ({
          fields: {
            key: target.key,
            size: from.size,
            etag: from.etag,
            objectType: from.objectType,
            lastModified: this.now(),
            contentType: fields?.contentType ?? from.contentType,
            storageClass: fields?.storageClass ?? from.storageClass,
            userMeta: fields?.userMeta ?? from.userMeta,
            headers: fields?.headers ?? from.headers,
          },
          source: [from.blob],
        }));
      } catch (error) {
        if (!isMissing(error) || attempt > 0) throw error;
      }
    }
  }

  /** Removes an object; true when it existed. Deleting a missing key is not an error in OSS. */
  async deleteObject(bucket: string, key: string): Promise<boolean> {
    this.requireBucket(bucket);
    return this.serialize(`object:${bucket}/${key}`, async () => {
      const state = this.requireBucket(bucket);
      const record = state.objects.get(key);
      if (!record) return false;
      await this.backend.removeObject(bucket, record);
      state.objects.delete(key);
      state.sorted = undefined;
      return true;
    });
  }

  async createUpload(bucket: string, key: string, fields: NewObject): Promise<UploadRecord> {
    validateObjectKey(key);
    const state = this.requireBucket(bucket);
    const record: UploadRecord = {
      uploadId: randomBytes(16).toString('hex').toUpperCase(),
      key,
      initiated: this.now(),
      ...fields,
    };
    await this.backend.saveUpload(bucket, record);
    state.uploads.set(record.uploadId, { record, parts: new Map() });
    return record;
  }

  private requireUpload(bucket: string, key: string, uploadId: string): UploadState {
    const upload = this.requireBucket(bucket).uploads.get(uploadId);
    if (!upload || upload.record.key !== key) throw noSuchUpload(uploadId);
    return upload;
  }

  /** Uploads, sorted by key then initiation time as ListMultipartUploads returns them. */
  sortedUploads(bucket: string): UploadRecord[] {
    return [...this.requireBucket(bucket).uploads.values()]
      .map((u) => u.record)
      .sort((a, b) => compareBytes(a.key, b.key) || a.initiated - b.initiated || compareBytes(a.uploadId, b.uploadId));
  }

  sortedParts(bucket: string, key: string, uploadId: string): PartRecord[] {
    return [...this.requireUpload(bucket, key, uploadId).parts.values()].sort((a, b) => a.partNumber - b.partNumber);
  }

  async putPart(bucket: string, key: string, uploadId: string, partNumber: number, data: Buffer): Promise<PartRecord> {
    this.requireUpload(bucket, key, uploadId);
    return this.serialize(`part:${uploadId}/${partNumber}`, async () => {
      const upload = this.requireUpload(bucket, key, uploadId);
      const stored = await this.backend.savePart(bucket, uploadId, { partNumber, etag: md5Hex(data), size: data.length, lastModified: this.now() }, data);
      // The upload may have been completed or aborted while the part was being written.
      if (this.requireBucket(bucket).uploads.get(uploadId) !== upload) {
        await this.backend.deleteBlob(stored.blob);
        throw noSuchUpload(uploadId);
      }
      const previous = upload.parts.get(partNumber);
      upload.parts.set(partNumber, stored);
      if (previous) await this.backend.deleteBlob(previous.blob);
      return stored;
    });
  }

  /**
   * Completes an upload from the listed parts (or every uploaded part when `parts` is `'all'`),
   * enforcing OSS's rules: ascending part numbers, matching ETags, and a minimum size for all parts
   * but the last. Unlisted parts are discarded with the upload.
   */
  async completeUpload(bucket: string, key: string, uploadId: string, parts: readonly CompletedPart[] | 'all', forbidOverwrite = false): Promise<ObjectRecord> {
    this.requireUpload(bucket, key, uploadId);
    return this.serialize(`upload:${uploadId}`, async () => {
      const upload = this.requireUpload(bucket, key, uploadId);
      const chosen = parts === 'all' ? [...upload.parts.values()].sort((a, b) => a.partNumber - b.partNumber) : this.resolveParts(upload, parts);
      if (chosen.length === 0) {
        throw new OssError('InvalidPart', 'The upload has no parts to complete.', { UploadId: uploadId });
      }
      for (const [index, part] of chosen.entries()) {
        if (index < chosen.length - 1 && part.size < this.minPartSize) {
          throw new OssError('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.', {
            PartNumber: String(part.partNumber),
            ProposedSize: String(part.size),
            MinSizeAllowed: String(this.minPartSize),
          });
        }
      }
      const stored = await this.replaceObject(bucket, key, forbidOverwrite, () => ({
        fields: {
          key,
          size: chosen.reduce((sum, p) => sum + p.size, 0),
          etag: multipartEtag(chosen.map((p) => p.etag)),
          lastModified: this.now(),
          objectType: 'Multipart',
          contentType: upload.record.contentType,
          storageClass: upload.record.storageClass,
          userMeta: upload.record.userMeta,
          headers: upload.record.headers,
        },
        source: chosen.map((p) => p.blob),
      }));
      this.requireBucket(bucket).uploads.delete(uploadId);
      await this.backend.removeUpload(bucket, uploadId);
      return stored;
    });
  }

  private resolveParts(upload: UploadState, parts: readonly CompletedPart[]): PartRecord[] {
    const chosen: PartRecord[] = [];
    let previous = 0;
    for (const requested of parts) {
      if (requested.partNumber <= previous) {
        throw new OssError('InvalidPartOrder', 'The list of parts was not in ascending order. Parts list must be specified in order by part number.', {
          PartNumber: String(requested.partNumber),
        });
      }
      previous = requested.partNumber;
      const part = upload.parts.get(requested.partNumber);
      if (!part || part.etag !== normaliseEtag(requested.etag)) {
        throw new OssError(
          'InvalidPart',
          "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag.",
          { UploadId: upload.record.uploadId, PartNumber: String(requested.partNumber), ETag: requested.etag },
        );
      }
      chosen.push(part);
    }
    return chosen;
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    this.requireUpload(bucket, key, uploadId);
    await this.serialize(`upload:${uploadId}`, async () => {
      this.requireUpload(bucket, key, uploadId);
      this.requireBucket(bucket).uploads.delete(uploadId);
      await this.backend.removeUpload(bucket, uploadId);
    });
  }

  /** Drops every bucket, object and upload. */
  async clear(): Promise<void> {
    await Promise.allSettled([...this.queues.values()]);
    this.buckets.clear();
    await this.backend.clear();
  }
}

/** Ranks a UTF-16 code unit so that code-unit comparison follows code-point order. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/**
 * Byte order of the UTF-8 encodings, which is how OSS sorts keys. It equals code-point order, which
 * differs from JavaScript's default UTF-16 order only for surrogate pairs against U+E000..U+FFFF;
 * comparing without encoding keeps listing big buckets cheap.
 */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}
