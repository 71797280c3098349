import { MultiBar, type SingleBar } from 'cli-progress';
import { type JobProgress, type JobResult, jobRowsWritten, type SourceProgress } from '../engine/result.js';
import { formatBytes, formatCount, formatDuration, perSecond } from './format.js';
import type { TextStream } from './terminal.js';

/** Live progress on stderr. `log` prints a line without garbling the display. */
export interface ProgressDisplay {
  update(progress: JobProgress): void;
  log(line: string): void;
  /** The run is over: shows its final state (a finished run's sources at 100%) and stops. */
  finish(result: JobResult): void;
  stop(): void;
}

export type ProgressMode = 'bars' | 'lines' | 'none';

/** Bars on an interactive terminal, periodic plain lines in CI or when stderr is a file or pipe. */
export function progressMode(options: { quiet: boolean; stderr: TextStream; env: Readonly<Record<string, string | undefined>> }): ProgressMode {
  if (options.quiet) return 'none';
  const ci = options.env.CI !== undefined && options.env.CI !== '' && options.env.CI !== 'false' && options.env.CI !== '0';
  return options.stderr.isTTY && !ci ? 'bars' : 'lines';
}

export function createProgress(mode: ProgressMode, stderr: TextStream & NodeJS.WritableStream, options: { lineIntervalMs?: number } = {}): ProgressDisplay {
  switch (mode) {
    case 'bars':
      return new BarsProgress(stderr);
    case 'lines':
      return new LinesProgress(stderr, options.lineIntervalMs ?? 5000);
    case 'none':
      return { update() {}, log: (line) => stderr.write(line), finish() {}, stop() {} };
  }
}

/** How far back the read rate looks: long enough to smooth batch-sized steps, short enough to follow changes. */
const RATE_WINDOW_MS = 10_000;

/**
 * Rates for the display. Rows read per second over the last RATE_WINDOW_MS. Bytes written per second over the
 * whole run: sinks count bytes when a file or part is closed, in steps far apart, so a rate between two
 * samples would mostly read 0 B/s.
 */
export class Rates {
  private readonly samples: { at: number; rowsRead: number }[] = [];
  rowsPerSecond = 0;
  bytesPerSecond = 0;

  sample(progress: JobProgress): void {
    const now = { at: progress.elapsedMs, rowsRead: progress.rowsRead };
    this.samples.push(now);
    while (this.samples.length > 2 && now.at - this.samples[1]!.at >= RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples.length > 1 ? this.samples[0]! : { at: 0, rowsRead: 0 };
    if (now.at > first.at) this.rowsPerSecond = perSecond(now.rowsRead - first.rowsRead, now.at - first.at);
    this.bytesPerSecond = perSecond(progress.bytesWritten, progress.elapsedMs);
  }
}

function splitsText(source: Pick<SourceProgress, 'splitsDone' | 'splitsAssigned' | 'splitsTotal'>): string {
  // Without a known total, the denominator is what has been assigned so far.
  return `${formatCount(source.splitsDone)}/${formatCount(source.splitsTotal ?? source.splitsAssigned)}`;
}

/** How far a source is, 0..1, when it can tell; rows read by the earlier runs a resumed run continues count too. */
function fraction(source: SourceProgress): number | undefined {
  if (source.rowsTotal !== null && source.rowsTotal > 0) return Math.min(1, ((source.rowsReadEarlier ?? 0) + source.rowsRead) / source.rowsTotal);
  if (source.splitsTotal !== null && source.splitsTotal > 0) return Math.min(1, source.splitsDone / source.splitsTotal);
  return undefined;
}

/** One line of totals and rates; `withSplits` adds the splits of every source (the bars show them per source). */
function summary(progress: JobProgress, rates: Rates, withSplits: boolean): string {
  const splits = progress.sources.reduce(
    (acc, s) => ({
      splitsDone: acc.splitsDone + s.splitsDone,
      splitsAssigned: acc.splitsAssigned + s.splitsAssigned,
      splitsTotal: acc.splitsTotal === null || s.splitsTotal === null ? null : acc.splitsTotal + s.splitsTotal,
    }),
    { splitsDone: 0, splitsAssigned: 0, splitsTotal: 0 as number | null },
  );
  return [
    `read ${formatCount(progress.rowsRead)} rows`,
    `written ${formatCount(jobRowsWritten(progress.sinks))}`,
    `${formatCount(rates.rowsPerSecond)} rows/s`,
    `${formatBytes(rates.bytesPerSecond)}/s`,
    ...(withSplits ? [`splits ${splitsText(splits)}`] : []),
    ...(progress.rowsErrored > 0 ? [`errored ${formatCount(progress.rowsErrored)}`] : []),
    ...(progress.readLimit ? [limitText(progress.readLimit)] : []),
    `checkpoints ${progress.checkpoints}`,
    formatDuration(progress.elapsedMs),
  ].join(' | ');
}

/** `read limited to 1,000 rows/s`: the job's env.read_limit, so a slow rate is not mistaken for a slow source. */
function limitText(limit: NonNullable<JobProgress['readLimit']>): string {
  const parts = [
    ...(limit.rowsPerSecond !== null ? [`${formatCount(limit.rowsPerSecond)} rows/s`] : []),
    ...(limit.bytesPerSecond !== null ? [`${formatBytes(limit.bytesPerSecond)}/s`] : []),
  ];
  return `read limited to ${parts.join(', ')}`;
}

class LinesProgress implements ProgressDisplay {
  private readonly rates = new Rates();
  private lastPrinted = 0;

