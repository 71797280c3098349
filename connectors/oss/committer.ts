import { TidewayError } from '../../src/api/errors.js';
import type { Json } from '../../src/api/json.js';
import type { Logger } from '../../src/api/logger.js';
import type { CommitContext, OrphanReport, SinkCommitter } from '../../src/api/sink.js';
import { multipartEtag, type ObjectHead, type OssClient, sameEtag } from './client.js';
import { attemptOfKey, attemptTag, markerKey } from './layout.js';
import { loadPartitionState, type PartitionState, savePartitionState } from './partition-state.js';
import { describeRun, liveAttempts, type RunLease } from './run-lease.js';
import { COMMIT_TOKEN_META, type OssCommitInfo } from './upload.js';
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
  /** Whether the job shares the prefix (allow_non_empty_target): its markers are `_SUCCESS.<job>`. */
  shared: boolean;
  /** The run's lease, when the sink was prepared: checked before anything becomes visible. */
  run: RunLease | undefined;
  logger: Logger;
  /** Runs at close (releases an emulator the committer started for itself). */
  onClose?: () => Promise<void>;
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
 * - removeOrphans aborts this job's uploads no checkpoint owns (other jobs' uploads are left alone), except
 *   those of a live run of the job (one that holds the job's lease and is not this one);
 * - nothing is completed, marked or aborted by a run that no longer holds the job's lease.
 */
export class OssCommitter implements SinkCommitter<OssCommitInfo, OssWriterState> {
  private state: PartitionState | undefined;

  constructor(private readonly settings: OssCommitterSettings) {}

  async commit(infos: readonly OssCommitInfo[], context: CommitContext): Promise<void> {
    this.settings.run?.assertHeld();
    await forEachLimit(infos, COMMIT_CONCURRENCY, (info) => this.completeOne(info, context.checkpointId));
    if (this.settings.byTime) await this.updateMarkers(infos, context);
    if (context.endOfInput) await this.abortJobUploads(new Set(), false);
  }

  private async completeOne(info: OssCommitInfo, checkpointId: number): Promise<void> {
    // No abort signal here: a job stopped with Ctrl-C still commits its last checkpoint.
    const { client } = this.settings;
    const outcome = await client.completeUpload(info.key, info.uploadId, info.parts);
    if (outcome === 'completed') return;
    // OSS no longer knows the upload: an earlier attempt of this commit completed it (a lost answer, or a
    // crash before the checkpoint was acknowledged), or something aborted it. The object tells which.
    const found = await client.head(info.key);
    if (found && isCommittedBy(found, info)) return;
    const url = client.url(info.key);
    const identity = typeof info.token !== 'string' ? `${info.bytes} bytes with ETag ${multipartEtag(info.parts)}` : `x-oss-meta-${COMMIT_TOKEN_META}: ${info.token}`;
    const what = found
      ? `the object there does not carry this upload's identity (${identity}): it was replaced after the commit, or written by something else`
      : 'no object exists there: something outside this job (a lifecycle rule, another tool, a person) aborted the upload before it was completed';
    throw new TidewayError(
      'OSS_COMMIT_LOST',
      `checkpoint ${checkpointId} owns ${url} (multipart upload ${info.uploadId}, ${info.rows} row${info.rows === 1 ? '' : 's'}), but OSS no longer has that upload and ${what}. ` +
        `Those rows are not in the target, and the checkpoint has already moved past them, so resuming cannot bring them back. ` +
        `Check first that no other job or lifecycle rule removes uploads under ${client.url(this.settings.prefix)}; then rewrite this job's output once with ` +
        '--fresh and data_save_mode: overwrite (it removes every object this job wrote before, then writes all rows again; --fresh with append would leave the rows committed so far twice)',
      { context: { connector: 'oss', object: url, checkpoint: checkpointId, uploadId: info.uploadId } },
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
    this.settings.run?.assertHeld();
    const complete = through === undefined ? [] : Object.entries(state.pending).filter(([, end]) => end <= through);
    await forEachLimit(complete, COMMIT_CONCURRENCY, async ([slice]) => {
      await this.settings.client.put(markerKey(this.settings.prefix, slice, this.settings.job, this.settings.shared), Buffer.alloc(0), 'application/octet-stream');
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

  /**
   * Aborts (unless dryRun) every upload of this job under the prefix that is not in `keep` and does not
   * belong to another live run of the job. Live runs are read before and after the listing: a run that
   * started meanwhile wrote its lease before its first upload, so the second read knows it.
   */
  private async abortJobUploads(keep: ReadonlySet<string>, dryRun: boolean): Promise<string[]> {
    const { client, prefix, job, run, logger } = this.settings;
    if (!dryRun) run?.assertHeld();
    const before = await liveAttempts(client, prefix, job, undefined, run?.epoch);
    const candidates: { key: string; uploadId: string; attempt: string }[] = [];
    for await (const upload of client.listUploads(prefix)) {
      const attempt = attemptOfKey(job, upload.key);
      if (attempt === undefined || keep.has(uploadRef(upload.key, upload.uploadId))) continue;
      candidates.push({ ...upload, attempt });
    }
    const live = new Map([...before, ...(await liveAttempts(client, prefix, job, undefined, run?.epoch))]);
    if (run) live.delete(attemptTag(run.runId));
    const orphans = candidates.filter((c) => !live.has(c.attempt));
    const spared = candidates.length - orphans.length;
    if (spared > 0) {
      logger.warn(`left ${spared} multipart upload(s) alone: they belong to a live run of job "${job}"`, { runs: [...live.values()].map(describeRun) });
    }
    if (!dryRun) await forEachLimit(orphans, COMMIT_CONCURRENCY, async (o) => void (await client.abortUpload(o.key, o.uploadId)));
    return orphans.map((o) => `${client.url(o.key)} (multipart upload ${o.uploadId})`);
  }

  async close(): Promise<void> {
    await this.settings.onClose?.();
  }
}

/**
 * Whether `found` is the object `info`'s upload became. By the commit token the upload set as metadata at
 * initiate: a value of ours, so it does not depend on how OSS computes a multipart ETag. Commit infos from
 * before tokens existed fall back to size and the multipart ETag formula.
 */
export function isCommittedBy(found: ObjectHead, info: OssCommitInfo): boolean {
  if (typeof info.token === 'string') return found.meta[COMMIT_TOKEN_META] === info.token;
  return found.size === info.bytes && sameEtag(found.etag, multipartEtag(info.parts));
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
