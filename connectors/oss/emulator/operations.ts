/** The OSS API operations the emulator tells apart, named as in the OSS API reference. */
export const OSS_OPERATIONS = [
  'ListBuckets',
  'PutBucket',
  'GetBucketInfo',
  'GetBucketLocation',
  'GetBucketVersioning',
  'DeleteBucket',
  'ListObjects',
  'ListObjectsV2',
  'PutObject',
  'GetObject',
  'HeadObject',
  'GetObjectMeta',
  'DeleteObject',
  'DeleteMultipleObjects',
  'CopyObject',
  'InitiateMultipartUpload',
  'UploadPart',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
  'ListParts',
  'ListMultipartUploads',
  /** Anything else: answered with 501 NotImplemented (or 405 for a method OSS does not accept there). */
  'Unsupported',
] as const;

export type OssOperation = (typeof OSS_OPERATIONS)[number];

/**
 * Sub-resources that select an OSS API the emulator does not implement (ACLs, tagging, lifecycle...).
 * A request carrying one must not fall through to the plain object or bucket operation: a PUT
 * `?acl` silently overwriting the object with an empty body would be worse than a clear 501.
 */
const UNSUPPORTED_SUBRESOURCES = new Set([
  'acl',
  'append',
  'asyncFetch',
  'cname',
  'cors',
  'encryption',
  'inventory',
  'lifecycle',
  'live',
  'logging',
  'policy',
  'qos',
  'referer',
  'replication',
  'requestPayment',
  'restore',
  'stat',
  'style',
  'symlink',
  'tagging',
  'transferAcceleration',
  'versioning',
  'versions',
  'website',
  'worm',
  'x-oss-process',
]);

export interface OperationInput {
  method: string;
  bucket: string | undefined;
  key: string | undefined;
  query: URLSearchParams;
  /** True when the request carries `x-oss-copy-source`. */
  copySource: boolean;
}

/** Decides which OSS API a request calls, from its method, target and sub-resources. */
export function classifyOperation(input: OperationInput): OssOperation {
  const { method, bucket, key, query } = input;
  // Reading the versioning state is supported (the emulator never versions); setting it is not.
  if (bucket !== undefined && (key === undefined || key === '') && method === 'GET' && query.has('versioning')) return 'GetBucketVersioning';
  for (const name of query.keys()) {
    if (UNSUPPORTED_SUBRESOURCES.has(name)) return 'Unsupported';
  }
  if (bucket === undefined) return method === 'GET' ? 'ListBuckets' : 'Unsupported';
  if (key === undefined || key === '') {
    switch (method) {
      case 'PUT':
        return 'PutBucket';
      case 'DELETE':
        return 'DeleteBucket';
      case 'POST':
        return query.has('delete') ? 'DeleteMultipleObjects' : 'Unsupported';
      case 'GET':
        if (query.has('bucketInfo')) return 'GetBucketInfo';
        if (query.has('location')) return 'GetBucketLocation';
        if (query.has('uploads')) return 'ListMultipartUploads';
        return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      default:
        return 'Unsupported';
    }
  }
  switch (method) {
    case 'PUT':
      if (query.has('uploadId') || query.has('partNumber')) {
        // UploadPartCopy is not implemented; treating it as a plain part would store an empty part.
        return input.copySource ? 'Unsupported' : 'UploadPart';
      }
      return input.copySource ? 'CopyObject' : 'PutObject';
    case 'GET':
      return query.has('uploadId') ? 'ListParts' : 'GetObject';
    case 'HEAD':
      return query.has('objectMeta') ? 'GetObjectMeta' : 'HeadObject';
    case 'DELETE':
      return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (query.has('uploads')) return 'InitiateMultipartUpload';
      if (query.has('uploadId')) return 'CompleteMultipartUpload';
      return 'Unsupported';
    default:
      return 'Unsupported';
  }
}
