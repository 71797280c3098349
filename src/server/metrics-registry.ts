import { Counter, Gauge, Histogram, Registry } from 'prom-client';
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
    const registers = [this.registry];
    const self = this;
    const stageLabels = ['job', 'stage', 'stage_type', 'direction'] as const;

    new Counter({
      name: 'tideway_stage_rows_total',
      help: 'Rows through a stage in the current run: a source\'s rows read (direction="out"), a transform\'s rows in and out, a sink\'s rows committed (direction="in").',
      labelNames: stageLabels,
      registers,
      collect() {
        this.reset();
        for (const { name: job, progress } of self.jobs) {
          if (!progress) continue;
          for (const s of progress.sources) this.inc({ job, stage: s.name, stage_type: s.type, direction: 'out' }, s.rowsRead);
          for (const t of progress.transforms) {
            this.inc({ job, stage: t.name, stage_type: t.type, direction: 'in' }, t.rowsIn);
            this.inc({ job, stage: t.name, stage_type: t.type, direction: 'out' }, t.rowsOut);
          }
          for (const s of progress.sinks) this.inc({ job, stage: s.name, stage_type: s.type, direction: 'in' }, s.rowsWritten);
        }
      },
    });
    new Counter({
      name: 'tideway_stage_bytes_total',
      help: 'Bytes through a stage in the current run: a source\'s bytes read (direction="out"), a sink\'s bytes written (direction="in").',
      labelNames: stageLabels,
      registers,
      collect() {
        this.reset();
        for (const { name: job, progress } of self.jobs) {
          if (!progress) continue;
          for (const s of progress.sources) this.inc({ job, stage: s.name, stage_type: s.type, direction: 'out' }, s.bytesRead);
          for (const s of progress.sinks) this.inc({ job, stage: s.name, stage_type: s.type, direction: 'in' }, s.bytesWritten);
        }
      },
    });
    new Counter({
      name: 'tideway_stage_dead_letter_rows_total',
      help: 'Rows a transform or sink handed to its dirty-data policy (rowsErrored) in the current run; absent for stages that do not count them.',
      labelNames: ['job', 'stage', 'stage_type'] as const,
      registers,
      collect() {
        this.reset();
        for (const { name: job, progress } of self.jobs) {
          if (!progress) continue;
          for (const stage of [...progress.transforms, ...progress.sinks]) {
            const errored = rowsErrored(stage);
            if (errored !== undefined) this.inc({ job, stage: stage.name, stage_type: stage.type }, errored);
          }
        }
      },
    });
    new Gauge({
      name: 'tideway_source_lag_rows',
      help: 'Rows a source has yet to read, where it knows its total (rows_total minus rows read by this and earlier runs); absent otherwise.',
      labelNames: ['job', 'stage', 'stage_type'] as const,
      registers,
      collect() {
        this.reset();
        for (const { name: job, progress } of self.jobs) {
          for (const s of progress?.sources ?? []) {
            if (s.rowsTotal === null) continue;
            this.set({ job, stage: s.name, stage_type: s.type }, Math.max(0, s.rowsTotal - (s.rowsReadEarlier ?? 0) - s.rowsRead));
          }
        }
      },
    });
    new Gauge({
      name: 'tideway_pipeline_queue_depth',
      help: 'Batches waiting in a pipeline\'s queue between its reader and its writers; at tideway_pipeline_queue_capacity the sinks hold the reader back.',
      labelNames: ['job', 'pipeline', 'source'] as const,
      registers,
      collect() {
        this.reset();
        for (const { name: job, progress } of self.jobs) {
          for (const p of progress?.pipelines ?? []) this.set({ job, pipeline: String(p.id), source: p.source }, p.queueDepth);
        }
      },
    });
    new Gauge({
      name: 'tideway_pipeline_queue_capacity',
      help: 'Batches a pipeline\'s queue holds at most (env.queue_capacity).',
      labelNames: ['job', 'pipeline', 'source'] as const,
      registers,
      collect() {
        this.reset();
        for (const { name: job, progress } of self.jobs) {
          for (const p of progress?.pipelines ?? []) this.set({ job, pipeline: String(p.id), source: p.source }, p.queueCapacity);
        }
      },
    });
    new Counter({
      name: 'tideway_checkpoints_completed_total',
      help: 'Checkpoints committed by the job\'s current run.',
      labelNames: ['job'] as const,
      registers,
      collect() {
        this.reset();
        for (const { name: job, progress } of self.jobs) if (progress) this.inc({ job }, progress.checkpoints);
      },
    });
    this.checkpointDuration = new Histogram({
      name: 'tideway_checkpoint_duration_seconds',
      help: 'Time from a checkpoint\'s trigger until it settled, by outcome (committed, abandoned, in-doubt, failed).',
      labelNames: ['job', 'status'] as const,
      buckets: CHECKPOINT_DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'tideway_checkpoint_last_size_bytes',
      help: 'Size of the job\'s last committed checkpoint as saved.',
      labelNames: ['job'] as const,
      registers,
      collect() {
        this.reset();
        for (const [job, last] of self.lastCheckpoint) this.set({ job }, last.bytes);
      },
    });
    new Gauge({
      name: 'tideway_checkpoint_last_committed_rows',
      help: 'Rows every sink had made visible when the job\'s last checkpoint committed.',
      labelNames: ['job'] as const,
      registers,
      collect() {
        this.reset();
        for (const [job, last] of self.lastCheckpoint) this.set({ job }, last.rowsCommitted);
      },
    });
    new Gauge({
      name: 'tideway_seconds_since_last_checkpoint',
      help: 'Seconds since the running job\'s last committed checkpoint (absent before its first and once the job has ended): alert when it exceeds a few checkpoint intervals.',
      labelNames: ['job'] as const,
      registers,
      collect() {
        this.reset();
        for (const job of self.jobs) {
          if (!job.active) continue;
          const at = self.lastCommitAt(job);
          if (at !== undefined) this.set({ job: job.name }, Math.max(0, (self.now() - at) / 1000));
        }
      },
    });
    new Gauge({
      name: 'tideway_job_status',
      help: 'The job\'s status: 1 on the series of its current status, 0 on the others.',
      labelNames: ['job', 'status'] as const,
      registers,
      collect() {
        this.reset();
        for (const job of self.jobs) {
          for (const status of self.source.statuses) this.set({ job: job.name, status }, status === job.status ? 1 : 0);
        }
      },
    });

    this.unsubscribe = source.subscribe((job, event) => this.onCheckpoint(job, event));
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

  private onCheckpoint(job: string, event: CheckpointEvent): void {
    this.checkpointDuration.observe({ job, status: event.status }, event.durationMs / 1000);
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
