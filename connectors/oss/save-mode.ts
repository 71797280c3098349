import { TidewayError } from '../../src/api/errors.js';
import type { Logger } from '../../src/api/logger.js';
import type { OssClient } from './client.js';
import { attemptOfKey, attemptTag, markerName, partitionStateKey } from './layout.js';
import type { OssSinkOptions } from './options.js';

export type DataSaveMode = OssSinkOptions['data_save_mode'];

export interface SaveModeSettings {
  client: OssClient;
  prefix: string;
  job: string;
  /** This run's attempt id: its own objects are never earlier output. */
  attemptId: string;
  mode: DataSaveMode;
  /** Whether the job shares the prefix (allow_non_empty_target): its markers are then `_SUCCESS.<job>`. */
  shared: boolean;
  logger: Logger;
  signal?: AbortSignal;
}

/** What a job committed under its prefix in earlier runs. */
export interface EarlierOutput {
  /** Data objects (also under `_late/`) named for the job by another attempt. */
  data: string[];
  /** The job's completion markers and its partition state. */
  bookkeeping: string[];
}

/** Lists what `job` committed under the prefix in runs other than `attemptId`. Read-only. */
export async function findEarlierOutput(client: OssClient, prefix: string, job: string, attemptId: string, shared: boolean, signal?: AbortSignal): Promise<EarlierOutput> {
  const own = attemptTag(attemptId);
  const marker = markerName(job, shared);
  const state = partitionStateKey(prefix, job);
  const out: EarlierOutput = { data: [], bookkeeping: [] };
  for await (const object of client.listAll(prefix, signal)) {
    const attempt = attemptOfKey(job, object.key);
    if (attempt !== undefined) {
      if (attempt !== own) out.data.push(object.key);
    } else if (object.key === state || object.key.slice(object.key.lastIndexOf('/') + 1) === marker) {
      out.bookkeeping.push(object.key);
    }
  }
  return out;
}

/**
 * data_save_mode, for a run that starts from scratch (the engine gave writer 0 no state to restore: no
 * checkpoint, or --fresh). A resumed run never comes here: what its earlier attempts committed is part of
 * the output it is completing.
 *
 * - append: objects of earlier runs stay next to the new ones; the run logs how many.
 * - error: stops with OSS_TARGET_HAS_OUTPUT, before anything is written, when the job committed data objects
 *   there before.
 * - overwrite: removes exactly those data objects, the job's completion markers and its partition state.
 *   Objects of other jobs and of this run are never touched.
 */
export async function applySaveMode(settings: SaveModeSettings): Promise<void> {
  const { client, prefix, job, attemptId, mode, shared, logger, signal } = settings;
  const earlier = await findEarlierOutput(client, prefix, job, attemptId, shared, signal);
  if (mode === 'append') {
    // Said plainly, so that `run --fresh` never doubles the output without a word.
    if (earlier.data.length > 0) {
      logger.info(`data_save_mode append: ${earlier.data.length} data object(s) job "${job}" committed in earlier runs stay under ${client.url(prefix)}, next to this run's output`, {
        example: earlier.data[0],
      });
    }
    return;
  }
  if (mode === 'error') {
    if (earlier.data.length === 0) return;
    const n = earlier.data.length;
    throw new TidewayError(
      'OSS_TARGET_HAS_OUTPUT',
      `${client.url(prefix)} already holds ${n} data object${n === 1 ? '' : 's'} that job "${job}" committed in an earlier run, for example "${earlier.data[0]}". ` +
        'This run starts from scratch (no checkpoint to resume, or --fresh) and data_save_mode is error, so it stops before writing anything. ' +
        'If an earlier run was stopped or crashed and its checkpoint is still there, run without --fresh to resume it (nothing is written twice). ' +
        'To replace that output, set data_save_mode: overwrite (it removes exactly those objects, then writes all rows). ' +
        'To keep it and add this run\'s rows next to it, set data_save_mode: append (rows this run reads again are then there twice).',
      { context: { connector: 'oss', object: client.url(prefix), objects: n, example: earlier.data[0] } },
    );
  }
  const remove = [...earlier.data, ...earlier.bookkeeping];
  if (remove.length === 0) return;
  await client.deleteObjects(remove, signal);
  logger.info('data_save_mode overwrite: removed what the job committed in earlier runs', { job, object: client.url(prefix), dataObjects: earlier.data.length, markersAndState: earlier.bookkeeping.length });
}
