import type { Readable } from 'node:stream';
import type { ObjectStore } from './store.js';

/** An object as the storage view describes it. */
export interface StoredObjectInfo {
  key: string;
  size: number;
  /** Quoted, as OSS sends it: `"5EB63BBBE01EEED093CB22BB8F5ACDC3"` or `"...-3"` for multipart. */
  etag: string;
  lastModified: Date;
  contentType: string;
  objectType: 'Normal' | 'Multipart';
  meta: Readonly<Record<string, string>>;
}

/** A multipart upload in progress. */
export interface StoredUploadInfo {
  key: string;
  uploadId: string;
  initiated: Date;
  parts: ReadonlyArray<{ partNumber: number; size: number; etag: string }>;
}

/**
 * Direct access to the emulator's storage, bypassing HTTP, signatures and faults: for seeding test
 * data and asserting on what a connector left behind (including orphaned multipart uploads).
 */
export interface EmulatorStorageView {
  readonly kind: 'memory' | 'directory';
  /** The data directory, for directory storage. */
  readonly dataDir: string | undefined;
  buckets(): string[];
  createBucket(name: string): Promise<void>;
  /** Keys of a bucket in OSS listing order, optionally under a prefix. */
  keys(bucket: string, prefix?: string): string[];
  head(bucket: string, key: string): StoredObjectInfo | undefined;
  /** The object's bytes, or undefined when it does not exist. */
  read(bucket: string, key: string): Promise<Buffer | undefined>;
  write(bucket: string, key: string, data: Buffer | string, options?: { contentType?: string; meta?: Record<string, string> }): Promise<StoredObjectInfo>;
  delete(bucket: string, key: string): Promise<boolean>;
  uploads(bucket: string): StoredUploadInfo[];
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export function createStorageView(store: ObjectStore): EmulatorStorageView {
  const info = (bucket: string, key: string): StoredObjectInfo | undefined => {
    const record = store.getObject(bucket, key);
    if (!record) return undefined;
    return {
      key: record.key,
      size: record.size,
      etag: `"${record.etag}"`,
      lastModified: new Date(record.lastModified),
      contentType: record.contentType,
      objectType: record.objectType,
      meta: { ...record.userMeta },
    };
  };
  return {
    kind: store.backend.kind,
    dataDir: store.backend.dataDir,
    buckets: () => store.listBuckets().map((b) => b.name),
    createBucket: async (name) => {
      await store.createBucket(name);
    },
    keys: (bucket, prefix = '') => store.sortedObjects(bucket).filter((o) => o.key.startsWith(prefix)).map((o) => o.key),
    head: info,
    read: async (bucket, key) => {
      if (!store.getObject(bucket, key)) return undefined;
      const { body } = await store.openObject(bucket, key, (record) => ({ start: 0, end: record.size }));
      return collect(body);
    },
    write: async (bucket, key, data, options = {}) => {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      await store.putObject(
        bucket,
        key,
        {
          contentType: options.contentType ?? 'application/octet-stream',
          storageClass: store.bucketRecord(bucket).storageClass,
          userMeta: Object.fromEntries(Object.entries(options.meta ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
          headers: {},
        },
        bytes,
      );
      return info(bucket, key) as StoredObjectInfo;
    },
    delete: (bucket, key) => store.deleteObject(bucket, key),
    uploads: (bucket) =>
      store.sortedUploads(bucket).map((upload) => ({
        key: upload.key,
        uploadId: upload.uploadId,
        initiated: new Date(upload.initiated),
        parts: store.sortedParts(bucket, upload.key, upload.uploadId).map((p) => ({ partNumber: p.partNumber, size: p.size, etag: `"${p.etag}"` })),
      })),
  };
}
