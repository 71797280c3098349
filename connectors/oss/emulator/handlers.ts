import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { indexAfter, indexAtOrAfter, listPage, parseLimit, decodeContinuationToken, encodeContinuationToken } from './listing.js';
import { OssError } from './oss-error.js';
import type { OssOperation } from './operations.js';
import { STORED_HEADERS, type ObjectRecord, type PartRecord, type UploadRecord } from './records.js';
import { normaliseEtag, type CompletedPart, type NewObject, type ObjectStore } from './store.js';
import { childNamed, childrenNamed, parseXml, renderXml, XmlSyntaxError, type XmlElement, type XmlNode } from './xml.js';

/** A request after routing, authentication and body reading: all an operation handler needs. */
export interface OssRequest {
  op: OssOperation;
  method: string;
  bucket: string | undefined;
  key: string | undefined;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type ResponseBody = Buffer | { stream: Readable; length: number } | undefined;

export interface OssResponse {
  status: number;
  headers: Record<string, string>;
  body: ResponseBody;
}

export interface HandlerContext {
  store: ObjectStore;
  owner: { id: string; displayName: string };
  region: string;
}

const MAX_DELETE_OBJECTS = 1000;
const MAX_PART_NUMBER = 10_000;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function xml(root: XmlElement, status = 200, extraHeaders: Record<string, string> = {}): OssResponse {
  return { status, headers: { 'Content-Type': 'application/xml', ...extraHeaders }, body: Buffer.from(renderXml(root), 'utf8') };
}

function empty(status: number, headers: Record<string, string> = {}): OssResponse {
  return { status, headers, body: undefined };
}

function quoted(etag: string): string {
  return `"${etag}"`;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString();
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

function requireBucketName(request: OssRequest): string {
  if (request.bucket === undefined) throw new OssError('InvalidArgument', 'This operation needs a bucket.');
  return request.bucket;
}

function requireKey(request: OssRequest): string {
  if (request.key === undefined) throw new OssError('InvalidObjectName', 'The Object name can not be empty.');
  return request.key;
}

/** Verifies Content-MD5 when the client sent one; OSS rejects a malformed or mismatching digest. */
function checkContentMd5(request: OssRequest): void {
  const given = header(request.headers, 'content-md5');
  if (given === undefined) return;
  const digest = Buffer.from(given, 'base64');
  if (digest.length !== 16 || digest.toString('base64') !== given.trim()) {
    throw new OssError('InvalidDigest', 'The Content-MD5 you specified is not valid.', { 'Content-MD5': given });
  }
  const actual = createHash('md5').update(request.body).digest();
  if (!digest.equals(actual)) {
    throw new OssError('InvalidDigest', 'The Content-MD5 you specified did not match what we received.', {
      'Content-MD5': given,
      CalculatedMD5: actual.toString('base64'),
    });
  }
}

function userMetaFrom(headers: IncomingHttpHeaders): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const name of Object.keys(headers).sort()) {
    // Values stay as Node decoded them (latin1), so the bytes go back out exactly as they came in.
    if (name.startsWith('x-oss-meta-')) meta[name.slice('x-oss-meta-'.length)] = header(headers, name) ?? '';
  }
  return meta;
}

function newObjectFrom(request: OssRequest, defaultStorageClass: string): NewObject {
  const stored: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = header(request.headers, name);
    if (value !== undefined) stored[name] = value;
  }
  return {
    contentType: header(request.headers, 'content-type') ?? 'application/octet-stream',
    storageClass: header(request.headers, 'x-oss-storage-class') ?? defaultStorageClass,
    userMeta: userMetaFrom(request.headers),
    headers: stored,
  };
}

/**
 * `x-oss-forbid-overwrite` as OSS reads it on PutObject, CopyObject, InitiateMultipartUpload and
 * CompleteMultipartUpload: `true` refuses to replace an existing object (409 FileAlreadyExists), `false` or
 * no header overwrites, any other value is a 400 InvalidArgument (OSS error 0017-00000279).
 */
