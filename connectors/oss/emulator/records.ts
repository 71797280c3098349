/**
 * What the emulator stores. These shapes are also the sidecar JSON of the directory backend, so a
 * field added here must be optional or defaulted on load to keep old data directories readable.
 */

export interface BucketRecord {
  name: string;
  /** Epoch milliseconds. */
  creationDate: number;
  /** Region id as OSS reports it, e.g. `oss-cn-hangzhou`. */
  location: string;
  storageClass: string;
  acl: string;
}

/** Opaque reference to stored bytes; its meaning belongs to the backend. */
export type BlobRef = string;

export interface ObjectRecord {
  key: string;
  size: number;
  /** Unquoted upper-case hex MD5, or `<hex>-<parts>` for a multipart object. */
  etag: string;
  /** Epoch milliseconds. */
  lastModified: number;
  contentType: string;
  objectType: 'Normal' | 'Multipart';
  storageClass: string;
  /** `x-oss-meta-*` headers, names lower-cased and without the prefix. */
  userMeta: Record<string, string>;
  /** Standard headers OSS stores and returns: content-encoding, content-disposition, cache-control... */
  headers: Record<string, string>;
  blob: BlobRef;
}

export interface UploadRecord {
  uploadId: string;
  key: string;
  /** Epoch milliseconds. */
  initiated: number;
  contentType: string;
  storageClass: string;
  userMeta: Record<string, string>;
  headers: Record<string, string>;
}

export interface PartRecord {
  partNumber: number;
  /** Unquoted upper-case hex MD5 of the part. */
  etag: string;
  size: number;
  lastModified: number;
  blob: BlobRef;
}

/** Everything a persistent backend hands back when the emulator starts. */
export interface LoadedBucket {
  bucket: BucketRecord;
  objects: ObjectRecord[];
  uploads: Array<{ upload: UploadRecord; parts: PartRecord[] }>;
}

/** Headers OSS keeps with an object and returns on GET/HEAD. */
export const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
