import { MultiBar, type SingleBar } from 'cli-progress';
import type { JobProgress, SourceProgress } from '../engine/result.js';
import { formatBytes, formatCount, formatDuration, perSecond } from './format.js';
import type { TextStream } from './terminal.js';

/** Live progress on stderr. `log` prints a line without garbling the display. */
export interface ProgressDisplay {
  update(progress: JobProgress): void;
  log(line: string): void;
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
      return { update() {}, log: (line) => stderr.write(line), stop() {} };
  }
}

/** Rates between two progress samples. */
class Rates {
  private last: { at: number; rowsRead: number; rowsWritten: number; bytesWritten: number } | undefined;
  rowsPerSecond = 0;
  bytesPerSecond = 0;

  sample(progress: JobProgress): void {
    const now = { at: progress.elapsedMs, rowsRead: progress.rowsRead, rowsWritten: progress.rowsWritten, bytesWritten: progress.bytesWritten };
    const previous = this.last ?? { at: 0, rowsRead: 0, rowsWritten: 0, bytesWritten: 0 };
    const ms = now.at - previous.at;
    if (ms > 0) {
      this.rowsPerSecond = perSecond(now.rowsRead - previous.rowsRead, ms);
      this.bytesPerSecond = perSecond(now.bytesWritten - previous.bytesWritten, ms);
    }
    this.last = now;
  }
}

function splitsText(source: Pick<SourceProgress, 'splitsDone' | 'splitsAssigned' | 'splitsTotal'>): string {
  // Without a known total, the denominator is what has been assigned so far.
  return `${formatCount(source.splitsDone)}/${formatCount(source.splitsTotal ?? source.splitsAssigned)}`;
}

/** How far a source is, 0..1, when it can tell. */
function fraction(source: SourceProgress): number | undefined {
  if (source.rowsTotal !== null && source.rowsTotal > 0) return Math.min(1, source.rowsRead / source.rowsTotal);
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
    `written ${formatCount(progress.rowsWritten)}`,
    `${formatCount(rates.rowsPerSecond)} rows/s`,
    `${formatBytes(rates.bytesPerSecond)}/s`,
    ...(withSplits ? [`splits ${splitsText(splits)}`] : []),
    `checkpoints ${progress.checkpoints}`,
    formatDuration(progress.elapsedMs),
  ].join(' | ');
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

  update(progress: JobProgress): void {
    if (this.stopped) return;
    this.rates.sample(progress);
    const width = Math.max(...progress.sources.map((s) => s.name.length), 6);
    progress.sources.forEach((source, index) => {
      const f = fraction(source);
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

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.multibar.stop();
  }
}