function forbidOverwrite(request: OssRequest): boolean {
  const value = header(request.headers, 'x-oss-forbid-overwrite');
  if (value === undefined) return false;
  const normalised = value.trim().toLowerCase();
  if (normalised !== 'true' && normalised !== 'false') {
    throw new OssError('InvalidArgument', `x-oss-forbid-overwrite must be true or false; got ${JSON.stringify(value)}.`, { ArgumentName: 'x-oss-forbid-overwrite', ArgumentValue: value });
  }
  return normalised === 'true';
}

function urlEncoder(query: URLSearchParams): (text: string) => string {
  return query.get('encoding-type') === 'url' ? (text) => encodeURIComponent(text) : (text) => text;
}

function parseBody(request: OssRequest, rootName: string): XmlNode {
  let root: XmlNode;
  try {
    root = parseXml(request.body.toString('utf8'));
  } catch (error) {
    if (error instanceof XmlSyntaxError) {
      throw new OssError('MalformedXML', `The XML you provided was not well-formed: ${error.message}.`);
    }
    throw error;
  }
  if (root.name !== rootName) throw new OssError('MalformedXML', `Expected a <${rootName}> document, got <${root.name}>.`);
  return root;
}

function objectHeaders(record: ObjectRecord): Record<string, string> {
  const headers: Record<string, string> = {
    ETag: quoted(record.etag),
    'Last-Modified': httpDate(record.lastModified),
    'Content-Type': record.contentType,
    'Accept-Ranges': 'bytes',
    'x-oss-object-type': record.objectType,
    'x-oss-storage-class': record.storageClass,
  };
  if (record.objectType === 'Normal' && /^[0-9A-F]{32}$/.test(record.etag)) {
    headers['Content-MD5'] = Buffer.from(record.etag, 'hex').toString('base64');
  }
  for (const [name, value] of Object.entries(record.headers)) headers[name] = value;
  for (const [name, value] of Object.entries(record.userMeta)) headers[`x-oss-meta-${name}`] = value;
  return headers;
}

const RESPONSE_OVERRIDES: ReadonlyArray<readonly [string, string]> = [
  ['response-content-type', 'Content-Type'],
  ['response-content-language', 'Content-Language'],
  ['response-expires', 'Expires'],
  ['response-cache-control', 'Cache-Control'],
  ['response-content-disposition', 'Content-Disposition'],
  ['response-content-encoding', 'Content-Encoding'],
];

function etagMatches(list: string, etag: string): boolean {
  return list.split(',').some((candidate) => candidate.trim() === '*' || normaliseEtag(candidate) === etag);
}

/** HTTP dates have whole seconds; comparing at that precision keeps If-Modified-Since exact. */
function modifiedAfter(record: ObjectRecord, since: string | undefined): boolean | undefined {
  if (since === undefined) return undefined;
  const sinceMs = Date.parse(since);
  if (Number.isNaN(sinceMs)) return undefined;
  return Math.floor(record.lastModified / 1000) > Math.floor(sinceMs / 1000);
}

function preconditionFailed(condition: string): OssError {
  return new OssError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.', { Condition: condition });
}

/** RFC 7232 evaluation order; returns 304 when the client's copy is current. */
function checkPreconditions(
  record: ObjectRecord,
  get: (name: 'if-match' | 'if-none-match' | 'if-modified-since' | 'if-unmodified-since') => string | undefined,
): 304 | undefined {
  const ifMatch = get('if-match');
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, record.etag)) throw preconditionFailed('If-Match');
  } else if (modifiedAfter(record, get('if-unmodified-since')) === true) {
    throw preconditionFailed('If-Unmodified-Since');
  }
  const ifNoneMatch = get('if-none-match');
  if (ifNoneMatch !== undefined) {
    if (etagMatches(ifNoneMatch, record.etag)) return 304;
  } else if (modifiedAfter(record, get('if-modified-since')) === false) {
    return 304;
  }
  return undefined;
}

