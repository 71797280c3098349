import { isIP } from 'node:net';
import { OssError } from './oss-error.js';

/**
 * How the emulator finds the bucket: `host` from the first label of the Host header (virtual-hosted
 * style, what ali-oss sends for an IP endpoint), `path` from the first path segment (`sldEnable`),
 * `auto` tries both in that order.
 */
export type RouteMode = 'auto' | 'host' | 'path';

/** One way to read a request's target. */
export interface RouteCandidate {
  style: 'host' | 'path' | 'cname';
  /** Undefined for service-level requests (ListBuckets). */
  bucket: string | undefined;
  /** Undefined for bucket-level requests. Decoded: the raw UTF-8 key. */
  key: string | undefined;
}

/** The region endpoint itself (no bucket label), e.g. when a hosts-file entry points it here. */
const SERVICE_HOST = /^oss-[a-z0-9-]+\.aliyuncs\.com$/;

function hostName(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(1, hostHeader.indexOf(']'));
  const colon = hostHeader.lastIndexOf(':');
  return (colon >= 0 ? hostHeader.slice(0, colon) : hostHeader).toLowerCase();
}

/** The bucket named by a virtual-hosted Host header, or undefined when the Host names no bucket. */
export function bucketFromHost(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const name = hostName(hostHeader);
  if (isIP(name) !== 0 || name === 'localhost' || SERVICE_HOST.test(name)) return undefined;
  const labels = name.split('.');
  if (labels.length < 2) return undefined;
  // ali-oss sends `.oss-cn-hangzhou.aliyuncs.com` (an empty first label) for service requests.
  return labels[0] === '' ? undefined : labels[0];
}

function decode(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new OssError('InvalidArgument', `The request path is not valid percent-encoding: ${raw}`);
  }
}

function pathStyle(rawPath: string): RouteCandidate {
  const rest = rawPath.replace(/^\//, '');
  if (rest === '') return { style: 'path', bucket: undefined, key: undefined };
  const slash = rest.indexOf('/');
  if (slash < 0) return { style: 'path', bucket: decode(rest), key: undefined };
  const key = rest.slice(slash + 1);
  return { style: 'path', bucket: decode(rest.slice(0, slash)), key: key === '' ? undefined : decode(key) };
}

function keyOnly(rawPath: string): string | undefined {
  const key = rawPath.replace(/^\//, '');
  return key === '' ? undefined : decode(key);
}

/**
 * Every plausible reading of a request's target, most likely first. More than one exists because
 * ali-oss sends the bucket twice (Host and path) for an IP endpoint with `sldEnable`, and not at all
 * with `cname`; the signature, which always covers the bucket, then decides (see `authenticate`).
 */
export function routeCandidates(
  mode: RouteMode,
  hostHeader: string | undefined,
  rawPath: string,
  defaultBucket: string | undefined,
): RouteCandidate[] {
  const candidates: RouteCandidate[] = [];
  const hostBucket = mode === 'path' ? undefined : bucketFromHost(hostHeader);
  if (hostBucket !== undefined) {
    candidates.push({ style: 'host', bucket: hostBucket, key: keyOnly(rawPath) });
    const path = pathStyle(rawPath);
    if (mode === 'auto' && path.bucket === hostBucket) candidates.push(path);
  } else if (mode !== 'host') {
    candidates.push(pathStyle(rawPath));
  } else if (keyOnly(rawPath) === undefined) {
    candidates.push({ style: 'host', bucket: undefined, key: undefined });
  }
  if (hostBucket === undefined && defaultBucket !== undefined) {
    candidates.push({ style: 'cname', bucket: defaultBucket, key: keyOnly(rawPath) });
  }
  if (candidates.length === 0) {
    throw new OssError('InvalidArgument', `The Host header ${hostHeader ?? '(none)'} names no bucket and no default bucket is configured`);
  }
  return candidates;
}
