import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { OssError } from './oss-error.js';
import type { RouteCandidate } from './routing.js';

/**
 * Query parameters that OSS V1 signing treats as sub-resources (signed); every other parameter
 * (prefix, marker, max-keys, delimiter, list-type, start-after...) is left out of the signature.
 */
const V1_SIGNED_SUBRESOURCES = new Set([
  'acl', 'append', 'asyncFetch', 'bucketInfo', 'callback', 'callback-var', 'cname', 'comp',
  'continuation-token', 'cors', 'delete', 'encryption', 'endTime', 'img', 'inventory', 'inventoryId',
  'lifecycle', 'live', 'location', 'logging', 'objectMeta', 'partNumber', 'policy', 'position', 'qos',
  'referer', 'replication', 'replicationLocation', 'replicationProgress', 'requestPayment', 'restore',
  'security-token', 'sequential', 'startTime', 'stat', 'status', 'style', 'styleName', 'symlink',
  'tagging', 'transferAcceleration', 'udf', 'uploadId', 'uploads', 'versionId', 'versioning',
  'versions', 'vod', 'website', 'worm', 'wormExtend', 'wormId', 'x-oss-process', 'x-oss-request-payer',
  'x-oss-traffic-limit',
]);

function isV1SubResource(name: string): boolean {
  return V1_SIGNED_SUBRESOURCES.has(name) || name.startsWith('response-');
}

/** What signature verification needs from a request. */
export interface SignedRequest {
  method: string;
  headers: IncomingHttpHeaders;
  /** Decoded query parameters in wire order. */
  query: ReadonlyArray<readonly [string, string]>;
}

export interface AuthOptions {
  credentials: ReadonlyMap<string, string>;
  nowMs: number;
  maxSkewMs: number;
}

