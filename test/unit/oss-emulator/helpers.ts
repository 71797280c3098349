import { randomBytes } from 'node:crypto';
import OSS from 'ali-oss';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startOssEmulator, type OssEmulator } from '../../../connectors/oss/emulator/index.js';

/** Options ali-oss 6.23 honours that @types/ali-oss 6.23.3 does not declare. */
export interface AliOssExtraOptions {
  sldEnable?: boolean;
  retryMax?: number;
}

export type ClientOptions = Partial<OSS.Options> & AliOssExtraOptions;

/** A real ali-oss client aimed at the emulator with its first credential. */
export function clientFor(emulator: OssEmulator, bucket: string, options: ClientOptions = {}): OSS {
  const [credential] = emulator.credentials;
  if (!credential) throw new Error('the emulator has no credentials');
  return new OSS({
    endpoint: emulator.endpoint,
    accessKeyId: credential.accessKeyId,
    accessKeySecret: credential.accessKeySecret,
    region: emulator.region,
    bucket,
    ...options,
  } as OSS.Options);
}

/** ali-oss 6.23 methods and return shapes that @types/ali-oss declares wrongly or not at all. */
export interface AliOssUndeclared {
  getObjectMeta(name: string): Promise<{ status: number; res: OSS.NormalSuccessResponse }>;
  listBuckets(query: object): Promise<{ buckets: Array<{ name: string }> | null; owner: { id: string } }>;
}

export function undeclared(client: OSS): AliOssUndeclared {
  return client as unknown as AliOssUndeclared;
}

/** A bucket name no other test uses. */
export function randomBucket(prefix = 'bkt'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** The rejection of a promise, for asserting on ali-oss's error fields. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Deterministic pseudo-random bytes: distinct parts, reproducible failures. */
export function pattern(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * One emulator per test file; before each test a fresh bucket and an ali-oss client for it, handed to
 * `set`; faults cleared after each test.
 */
export function useEmulatorBed(set: (emulator: OssEmulator, bucket: string, client: OSS) => void): void {
  let emulator: OssEmulator | undefined;
  beforeAll(async () => {
    emulator = await startOssEmulator();
  });
  afterAll(async () => {
    await emulator?.close();
  });
  beforeEach(async () => {
    const bucket = randomBucket();
    await emulator!.storage.createBucket(bucket);
    set(emulator!, bucket, clientFor(emulator!, bucket));
  });
  afterEach(() => {
    emulator?.clearFaults();
  });
}
