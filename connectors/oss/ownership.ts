import { TidewayError } from '../../src/api/errors.js';
import type { OssClient } from './client.js';
import { isJobDataKey, jobRecordKey, LATE_DIR, MARKER_NAME, markerName, ownerKey, partitionStateKey, runsPrefix, TIDEWAY_DIR } from './layout.js';

/** Listing stops counting after this many objects: the message then says "at least". */
const COUNT_LIMIT = 10_000;

export interface TargetCheck {
  client: OssClient;
  prefix: string;
  job: string;
  allowNonEmpty: boolean;
  signal?: AbortSignal;
}

/** The body of `_tideway/owner.json`: the job that claimed the prefix for itself alone. */
interface OwnerRecord {
  format: 'tideway-oss-owner';
  job: string;
  claimedAt: string;
}

/**
 * Makes sure the prefix belongs to this job before anything is written, and records that it does.
 *
 * A prefix is the job's when it holds the job's record (`_tideway/jobs/<job>.json`), or when everything in
 * it is the job's own (data objects named for the job, its records, markers and late data). Otherwise the
 * sink stops and says what is there, unless allow_non_empty_target is set. A missing bucket surfaces here
 * too, naming the bucket and the endpoint.
 *
 * The claim is atomic. Without allow_non_empty_target a job first creates `_tideway/owner.json` with
 * `x-oss-forbid-overwrite`: of two jobs claiming one empty prefix at once, exactly one creates it, and the
 * other reads whose it is and stops. Then the job record (also create-only), then the prefix is listed
 * again: an object that is not the job's, written meanwhile by something that does not claim prefixes (a job
 * sharing it, another tool), makes the job withdraw its claim and stop.
 */
export async function claimTarget(check: TargetCheck): Promise<void> {
  const { client, prefix, job, allowNonEmpty, signal } = check;
  const { owned, nonEmpty } = await inspectTarget(check);
  if (owned) return;
  const created: string[] = [];
  try {
    if (!allowNonEmpty) {
      const owner: OwnerRecord = { format: 'tideway-oss-owner', job, claimedAt: new Date().toISOString() };
      if ((await client.putIfAbsent(ownerKey(prefix), encode(owner), 'application/json', signal)) === 'created') created.push(ownerKey(prefix));
      else {
        const holder = await readOwner(client, prefix, signal);
        if (holder !== job) throw claimedError(check, holder);
      }
    }
    const body = { format: 'tideway-oss-job', job, claimedAt: new Date().toISOString(), sharedWithOtherData: allowNonEmpty && nonEmpty };
    if ((await client.putIfAbsent(jobRecordKey(prefix, job), encode(body), 'application/json', signal)) === 'created') created.push(jobRecordKey(prefix, job));
    if (!allowNonEmpty) {
      const foreign = await foreignObjects(client, prefix, job, signal);
      if (foreign.count > 0) throw notEmptyError(check, foreign, ' (written while this job was claiming the prefix)');
    }
  } catch (error) {
    // Withdraw what this claim created, so that the prefix is left as it was found.
    if (created.length > 0) await client.deleteObjects(created).catch(() => undefined);
    throw error;
  }
}

/**
 * The read-only half of claimTarget: throws OSS_TARGET_NOT_EMPTY (or a missing bucket, refused keys)
 * and says whether the job's ownership record is already there. Writes nothing.
 */
export async function inspectTarget(check: TargetCheck): Promise<{ owned: boolean; nonEmpty: boolean }> {
  const { client, prefix, job, allowNonEmpty, signal } = check;
  const record = jobRecordKey(prefix, job);
  const first = await client.listPage(prefix, { maxKeys: 1000 }, signal);
  const nonEmpty = first.objects.length > 0;
  // The record lives under the prefix: an empty listing means there is none.
  const owned = nonEmpty && (await client.head(record, signal)) !== undefined;
  if (nonEmpty && !owned && !allowNonEmpty) {
    const foreign = await foreignObjects(client, prefix, job, signal, first);
    if (foreign.count > 0) throw notEmptyError(check, foreign, '');
  }
  return { owned, nonEmpty };
}

