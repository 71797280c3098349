import { OssError } from './oss-error.js';
import { compareBytes } from './store.js';

/** One page of a listing: entries, rolled-up common prefixes, and where the next page starts. */
export interface ListPage<T> {
  entries: T[];
  commonPrefixes: string[];
  truncated: boolean;
  /** The last entry key or common prefix returned, i.e. the marker for the next page. */
  lastMarker: string | undefined;
  /** The last entry returned, when the page ends on an entry rather than a common prefix. */
  lastEntry: T | undefined;
}

export interface ListRequest<T> {
  /** Sorted in byte order of `keyOf`. */
  items: readonly T[];
  keyOf: (item: T) => string;
  /** First index to consider; the caller has already skipped what precedes the marker. */
  start: number;
  prefix: string;
  delimiter: string;
  /** The marker as a key: a common prefix at or before it was returned by an earlier page. */
  after: string;
  maxKeys: number;
}

/**
 * Walks sorted items from `start`, keeps those under `prefix`, rolls keys that contain `delimiter`
 * after the prefix into common prefixes (each counted once against `maxKeys`), and stops at
 * `maxKeys`. `truncated` is true only when a further entry or prefix really exists.
 */
export function listPage<T>(request: ListRequest<T>): ListPage<T> {
  const { items, keyOf, prefix, delimiter, after, maxKeys } = request;
  const page: ListPage<T> = { entries: [], commonPrefixes: [], truncated: false, lastMarker: undefined, lastEntry: undefined };
  let count = 0;
  let lastPrefix: string | undefined;
  for (let i = request.start; i < items.length; i++) {
    const item = items[i] as T;
    const key = keyOf(item);
    if (!key.startsWith(prefix)) {
      // Keys sharing a prefix are contiguous in byte order: once past them, nothing else matches.
      if (compareBytes(key, prefix) > 0) break;
      continue;
    }
    if (delimiter !== '') {
      const at = key.indexOf(delimiter, prefix.length);
      if (at >= 0) {
        const common = key.slice(0, at + delimiter.length);
        if (common === lastPrefix || compareBytes(common, after) <= 0) continue;
        if (count === maxKeys) {
          page.truncated = true;
          break;
        }
        page.commonPrefixes.push(common);
        lastPrefix = common;
        page.lastMarker = common;
        page.lastEntry = undefined;
        count++;
        continue;
      }
    }
    if (count === maxKeys) {
      page.truncated = true;
      break;
    }
    page.entries.push(item);
    page.lastMarker = key;
    page.lastEntry = item;
    count++;
  }
  return page;
}

/** Index of the first item whose key sorts after `marker` (binary search). */
export function indexAfter<T>(items: readonly T[], keyOf: (item: T) => string, marker: string): number {
  if (marker === '') return 0;
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareBytes(keyOf(items[mid] as T), marker) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Index of the first item whose key sorts at or after `key` (binary search). */
export function indexAtOrAfter<T>(items: readonly T[], keyOf: (item: T) => string, key: string): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareBytes(keyOf(items[mid] as T), key) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Parses `max-keys`-style parameters: an integer in [0, limit], or the default when absent. */
export function parseLimit(name: string, value: string | null, fallback: number, limit: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) > limit) {
    throw new OssError('InvalidArgument', `Argument ${name} must be an integer between 0 and ${limit}; got ${JSON.stringify(value)}.`, {
      ArgumentName: name,
      ArgumentValue: value,
    });
  }
  return Number(value);
}

const TOKEN_TAG = 'tideway:';

/** ListObjectsV2 continuation tokens are opaque to clients; this one wraps the next marker. */
export function encodeContinuationToken(marker: string): string {
  return Buffer.from(TOKEN_TAG + marker, 'utf8').toString('base64url');
}

export function decodeContinuationToken(token: string): string {
  const decoded = Buffer.from(token, 'base64url').toString('utf8');
  if (!decoded.startsWith(TOKEN_TAG)) {
    throw new OssError('InvalidArgument', 'The continuation token provided is incorrect.', {
      ArgumentName: 'continuation-token',
      ArgumentValue: token,
    });
  }
  return decoded.slice(TOKEN_TAG.length);
}
