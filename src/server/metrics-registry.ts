import { Counter, Gauge, Histogram, type LabelValues, Registry } from 'prom-client';
import type { CheckpointEvent, JobProgress } from '../engine/result.js';

/** One job as the metrics see it: its name is the `job` label. */
export interface MetricsJob {
  /** The job's name (env.name). Names, not run ids, keep the label's cardinality bounded. */
  name: string;
  /** Current status; one of MetricsSource.statuses. */
  status: string;
  /** True while the job runs (seconds since the last checkpoint is reported only then). */
  active: boolean;
  /** The latest progress, or null before the first report. */
  progress: JobProgress | null;
}

/** What the metrics need from whatever runs jobs: the server's job manager, or a single `tideway run`. */
export interface MetricsSource {
  /** The jobs to report, at most one per name (the newest run of each). */
  jobs(): readonly MetricsJob[];
  /** Every status a job can have: `tideway_job_status` has one series per status, 1 for the current one. */
  readonly statuses: readonly string[];
  /** Calls `listener` for each checkpoint as it settles; returns the function that stops the calls. */
  subscribe(listener: (job: string, event: CheckpointEvent) => void): () => void;
  /**
   * Masks secret values in a label value (a job or stage named from a secret variable); every label value
   * goes through it. The numbers are left alone, so a secret of digits cannot turn a count into `***`.
   */
  redact?(text: string): string;
}

/** Buckets of the checkpoint duration histogram, in seconds: from a quick local save to the default 10 min timeout. */
export const CHECKPOINT_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

interface LastCheckpoint {
  bytes: number;
  rowsCommitted: number;
  settledAt: number;
}

/**
 * Tideway's Prometheus metrics over a MetricsSource, in a registry of their own (nothing process-wide).
 * Rows, bytes, queues, lag and status are read from the source's progress at each scrape; checkpoints are
 * counted as they settle. Counters are the totals of the job's current run: a new run of a name starts
 * them again from zero, which Prometheus treats as a counter reset.
 */
export class TidewayMetrics {
  readonly registry = new Registry();
  private readonly lastCheckpoint = new Map<string, LastCheckpoint>();
  private readonly checkpointDuration: Histogram<'job' | 'status'>;
  private readonly unsubscribe: () => void;
  /** The source's jobs, read once per scrape for every metric. */
  private jobs: readonly MetricsJob[] = [];

  constructor(private readonly source: MetricsSource, private readonly now: () => number = Date.now) {
    const stage = ['job', 'stage', 'stage_type', 'direction'] as const;
    const jobs = () => this.jobs.filter((j): j is MetricsJob & { progress: JobProgress } => j.progress !== null);
    this.series('counter', 'tideway_stage_rows_total', 'Rows through a stage in the current run: a source\'s rows read (direction="out"), a transform\'s rows in and out, a sink\'s rows committed (direction="in").', stage, function* () {
      for (const { name: job, progress } of jobs()) {
        for (const s of progress.sources) yield [{ job, stage: s.name, stage_type: s.type, direction: 'out' }, s.rowsRead];
        for (const t of progress.transforms) {
          yield [{ job, stage: t.name, stage_type: t.type, direction: 'in' }, t.rowsIn];
          yield [{ job, stage: t.name, stage_type: t.type, direction: 'out' }, t.rowsOut];
        }
        for (const s of progress.sinks) yield [{ job, stage: s.name, stage_type: s.type, direction: 'in' }, s.rowsWritten];
      }
    });
    this.series('counter', 'tideway_stage_bytes_total', 'Bytes through a stage in the current run: a source\'s bytes read (direction="out"), a sink\'s bytes written (direction="in").', stage, function* () {
      for (const { name: job, progress } of jobs()) {
        for (const s of progress.sources) yield [{ job, stage: s.name, stage_type: s.type, direction: 'out' }, s.bytesRead];
        for (const s of progress.sinks) yield [{ job, stage: s.name, stage_type: s.type, direction: 'in' }, s.bytesWritten];
      }
    });
    this.series('counter', 'tideway_stage_dead_letter_rows_total', 'Rows a transform or sink handed to its dirty-data policy (rowsErrored) in the current run.', ['job', 'stage', 'stage_type'], function* () {
      for (const { name: job, progress } of jobs()) {
        for (const s of [...progress.transforms, ...progress.sinks]) {
          const errored = rowsErrored(s);
          if (errored !== undefined) yield [{ job, stage: s.name, stage_type: s.type }, errored];
        }
      }
    });
    this.series('gauge', 'tideway_source_lag_rows', 'Rows a source has yet to read, where it knows its total (rows_total minus rows read by this and earlier runs); absent otherwise.', ['job', 'stage', 'stage_type'], function* () {
      for (const { name: job, progress } of jobs()) {
        for (const s of progress.sources) {
          if (s.rowsTotal !== null) yield [{ job, stage: s.name, stage_type: s.type }, Math.max(0, s.rowsTotal - (s.rowsReadEarlier ?? 0) - s.rowsRead)];
        }
      }
    });
    const pipelines = (value: (p: JobProgress['pipelines'][number]) => number) =>
      function* (): Generator<[Record<'job' | 'pipeline' | 'source', string>, number]> {
        for (const { name: job, progress } of jobs()) for (const p of progress.pipelines ?? []) yield [{ job, pipeline: String(p.id), source: p.source }, value(p)];
      };
    this.series('gauge', 'tideway_pipeline_queue_depth', 'Batches waiting in a pipeline\'s queue between its reader and its writers; at tideway_pipeline_queue_capacity the sinks hold the reader back.', ['job', 'pipeline', 'source'], pipelines((p) => p.queueDepth));
    this.series('gauge', 'tideway_pipeline_queue_capacity', 'Batches a pipeline\'s queue holds at most (env.queue_capacity).', ['job', 'pipeline', 'source'], pipelines((p) => p.queueCapacity));
    this.series('counter', 'tideway_checkpoints_completed_total', 'Checkpoints committed by the job\'s current run.', ['job'], function* () {
      for (const { name: job, progress } of jobs()) yield [{ job }, progress.checkpoints];
    });
    this.checkpointDuration = new Histogram({
      name: 'tideway_checkpoint_duration_seconds',
      help: 'Time from a checkpoint\'s trigger until it settled, by outcome (committed, abandoned, in-doubt, failed).',
      labelNames: ['job', 'status'] as const,
      buckets: CHECKPOINT_DURATION_BUCKETS,
      registers: [this.registry],
    });
    const last = this.lastCheckpoint;
    this.series('gauge', 'tideway_checkpoint_last_size_bytes', 'Size of the job\'s last committed checkpoint as saved.', ['job'], function* () {
      for (const [job, checkpoint] of last) yield [{ job }, checkpoint.bytes];
    });
    this.series('gauge', 'tideway_checkpoint_last_committed_rows', 'Rows every sink had made visible when the job\'s last checkpoint committed.', ['job'], function* () {
      for (const [job, checkpoint] of last) yield [{ job }, checkpoint.rowsCommitted];
    });
    const self = this;
    this.series('gauge', 'tideway_seconds_since_last_checkpoint', 'Seconds since the running job\'s last committed checkpoint (absent before its first and once the job has ended): alert when it exceeds a few checkpoint intervals.', ['job'], function* () {
      for (const job of self.jobs) {
        const at = job.active ? self.lastCommitAt(job) : undefined;
        if (at !== undefined) yield [{ job: job.name }, Math.max(0, (self.now() - at) / 1000)];
      }
    });
    this.series('gauge', 'tideway_job_status', 'The job\'s status: 1 on the series of its current status, 0 on the others.', ['job', 'status'], function* () {
      for (const job of self.jobs) for (const status of self.source.statuses) yield [{ job: job.name, status }, status === job.status ? 1 : 0];
    });

    this.unsubscribe = source.subscribe((job, event) => this.onCheckpoint(job, event));
  }