type RangeDecision = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * OSS's Range semantics. By default an invalid or out-of-bounds range is ignored and the whole
 * object comes back with 200; with `x-oss-range-behavior: standard` an end past the object is
 * clamped and a start past it gives 416 InvalidRange.
 */
export function decideRange(value: string | undefined, size: number, standard: boolean): RangeDecision {
  if (value === undefined) return { kind: 'full' };
  const match = /^\s*bytes=(\d*)-(\d*)\s*$/.exec(value);
  if (!match || (match[1] === '' && match[2] === '')) return standard && value.includes(',') ? { kind: 'unsatisfiable' } : { kind: 'full' };
  const first = match[1] === '' ? undefined : Number(match[1]);
  const last = match[2] === '' ? undefined : Number(match[2]);
  if (first === undefined) {
    const suffix = last ?? 0;
    if (suffix === 0 || size === 0) return standard ? { kind: 'unsatisfiable' } : { kind: 'full' };
    if (suffix > size) return standard ? { kind: 'partial', start: 0, end: size - 1 } : { kind: 'full' };
    return { kind: 'partial', start: size - suffix, end: size - 1 };
  }
  if (last !== undefined && last < first) return { kind: 'full' };
  if (first >= size) return standard ? { kind: 'unsatisfiable' } : { kind: 'full' };
  if (last === undefined) return { kind: 'partial', start: first, end: size - 1 };
  if (last >= size) return standard ? { kind: 'partial', start: first, end: size - 1 } : { kind: 'full' };
  return { kind: 'partial', start: first, end: last };
}

async function getObject(ctx: HandlerContext, request: OssRequest, withBody: boolean): Promise<OssResponse> {
  const bucket = requireBucketName(request);
  const key = requireKey(request);
  const record = ctx.store.requireObject(bucket, key);
  if (checkPreconditions(record, (name) => header(request.headers, name)) === 304) {
    return empty(304, { ETag: quoted(record.etag), 'Last-Modified': httpDate(record.lastModified) });
  }
  const standard = header(request.headers, 'x-oss-range-behavior')?.toLowerCase() === 'standard';
  const range = withBody ? decideRange(header(request.headers, 'range'), record.size, standard) : ({ kind: 'full' } as const);
  if (range.kind === 'unsatisfiable') {
    throw new OssError('InvalidRange', 'The requested range cannot be satisfied.', { RangeRequested: header(request.headers, 'range') ?? '', ActualObjectSize: String(record.size) });
  }
  const headers = objectHeaders(record);
  for (const [param, name] of RESPONSE_OVERRIDES) {
    const value = request.query.get(param);
    if (value !== null) headers[name] = value;
  }
  if (!withBody) return { status: 200, headers: { ...headers, 'Content-Length': String(record.size) }, body: undefined };
  // The bytes are opened under the record they belong to, so headers and body cannot disagree.
  const opened = await ctx.store.openObject(bucket, key, (current) => {
    const decision = decideRange(header(request.headers, 'range'), current.size, standard);
    return decision.kind === 'partial' ? { start: decision.start, end: decision.end + 1 } : { start: 0, end: current.size };
  });
  const current = opened.record;
  const decision = decideRange(header(request.headers, 'range'), current.size, standard);
  const finalHeaders = current === record ? headers : objectHeaders(current);
  if (decision.kind === 'partial') {
    finalHeaders['Content-Range'] = `bytes ${decision.start}-${decision.end}/${current.size}`;
    return { status: 206, headers: finalHeaders, body: { stream: opened.body, length: decision.end - decision.start + 1 } };
  }
  return { status: 200, headers: finalHeaders, body: { stream: opened.body, length: current.size } };
}

function getObjectMeta(ctx: HandlerContext, request: OssRequest): OssResponse {
  const record = ctx.store.requireObject(requireBucketName(request), requireKey(request));
  return empty(200, {
    ETag: quoted(record.etag),
    'Content-Length': String(record.size),
    'Last-Modified': httpDate(record.lastModified),
  });
}

