import { TidewayError } from '../../../src/api/errors.js';
import type { JournalEntry } from './journal.js';
import type { RouteMode } from './routing.js';

/** An access key pair the emulator accepts. */
export interface OssCredential {
  accessKeyId: string;
  accessKeySecret: string;
}

/**
 * The pair the emulator accepts when none is configured, and the one `startEmbeddedOss` uses.
 * Not a secret: it only opens a local emulator.
 */
export const OSS_EMULATOR_DEMO_CREDENTIALS: Readonly<OssCredential> = Object.freeze({
  accessKeyId: 'tideway-demo-ak',
  accessKeySecret: 'tideway-demo-secret',
});

/** Options of `startOssEmulator`. Every field is optional. */
export interface OssEmulatorOptions {
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * TCP port; 0 picks a free one (read it back from `emulator.port`).
   * @default 0
   */
  port?: number;
  /** Shorthand for a single credential pair; combined with `credentials` when both are given. */
  accessKeyId?: string;
  accessKeySecret?: string;
  /**
   * Every key pair the emulator accepts. All of them act as one account that owns every bucket.
   * @default [OSS_EMULATOR_DEMO_CREDENTIALS] when no pair is given at all
   */
  credentials?: readonly OssCredential[];
  /**
   * `'memory'`, or a data directory whose objects survive a restart of the emulator.
   * @default 'memory'
   */
  storage?: 'memory' | { dataDir: string };
  /** Buckets that exist from the start (created if missing; kept if a data directory has them). */
  buckets?: readonly string[];
  /**
   * Create a missing bucket on its first use instead of answering NoSuchBucket.
   * @default false
   */
  autoCreateBuckets?: boolean;
  /**
   * Where the bucket comes from: Host (`host`), path (`path`), or whichever the signature confirms (`auto`).
   * @default 'auto'
   */
  route?: RouteMode;
  /** The bucket for requests that name none (ali-oss with `cname: true`). */
  defaultBucket?: string;
  /**
   * Verify signatures. With `false` any request is accepted, signed or not.
   * @default true
   */
  auth?: boolean;
  /**
   * Largest accepted difference between the request's date and the emulator's clock.
   * @default 900000 (15 minutes, as OSS)
   */
  maxClockSkewMs?: number;
  /**
   * Region the buckets report.
   * @default 'oss-cn-hangzhou'
   */
  region?: string;
  /**
   * Minimum size of every part but the last at CompleteMultipartUpload. Lowering it makes tests
   * faster but lets through uploads real OSS refuses with EntityTooSmall.
   * @default 102400 (100 KiB, as OSS)
   */
  minPartSize?: number;
  /**
   * Largest request body accepted; larger ones get EntityTooLarge. Bodies are held in memory.
   * @default 5 GiB
   */
  maxBodyBytes?: number;
  /**
   * The emulator's clock (epoch ms): Last-Modified, upload times and the skew check read it.
   * @default Date.now
   */
  clock?: () => number;
  /**
   * The account that owns every bucket, as listings report it.
   * @default { id: '1000000000000000', displayName: '1000000000000000' }
   */
  owner?: { id: string; displayName: string };
  /**
   * Journal entries kept; older ones are dropped.
   * @default 10000
   */
  journalLimit?: number;
  /** Called with each journal entry as its request ends (the CLI logs requests through it). */
  onRequest?: (entry: JournalEntry) => void;
}

/** Options with every default applied and checked. */
export interface ResolvedOssEmulatorOptions {
  host: string;
  port: number;
  credentials: ReadonlyMap<string, string>;
  storage: 'memory' | { dataDir: string };
  buckets: readonly string[];
  autoCreateBuckets: boolean;
  route: RouteMode;
  defaultBucket: string | undefined;
  auth: boolean;
  maxClockSkewMs: number;
  region: string;
  minPartSize: number;
  maxBodyBytes: number;
  clock: () => number;
  owner: { id: string; displayName: string };
  journalLimit: number;
  onRequest: ((entry: JournalEntry) => void) | undefined;
}

function invalid(message: string): never {
  throw new TidewayError('OSS_EMULATOR_OPTIONS_INVALID', `Invalid OSS emulator option: ${message}`);
}

export function resolveOptions(options: OssEmulatorOptions): ResolvedOssEmulatorOptions {
  const pairs: OssCredential[] = [...(options.credentials ?? [])];
  if (options.accessKeyId !== undefined || options.accessKeySecret !== undefined) {
    if (!options.accessKeyId || !options.accessKeySecret) invalid('accessKeyId and accessKeySecret must be given together');
    pairs.unshift({ accessKeyId: options.accessKeyId, accessKeySecret: options.accessKeySecret });
  }
  if (pairs.length === 0) pairs.push(OSS_EMULATOR_DEMO_CREDENTIALS);
  const credentials = new Map<string, string>();
  for (const pair of pairs) {
    if (!pair.accessKeyId || !pair.accessKeySecret) invalid('every credential needs a non-empty accessKeyId and accessKeySecret');
    const known = credentials.get(pair.accessKeyId);
    if (known !== undefined && known !== pair.accessKeySecret) invalid(`access key id ${pair.accessKeyId} is given twice with different secrets`);
    credentials.set(pair.accessKeyId, pair.accessKeySecret);
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) invalid(`port must be an integer in 0..65535; got ${port}`);
  const route = options.route ?? 'auto';
  if (!['auto', 'host', 'path'].includes(route)) invalid(`route must be auto, host or path; got ${String(route)}`);
  const storage = options.storage ?? 'memory';
  if (storage !== 'memory' && (typeof storage !== 'object' || !storage.dataDir)) invalid("storage must be 'memory' or { dataDir }");
  const positive = (name: string, value: number | undefined, fallback: number): number => {
    const v = value ?? fallback;
    if (!Number.isFinite(v) || v < 0) invalid(`${name} must be a non-negative number; got ${v}`);
    return v;
  };
  return {
    host: options.host ?? '127.0.0.1',
    port,
    credentials,
    storage,
    buckets: options.buckets ?? [],
    autoCreateBuckets: options.autoCreateBuckets ?? false,
    route,
    defaultBucket: options.defaultBucket,
    auth: options.auth ?? true,
    maxClockSkewMs: positive('maxClockSkewMs', options.maxClockSkewMs, 15 * 60 * 1000),
    region: options.region ?? 'oss-cn-hangzhou',
    minPartSize: positive('minPartSize', options.minPartSize, 100 * 1024),
    maxBodyBytes: positive('maxBodyBytes', options.maxBodyBytes, 5 * 1024 ** 3),
    clock: options.clock ?? Date.now,
    owner: options.owner ?? { id: '1000000000000000', displayName: '1000000000000000' },
    journalLimit: positive('journalLimit', options.journalLimit, 10_000),
    onRequest: options.onRequest,
  };
}
