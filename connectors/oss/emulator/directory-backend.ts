import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { TidewayError } from '../../../src/api/errors.js';
import { processExists } from '../process-alive.js';
import type { BlobRef, BucketRecord, LoadedBucket, ObjectRecord, PartRecord, UploadRecord } from './records.js';
import type { StorageBackend } from './storage-backend.js';

const MARKER_FILE = 'tideway-oss-emulator.json';
const LOCK_FILE = 'emulator.lock';
const FORMAT_VERSION = 1;

/**
 * Layout under the data directory:
 *
 *   tideway-oss-emulator.json                          marks the directory as ours (format version)
 *   emulator.lock                                      pid of the emulator using the directory
 *   buckets/<bucket>/bucket.json
 *   buckets/<bucket>/objects/<hh>/<sha256(key)>.json   object record (sidecar), points at its data file
 *   buckets/<bucket>/objects/<hh>/<sha256(key)>.<version>.data
 *   buckets/<bucket>/uploads/<uploadId>/upload.json
 *   buckets/<bucket>/uploads/<uploadId>/part-<n>.json  and part-<n>.<version>.data
 *   tmp/                                               writes in progress
 *
 * File names come from a hash of the key because keys may hold anything a file name cannot (`..`,
 * empty segments, 1023 bytes of UTF-8, a key that is also a "directory" of another key). Data is
 * written to tmp/ and renamed into place before its record, and records are replaced by rename, so an
 * interrupted emulator leaves at worst unreferenced data files, which `load()` removes.
 */
export class DirectoryBackend implements StorageBackend {
  readonly kind = 'directory';
  private locked = false;

  constructor(readonly dataDir: string) {}

  private bucketDir(bucket: string): string {
    return join(this.dataDir, 'buckets', bucket);
  }

  private objectBase(bucket: string, key: string): string {
    const hash = createHash('sha256').update(key, 'utf8').digest('hex');
    return join(this.bucketDir(bucket), 'objects', hash.slice(0, 2), hash);
  }

  private uploadDir(bucket: string, uploadId: string): string {
    return join(this.bucketDir(bucket), 'uploads', uploadId);
  }

  private toRef(path: string): BlobRef {
    return relative(this.dataDir, path).split(sep).join('/');
  }

  private fromRef(ref: BlobRef): string {
    return join(this.dataDir, ...ref.split('/'));
  }

  private tmpPath(): string {
    return join(this.dataDir, 'tmp', `${randomBytes(12).toString('hex')}.tmp`);
  }

  /** Writes via a temporary file and a rename, so readers see the old or the new file, never half of one. */
  private async writeAtomic(path: string, data: string | Buffer): Promise<void> {
    const tmp = this.tmpPath();
    await writeFile(tmp, data);
    await mkdir(join(path, '..'), { recursive: true });
    await rename(tmp, path);
  }

  private async writeJson(path: string, value: unknown): Promise<void> {
    await this.writeAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
  }