async function putObject(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  const bucket = requireBucketName(request);
  checkContentMd5(request);
  const fields = newObjectFrom(request, ctx.store.bucketRecord(bucket).storageClass);
  const record = await ctx.store.putObject(bucket, requireKey(request), fields, request.body, forbidOverwrite(request));
  return empty(200, { ETag: quoted(record.etag), 'Content-MD5': Buffer.from(record.etag, 'hex').toString('base64') });
}

function parseCopySource(value: string): { bucket: string; key: string } {
  const withoutQuery = value.split('?')[0] ?? '';
  const match = /^\/?([^/]+)\/(.+)$/.exec(withoutQuery);
  if (!match || match[1] === undefined || match[2] === undefined) {
    throw new OssError('InvalidArgument', 'x-oss-copy-source must be /<bucket>/<url-encoded key>.', { 'x-oss-copy-source': value });
  }
  try {
    return { bucket: decodeURIComponent(match[1]), key: decodeURIComponent(match[2]) };
  } catch {
    throw new OssError('InvalidArgument', 'x-oss-copy-source is not valid percent-encoding.', { 'x-oss-copy-source': value });
  }
}

async function copyObject(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  const bucket = requireBucketName(request);
  const key = requireKey(request);
  const source = parseCopySource(header(request.headers, 'x-oss-copy-source') ?? '');
  const directive = (header(request.headers, 'x-oss-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new OssError('InvalidArgument', `x-oss-metadata-directive must be COPY or REPLACE; got ${directive}.`);
  }
  if (!ctx.store.hasBucket(source.bucket)) {
    throw new OssError('NoSuchBucket', 'The specified bucket does not exist.', { BucketName: source.bucket });
  }
  const targetBucket = ctx.store.bucketRecord(bucket);
  const from = ctx.store.requireObject(source.bucket, source.key);
  const copyCondition = (name: string): string | undefined => header(request.headers, `x-oss-copy-source-${name}`);
  if (checkPreconditions(from, copyCondition) === 304) {
    return empty(304, { ETag: quoted(from.etag) });
  }
  const fields = directive === 'REPLACE' ? newObjectFrom(request, targetBucket.storageClass) : undefined;
  const record = await ctx.store.copyObject(source, { bucket, key }, fields, forbidOverwrite(request));
  return xml(['CopyObjectResult', [['ETag', quoted(record.etag)], ['LastModified', isoDate(record.lastModified)]]], 200, {
    ETag: quoted(record.etag),
  });
}

async function deleteObject(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  await ctx.store.deleteObject(requireBucketName(request), requireKey(request));
  return empty(204);
}

async function deleteMultiple(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  const bucket = requireBucketName(request);
  ctx.store.bucketRecord(bucket);
  checkContentMd5(request);
  const root = parseBody(request, 'Delete');
  const quiet = childNamed(root, 'Quiet')?.text.trim().toLowerCase() === 'true';
  const keys = childrenNamed(root, 'Object').map((o) => {
    const keyNode = childNamed(o, 'Key');
    if (!keyNode) throw new OssError('MalformedXML', 'Every <Object> needs a <Key>.');
    return keyNode.text;
  });
  if (keys.length === 0 || keys.length > MAX_DELETE_OBJECTS) {
    throw new OssError('MalformedXML', `A Delete request must name between 1 and ${MAX_DELETE_OBJECTS} objects; got ${keys.length}.`);
  }
  for (const key of keys) await ctx.store.deleteObject(bucket, key);
  const encode = urlEncoder(request.query);
  const deleted: XmlElement[] = quiet ? [] : keys.map((key): XmlElement => ['Deleted', [['Key', encode(key)]]]);
  return xml(['DeleteResult', [...(request.query.get('encoding-type') === 'url' ? [['EncodingType', 'url'] as XmlElement] : []), ...deleted]]);
}

function ownerElement(ctx: HandlerContext): XmlElement {
  return ['Owner', [['ID', ctx.owner.id], ['DisplayName', ctx.owner.displayName]]];
}

function contentsElement(ctx: HandlerContext, record: ObjectRecord, encode: (s: string) => string, withOwner: boolean): XmlElement {
  return [
    'Contents',
    [
      ['Key', encode(record.key)],
      ['LastModified', isoDate(record.lastModified)],
      ['ETag', quoted(record.etag)],
      ['Type', record.objectType],
      ['Size', record.size],
      ['StorageClass', record.storageClass],
      ...(withOwner ? [ownerElement(ctx)] : []),
    ],
  ];
}

function listObjects(ctx: HandlerContext, request: OssRequest, version: 1 | 2): OssResponse {
  const bucket = requireBucketName(request);
  const q = request.query;
  const items = ctx.store.sortedObjects(bucket);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = parseLimit('max-keys', q.get('max-keys'), 100, 1000);
  const token = version === 2 ? q.get('continuation-token') : null;
  const startAfter = version === 2 ? (q.get('start-after') ?? '') : '';
  const marker = version === 1 ? (q.get('marker') ?? '') : token !== null && token !== '' ? decodeContinuationToken(token) : startAfter;
  const keyOf = (o: ObjectRecord): string => o.key;
  const start = Math.max(indexAfter(items, keyOf, marker), indexAtOrAfter(items, keyOf, prefix));
  const page = listPage({ items, keyOf, start, prefix, delimiter, after: marker, maxKeys });
  const encode = urlEncoder(q);
  const encodingType: XmlElement[] = q.get('encoding-type') === 'url' ? [['EncodingType', 'url']] : [];
  const contents = page.entries.map((o) => contentsElement(ctx, o, encode, version === 1 || q.get('fetch-owner') === 'true'));
  const prefixes = page.commonPrefixes.map((p): XmlElement => ['CommonPrefixes', [['Prefix', encode(p)]]]);
  if (version === 1) {
    return xml([
      'ListBucketResult',
      [
        ['Name', bucket],
        ['Prefix', encode(prefix)],
        ['Marker', encode(marker)],
        ['MaxKeys', maxKeys],
        ['Delimiter', encode(delimiter)],
        ['IsTruncated', page.truncated],
        ['NextMarker', page.truncated && page.lastMarker !== undefined ? encode(page.lastMarker) : undefined],
        ...encodingType,
        ...contents,
        ...prefixes,
      ],
    ]);
  }
  return xml([
    'ListBucketResult',
    [
      ['Name', bucket],
      ['Prefix', encode(prefix)],
      ['StartAfter', startAfter === '' ? undefined : encode(startAfter)],
      ['ContinuationToken', token === null || token === '' ? undefined : token],
      ['MaxKeys', maxKeys],
      ['Delimiter', encode(delimiter)],
      ['IsTruncated', page.truncated],
      ['NextContinuationToken', page.truncated && page.lastMarker !== undefined ? encodeContinuationToken(page.lastMarker) : undefined],
      ['KeyCount', page.entries.length + page.commonPrefixes.length],
      ...encodingType,
      ...contents,
      ...prefixes,
    ],
  ]);
}

function bucketEndpoints(ctx: HandlerContext): XmlElement[] {
  return [
    ['ExtranetEndpoint', `${ctx.region}.aliyuncs.com`],
    ['IntranetEndpoint', `${ctx.region}-internal.aliyuncs.com`],
  ];
}

function listBuckets(ctx: HandlerContext, request: OssRequest): OssResponse {
  const q = request.query;
  const prefix = q.get('prefix') ?? '';
  const marker = q.get('marker') ?? '';
  const maxKeys = parseLimit('max-keys', q.get('max-keys'), 100, 1000);
  const buckets = ctx.store.listBuckets();
  const keyOf = (b: { name: string }): string => b.name;
  const start = Math.max(indexAfter(buckets, keyOf, marker), indexAtOrAfter(buckets, keyOf, prefix));
  const page = listPage({ items: buckets, keyOf, start, prefix, delimiter: '', after: marker, maxKeys });
  return xml([
    'ListAllMyBucketsResult',
    [
      ['Prefix', prefix],
      ['Marker', marker],
      ['MaxKeys', maxKeys],
      ['IsTruncated', page.truncated],
      ['NextMarker', page.truncated ? page.lastMarker : undefined],
      ownerElement(ctx),
      [
        'Buckets',
        page.entries.map((b): XmlElement => [
          'Bucket',
          [
            ['CreationDate', isoDate(b.creationDate)],
            ...bucketEndpoints(ctx),
            ['Location', b.location],
            ['Name', b.name],
            ['Region', b.location.replace(/^oss-/, '')],
            ['StorageClass', b.storageClass],
          ],
        ]),
      ],
    ],
  ]);
}

async function putBucket(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  const bucket = requireBucketName(request);
  let storageClass: string | undefined;
  if (request.body.length > 0) {
    const config = parseBody(request, 'CreateBucketConfiguration');
    storageClass = childNamed(config, 'StorageClass')?.text.trim() || undefined;
  }
  const acl = header(request.headers, 'x-oss-acl');
  await ctx.store.createBucket(bucket, { ...(storageClass ? { storageClass } : {}), ...(acl ? { acl } : {}) });
  return empty(200, { Location: `/${bucket}` });
}

function getBucketInfo(ctx: HandlerContext, request: OssRequest): OssResponse {
  const record = ctx.store.bucketRecord(requireBucketName(request));
  return xml([
    'BucketInfo',
    [
      [
        'Bucket',
        [
          ['CreationDate', isoDate(record.creationDate)],
          ...bucketEndpoints(ctx),
          ['Location', record.location],
          ['Name', record.name],
          ['StorageClass', record.storageClass],
          ['DataRedundancyType', 'LRS'],
          ['Comment', ''],
          ownerElement(ctx),
          ['AccessControlList', [['Grant', record.acl]]],
        ],
      ],
    ],
  ]);
}

function getBucketLocation(ctx: HandlerContext, request: OssRequest): OssResponse {
  const record = ctx.store.bucketRecord(requireBucketName(request));
  return xml(['LocationConstraint', record.location]);
}

/**
 * The emulator never versions objects: its buckets answer as an OSS bucket on which versioning was never
 * enabled, a VersioningConfiguration without Status.
 */
function getBucketVersioning(ctx: HandlerContext, request: OssRequest): OssResponse {
  ctx.store.bucketRecord(requireBucketName(request));
  return xml(['VersioningConfiguration', []]);
}

async function deleteBucket(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  await ctx.store.deleteBucket(requireBucketName(request));
  return empty(204);
}

async function initiateUpload(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  const bucket = requireBucketName(request);
  const key = requireKey(request);
  if (forbidOverwrite(request) && ctx.store.getObject(bucket, key)) {
    throw new OssError('FileAlreadyExists', 'The object you specified already exists and can not be overwritten.', { Key: key });
  }
  const upload = await ctx.store.createUpload(bucket, key, newObjectFrom(request, ctx.store.bucketRecord(bucket).storageClass));
  const encode = urlEncoder(request.query);
  return xml([
    'InitiateMultipartUploadResult',
    [
      ...(request.query.get('encoding-type') === 'url' ? [['EncodingType', 'url'] as XmlElement] : []),
      ['Bucket', bucket],
      ['Key', encode(key)],
      ['UploadId', upload.uploadId],
    ],
  ]);
}

function parsePartNumber(value: string | null): number {
  const n = value !== null && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= MAX_PART_NUMBER)) {
    throw new OssError('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive.`, {
      ArgumentName: 'partNumber',
      ArgumentValue: value ?? '',
    });
  }
  return n;
}