export interface AuthSuccess {
  accessKeyId: string;
  scheme: 'v1' | 'v1-query' | 'v4';
  /** Index into the route candidates of the reading whose signature verified. */
  candidate: number;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function resourceOf(candidate: RouteCandidate): string {
  if (candidate.bucket === undefined) return '/';
  return `/${candidate.bucket}/${candidate.key ?? ''}`;
}

/** The V1 StringToSign for one reading of the request; exported for tests and debugging. */
export function v1StringToSign(request: SignedRequest, candidate: RouteCandidate, dateSlot: string): string {
  const { headers } = request;
  const ossHeaders = Object.keys(headers)
    .filter((name) => name.startsWith('x-oss-'))
    .sort()
    .map((name) => `${name}:${(header(headers, name) ?? '').trim()}`);
  const subResources = request.query
    .filter(([name]) => isV1SubResource(name))
    .map(([name]) => name)
    .filter((name, index, all) => all.indexOf(name) === index)
    .sort()
    .map((name) => {
      const value = request.query.find(([n]) => n === name)?.[1] ?? '';
      return value === '' ? name : `${name}=${value}`;
    });
  const resource = resourceOf(candidate) + (subResources.length > 0 ? `?${subResources.join('&')}` : '');
  return [
    request.method,
    header(headers, 'content-md5') ?? '',
    header(headers, 'content-type') ?? '',
    dateSlot,
    ...ossHeaders,
    resource,
  ].join('\n');
}

function v1Sign(secret: string, stringToSign: string): string {
  return createHmac('sha1', secret).update(stringToSign, 'utf8').digest('base64');
}

/** encodeURIComponent plus the characters it leaves alone but OSS V4 encodes. */
function v4Encode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function codePointCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Canonical query strings to try. OSS defines byte order and a bare `k` for an empty value; ali-oss
 * sorts with `localeCompare` and writes `k=` for an empty non-sub-resource value. Both arrive
 * identically on the wire, so the emulator accepts any of the few resulting strings.
 */
function v4CanonicalQueries(query: ReadonlyArray<readonly [string, string]>): string[] {
  const variants = new Set<string>();
  for (const compare of [codePointCompare, (a: string, b: string) => a.localeCompare(b)]) {
    for (const emptyAsBare of [true, false]) {
      const sorted = [...query].sort(([a], [b]) => compare(a, b));
      variants.add(
        sorted
          .map(([name, value]) => (value === '' && emptyAsBare ? v4Encode(name) : `${v4Encode(name)}=${v4Encode(value)}`))
          .join('&'),
      );
    }
  }
  return [...variants];
}

interface V4Authorization {
  accessKeyId: string;
  date: string;
  region: string;
  product: string;
  additionalHeaders: string[];
  signature: string;
}

function parseV4Authorization(value: string): V4Authorization {
  const fields = new Map<string, string>();
  for (const part of value.slice('OSS4-HMAC-SHA256'.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential')?.split('/') ?? [];
  const signature = fields.get('Signature');
  const [accessKeyId, date, region, product, terminator] = credential;
  if (!accessKeyId || !date || !region || !product || terminator !== 'aliyun_v4_request' || !signature) {
    throw new OssError(
      'InvalidArgument',
      'Authorization header is invalid: expected OSS4-HMAC-SHA256 Credential=<ak>/<date>/<region>/oss/aliyun_v4_request,[AdditionalHeaders=...,]Signature=<hex>',
    );
  }
  const additional = fields.get('AdditionalHeaders');
  return {
    accessKeyId,
    date,
    region,
    product,
    additionalHeaders: additional ? additional.split(';').map((h) => h.trim().toLowerCase()) : [],
    signature,
  };
}

/** The V4 canonical request for one reading of the request and one canonical query string. */
export function v4CanonicalRequest(
  request: SignedRequest,
  candidate: RouteCandidate,
  canonicalQuery: string,
  additionalHeaders: readonly string[],
): string {
  const { headers } = request;
  const signedHeaders = new Set(additionalHeaders);
  for (const name of Object.keys(headers)) {
    if (name === 'content-type' || name === 'content-md5' || name.startsWith('x-oss-')) signedHeaders.add(name);
  }
  const canonicalHeaders = [...signedHeaders]
    .sort()
    .map((name) => `${name}:${(header(headers, name) ?? '').trim()}\n`)
    .join('');
  return [
    request.method,
    v4Encode(resourceOf(candidate)).replace(/%2F/g, '/'),
    canonicalQuery,
    canonicalHeaders,
    additionalHeaders.join(';'),
    header(headers, 'x-oss-content-sha256') ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
}

function v4Signature(secret: string, auth: V4Authorization, stringToSign: string): string {
  let key: Buffer = createHmac('sha256', `aliyun_v4${secret}`).update(auth.date).digest();
  for (const part of [auth.region, auth.product, 'aliyun_v4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

function skewError(requestTime: string, nowMs: number): OssError {
  return new OssError('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
    RequestTime: requestTime,
    ServerTime: new Date(nowMs).toISOString(),
    MaxAllowedSkewMilliseconds: '900000',
  });
}

function checkSkew(requestMs: number, requestTime: string, options: AuthOptions): void {
  if (Number.isNaN(requestMs)) throw new OssError('AccessDenied', `OSS authentication requires a valid date; got ${JSON.stringify(requestTime)}.`);
  if (Math.abs(options.nowMs - requestMs) > options.maxSkewMs) throw skewError(requestTime, options.nowMs);
}

function parseIsoBasic(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return Number.NaN;
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function secretFor(accessKeyId: string, options: AuthOptions): string {
  const secret = options.credentials.get(accessKeyId);
  if (secret === undefined) {
    throw new OssError('InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', {
      OSSAccessKeyId: accessKeyId,
    });
  }
  return secret;
}

function mismatch(accessKeyId: string, provided: string, stringToSign: string, canonicalRequest?: string): OssError {
  return new OssError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    {
      OSSAccessKeyId: accessKeyId,
      SignatureProvided: provided,
      StringToSign: stringToSign,
      ...(canonicalRequest === undefined ? {} : { CanonicalRequest: canonicalRequest }),
    },
  );
}

function verifyV1Header(request: SignedRequest, value: string, candidates: readonly RouteCandidate[], options: AuthOptions): AuthSuccess {
  const credential = value.slice('OSS '.length).trim();
  const colon = credential.lastIndexOf(':');
  if (colon <= 0) throw new OssError('InvalidArgument', 'Authorization header is invalid: expected OSS <AccessKeyId>:<Signature>');
  const accessKeyId = credential.slice(0, colon);
  const provided = credential.slice(colon + 1);
  const secret = secretFor(accessKeyId, options);
  // ali-oss sends no Date header and puts x-oss-date into the date slot instead.
  const dates = [header(request.headers, 'date'), header(request.headers, 'x-oss-date')].filter(
    (d, i, all): d is string => d !== undefined && all.indexOf(d) === i,
  );
  if (dates.length === 0) throw new OssError('AccessDenied', 'OSS authentication requires a valid Date or x-oss-date header.');
  let first: string | undefined;
  for (const [index, candidate] of candidates.entries()) {
    for (const date of dates) {
      const stringToSign = v1StringToSign(request, candidate, date);
      first ??= stringToSign;
      if (safeEqual(v1Sign(secret, stringToSign), provided)) {
        checkSkew(Date.parse(date), date, options);
        return { accessKeyId, scheme: 'v1', candidate: index };
      }
    }
  }
  throw mismatch(accessKeyId, provided, first ?? '');
}

function verifyV1Query(request: SignedRequest, candidates: readonly RouteCandidate[], options: AuthOptions): AuthSuccess {
  const param = (name: string): string | undefined => request.query.find(([n]) => n === name)?.[1];
  const accessKeyId = param('OSSAccessKeyId') ?? '';
  const provided = param('Signature') ?? '';
  const expires = param('Expires') ?? '';
  const secret = secretFor(accessKeyId, options);
  if (!/^\d+$/.test(expires)) throw new OssError('AccessDenied', 'The Expires parameter of a signed URL must be a Unix time in seconds.');
  let first: string | undefined;
  for (const [index, candidate] of candidates.entries()) {
    const stringToSign = v1StringToSign(request, candidate, expires);
    first ??= stringToSign;
    if (safeEqual(v1Sign(secret, stringToSign), provided)) {
      if (Number(expires) * 1000 < options.nowMs) {
        throw new OssError('AccessDenied', 'Request has expired.', { Expires: new Date(Number(expires) * 1000).toISOString() });
      }
      return { accessKeyId, scheme: 'v1-query', candidate: index };
    }
  }
  throw mismatch(accessKeyId, provided, first ?? '');
}

function verifyV4(request: SignedRequest, value: string, candidates: readonly RouteCandidate[], options: AuthOptions): AuthSuccess {
  const auth = parseV4Authorization(value);
  const secret = secretFor(auth.accessKeyId, options);
  const requestTime = header(request.headers, 'x-oss-date') ?? '';
  if (!requestTime.startsWith(`${auth.date}T`)) {
    throw new OssError('AccessDenied', `The x-oss-date header ${JSON.stringify(requestTime)} does not match the credential date ${auth.date}.`);
  }
  for (const name of auth.additionalHeaders) {
    if (header(request.headers, name) === undefined) {
      throw new OssError('AccessDenied', `The additional signed header ${name} is missing from the request.`);
    }
  }
  const scope = `${auth.date}/${auth.region}/${auth.product}/aliyun_v4_request`;
  const queries = v4CanonicalQueries(request.query);
  let first: { stringToSign: string; canonical: string } | undefined;
  for (const [index, candidate] of candidates.entries()) {
    for (const query of queries) {
      const canonical = v4CanonicalRequest(request, candidate, query, auth.additionalHeaders);
      const stringToSign = ['OSS4-HMAC-SHA256', requestTime, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
      first ??= { stringToSign, canonical };
      if (safeEqual(v4Signature(secret, auth, stringToSign), auth.signature)) {
        checkSkew(parseIsoBasic(requestTime), requestTime, options);
        return { accessKeyId: auth.accessKeyId, scheme: 'v4', candidate: index };
      }
    }
  }
  throw mismatch(auth.accessKeyId, auth.signature, first?.stringToSign ?? '', first?.canonical);
}

/**
 * Verifies a request's signature (V1 header, V1 signed URL, or V4) against the configured
 * credentials, trying each route candidate in turn, and checks the request time. Throws the
 * `OssError` OSS would answer with; returns which credential and which reading of the target matched.
 */
export function authenticate(request: SignedRequest, candidates: readonly RouteCandidate[], options: AuthOptions): AuthSuccess {
  const authorization = header(request.headers, 'authorization');
  if (authorization === undefined) {
    if (request.query.some(([name]) => name === 'OSSAccessKeyId')) return verifyV1Query(request, candidates, options);
    throw new OssError('AccessDenied', 'Anonymous access is forbidden for this operation.');
  }
  if (authorization.startsWith('OSS4-HMAC-SHA256')) return verifyV4(request, authorization, candidates, options);
  if (authorization.startsWith('OSS ')) return verifyV1Header(request, authorization, candidates, options);
  throw new OssError('InvalidArgument', `Unsupported Authorization type: ${authorization.split(' ')[0] ?? ''}. Use OSS or OSS4-HMAC-SHA256.`);
}
