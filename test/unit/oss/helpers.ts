import { randomBytes } from 'node:crypto';
import { Field, Int64, Schema, TimestampMillisecond, Utf8 } from 'apache-arrow';
import OSS from 'ali-oss';
import { silentLogger } from '../../../src/api/logger.js';
import { parseOptions } from '../../../src/api/options.js';
import { rowsToBatch } from '../../../src/api/rows.js';
import type { CommitContext, SinkContext, SinkWriterContext } from '../../../src/api/sink.js';
import { createDecoder } from '../../../src/formats/decoder.js';
import type { FileFormat } from '../../../src/formats/options.js';
import type { StageConfig } from '../../../src/engine/job-config.js';
import { type OssEmulator } from '../../../connectors/oss/emulator/index.js';
import { useEmulatorBed } from '../oss-emulator/helpers.js';
import { ossConnector } from '../../../connectors/oss/index.js';
import type { OssSinkOptions } from '../../../connectors/oss/options.js';
import { OssSink } from '../../../connectors/oss/sink.js';
import { isHiddenKey } from '../../../connectors/oss/layout.js';

/** A bucket name no other test uses. */
export function randomBucket(): string {
  return `tw-${randomBytes(5).toString('hex')}`;
}

/** The options of an `oss` sink or source block aimed at the emulator. */
export function ossBlock(emulator: OssEmulator, bucket: string, path: string, extra: Record<string, unknown> = {}): StageConfig {
  const [credential] = emulator.credentials;
  return { type: 'oss', endpoint: emulator.endpoint, bucket, access_key_id: credential!.accessKeyId, access_key_secret: credential!.accessKeySecret, path, ...extra };
}

/** A real ali-oss client on the emulator, for looking at what the sink left (listUploads and the like). */
export function aliClient(emulator: OssEmulator, bucket: string): OSS {
  const [credential] = emulator.credentials;
  return new OSS({ endpoint: emulator.endpoint, accessKeyId: credential!.accessKeyId, accessKeySecret: credential!.accessKeySecret, region: emulator.region, bucket });
}

/** Multipart uploads in progress under a prefix, as ali-oss's listUploads reports them. */
export async function listUploads(emulator: OssEmulator, bucket: string, prefix: string): Promise<string[]> {
  const result = await aliClient(emulator, bucket).listUploads({ prefix, 'max-uploads': 1000 } as never);
  return (result.uploads ?? []).map((u: { name: string }) => u.name);
}

/** Keys of committed data objects the sink wrote under a prefix (hidden `_...` entries and foreign objects left out). */
export function dataKeys(emulator: OssEmulator, bucket: string, prefix: string): string[] {
  return emulator.storage.keys(bucket, prefix).filter((key) => !isHiddenKey(key.slice(prefix.length)) && key.slice(key.lastIndexOf('/') + 1).startsWith('part-'));
}

function formatOfKey(key: string): FileFormat {
  if (key.endsWith('.parquet')) return 'parquet';
  if (key.endsWith('.arrow')) return 'arrow';
  if (key.endsWith('.csv') || key.endsWith('.csv.gz')) return 'csv';
  return 'jsonl';
}

/** The `id` of every row in the given objects, decoded with the formats' own decoders. */
export async function idsIn(emulator: OssEmulator, bucket: string, keys: readonly string[]): Promise<number[]> {
  const ids: number[] = [];
  for (const key of keys) {
    const bytes = await emulator.storage.read(bucket, key);
    if (!bytes) throw new Error(`${key} vanished`);
    for await (const batch of createDecoder(formatOfKey(key)).decode(new Uint8Array(bytes), { name: key })) {
      const column = batch.getChild('id')!;
      for (let i = 0; i < batch.numRows; i++) ids.push(Number(column.get(i)));
    }
  }
  return ids;
}

export async function committedIds(emulator: OssEmulator, bucket: string, prefix: string): Promise<number[]> {
  return idsIn(emulator, bucket, dataKeys(emulator, bucket, prefix));
}

/** Rows with an id, an event time and a region: the shape the partitioning tests write. */
export const eventSchema = new Schema([new Field('id', new Int64(), false), new Field('ts', new TimestampMillisecond(), true), new Field('region', new Utf8(), true)]);

export function events(rows: { id: number; at: string | null; region?: string }[]) {
  return rowsToBatch(
    eventSchema,
    rows.map((r) => ({ id: BigInt(r.id), ts: r.at === null ? null : Date.parse(r.at), region: r.region ?? 'eu' })),
  );
}

/** An OssSink built the way the engine builds it, for tests that drive writers and the committer directly. */
export function directSink(emulator: OssEmulator, bucket: string, path: string, extra: Record<string, unknown>, mode: 'batch' | 'streaming' = 'batch') {
  const { type: _type, ...raw } = ossBlock(emulator, bucket, path, extra);
  const parsed = parseOptions(ossConnector.sink!.options, raw, 'sink[0]');
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  const sink = new OssSink(parsed.value as OssSinkOptions, { jobName: 'job', mode, parallelism: 1, logger: silentLogger, baseDir: process.cwd() });
  const context = (job = 'job', attemptId = 'att1'): SinkContext => ({
    jobName: job,
    attemptId,
    sinkName: 'oss',
    parallelism: 1,
    logger: silentLogger,
    signal: new AbortController().signal,
    prepared: undefined,
    restoredCheckpointId: null,
  });
  const writerContext = (writerIndex = 0, schema = eventSchema, job = 'job', attemptId = 'att1'): SinkWriterContext => ({ ...context(job, attemptId), writerIndex, schema });
  return { sink, context, writerContext };
}

export function commitContext(checkpointId: number, writerStates: CommitContext['writerStates'] = [], endOfInput = false): CommitContext {
  return { checkpointId, endOfInput, writerStates };
}

/** One emulator per test file and a fresh bucket per test (the emulator tests' bed), handed to `set`. */
export function useOssTestBed(set: (emulator: OssEmulator, bucket: string) => void): void {
  useEmulatorBed((emulator, bucket) => set(emulator, bucket));
}