async function uploadPart(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  const partNumber = parsePartNumber(request.query.get('partNumber'));
  checkContentMd5(request);
  const part = await ctx.store.putPart(requireBucketName(request), requireKey(request), request.query.get('uploadId') ?? '', partNumber, request.body);
  return empty(200, { ETag: quoted(part.etag), 'Content-MD5': Buffer.from(part.etag, 'hex').toString('base64') });
}

function parseCompleteBody(request: OssRequest): CompletedPart[] {
  const root = parseBody(request, 'CompleteMultipartUpload');
  return childrenNamed(root, 'Part').map((part) => {
    const number = childNamed(part, 'PartNumber')?.text.trim() ?? '';
    const etag = childNamed(part, 'ETag')?.text;
    if (!/^\d+$/.test(number) || etag === undefined) throw new OssError('MalformedXML', 'Every <Part> needs a <PartNumber> and an <ETag>.');
    return { partNumber: Number(number), etag };
  });
}

async function completeUpload(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  const bucket = requireBucketName(request);
  const key = requireKey(request);
  const uploadId = request.query.get('uploadId') ?? '';
  checkContentMd5(request);
  const all = header(request.headers, 'x-oss-complete-all')?.toLowerCase() === 'yes';
  if (all && request.body.length > 0) {
    throw new OssError('InvalidArgument', 'With x-oss-complete-all: yes the request body must be empty.');
  }
  const parts = all ? 'all' : parseCompleteBody(request);
  const record = await ctx.store.completeUpload(bucket, key, uploadId, parts, forbidOverwrite(request));
  const encode = urlEncoder(request.query);
  return xml(
    [
      'CompleteMultipartUploadResult',
      [
        ...(request.query.get('encoding-type') === 'url' ? [['EncodingType', 'url'] as XmlElement] : []),
        ['Location', `http://${bucket}.${ctx.region}.aliyuncs.com/${encodeURIComponent(key).replace(/%2F/g, '/')}`],
        ['Bucket', bucket],
        ['Key', encode(key)],
        ['ETag', quoted(record.etag)],
      ],
    ],
    200,
    { ETag: quoted(record.etag) },
  );
}

