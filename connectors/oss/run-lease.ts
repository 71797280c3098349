import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describeError, TidewayError } from '../../src/api/errors.js';
import type { Logger } from '../../src/api/logger.js';
import type { OssClient } from './client.js';
import { attemptTag, runKey, runsPrefix } from './layout.js';
import { processExists } from './process-alive.js';

/**
 * One run of a job, as its lease record in the bucket (`<prefix>/_tideway/runs/<job>/<generation>.json`)
 * says. A run is live while its lease has not expired and it has not released it.
 */
export interface RunRecord {
  format: 'tideway-oss-run';
  job: string;
  /** The engine's attempt id of the run. */
  runId: string;
  /** The attempt tag in the names of the run's data objects (see layout.ts). */
  attempt: string;
  generation: number;
  host: string;
  /** The kernel's boot id where there is one: with the host, tells this machine's processes apart from another's. */
  boot: string | null;
  pid: number;
  /**
   * The fencing epoch of the coordinator that started the run (cluster mode; see `SinkContext.epoch`), or
   * null for a run without one. Absent in records of earlier versions: read as null.
   */
  epoch?: number | null;
  startedAt: string;
  renewedAt: string;
  /** ms since the epoch, by the holder's clock. */
  expiresAt: number;
  leaseMs: number;
  releasedAt: string | null;
}

export interface LeaseSettings {
  client: OssClient;
  prefix: string;
  job: string;
  runId: string;
  /** How long a lease lasts without renewal (ms). It is renewed every third of that. */
  leaseMs: number;
  logger: Logger;
  /** The run's fencing epoch (`SinkContext.epoch`), when its coordinator has one. */
  epoch?: number;
}

/** How many times a run tries to create the next generation (losing only to runs that die at once) before it gives up. */
const CLAIM_ATTEMPTS = 3;

const machine = { host: hostname(), boot: readBootId() };

function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}


/**
 * Whether the run holding `record` is still alive, as a run with fencing epoch `epoch` sees it: it has not
 * released the lease, the lease has not expired, it was not started by an earlier coordinator of the job than
 * the one asking (a lower epoch: that coordinator is fenced, whatever host it is on, see `SinkContext.epoch`),
 * and, when it ran on this machine, its process still exists (so a crashed run on the same machine does not
 * block its own resume until the lease expires).
 */
export function isLive(record: RunRecord, now = Date.now(), epoch?: number): boolean {
  if (record.releasedAt !== null || now >= record.expiresAt) return false;
  if (superseded(record, epoch)) return false;
  const sameMachine = record.host === machine.host && record.boot === machine.boot && machine.boot !== null;
  return !sameMachine || processExists(record.pid);
}

/** Whether `record`'s run was started by an earlier coordinator of the job than the one with `epoch`. */
function superseded(record: RunRecord, epoch: number | undefined): boolean {
  return epoch !== undefined && typeof record.epoch === 'number' && record.epoch < epoch;
}

/** The latest run record of `job` (the highest generation), or undefined when the job never ran here. */
export async function latestRun(client: OssClient, prefix: string, job: string, signal?: AbortSignal): Promise<RunRecord | undefined> {
  let latest: string | undefined;
  for await (const object of client.listAll(runsPrefix(prefix, job), signal)) {
    if (object.key.endsWith('.json') && (latest === undefined || object.key > latest)) latest = object.key;
  }
  if (latest === undefined) return undefined;
  const bytes = await client.getBytes(latest, signal);
  // Deleted between the listing and the read: a newer run cleaned up older generations; look again.
  if (!bytes) return latestRun(client, prefix, job, signal);
  return parseRun(bytes, client.url(latest));
}

function parseRun(bytes: Buffer, where: string): RunRecord {
  try {
    const record = JSON.parse(bytes.toString('utf8')) as RunRecord;
    if (record.format === 'tideway-oss-run' && typeof record.generation === 'number' && typeof record.expiresAt === 'number') return record;
  } catch {
    // reported below
  }
  throw new TidewayError('OSS_RUN_RECORD_INVALID', `${where} is not a Tideway run record; it was changed outside Tideway. Remove it if no run of the job is going on`, {
    context: { connector: 'oss', object: where },
  });
}

/** "run <id> on <host> (pid <pid>), started <time>, lease renewed <time>, expires <time>" */
export function describeRun(record: RunRecord): string {
  const coordinator = typeof record.epoch === 'number' ? `, cluster coordinator epoch ${record.epoch}` : '';
  return `run ${record.runId} on ${record.host} (pid ${record.pid}${coordinator}), started ${record.startedAt}, lease renewed ${record.renewedAt}, expiring ${new Date(record.expiresAt).toISOString()}`;
}

