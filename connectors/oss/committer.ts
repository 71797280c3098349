import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import type { Logger } from '../../src/api/logger.js';
import type { CommitContext, OrphanReport, SinkCommitter } from '../../src/api/sink.js';
import { multipartEtag, type OssClient, sameEtag } from './client.js';
import { isJobDataKey, markerKey } from './layout.js';
import { loadPartitionState, type PartitionState, savePartitionState } from './partition-state.js';
import type { OssCommitInfo } from './upload.js';
import type { OssWriterState } from './writer.js';

/** Requests the committer runs at once (completes, aborts, markers). */
const COMMIT_CONCURRENCY = 8;

export interface OssCommitterSettings {
  client: OssClient;
  prefix: string;
  job: string;
  mode: 'batch' | 'streaming';
  /** Whether the sink partitions by time (and so writes completion markers). */
  byTime: boolean;
  logger: Logger;
}

/**
 * Makes a checkpoint's uploads visible and declares time slices complete.
 *
 * - commit completes each upload; an upload OSS no longer knows is accepted only if the object exists with
 *   the size and multipart ETag its parts give (a previous commit completed it), so commit is idempotent;
 * - then, for time partitioning, a slice gets its `_SUCCESS` marker once input has ended, or (streaming)
 *   once every writer's watermark has passed the slice's end. Data of a checkpoint is completed before
 *   any marker of that checkpoint is written, and a checkpoint never marks the slice that is still open;
 * - at the end of input, any upload of this job still in progress under the prefix is aborted;
 * - removeOrphans aborts this job's uploads no checkpoint owns (other jobs' uploads are left alone).
 */
export class OssCommitter implements SinkCommitter<OssCommitInfo, OssWriterState> {
  private state: PartitionState | undefined;

  constructor(private readonly settings: OssCommitterSettings) {}

  async commit(infos: readonly OssCommitInfo[], context: CommitContext): Promise<void> {
    await forEachLimit(infos, COMMIT_CONCURRENCY, (info) => this.completeOne(info, context.checkpointId));
    if (this.settings.byTime) await this.updateMarkers(infos, context);
    if (context.endOfInput) await this.abortJobUploads(new Set(), false);
  }

  private async completeOne(info: OssCommitInfo, checkpointId: number): Promise<void> {
    // No abort signal here: a job stopped with Ctrl-C still commits its last checkpoint.
    const { client } = this.settings;
    const outcome = await client.completeUpload(info.key, info.uploadId, info.parts);
    if (outcome === 'completed') return;
    const found = await client.head(info.key);
    const expected = multipartEtag(info.parts);
    if (found && found.size === info.bytes && sameEtag(found.etag, expected)) return;
    const what = found
      ? `the object there has ${found.size} bytes and ETag ${found.etag}, not the ${info.bytes} bytes and ETag ${expected} of the upload`
      : 'no object exists there';
    throw new TidewayError(
      'OSS_COMMIT_LOST',
      `checkpoint ${checkpointId} owns ${client.url(info.key)} (upload ${info.uploadId}), but OSS no longer has that upload and ${what}; something outside this job aborted the upload or changed the object. Run the job with --fresh to write the data again`,
      { context: { connector: 'oss', object: client.url(info.key), checkpoint: checkpointId } },
    );
  }

  private async loadState(): Promise<PartitionState> {
    this.state ??= await loadPartitionState(this.settings.client, this.settings.prefix, this.settings.job);
    return this.state;
  }

  private async updateMarkers(infos: readonly OssCommitInfo[], context: CommitContext): Promise<void> {
    const state = await this.loadState();
    let changed = false;
    for (const info of infos) {
      if (info.late || info.slice === null || info.sliceEnd === null) continue;
      if (state.pending[info.slice] === undefined) {
        state.pending[info.slice] = info.sliceEnd;
        changed = true;
      }
    }
    const through = context.endOfInput ? Infinity : this.settings.mode === 'streaming' ? minWatermark(context.writerStates) : undefined;
    const complete = through === undefined ? [] : Object.entries(state.pending).filter(([, end]) => end <= through);
    await forEachLimit(complete, COMMIT_CONCURRENCY, async ([slice]) => {
      await this.settings.client.put(markerKey(this.settings.prefix, slice), Buffer.alloc(0), 'application/octet-stream');
    });
    for (const [slice, end] of complete) {
      delete state.pending[slice];
      state.markedThrough = state.markedThrough === null ? end : Math.max(state.markedThrough, end);
      state.markers++;
      changed = true;
    }
    if (complete.length > 0) {
      this.settings.logger.debug('time slices complete', { checkpoint: context.checkpointId, slices: complete.map(([slice]) => slice) });
    }
    if (changed) await savePartitionState(this.settings.client, this.settings.prefix, state);
  }

  async abort(infos: readonly OssCommitInfo[]): Promise<void> {
    await forEachLimit(infos, COMMIT_CONCURRENCY, async (info) => {
      await this.settings.client.abortUpload(info.key, info.uploadId);
    });
  }

  async removeOrphans({ keep, dryRun }: { keep: readonly OssCommitInfo[]; dryRun: boolean }): Promise<OrphanReport> {
    return { removed: await this.abortJobUploads(new Set(keep.map((k) => uploadRef(k.key, k.uploadId))), dryRun) };
  }

  /** Aborts (unless dryRun) every upload of this job under the prefix that is not in `keep`. */
  private async abortJobUploads(keep: ReadonlySet<string>, dryRun: boolean): Promise<string[]> {
    const { client, prefix, job } = this.settings;
    const orphans: { key: string; uploadId: string }[] = [];
    for await (const upload of client.listUploads(prefix)) {
      if (!isJobDataKey(job, upload.key) || keep.has(uploadRef(upload.key, upload.uploadId))) continue;
      orphans.push(upload);
    }
    if (!dryRun) await forEachLimit(orphans, COMMIT_CONCURRENCY, async (o) => void (await client.abortUpload(o.key, o.uploadId)));
    return orphans.map((o) => `${client.url(o.key)} (multipart upload ${o.uploadId})`);
  }

  async close(): Promise<void> {}
}

function uploadRef(key: string, uploadId: string): string {
  return `${key}\u0000${uploadId}`;
}

/**
 * The smallest watermark among the writers at a checkpoint: a writer whose input ended counts as
 * infinitely late, a writer with no watermark yet (or no state) holds every slice open.
 */
export function minWatermark(states: readonly (Json | undefined)[]): number | undefined {
  if (states.length === 0) return undefined;
  let min = Infinity;
  for (const state of states) {
    if (!state || typeof state !== 'object' || Array.isArray(state)) return undefined;
    const s = state as Partial<OssWriterState>;
    if (s.ended === true) continue;
    if (typeof s.watermark !== 'number') return undefined;
    min = Math.min(min, s.watermark);
  }
  return min;
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