async function abortUpload(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  await ctx.store.abortUpload(requireBucketName(request), requireKey(request), request.query.get('uploadId') ?? '');
  return empty(204);
}

function listParts(ctx: HandlerContext, request: OssRequest): OssResponse {
  const bucket = requireBucketName(request);
  const key = requireKey(request);
  const uploadId = request.query.get('uploadId') ?? '';
  const maxParts = parseLimit('max-parts', request.query.get('max-parts'), 1000, 1000);
  const markerText = request.query.get('part-number-marker') ?? '';
  const marker = /^\d+$/.test(markerText) ? Number(markerText) : 0;
  const remaining = ctx.store.sortedParts(bucket, key, uploadId).filter((p) => p.partNumber > marker);
  const page = remaining.slice(0, maxParts);
  const truncated = remaining.length > page.length;
  const encode = urlEncoder(request.query);
  return xml([
    'ListPartsResult',
    [
      ['Bucket', bucket],
      ['Key', encode(key)],
      ['UploadId', uploadId],
      ['StorageClass', 'Standard'],
      ['PartNumberMarker', marker],
      ['NextPartNumberMarker', page[page.length - 1]?.partNumber ?? marker],
      ['MaxParts', maxParts],
      ['IsTruncated', truncated],
      ...page.map((p: PartRecord): XmlElement => [
        'Part',
        [
          ['PartNumber', p.partNumber],
          ['LastModified', isoDate(p.lastModified)],
          ['ETag', quoted(p.etag)],
          ['Size', p.size],
        ],
      ]),
    ],
  ]);
}

