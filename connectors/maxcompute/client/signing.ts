import { createHmac } from 'node:crypto';

/** What ODPS V2 signing reads from a request. */
export interface SignableRequest {
  method: string;
  /** The decoded URL path, e.g. `/api/projects/p/tables/t`. */
  path: string;
  /** Query parameters; a parameter without value (`?downloads`) has the value ''. */
  query: Iterable<[string, string]>;
  /** Header values by lower-case name. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

function header(headers: SignableRequest['headers'], name: string): string {
  const value = headers[name];
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.join(',');
}

/**
 * The string ODPS V2 signs: method, Content-MD5, Content-Type and Date lines, the sorted `x-odps-*`
 * headers as `name:value` lines, then the resource path with the endpoint's base path (such as `/api`)
 * removed and every query parameter sorted by name, as `k` or `k=v`, joined by `&`.
 */
export function canonicalString(request: SignableRequest, basePath = ''): string {
  const headers: Record<string, string | readonly string[] | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  const lines = [request.method.toUpperCase(), header(headers, 'content-md5'), header(headers, 'content-type'), header(headers, 'date')];
  let out = `${lines.join('\n')}\n`;
  const odpsHeaders = Object.keys(headers)
    .filter((k) => k.startsWith('x-odps-'))
    .sort();
  for (const name of odpsHeaders) out += `${name}:${header(headers, name)}\n`;
  const base = basePath.replace(/\/+$/, '');
  let resource = base && request.path.startsWith(base) ? request.path.slice(base.length) : request.path;
  if (resource === '') resource = '/';
  const params = new Map<string, string>();
  for (const [k, v] of request.query) if (!params.has(k)) params.set(k, v);
  if (params.size > 0) {
    const keys = [...params.keys()].sort();
    resource += `?${keys.map((k) => (params.get(k) ? `${k}=${params.get(k)}` : k)).join('&')}`;
  }
  return out + resource;
}

/** base64(HMAC-SHA1(secret, canonical)). */
export function sign(secret: string, canonical: string): string {
  return createHmac('sha1', secret).update(canonical, 'utf8').digest('base64');
}

/** The `Authorization` header value: `ODPS <accessId>:<signature>`. */
export function authorization(accessId: string, secret: string, request: SignableRequest, basePath = ''): string {
  return `ODPS ${accessId}:${sign(secret, canonicalString(request, basePath))}`;
}