  /**
   * A counter or gauge whose series are computed at each scrape from `values` (label values and the number):
   * counters carry the run's totals as the engine counts them, so they are set, not incremented by deltas.
   */
  private series<L extends string>(kind: 'counter' | 'gauge', name: string, help: string, labelNames: readonly L[], source: () => Iterable<[Record<L, string>, number]>): void {
    const registers = [this.registry];
    const self = this;
    const values = function* (): Generator<[Record<L, string>, number]> {
      for (const [labels, value] of source()) yield [self.maskLabels(labels), value];
    };
    if (kind === 'counter') {
      new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const [labels, value] of values()) this.inc(labels as LabelValues<L>, value);
        },
      });
      return;
    }
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of values()) this.set(labels as LabelValues<L>, value);
      },
    });
  }

  /** The Content-Type of `metrics()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format. */
  metrics(): Promise<string> {
    this.jobs = this.source.jobs();
    return this.registry.metrics();
  }

  /** Stops listening to the source's checkpoints. */
  close(): void {
    this.unsubscribe();
  }

  /** `labels` with every value passed through the source's redact (itself when it has none). */
  private maskLabels<L extends string>(labels: Record<L, string>): Record<L, string> {
    if (!this.source.redact) return labels;
    const masked = {} as Record<L, string>;
    for (const key of Object.keys(labels) as L[]) masked[key] = this.source.redact(labels[key]);
    return masked;
  }

  private onCheckpoint(job: string, event: CheckpointEvent): void {
    this.checkpointDuration.observe(this.maskLabels({ job, status: event.status }), event.durationMs / 1000);
    if (event.status === 'committed') {
      this.lastCheckpoint.set(job, { bytes: event.bytes, rowsCommitted: event.rowsCommitted, settledAt: Date.parse(event.triggeredAt) + event.durationMs });
    }
  }

  /** When the job's last checkpoint committed: the later of the engine's progress and the last committed event. */
  private lastCommitAt(job: MetricsJob): number | undefined {
    const fromProgress = job.progress?.lastCheckpointAt ? Date.parse(job.progress.lastCheckpointAt) : undefined;
    const fromEvent = this.lastCheckpoint.get(job.name)?.settledAt;
    if (fromProgress === undefined || fromEvent === undefined) return fromProgress ?? fromEvent;
    return Math.max(fromProgress, fromEvent);
  }
}

/** A stage's dirty-data count, for progress that carries one (`rowsErrored`). */
function rowsErrored(stage: object): number | undefined {
  const value = (stage as { rowsErrored?: unknown }).rowsErrored;
  return typeof value === 'number' ? value : undefined;
}