function listUploads(ctx: HandlerContext, request: OssRequest): OssResponse {
  const bucket = requireBucketName(request);
  const q = request.query;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const uploadIdMarker = q.get('upload-id-marker') ?? '';
  const maxUploads = parseLimit('max-uploads', q.get('max-uploads'), 1000, 1000);
  const uploads = ctx.store.sortedUploads(bucket);
  const keyOf = (u: UploadRecord): string => u.key;
  let start = indexAfter(uploads, keyOf, keyMarker);
  if (keyMarker !== '' && uploadIdMarker !== '') {
    // Continue inside the marker key: the uploads of that key after the marker upload.
    const at = uploads.findIndex((u) => u.key === keyMarker && u.uploadId === uploadIdMarker);
    if (at >= 0) start = at + 1;
  }
  start = Math.max(start, indexAtOrAfter(uploads, keyOf, prefix));
  const page = listPage({ items: uploads, keyOf, start, prefix, delimiter, after: keyMarker, maxKeys: maxUploads });
  const encode = urlEncoder(q);
  return xml([
    'ListMultipartUploadsResult',
    [
      ...(q.get('encoding-type') === 'url' ? [['EncodingType', 'url'] as XmlElement] : []),
      ['Bucket', bucket],
      ['KeyMarker', encode(keyMarker)],
      ['UploadIdMarker', uploadIdMarker],
      ['NextKeyMarker', page.truncated && page.lastMarker !== undefined ? encode(page.lastMarker) : ''],
      ['NextUploadIdMarker', page.truncated && page.lastEntry !== undefined ? page.lastEntry.uploadId : ''],
      ['Delimiter', encode(delimiter)],
      ['Prefix', encode(prefix)],
      ['MaxUploads', maxUploads],
      ['IsTruncated', page.truncated],
      ...page.entries.map((u): XmlElement => [
        'Upload',
        [
          ['Key', encode(u.key)],
          ['UploadId', u.uploadId],
          ['StorageClass', u.storageClass],
          ['Initiated', isoDate(u.initiated)],
        ],
      ]),
      ...page.commonPrefixes.map((p): XmlElement => ['CommonPrefixes', [['Prefix', encode(p)]]]),
    ],
  ]);
}

