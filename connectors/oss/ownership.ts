import { TidewayError } from '../../src/api/errors.js';
import type { OssClient } from './client.js';
import { isJobDataKey, jobRecordKey, LATE_DIR, MARKER_NAME, partitionStateKey, TIDEWAY_DIR } from './layout.js';

/** Listing stops counting after this many objects: the message then says "at least". */
const COUNT_LIMIT = 10_000;

export interface TargetCheck {
  client: OssClient;
  prefix: string;
  job: string;
  allowNonEmpty: boolean;
  signal?: AbortSignal;
}

/**
 * Makes sure the prefix belongs to this job before anything is written, and records that it does.
 *
 * A prefix is the job's when it holds the job's ownership record (`_tideway/jobs/<job>.json`), or when
 * everything in it is the job's own (data objects named for the job, its records, markers and late
 * data). Otherwise the sink stops and says what is there, unless allow_non_empty_target is set. A missing
 * bucket surfaces here too, naming the bucket and the endpoint.
 */
export async function claimTarget(check: TargetCheck): Promise<void> {
  const { client, prefix, job, allowNonEmpty, signal } = check;
  const { owned, nonEmpty } = await inspectTarget(check);
  if (owned) return;
  const body = { format: 'tideway-oss-job', job, claimedAt: new Date().toISOString(), sharedWithOtherData: allowNonEmpty && nonEmpty };
  await client.put(jobRecordKey(prefix, job), Buffer.from(`${JSON.stringify(body, null, 2)}\n`), 'application/json', signal);
}

/**
 * The read-only half of claimTarget: throws OSS_TARGET_NOT_EMPTY (or a missing bucket, refused keys)
 * and says whether the job's ownership record is already there. Writes nothing.
 */
export async function inspectTarget({ client, prefix, job, allowNonEmpty, signal }: TargetCheck): Promise<{ owned: boolean; nonEmpty: boolean }> {
  const record = jobRecordKey(prefix, job);
  const first = await client.listPage(prefix, { maxKeys: 1000 }, signal);
  const nonEmpty = first.objects.length > 0;
  // The record lives under the prefix: an empty listing means there is none.
  const owned = nonEmpty && (await client.head(record, signal)) !== undefined;
  if (nonEmpty && !owned && !allowNonEmpty) {
    let count = 0;
    let example: string | undefined;
    let page = first;
    for (;;) {
      for (const object of page.objects) {
        if (isOwn(object.key, prefix, job)) continue;
        count++;
        example ??= object.key;
      }
      if (!page.next || count >= COUNT_LIMIT) break;
      page = await client.listPage(prefix, { maxKeys: 1000, continuationToken: page.next }, signal);
    }
    if (count > 0) {
      const many = count >= COUNT_LIMIT ? `at least ${count.toLocaleString('en-US')} objects` : count === 1 ? '1 object' : `${count.toLocaleString('en-US')} objects`;
      throw new TidewayError(
        'OSS_TARGET_NOT_EMPTY',
        `the oss sink's target ${client.url(prefix)} (bucket "${client.bucket}", prefix "${prefix}") already holds ${many} that job "${job}" did not write, for example "${example}". ` +
          'Tideway writes only into a prefix its job owns, so that it never mixes its files with other data or removes any of it. ' +
          'Either point path at an empty prefix, or set allow_non_empty_target: true to write next to the existing objects.',
        { context: { connector: 'oss', object: client.url(prefix), bucket: client.bucket, prefix, objects: count, example } },
      );
    }
  }
  return { owned, nonEmpty };
}

/** Objects a run of `job` leaves under its prefix. */
function isOwn(key: string, prefix: string, job: string): boolean {
  if (key === jobRecordKey(prefix, job) || key === partitionStateKey(prefix, job)) return true;
  const relative = key.slice(prefix.length);
  if (relative.endsWith(`/${MARKER_NAME}`) || relative === MARKER_NAME) return true;
  if (relative.startsWith(TIDEWAY_DIR)) return false;
  return isJobDataKey(job, key) && (relative.startsWith(LATE_DIR) || !relative.startsWith('_'));
}
