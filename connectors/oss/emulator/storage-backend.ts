import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobRef, BucketRecord, LoadedBucket, ObjectRecord, PartRecord, UploadRecord } from './records.js';

/**
 * Where the emulator keeps bytes and records. The object store (`store.ts`) owns the semantics and an
 * in-memory index; a backend only persists what the store tells it to, so that the memory and the
 * directory backends cannot disagree about OSS behaviour.
 */
export interface StorageBackend {
  readonly kind: 'memory' | 'directory';
  /** The data directory, for the directory backend. */
  readonly dataDir: string | undefined;
  /** Reads everything persisted so far (empty for memory) and removes debris of interrupted writes. */
  load(): Promise<LoadedBucket[]>;
  saveBucket(bucket: BucketRecord): Promise<void>;
  removeBucket(name: string): Promise<void>;
  /**
   * Stores an object's bytes and then its record, so that a record never points at missing bytes.
   * `source` is the new content, or existing blobs to concatenate (a copy, or completed parts).
   * Returns the record with its `blob` set.
   */
  saveObject(bucket: string, record: Omit<ObjectRecord, 'blob'>, source: Buffer | readonly BlobRef[]): Promise<ObjectRecord>;
  removeObject(bucket: string, record: ObjectRecord): Promise<void>;
  saveUpload(bucket: string, upload: UploadRecord): Promise<void>;
  savePart(bucket: string, uploadId: string, part: Omit<PartRecord, 'blob'>, data: Buffer): Promise<PartRecord>;
  removeUpload(bucket: string, uploadId: string): Promise<void>;
  /** Frees bytes no record points at any more (an overwritten object, a replaced or discarded part). */
  deleteBlob(ref: BlobRef): Promise<void>;
  /** Opens `[start, end)` of a blob. Rejects with code `ENOENT` when the blob is gone. */
  openBlob(ref: BlobRef, start: number, end: number): Promise<Readable>;
  /** Deletes everything the backend stored. */
  clear(): Promise<void>;
  /** Releases what `load()` took (the directory backend's lock). */
  close(): Promise<void>;
}

export function newBlobId(): string {
  return randomBytes(12).toString('hex');
}

function missingBlob(ref: BlobRef): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`blob ${ref} does not exist`);
  error.code = 'ENOENT';
  return error;
}

/** Keeps bytes in a Map; records live only in the store's index. */
export class MemoryBackend implements StorageBackend {
  readonly kind = 'memory';
  readonly dataDir = undefined;
  private readonly blobs = new Map<BlobRef, Buffer>();

  async load(): Promise<LoadedBucket[]> {
    return [];
  }

  async saveBucket(): Promise<void> {}

  async removeBucket(): Promise<void> {}

  async saveObject(_bucket: string, record: Omit<ObjectRecord, 'blob'>, source: Buffer | readonly BlobRef[]): Promise<ObjectRecord> {
    const data = Buffer.isBuffer(source) ? source : Buffer.concat(source.map((ref) => this.get(ref)));
    const blob = newBlobId();
    this.blobs.set(blob, data);
    return { ...record, blob };
  }

  async removeObject(_bucket: string, record: ObjectRecord): Promise<void> {
    this.blobs.delete(record.blob);
  }

  async saveUpload(): Promise<void> {}

  async savePart(_bucket: string, _uploadId: string, part: Omit<PartRecord, 'blob'>, data: Buffer): Promise<PartRecord> {
    const blob = newBlobId();
    this.blobs.set(blob, data);
    return { ...part, blob };
  }

  async removeUpload(): Promise<void> {}

  async deleteBlob(ref: BlobRef): Promise<void> {
    this.blobs.delete(ref);
  }

  async openBlob(ref: BlobRef, start: number, end: number): Promise<Readable> {
    return Readable.from([this.get(ref).subarray(start, end)]);
  }

  async clear(): Promise<void> {
    this.blobs.clear();
  }

  async close(): Promise<void> {
    this.blobs.clear();
  }

  private get(ref: BlobRef): Buffer {
    const data = this.blobs.get(ref);
    if (!data) throw missingBlob(ref);
    return data;
  }
}