interface Foreign {
  count: number;
  example: string | undefined;
}

/** Objects under the prefix that are not `job`'s, counted up to COUNT_LIMIT. */
async function foreignObjects(client: OssClient, prefix: string, job: string, signal: AbortSignal | undefined, first?: Awaited<ReturnType<OssClient['listPage']>>): Promise<Foreign> {
  let count = 0;
  let example: string | undefined;
  let page = first ?? (await client.listPage(prefix, { maxKeys: 1000 }, signal));
  for (;;) {
    for (const object of page.objects) {
      if (isOwn(object.key, prefix, job)) continue;
      // The owner record is ours when it names this job (a claim interrupted before the job record).
      if (object.key === ownerKey(prefix) && (await readOwner(client, prefix, signal)) === job) continue;
      count++;
      example ??= object.key;
    }
    if (!page.next || count >= COUNT_LIMIT) break;
    page = await client.listPage(prefix, { maxKeys: 1000, continuationToken: page.next }, signal);
  }
  return { count, example };
}

function notEmptyError({ client, prefix, job }: TargetCheck, { count, example }: Foreign, when: string): TidewayError {
  const many = count >= COUNT_LIMIT ? `at least ${count.toLocaleString('en-US')} objects` : count === 1 ? '1 object' : `${count.toLocaleString('en-US')} objects`;
  return new TidewayError(
    'OSS_TARGET_NOT_EMPTY',
    `the oss sink's target ${client.url(prefix)} (bucket "${client.bucket}", prefix "${prefix}") already holds ${many} that job "${job}" did not write${when}, for example "${example}". ` +
      'Tideway writes only into a prefix its job owns, so that it never mixes its files with other data or removes any of it. ' +
      'Either point path at an empty prefix, or set allow_non_empty_target: true to write next to the existing objects.',
    { context: { connector: 'oss', object: client.url(prefix), bucket: client.bucket, prefix, objects: count, example } },
  );
}

function claimedError({ client, prefix, job }: TargetCheck, holder: string | undefined): TidewayError {
  const url = client.url(ownerKey(prefix));
  return new TidewayError(
    'OSS_TARGET_NOT_EMPTY',
    `the oss sink's target ${client.url(prefix)} (bucket "${client.bucket}", prefix "${prefix}") was claimed by ${holder === undefined ? 'another writer' : `job "${holder}"`} while job "${job}" was checking it (${url}). ` +
      'Tideway writes only into a prefix its job owns. Either point path at another prefix, or set allow_non_empty_target: true to write next to that job\'s objects.',
    { context: { connector: 'oss', object: url, bucket: client.bucket, prefix, owner: holder } },
  );
}

async function readOwner(client: OssClient, prefix: string, signal?: AbortSignal): Promise<string | undefined> {
  const bytes = await client.getBytes(ownerKey(prefix), signal);
  if (!bytes) return undefined;
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as Partial<OwnerRecord>;
    return typeof parsed.job === 'string' ? parsed.job : undefined;
  } catch {
    return undefined;
  }
}

function encode(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
}

/** Objects a run of `job` leaves under its prefix. */
function isOwn(key: string, prefix: string, job: string): boolean {
  if (key === jobRecordKey(prefix, job) || key === partitionStateKey(prefix, job) || key.startsWith(runsPrefix(prefix, job))) return true;
  const relative = key.slice(prefix.length);
  const base = relative.slice(relative.lastIndexOf('/') + 1);
  if (base === MARKER_NAME || base === markerName(job, true)) return true;
  if (relative.startsWith(TIDEWAY_DIR)) return false;
  return isJobDataKey(job, key) && (relative.startsWith(LATE_DIR) || !relative.startsWith('_'));
}
