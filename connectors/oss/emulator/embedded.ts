import { resolve } from 'node:path';
import { OSS_EMULATOR_DEMO_CREDENTIALS, type OssCredential } from './options.js';
import { startOssEmulator, type OssEmulator } from './server.js';

export interface EmbeddedOssOptions {
  /** Local directory that holds the data; created if missing. Objects survive restarts. */
  dir: string;
  /** Buckets to create up front. Others are created on first use. */
  buckets?: readonly string[];
  /**
   * Port to listen on.
   * @default 0 (any free port)
   */
  port?: number;
}

/** What a client needs to reach an embedded emulator (the fields ali-oss takes). */
export interface EmbeddedOssConnection extends OssCredential {
  endpoint: string;
  region: string;
}

export interface EmbeddedOss extends OssEmulator {
  readonly connection: EmbeddedOssConnection;
}

/**
 * Starts an emulator for `endpoint: embedded` jobs: data kept under `dir`, the fixed demo
 * credentials, and buckets created on first use, so a job can write to "OSS" with no service and no
 * setup. Close it when the job ends; a second emulator on the same `dir` is refused while it runs.
 */
export async function startEmbeddedOss(options: EmbeddedOssOptions): Promise<EmbeddedOss> {
  const emulator = await startOssEmulator({
    port: options.port ?? 0,
    storage: { dataDir: resolve(options.dir) },
    credentials: [OSS_EMULATOR_DEMO_CREDENTIALS],
    buckets: options.buckets ?? [],
    autoCreateBuckets: true,
  });
  return {
    ...emulator,
    connection: {
      endpoint: emulator.endpoint,
      region: emulator.region,
      accessKeyId: OSS_EMULATOR_DEMO_CREDENTIALS.accessKeyId,
      accessKeySecret: OSS_EMULATOR_DEMO_CREDENTIALS.accessKeySecret,
    },
  };
}
