import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The emulator's side of ODPS request signing, written apart from the client's signing code (a shared
 * canonicalisation would agree with any mistake the client makes). It follows the service's rules as the
 * SDKs implement them (Go SDK account/aliyun_account.go SignRequest; its tests in account/account_test.go
 * serve as known answers):
 *
 *   METHOD \n Content-MD5 \n Content-Type \n Date \n
 *   x-odps-* headers, names lower-cased and sorted, `name:value1,value2` \n each
 *   path without the endpoint's base path, then `?` and the query parameters sorted by name, `k=v` or
 *   `k` when the value is empty, joined by `&` (the first value of a repeated parameter).
 */

/** A request as it came off the wire. */
export interface WireRequest {
  method: string;
  /** The raw request target: path and query, still percent-encoded. */
  url: string;
  /** Header values by lower-case name, repeated headers as arrays (node's `headersDistinct`). */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

function headerValues(headers: WireRequest['headers'], name: string): string[] {
  const value = headers[name];
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : [...value];
}

/** Percent-decoding as a query parser does it: `+` is a space. */
function decodeQueryPart(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/** The canonical string of a wire request, for an endpoint whose base path is `basePath` (e.g. `/api`). */
export function wireCanonicalString(request: WireRequest, basePath: string): string {
  const lower: Record<string, string | readonly string[] | undefined> = {};
  for (const name of Object.keys(request.headers)) lower[name.toLowerCase()] = request.headers[name];
  const single = (name: string) => headerValues(lower, name).join(',');
  const lines = [request.method.toUpperCase(), single('content-md5'), single('content-type'), single('date')];
  const odps = Object.keys(lower)
    .filter((name) => name.startsWith('x-odps-'))
    .sort()
    .map((name) => `${name}:${single(name)}`);
  const queryAt = request.url.indexOf('?');
  const rawPath = queryAt < 0 ? request.url : request.url.slice(0, queryAt);
  const rawQuery = queryAt < 0 ? '' : request.url.slice(queryAt + 1);
  let path = decodeURIComponent(rawPath);
  if (basePath && path.startsWith(basePath)) path = path.slice(basePath.length);
  const first = new Map<string, string>();
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeQueryPart(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeQueryPart(part.slice(eq + 1));
    if (!first.has(key)) first.set(key, value);
  }
  let resource = path;
  if (first.size > 0) {
    resource += `?${[...first.keys()]
      .sort()
      .map((k) => (first.get(k) === '' ? k : `${k}=${first.get(k)}`))
      .join('&')}`;
  }
  return [...lines, ...odps, resource].join('\n');
}

/** base64(HMAC-SHA1(key, text)). */
export function hmacSha1Base64(key: string | Buffer, text: string): string {
  return createHmac('sha1', key).update(text, 'utf8').digest('base64');
}

/** The V4 signing key: HMAC-SHA256 over date, region, `odps` and `aliyun_v4_request`, starting from `aliyun_v4` + secret. */
function v4SigningKey(secret: string, date: string, region: string): Buffer {
  return ['odps', 'aliyun_v4_request'].reduce<Buffer>(
    (key, part) => createHmac('sha256', key).update(part).digest(),
    createHmac('sha256', createHmac('sha256', `aliyun_v4${secret}`).update(date).digest()).update(region).digest(),
  );
}

export type AuthOutcome =
  | { ok: true; accessId: string }
  | { ok: false; status: number; code: string; message: string; accessId?: string };

export interface AuthOptions {
  secretOf: (accessId: string) => string | undefined;
  basePath: string;
  /** Largest accepted difference between the request's Date and the emulator's clock. */
  maxClockSkewMs: number;
  now?: number;
}

/**
 * Checks a request as the service does: an `Authorization: ODPS <id>:<signature>` header (or the V4
 * credential form), a Date header within the allowed skew of the server's clock, then a signature that
 * matches the request.
 * Error codes: a skewed or missing Date is MaxCompute's ODPS-0410031 "Authentication request expired"
 * (HTTP 400); a missing header `Unauthorized` (401), an unknown id `InvalidAccessKeyId` (401), a wrong
 * signature `SignatureNotMatch` (403).
 */
export function checkRequestAuth(request: WireRequest, options: AuthOptions): AuthOutcome {
  const authorization = headerValues(request.headers, 'authorization')[0]?.trim();
  if (!authorization) return { ok: false, status: 401, code: 'Unauthorized', message: 'The request authorization header is invalid or missing' };
  const match = /^ODPS (\S+?):(\S+)$/.exec(authorization);
  if (!match) return { ok: false, status: 401, code: 'Unauthorized', message: 'The request authorization header is invalid or missing' };
  const dateText = headerValues(request.headers, 'date')[0];
  const when = dateText === undefined ? Number.NaN : Date.parse(dateText);
  const now = options.now ?? Date.now();
  if (!Number.isFinite(when)) {
    return { ok: false, status: 400, code: 'ODPS-0410031', message: 'Authentication request expired - the request has no valid Date header' };
  }
  if (Math.abs(now - when) > options.maxClockSkewMs) {
    return {
      ok: false,
      status: 400,
      code: 'ODPS-0410031',
      message: `Authentication request expired - the request's Date ${dateText} is ${Math.round((when - now) / 1000)} s from the server time ${new Date(now).toUTCString()} (at most ${Math.round(options.maxClockSkewMs / 1000)} s allowed)`,
    };
  }
  const credential = match[1]!.split('/');
  const accessId = credential[0]!;
  const secret = options.secretOf(accessId);
  if (secret === undefined) return { ok: false, status: 401, code: 'InvalidAccessKeyId', message: 'The access id does not exist', accessId };
  const key = credential.length === 5 && credential[3] === 'odps' && credential[4] === 'aliyun_v4_request' ? v4SigningKey(secret, credential[1]!, credential[2]!) : secret;
  const expected = Buffer.from(hmacSha1Base64(key, wireCanonicalString(request, options.basePath)));
  const given = Buffer.from(match[2]!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, status: 403, code: 'SignatureNotMatch', message: 'The request signature does not match', accessId };
  }
  return { ok: true, accessId };
}