/** Runs one classified request against the store and builds the OSS response. */
export async function handleOperation(ctx: HandlerContext, request: OssRequest): Promise<OssResponse> {
  switch (request.op) {
    case 'ListBuckets':
      return listBuckets(ctx, request);
    case 'PutBucket':
      return putBucket(ctx, request);
    case 'GetBucketInfo':
      return getBucketInfo(ctx, request);
    case 'GetBucketLocation':
      return getBucketLocation(ctx, request);
    case 'GetBucketVersioning':
      return getBucketVersioning(ctx, request);
    case 'DeleteBucket':
      return deleteBucket(ctx, request);
    case 'ListObjects':
      return listObjects(ctx, request, 1);
    case 'ListObjectsV2':
      return listObjects(ctx, request, 2);
    case 'PutObject':
      return putObject(ctx, request);
    case 'GetObject':
      return getObject(ctx, request, true);
    case 'HeadObject':
      return getObject(ctx, request, false);
    case 'GetObjectMeta':
      return getObjectMeta(ctx, request);
    case 'DeleteObject':
      return deleteObject(ctx, request);
    case 'DeleteMultipleObjects':
      return deleteMultiple(ctx, request);
    case 'CopyObject':
      return copyObject(ctx, request);
    case 'InitiateMultipartUpload':
      return initiateUpload(ctx, request);
    case 'UploadPart':
      return uploadPart(ctx, request);
    case 'CompleteMultipartUpload':
      return completeUpload(ctx, request);
    case 'AbortMultipartUpload':
      return abortUpload(ctx, request);
    case 'ListParts':
      return listParts(ctx, request);
    case 'ListMultipartUploads':
      return listUploads(ctx, request);
    case 'Unsupported': {
      const query = request.query.toString();
      throw new OssError(
        'NotImplemented',
        `The Tideway OSS emulator does not implement ${request.method} ${request.bucket === undefined ? '' : `bucket ${request.bucket} `}${request.key === undefined ? '' : `key ${request.key} `}${query === '' ? '' : `?${query}`}`.trim(),
      );
    }
  }
}