function runningError(client: OssClient, prefix: string, record: RunRecord): TidewayError {
  const key = runKey(prefix, record.job, record.generation);
  return new TidewayError(
    'OSS_JOB_RUNNING',
    `job "${record.job}" is already running against ${client.url(prefix)}: ${describeRun(record)} (${client.url(key)}). ` +
      'Two runs of one job would abort each other\'s uploads and write every row twice, so this run stops before writing anything. ' +
      `Wait for that run to finish or stop it. If it is dead (its machine is gone), start again after its lease expires at ${new Date(record.expiresAt).toISOString()}; lease_timeout sets how long a lease lasts`,
    { context: { connector: 'oss', object: client.url(key), runId: record.runId, host: record.host } },
  );
}

/**
 * OSS ignores `x-oss-forbid-overwrite` on a bucket whose versioning is enabled or suspended: every create-only
 * write then succeeds, so neither the prefix claim nor the lease can tell two starting runs apart. Says so
 * (once per run, as a warning: versioning is a legitimate choice, and a run alone is unaffected). A key that
 * may not read the versioning state only skips the warning.
 */
export async function warnIfVersioned(client: OssClient, logger: Logger, signal?: AbortSignal): Promise<void> {
  let status: string | undefined;
  try {
    status = await client.versioning(signal);
  } catch (error) {
    logger.debug('could not read the bucket\'s versioning state', { error: describeError(error) });
    return;
  }
  if (status === undefined) return;
  logger.warn(
    `bucket "${client.bucket}" has versioning ${status}: OSS ignores x-oss-forbid-overwrite there, so two runs of this job (or two jobs claiming one prefix) started at the same moment are not refused. Start one run at a time, or write to a bucket without versioning`,
    { bucket: client.bucket },
  );
}

/** Read-only: throws OSS_JOB_RUNNING when a run of the job holds a live lease (for check --connect). */
export async function assertNoLiveRun(client: OssClient, prefix: string, job: string, signal?: AbortSignal): Promise<void> {
  const latest = await latestRun(client, prefix, job, signal);
  if (latest && isLive(latest)) throw runningError(client, prefix, latest);
}

/** The attempt tags of the runs of `job` that are live now (at most one, unless leases were tampered with). */
export async function liveAttempts(client: OssClient, prefix: string, job: string, signal?: AbortSignal, epoch?: number): Promise<Map<string, RunRecord>> {
  const latest = await latestRun(client, prefix, job, signal);
  return new Map(latest && isLive(latest, Date.now(), epoch) ? [[latest.attempt, latest]] : []);
}

/**
 * The lease that fences concurrent runs of one job. A run takes it in the sink's prepare by creating the
 * next generation's record with `x-oss-forbid-overwrite` (exactly one of two racing runs creates it), after
 * checking that the latest generation's run is not live. The holder renews it every third of the lease time;
 * it stops counting as held as soon as a renewal finds a newer generation (another run took over an expired
 * lease) or the lease expires by the local clock without a successful renewal. The committer asks `assertHeld`
 * before every commit, so a run that lost its lease makes nothing visible.
 */
export class RunLease {
  private record: RunRecord;
  private state: 'held' | 'lost' | 'released' = 'held';
  private lostReason = '';
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private releasing: Promise<void> | undefined;

  private constructor(
    private readonly settings: LeaseSettings,
    record: RunRecord,
  ) {
    this.record = record;
  }

  get runId(): string {
    return this.settings.runId;
  }

  get generation(): number {
    return this.record.generation;
  }

  /** The run's fencing epoch, when its coordinator has one. */
  get epoch(): number | undefined {
    return this.settings.epoch;
  }

