import type { JobManager, JobView, ServerJobStatus } from '../../../src/server/jobs.js';

export const TERMINAL: readonly ServerJobStatus[] = ['finished', 'failed', 'cancelled', 'interrupted'];

/** Resolves with the job's view once `done` holds for it (checked at once and at every event of the job). */
export function waitFor(jobs: JobManager, id: string, done: (view: JobView) => boolean, what = 'the awaited state', timeoutMs = 60_000): Promise<JobView> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const view = jobs.view(id);
      if (view && done(view)) {
        cleanup();
        resolve(view);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`job ${id} did not reach ${what} within ${timeoutMs} ms; it is ${JSON.stringify(jobs.view(id)?.status)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      jobs.off('status', check);
      jobs.off('checkpoint', check);
      jobs.off('progress', check);
    };
    jobs.on('status', check);
    jobs.on('checkpoint', check);
    jobs.on('progress', check);
    check();
  });
}

export function waitForEnd(jobs: JobManager, id: string): Promise<JobView> {
  return waitFor(jobs, id, (v) => TERMINAL.includes(v.status), 'an end');
}

/** A streaming job that runs until it is stopped: fake unbounded rows into JSON Lines files. */
export function streamingJob(name: string, out: string, extra = ''): string {
  return `env:
  name: ${name}
  mode: streaming
  parallelism: 1
  checkpoint:
    interval: 100ms
source:
  - type: fake
    unbounded: true
    splits: 2
    chunk_rows: 50
    rows_per_second: 2000
sink:
  - type: file
    path: ${out}
    format: jsonl
${extra}`;
}

export function batchJob(name: string, out: string, rows: number): string {
  return `env:
  name: ${name}
  parallelism: 1
  checkpoint:
    interval: 100ms
source:
  - type: fake
    rows: ${rows}
    splits: 4
    chunk_rows: 100
sink:
  - type: file
    path: ${out}
    format: jsonl
`;
}