  constructor(
    private readonly stderr: TextStream,
    private readonly intervalMs: number,
  ) {}

  update(progress: JobProgress): void {
    this.rates.sample(progress);
    if (progress.elapsedMs - this.lastPrinted < this.intervalMs) return;
    this.lastPrinted = progress.elapsedMs;
    const perSource =
      progress.sources.length > 1 || progress.sources.some((s) => fraction(s) !== undefined)
        ? ` [${progress.sources.map((s) => `${s.name} ${percentText(s)}`).join(', ')}]`
        : '';
    this.stderr.write(`progress: ${summary(progress, this.rates, true)}${perSource}\n`);
  }

  log(line: string): void {
    this.stderr.write(line);
  }

  finish(): void {}

  stop(): void {}
}

function percentText(source: SourceProgress): string {
  const f = fraction(source);
  return f === undefined ? `${formatCount(source.rowsRead)} rows` : `${Math.floor(f * 100)}%`;
}

const BAR_WIDTH = 24;

function bar(f: number): string {
  const full = Math.round(f * BAR_WIDTH);
  return `${'█'.repeat(full)}${'░'.repeat(BAR_WIDTH - full)}`;
}

/** One bar per source (a percentage where the total is known) and a summary line with rates and checkpoints. */
class BarsProgress implements ProgressDisplay {
  private readonly multibar: MultiBar;
  private readonly bars = new Map<number, SingleBar>();
  private summaryBar: SingleBar | undefined;
  private readonly rates = new Rates();
  private stopped = false;

  constructor(private readonly stderr: NodeJS.WritableStream) {
    this.multibar = new MultiBar({
      stream: stderr,
      hideCursor: true,
      gracefulExit: false,
      clearOnComplete: false,
      fps: 5,
      format: (_options, _params, payload: { line?: string }) => payload.line ?? '',
    });
  }

  update(progress: JobProgress, done = false): void {
    if (this.stopped) return;
    this.rates.sample(progress);
    const width = Math.max(...progress.sources.map((s) => s.name.length), 6);
    progress.sources.forEach((source, index) => {
      // A finished run read every source to its end, whatever this run's own counts say (a resumed run read less).
      const f = done ? 1 : fraction(source);
      const line = [
        `${source.name.padEnd(width)} ${f === undefined ? ' '.repeat(BAR_WIDTH) : bar(f)} ${f === undefined ? '   ' : `${String(Math.floor(f * 100)).padStart(3)}%`}`,
        `${formatCount(source.rowsRead)} rows`,
        `splits ${splitsText(source)}`,
      ].join(' | ');
      const existing = this.bars.get(index);
      if (existing) existing.update(0, { line });
      else this.bars.set(index, this.multibar.create(1, 0, { line }));
    });
    const line = summary(progress, this.rates, false);
    if (this.summaryBar) this.summaryBar.update(0, { line });
    else this.summaryBar = this.multibar.create(1, 0, { line });
  }

  log(line: string): void {
    if (this.stopped || this.bars.size === 0) this.stderr.write(line);
    else this.multibar.log(line);
  }

  finish(result: JobResult): void {
    this.update(result, result.status === 'finished');
    this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.multibar.stop();
  }
}