  /** Takes the job's lease, or throws OSS_JOB_RUNNING naming the live run that holds it. */
  static async acquire(settings: LeaseSettings, signal?: AbortSignal): Promise<RunLease> {
    const { client, prefix, job } = settings;
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
      const latest = await latestRun(client, prefix, job, signal);
      if (latest && isLive(latest, Date.now(), settings.epoch)) throw runningError(client, prefix, latest);
      const now = Date.now();
      const record: RunRecord = {
        format: 'tideway-oss-run',
        job,
        runId: settings.runId,
        attempt: attemptTag(settings.runId),
        generation: (latest?.generation ?? 0) + 1,
        host: machine.host,
        boot: machine.boot,
        pid: process.pid,
        epoch: settings.epoch ?? null,
        startedAt: new Date(now).toISOString(),
        renewedAt: new Date(now).toISOString(),
        expiresAt: now + settings.leaseMs,
        leaseMs: settings.leaseMs,
        releasedAt: null,
      };
      const key = runKey(prefix, job, record.generation);
      if ((await client.putIfAbsent(key, encode(record), 'application/json', signal)) === 'created') {
        if (latest && superseded(latest, settings.epoch)) {
          settings.logger.info('took over the lease of a run started by an earlier coordinator of the job (it is fenced: it can no longer save a checkpoint)', { previous: describeRun(latest) });
        } else if (latest) {
          settings.logger.info('took over the lease of an earlier run that is no longer live', { previous: describeRun(latest) });
        }
        const lease = new RunLease(settings, record);
        await lease.removeOlderGenerations(signal);
        lease.schedule();
        return lease;
      }
      // Another run created this generation first: it is live unless it died at once. Look again (its record
      // may also be gone already, removed by a still newer run).
      const bytes = await client.getBytes(key, signal);
      if (bytes) {
        const winner = parseRun(bytes, client.url(key));
        if (isLive(winner, Date.now(), settings.epoch)) throw runningError(client, prefix, winner);
      }
    }
    throw new TidewayError(
      'OSS_JOB_RUNNING',
      `job "${job}" could not take its lease under ${client.url(runsPrefix(prefix, job))}: other runs of the job claimed it ${CLAIM_ATTEMPTS} times in a row while this run was starting. ` +
        'Make sure only one run of the job is started, then start it again',
      { context: { connector: 'oss', object: client.url(runsPrefix(prefix, job)) } },
    );
  }

  /** Throws OSS_LEASE_LOST unless this run still holds the lease: nothing may become visible otherwise. */
  assertHeld(): void {
    if (this.state === 'held' && Date.now() >= this.record.expiresAt) this.lose('its lease expired before it could be renewed (OSS did not answer the renewals in time)');
    if (this.state === 'held') return;
    const url = this.settings.client.url(runKey(this.settings.prefix, this.settings.job, this.record.generation));
    throw new TidewayError(
      'OSS_LEASE_LOST',
      `run ${this.settings.runId} of job "${this.settings.job}" no longer holds the job's lease (${url}): ${this.lostReason || 'it was released'}. ` +
        'It stops without making anything more visible, so that two runs never commit the same rows; the run that holds the lease now carries on. ' +
        'If no other run is going on, run the job again: it resumes from its last checkpoint',
      { context: { connector: 'oss', object: url, runId: this.settings.runId } },
    );
  }

  private lose(reason: string): void {
    if (this.state !== 'held') return;
    this.state = 'lost';
    this.lostReason = reason;
    this.stopTimer();
    this.settings.logger.warn('this run lost the job lease; it will commit nothing more', { job: this.settings.job, run: this.settings.runId, reason });
  }

  private schedule(): void {
    const every = Math.max(100, Math.floor(this.settings.leaseMs / 3));
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
    }, every);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One renewal: gives up the lease if a newer generation exists, otherwise pushes its expiry forward. */
  async renew(): Promise<void> {
    if (this.state !== 'held') return;
    const { client, prefix, job } = this.settings;
    try {
      const latest = await latestRun(client, prefix, job);
      if (latest && latest.generation > this.record.generation) {
        this.lose(`a newer run took it over: ${describeRun(latest)}`);
        return;
      }
      if (this.state !== 'held') return;
      const now = Date.now();
      if (now >= this.record.expiresAt) {
        this.lose('its lease expired before it could be renewed (OSS did not answer the renewals in time)');
        return;
      }
      const next = { ...this.record, renewedAt: new Date(now).toISOString(), expiresAt: now + this.settings.leaseMs };
      await client.put(runKey(prefix, job, next.generation), encode(next), 'application/json');
      this.record = next;
    } catch (error) {
      // The next renewal tries again; assertHeld refuses commits once the lease has run out.
      this.settings.logger.warn('could not renew the job lease; trying again', { job, error: describeError(error) });
    }
  }

  /** Marks the lease released so the next run need not wait for it to expire. Safe to call twice. */
  release(): Promise<void> {
    this.releasing ??= (async () => {
      this.stopTimer();
      await this.renewing;
      if (this.state !== 'held') return;
      this.state = 'released';
      const released = { ...this.record, releasedAt: new Date().toISOString() };
      try {
        await this.settings.client.put(runKey(this.settings.prefix, this.settings.job, released.generation), encode(released), 'application/json');
      } catch (error) {
        this.settings.logger.warn('could not release the job lease; the next run waits until it expires', {
          job: this.settings.job,
          expires: new Date(this.record.expiresAt).toISOString(),
          error: describeError(error),
        });
      }
    })();
    return this.releasing;
  }

  /** Older generations are dead (this one superseded them); only the newest is needed. Best effort. */
  private async removeOlderGenerations(signal?: AbortSignal): Promise<void> {
    const { client, prefix, job, logger } = this.settings;
    try {
      const older: string[] = [];
      for await (const object of client.listAll(runsPrefix(prefix, job), signal)) if (object.key < runKey(prefix, job, this.record.generation)) older.push(object.key);
      if (older.length > 0) await client.deleteObjects(older, signal);
    } catch (error) {
      logger.debug('could not remove older run records', { error: describeError(error) });
    }
  }
}

function encode(record: RunRecord): Buffer {
  return Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
}