  async load(): Promise<LoadedBucket[]> {
    await mkdir(this.dataDir, { recursive: true });
    await this.checkMarker();
    await this.lock();
    await rm(join(this.dataDir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(this.dataDir, 'tmp'), { recursive: true });
    await mkdir(join(this.dataDir, 'buckets'), { recursive: true });
    const loaded: LoadedBucket[] = [];
    for (const name of await listDir(join(this.dataDir, 'buckets'))) {
      const bucket = await readJson<BucketRecord>(join(this.bucketDir(name), 'bucket.json'));
      if (!bucket) continue;
      loaded.push({
        bucket,
        objects: await this.loadObjects(name),
        uploads: await this.loadUploads(name),
      });
    }
    return loaded;
  }

  /**
   * Each emulator keeps its own index in memory, so two of them writing one directory would
   * silently lose each other's objects. The lock file makes the second one fail loudly instead; a
   * lock whose process is gone is taken over.
   */
  private async lock(): Promise<void> {
    const path = join(this.dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
        this.locked = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = Number.parseInt((await readFile(path, 'utf8').catch(() => '')).trim(), 10);
      if (Number.isInteger(holder) && holder > 0 && processExists(holder)) {
        throw new TidewayError(
          'OSS_EMULATOR_DATA_DIR_LOCKED',
          `The OSS emulator data directory ${this.dataDir} is in use by process ${holder}${holder === process.pid ? ' (this process: another emulator in it is still open)' : ''}. Stop that emulator, or give this one another directory.`,
          { context: { path: this.dataDir } },
        );
      }
      await unlink(path).catch(ignoreMissing);
    }
    throw new TidewayError('OSS_EMULATOR_DATA_DIR_LOCKED', `Could not lock the OSS emulator data directory ${this.dataDir}.`, { context: { path: this.dataDir } });
  }

  async close(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    await unlink(join(this.dataDir, LOCK_FILE)).catch(ignoreMissing);
  }

  private async checkMarker(): Promise<void> {
    const markerPath = join(this.dataDir, MARKER_FILE);
    const marker = await readJson<{ format?: number }>(markerPath);
    if (marker === undefined) {
      const entries = (await listDir(this.dataDir)).filter((e) => e !== 'buckets' && e !== 'tmp' && e !== LOCK_FILE && e !== `${MARKER_FILE}.new`);
      if (entries.length > 0) {
        throw new TidewayError(
          'OSS_EMULATOR_DATA_DIR_FOREIGN',
          `The OSS emulator data directory ${this.dataDir} already holds other files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}) and no ${MARKER_FILE}. Point --data-dir at an empty or emulator-owned directory.`,
          { context: { path: this.dataDir } },
        );
      }
      // tmp/ does not exist yet (it is only trusted once the directory is known to be ours).
      await writeFile(`${markerPath}.new`, `${JSON.stringify({ format: FORMAT_VERSION, createdBy: 'tideway oss emulator' })}\n`);
      await rename(`${markerPath}.new`, markerPath);
    } else if (marker.format !== FORMAT_VERSION) {
      throw new TidewayError(
        'OSS_EMULATOR_DATA_DIR_VERSION',
        `The OSS emulator data directory ${this.dataDir} has format ${String(marker.format)}; this emulator reads format ${FORMAT_VERSION}.`,
        { context: { path: this.dataDir } },
      );
    }
  }

  private async loadObjects(bucket: string): Promise<ObjectRecord[]> {
    const objects: ObjectRecord[] = [];
    const root = join(this.bucketDir(bucket), 'objects');
    for (const fan of await listDir(root)) {
      const dir = join(root, fan);
      const files = await listDir(dir);
      const referenced = new Set<string>();
      for (const file of files.filter((f) => f.endsWith('.json'))) {
        const record = await readJson<ObjectRecord>(join(dir, file));
        if (!record) continue;
        referenced.add(record.blob);
        objects.push(record);
      }
      for (const file of files.filter((f) => f.endsWith('.data'))) {
        const path = join(dir, file);
        if (!referenced.has(this.toRef(path))) await unlink(path).catch(ignoreMissing);
      }
    }
    return objects;
  }

  private async loadUploads(bucket: string): Promise<LoadedBucket['uploads']> {
    const uploads: LoadedBucket['uploads'] = [];
    const root = join(this.bucketDir(bucket), 'uploads');
    for (const uploadId of await listDir(root)) {
      const dir = join(root, uploadId);
      const upload = await readJson<UploadRecord>(join(dir, 'upload.json'));
      if (!upload) {
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      const files = await listDir(dir);
      const parts: PartRecord[] = [];
      for (const file of files.filter((f) => /^part-\d+\.json$/.test(f))) {
        const part = await readJson<PartRecord>(join(dir, file));
        if (part) parts.push(part);
      }
      const referenced = new Set(parts.map((p) => p.blob));
      for (const file of files.filter((f) => f.endsWith('.data'))) {
        const path = join(dir, file);
        if (!referenced.has(this.toRef(path))) await unlink(path).catch(ignoreMissing);
      }
      uploads.push({ upload, parts });
    }
    return uploads;
  }

  async saveBucket(bucket: BucketRecord): Promise<void> {
    await this.writeJson(join(this.bucketDir(bucket.name), 'bucket.json'), bucket);
  }

  async removeBucket(name: string): Promise<void> {
    // Rename first so that a crash halfway through the removal cannot leave a half-loaded bucket.
    const doomed = this.tmpPath();
    await rename(this.bucketDir(name), doomed).catch(ignoreMissing);
    await rm(doomed, { recursive: true, force: true });
  }

  async saveObject(bucket: string, record: Omit<ObjectRecord, 'blob'>, source: Buffer | readonly BlobRef[]): Promise<ObjectRecord> {
    const base = this.objectBase(bucket, record.key);
    const dataPath = `${base}.${randomBytes(6).toString('hex')}.data`;
    const tmp = this.tmpPath();
    if (Buffer.isBuffer(source)) {
      await writeFile(tmp, source);
    } else if (source.length === 1 && source[0] !== undefined) {
      await copyFile(this.fromRef(source[0]), tmp);
    } else {
      await concatFiles(source.map((ref) => this.fromRef(ref)), tmp);
    }
    await mkdir(join(base, '..'), { recursive: true });
    await rename(tmp, dataPath);
    const stored: ObjectRecord = { ...record, blob: this.toRef(dataPath) };
    await this.writeJson(`${base}.json`, stored);
    return stored;
  }

  async removeObject(bucket: string, record: ObjectRecord): Promise<void> {
    await unlink(`${this.objectBase(bucket, record.key)}.json`).catch(ignoreMissing);
    await this.deleteBlob(record.blob);
  }

  async saveUpload(bucket: string, upload: UploadRecord): Promise<void> {
    await this.writeJson(join(this.uploadDir(bucket, upload.uploadId), 'upload.json'), upload);
  }

  async savePart(bucket: string, uploadId: string, part: Omit<PartRecord, 'blob'>, data: Buffer): Promise<PartRecord> {
    const dir = this.uploadDir(bucket, uploadId);
    const dataPath = join(dir, `part-${part.partNumber}.${randomBytes(6).toString('hex')}.data`);
    await this.writeAtomic(dataPath, data);
    const stored: PartRecord = { ...part, blob: this.toRef(dataPath) };
    await this.writeJson(join(dir, `part-${part.partNumber}.json`), stored);
    return stored;
  }

  async removeUpload(bucket: string, uploadId: string): Promise<void> {
    const doomed = this.tmpPath();
    await rename(this.uploadDir(bucket, uploadId), doomed).catch(ignoreMissing);
    await rm(doomed, { recursive: true, force: true });
  }

  async deleteBlob(ref: BlobRef): Promise<void> {
    await unlink(this.fromRef(ref)).catch(ignoreMissing);
  }

  async openBlob(ref: BlobRef, start: number, end: number): Promise<Readable> {
    // Opening before returning pins the bytes: a concurrent overwrite may unlink the file, but an
    // open descriptor keeps reading the version this request resolved.
    const handle = await open(this.fromRef(ref), 'r');
    if (end <= start) {
      await handle.close();
      return Readable.from([]);
    }
    return handle.createReadStream({ start, end: end - 1, autoClose: true });
  }

  async clear(): Promise<void> {
    for (const entry of ['buckets', 'tmp']) {
      const doomed = join(this.dataDir, `${entry}.${randomBytes(6).toString('hex')}.deleting`);
      await rename(join(this.dataDir, entry), doomed).catch(ignoreMissing);
      await rm(doomed, { recursive: true, force: true });
      await mkdir(join(this.dataDir, entry), { recursive: true });
    }
  }
}


function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (error) {
    ignoreMissing(error);
    return [];
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    ignoreMissing(error);
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new TidewayError('OSS_EMULATOR_DATA_CORRUPT', `The OSS emulator record ${path} is not valid JSON. Remove the file or restore it.`, {
      cause,
      context: { path },
    });
  }
}

async function concatFiles(paths: readonly string[], target: string): Promise<void> {
  const out = await open(target, 'w');
  try {
    for (const path of paths) {
      for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) await out.writeFile(chunk);
    }
  } finally {
    await out.close();
  }
}
